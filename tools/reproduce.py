"""Runs the results tables declared in experiments/results_tables.json, then writes their report.

Every (table, row, seed) is one run of an experiment binary in
<runs>/<table>/<row>/seed<N>/, with the arguments it was declared with recorded in
reproduce.json beside the run's own outputs. A run whose summary.json exists and whose
recorded declaration matches is skipped; one that was interrupted is continued with --resume;
one declared differently since is moved aside (<dir>.replaced-<n>) and run again. Rows that take
another row's model (a teacher, a float starting point) wait for it. --jobs runs that many
side by side, splitting the cores between them; evaluations (short runs of a model file) go
first when their model is there. --quick runs the tables' quick profile (tiny models, a few
steps, their first seed) into a separate directory.

Each complete run is archived in <report>/runs/<table>/<row>/seed<N>/: the files the report
reads and the run's config, not its model file or log. The archive is small enough to commit
beside the report, so that a full run can be spread over several machines or sessions: a run
archived as declared counts as complete and is not made again, unless a run still to be made
needs its model file (a teacher, a model to evaluate), which the archive does not keep.

The report is written from the archive and covers every declared table, also with --only
(tables whose runs are not there yet are shown as missing); the full profile's default report
also rewrites the README's results blocks (results_report.py --readme).

Usually started through tools/reproduce.sh, which builds the binaries first.
"""

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import results_report  # noqa: E402  (tools/ is not a package)

DEFAULT_TABLES = "experiments/results_tables.json"
# What the archive keeps of a run: what the report reads, and the config the run recorded.
ARCHIVED_FILES = (results_report.SUMMARY_FILE, results_report.METRICS_FILE,
                  results_report.REPRODUCE_FILE, "config.textproto")
# Instruction sets that decide which kernels LibTorch and the runtime take.
REPORTED_CPU_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16")


class Run:
    """One (table, row, seed) run: what it executes and where it writes."""

    def __init__(self, table, row, seed, profile, runs_root):
        self.table = table["id"]
        self.row = row["id"]
        self.seed = seed
        self.binary = results_report.run_binary(table, row)
        self.dir = results_report.run_dir(runs_root, self.table, self.row, seed)
        # An evaluation's binary reads a model file: no seed, no training to resume.
        self.evaluation = table["kind"] == results_report.EVALUATION
        self.flags = results_report.run_flags(table, row, profile)
        self.flags += [] if self.evaluation else [f"--seed={seed}"]
        self.inputs = {}  # flag ("" for the positional model file) -> Run whose model it takes
        self.profile = profile

    @property
    def name(self):
        return f"{self.table}/{self.row}/seed{self.seed}"

    def declaration(self):
        """What must match for an existing run to count as this one: its own arguments and,
        recursively, those of the runs whose models it takes (a teacher declared anew makes
        its students run again)."""
        return {
            "table": self.table,
            "row": self.row,
            "seed": self.seed,
            "binary": self.binary,
            "args": self.flags,
            "inputs": {flag: run.declaration() for flag, run in sorted(self.inputs.items())},
            "profile": self.profile,
        }

    def summary_path(self):
        return os.path.join(self.dir, "summary.json")

    def complete(self):
        return os.path.exists(self.summary_path())

    def done_here(self):
        """Complete in the runs directory as declared now: its model file is at hand."""
        return complete_as_declared(self.dir, self)

    def model_file(self):
        with open(self.summary_path()) as f:
            return json.load(f)["model_file"]


def plan_runs(tables, profile, runs_root):
    """Every declared run in dependency order (a row's inputs are declared before it)."""
    runs = []
    by_row = {}  # (table id, row id) -> {seed: Run}
    for table in tables:
        for row in table["rows"]:
            seeds = results_report.run_seeds(table, row, profile)
            row_runs = {s: Run(table, row, s, profile, runs_root) for s in seeds}
            by_row[(table["id"], row["id"])] = row_runs
            sources = {flag: (table["id"], source) for flag, source in row["inputs"].items()}
            if "model" in row:
                sources[""] = results_report.model_source(row)
            for run in row_runs.values():
                for flag, source in sources.items():
                    candidates = by_row[source]
                    run.inputs[flag] = candidates.get(run.seed, candidates[min(candidates)])
                runs.append(run)
    return runs


def machine():
    """The machine the runs execute on, as the report shows it."""
    return {
        "cpu": cpu_model(),
        "cpu_flags": " ".join(cpu_flags()) or "none of " + " ".join(REPORTED_CPU_FLAGS),
        "cores": os.cpu_count(),
        "libtorch": package_version("libtorch1.13") or package_version("libtorch-dev"),
        "blas": blas_version(),
        "os": os_name(),
    }


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_flags():
    """Which of REPORTED_CPU_FLAGS the CPU has."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    present = set(line.split(":", 1)[1].split())
                    return [flag for flag in REPORTED_CPU_FLAGS if flag in present]
    except OSError:
        pass
    return []


def package_version(package):
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package],
                             capture_output=True, text=True, check=False)
    except OSError:
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def blas_version():
    for package in ("libopenblas0-pthread", "libopenblas0-openmp", "libopenblas0-serial",
                    "libblas3"):
        version = package_version(package)
        if version:
            return f"{package} {version}"
    return "unknown"


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def complete_as_declared(directory, run):
    """Whether the directory holds a complete record of the run as it is declared now."""
    return (os.path.exists(os.path.join(directory, results_report.SUMMARY_FILE))
            and recorded_declaration(directory) == run.declaration())


def recorded_declaration(directory):
    """The declaration a run directory was made for (its reproduce.json), or None."""
    path = os.path.join(directory, results_report.REPRODUCE_FILE)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        recorded = json.load(f)
    recorded.pop("machine", None)
    return recorded


def move_aside(path):
    n = 1
    while os.path.exists(f"{path}.replaced-{n}"):
        n += 1
    os.rename(path, f"{path}.replaced-{n}")
    return f"{path}.replaced-{n}"


def prepare(run):
    """'resume' when the run started as declared, else 'start' (after clearing)."""
    if not os.path.isdir(run.dir):
        return "start"
    if recorded_declaration(run.dir) != run.declaration():
        print(f"{run.name}: declared differently since it ran; moved to {move_aside(run.dir)}")
        return "start"
    return "resume"


class Archive:
    """The complete runs' ARCHIVED_FILES, in <root>/<table>/<row>/seed<N>/."""

    def __init__(self, root):
        self.root = root

    def path(self, run):
        return results_report.run_dir(self.root, run.table, run.row, run.seed)

    def holds(self, run):
        """Whether the run is archived complete, as declared now."""
        return complete_as_declared(self.path(run), run)

    def store(self, run):
        """Archives a complete run, replacing what was archived for it (a swap of two
        directories: an interruption leaves a whole record or none, never a mix)."""
        path = self.path(run)
        staging, old = f"{path}.new", f"{path}.old"
        for leftover in (staging, old):
            shutil.rmtree(leftover, ignore_errors=True)
        os.makedirs(staging)
        for name in ARCHIVED_FILES:
            if os.path.exists(os.path.join(run.dir, name)):
                shutil.copyfile(os.path.join(run.dir, name), os.path.join(staging, name))
        if os.path.exists(path):
            os.rename(path, old)
        os.rename(staging, path)
        shutil.rmtree(old, ignore_errors=True)

    def update(self, runs):
        """Removes the records of runs declared differently since (so that the report never
        shows them; version control keeps them), and archives the runs complete here that
        the archive lacks (made before it existed, or by a runner stopped before it could)."""
        for run in runs:
            path = self.path(run)
            if os.path.isdir(path) and recorded_declaration(path) != run.declaration():
                print(f"{run.name}: archived as declared before; record removed")
                shutil.rmtree(path)
            if run.done_here() and not self.holds(run):
                self.store(run)


def runs_to_make(runs, archive):
    """The runs to execute, in order: those neither complete here nor archived as declared,
    and the archived ones whose model files they need (the archive keeps no model)."""
    needed = set()
    for run in reversed(runs):  # a run's inputs come before it
        done = run.done_here() or (archive is not None and archive.holds(run))
        if run.name in needed or not done:
            needed.add(run.name)
            needed.update(source.name for source in run.inputs.values()
                          if not source.done_here())
    return [run for run in runs if run.name in needed]


def write_declaration(run, machine_info):
    os.makedirs(run.dir, exist_ok=True)
    record = dict(run.declaration(), machine=machine_info)
    tmp = os.path.join(run.dir, "reproduce.json.tmp")
    with open(tmp, "w") as f:
        json.dump(record, f, indent=1)
    os.replace(tmp, os.path.join(run.dir, "reproduce.json"))


def command(run, bin_dir, threads, resume):
    args = [os.path.join(bin_dir, results_report.binary_path(run.binary))]
    args += [source.model_file() for flag, source in run.inputs.items() if not flag]
    args += run.flags
    args += [f"{flag}={source.model_file()}" for flag, source in sorted(run.inputs.items())
             if flag]
    if not any(flag.startswith("--threads=") for flag in run.flags):  # a declared one wins
        args.append(f"--threads={threads}")
    if run.evaluation:
        return args + [f"--summary_json={run.summary_path()}"]
    args.append(f"--output_dir={run.dir}")
    if resume:
        args.append("--resume")
    return args


def dependents(runs):
    """Run name -> how many of `runs` take its model, directly or through others."""
    direct = {run.name: set() for run in runs}
    for run in runs:
        for source in run.inputs.values():
            if source.name in direct:
                direct[source.name].add(run.name)
    def reach(name, seen):
        for user in direct[name] - seen:
            seen.add(user)
            reach(user, seen)
        return seen
    return {name: len(reach(name, set())) for name in direct}


class Scheduler:
    """Starts runs whose inputs are complete, at most `jobs` at a time."""

    def __init__(self, runs, bin_dir, jobs, machine_info, archive):
        # Among the runs that are ready, evaluations go first, so that they use a model file
        # while it is here (and they are short); then the runs that most others wait for (a
        # teacher before rows declared ahead of it, which can run beside it); then declaration
        # order.
        waiting = dependents(runs)
        self.pending = sorted(runs, key=lambda run: (not run.evaluation, -waiting[run.name]))
        self.bin_dir = bin_dir
        self.archive = archive
        self.jobs = jobs
        self.threads = max(1, (os.cpu_count() or 1) // jobs)
        self.machine = machine_info
        self.running = {}  # Popen -> (run, started, log file)
        self.failed = set()

    def run_all(self):
        try:
            while self.pending or self.running:
                self.start_ready()
                self.reap()
        except KeyboardInterrupt:
            self.stop_all()
            raise
        return self.failed

    def start_ready(self):
        for run in list(self.pending):
            if len(self.running) >= self.jobs:
                return
            sources = list(run.inputs.values())
            if any(s.name in self.failed for s in sources):
                print(f"{run.name}: not run, an input failed")
                self.failed.add(run.name)
                self.pending.remove(run)
            elif all(s.complete() for s in sources):
                self.pending.remove(run)
                self.start(run)
        if not self.running and self.pending:
            raise RuntimeError("runs wait for inputs that nothing produces: "
                               + ", ".join(r.name for r in self.pending))

    def start(self, run):
        action = prepare(run)
        write_declaration(run, self.machine)
        args = command(run, self.bin_dir, self.threads, resume=action == "resume")
        print(f"{run.name}: {'resuming' if action == 'resume' else 'starting'}: {' '.join(args)}",
              flush=True)
        log = open(os.path.join(run.dir, "log.txt"), "a")
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        self.running[process] = (run, time.time(), log)

    def reap(self):
        if not self.running:
            return
        time.sleep(0.2)
        for process in [p for p in self.running if p.poll() is not None]:
            run, started, log = self.running.pop(process)
            log.close()
            seconds = time.time() - started
            if process.returncode == 0 and run.complete():
                if self.archive is not None:
                    self.archive.store(run)
                print(f"{run.name}: done in {seconds:.0f} s", flush=True)
            else:
                self.failed.add(run.name)
                print(f"{run.name}: FAILED (exit {process.returncode}) after {seconds:.0f} s; "
                      f"last lines of {run.dir}/log.txt:\n{tail(os.path.join(run.dir, 'log.txt'))}",
                      flush=True)

    def stop_all(self):
        for process, (run, _, log) in self.running.items():
            process.terminate()
            process.wait()
            log.close()
            print(f"{run.name}: interrupted; the next run of this command resumes it")


def tail(path, lines=5):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default=DEFAULT_TABLES, help="the declared tables (JSON)")
    parser.add_argument("--runs", help="where runs go (default runs/reproduce, or "
                        "runs/reproduce_quick with --quick)")
    parser.add_argument("--report", help="where report.md and plots/ go (default docs/results, "
                        "or <runs>/report with --quick)")
    parser.add_argument("--archive", help="where complete runs are archived and the report "
                        "reads them (default <report>/runs; empty: none, the report reads "
                        "--runs)")
    parser.add_argument("--readme", help="the README whose results blocks the report rewrites "
                        "(default README.md when the report goes to docs/results; empty: none)")
    parser.add_argument("--bin_dir", default="bazel-bin",
                        help="where Bazel put the binaries (bazel-bin/<package>/<name>)")
    parser.add_argument("--jobs", type=int, default=1, help="runs side by side (cores split)")
    parser.add_argument("--quick", action="store_true", help="the quick profile")
    parser.add_argument("--only", default="", help="comma-separated table ids (default: all)")
    parser.add_argument("--dry_run", action="store_true", help="print the runs, run nothing")
    parser.add_argument("--list_binaries", action="store_true",
                        help="print the Bazel targets of the binaries the selected tables run, "
                        "and stop")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    args.profile = "quick" if args.quick else "full"
    args.runs = args.runs or ("runs/reproduce_quick" if args.quick else "runs/reproduce")
    default_report = args.report is None and not args.quick
    args.report = args.report or (os.path.join(args.runs, "report") if args.quick
                                  else "docs/results")
    if args.readme is None:
        args.readme = "README.md" if default_report else ""
    if args.archive is None:
        args.archive = os.path.join(args.report, "runs")
    return args


def selected_runs(runs, tables, only):
    """The runs of the tables `only` names (all if it is empty), and those whose models they
    take from other tables."""
    if not only:
        return runs
    wanted = only.split(",")
    known = {t["id"] for t in tables}
    unknown = [t for t in wanted if t not in known]
    if unknown:
        raise SystemExit(f"--only: unknown table(s) {', '.join(unknown)}; "
                         f"declared: {', '.join(sorted(known))}")
    needed = set()
    pending = [run for run in runs if run.table in wanted]
    while pending:
        run = pending.pop()
        if run.name not in needed:
            needed.add(run.name)
            pending.extend(run.inputs.values())
    # Evaluations of the selected models come along: they are short, and the models are here.
    needed.update(run.name for run in runs if run.evaluation
                  and all(source.name in needed for source in run.inputs.values()))
    return [run for run in runs if run.name in needed]


def main(argv):
    args = parse_args(argv)
    tables = results_report.load_tables(args.tables)
    runs = selected_runs(plan_runs(tables, args.profile, args.runs), tables, args.only)
    if args.list_binaries:
        print("\n".join(sorted({results_report.binary_label(run.binary) for run in runs})))
        return 0
    archive = Archive(args.archive) if args.archive else None
    if archive is not None and not args.dry_run:
        archive.update(runs)
    to_make = runs_to_make(runs, archive)
    making = {run.name for run in to_make}
    if args.dry_run:
        for run in runs:
            print(run.name, "to make" if run.name in making else "complete", run.binary,
                  " ".join(run.flags),
                  " ".join(f"{f or 'model'}=<{s.name}>" for f, s in run.inputs.items()))
        return 0
    missing = sorted({results_report.binary_label(r.binary) for r in to_make if not os.access(
        os.path.join(args.bin_dir, results_report.binary_path(r.binary)), os.X_OK)})
    if missing:
        raise SystemExit(f"no executable {', '.join(missing)} in {args.bin_dir} "
                         "(tools/reproduce.sh builds them)")
    for run in runs:
        if run.name not in making:
            print(f"{run.name}: complete, skipped")
    started = time.time()
    failed = Scheduler(to_make, args.bin_dir, args.jobs, machine(), archive).run_all()
    print(f"{len(runs) - len(failed)} of {len(runs)} runs complete ({len(to_make)} made or "
          f"resumed) in {time.time() - started:.0f} s; {len(failed)} failed")
    report_args = [f"--tables={args.tables}", f"--runs={args.archive or args.runs}",
                   f"--out={args.report}", f"--profile={args.profile}",
                   "--command=tools/reproduce.sh " + " ".join(argv)]
    if args.readme:
        report_args.append(f"--readme={args.readme}")
    report_status = results_report.main(report_args)
    return 1 if failed or report_status else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
