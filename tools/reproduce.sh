#!/usr/bin/env bash
# Re-runs the README's results tables as declared in experiments/results_tables.json (every
# row over its seeds), skipping runs already complete, resuming interrupted ones, and writes
# the report (mean ± std over seeds, per-seed values, the machine, wall times, plots) from
# the archive of complete runs beside it (docs/results/runs: what the report reads, no models).
#
#   tools/reproduce.sh                     # everything: runs/reproduce -> docs/results/report.md
#   tools/reproduce.sh --jobs=2            # two runs side by side, one core each
#   tools/reproduce.sh --only=diffq,vq     # some tables
#   tools/reproduce.sh --quick             # tiny models, a few steps: runs/reproduce_quick
#
# Builds the binaries the tables need, then runs tools/reproduce.py (its --help
# lists every option). The language-model tables read the KJV corpus (tools/make_kjv_corpus.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

for arg in "$@"; do
  case "$arg" in -h|--help) exec python3 tools/reproduce.py --help ;; esac
done
listed=$(python3 tools/reproduce.py --list_binaries "$@")
mapfile -t targets <<<"$listed"
bazel build "${targets[@]}"
exec python3 tools/reproduce.py "$@"
