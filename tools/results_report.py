#!/usr/bin/env python3
"""Writes the report of the runs a tables file declares: report.md and SVG plots.

    python3 tools/results_report.py --tables=TABLES.json --runs=RUNS --out=OUT \\
        [--profile=full|quick] [--only=TABLE,...] [--command="COMMAND THAT MADE THE RUNS"] \\
        [--date=DATE] [--readme=README.md]

The tables file declares the results tables: for each, the experiment binary, its shared
flags, the seeds, the summary.json keys shown as columns and one row per configuration (its
flags; `inputs`, flags that take the model file of an earlier row, such as a teacher; and,
when they differ from the table's, its own binary and seeds). A table of kind "evaluation"
runs a binary that reads a model file and writes a summary (runtime:run_model) instead of
training: each row names, as `model`, the row of an earlier table ("table/row") whose model
file of the same seed it evaluates.
tools/reproduce.py runs every (row, seed) into RUNS/<table id>/<row id>/seed<N>/ (run_dir),
where the binary writes summary.json when it completes and metrics.jsonl as it trains, and
the runner writes reproduce.json: the table, row, seed, binary, arguments, profile and
machine of the run.

OUT/report.md gives, for each table, the mean ± sample standard deviation of every column
over the seeds that completed, with the per-seed values, the median wall time, and each row's
difference from the table's first row; its header names the machines the runs were made on.
A run without a summary.json is shown as missing, and listed at the end, rather than failing
the report. OUT/plots/ receives accuracy (or perplexity) against model size over all tables,
and each table's training curves. The SVG is written by hand, so that the report needs
nothing but Python's standard library.

With --readme, the README's results tables are rewritten from the same results: every block
between the lines `<!-- results:ID -->` and `<!-- end results:ID -->` receives table ID of the
report (mean ± standard deviation, per-seed values of its quality column, the difference from
the first row), a line naming the report and the command, and each row's command. The rest of
the README is left as it is, as are the blocks of tables not reported or with missing runs.

The same inputs give the same output, byte for byte, but for the date line (--date fixes it).
load_tables, run_seeds and run_dir are shared with the runner; importing this module has no
side effects.
"""

import argparse
import collections
import dataclasses
import datetime
import json
import math
import os
import re
import statistics
import sys
from xml.sax.saxutils import escape

SUMMARY_FILE = "summary.json"
METRICS_FILE = "metrics.jsonl"
REPRODUCE_FILE = "reproduce.json"
REPORT_FILE = "report.md"
PLOTS_DIR = "plots"
PROFILES = ("full", "quick")

TABLE_ID_PATTERN = re.compile(r"[a-z0-9_]+")
# Row ids are directory names too; "diffq_lr_1e-3" is one.
ROW_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]*")

# Fields of a table and of a row: name -> required.
TABLE_FIELDS = {"id": True, "title": True, "kind": False, "binary": True, "seeds": True,
                "quick_seeds": False, "flags": True, "quick_flags": False, "columns": True,
                "rows": True}
ROW_FIELDS = {"id": True, "label": True, "binary": False, "seeds": False, "flags": True,
              "quick_flags": False, "inputs": False, "model": False}
# What a table's binary does: train models (the experiments' flags) or evaluate model files.
TRAINING, EVALUATION = "training", "evaluation"

# What a float model's mean_bits is shown as: its summary.json says 0 (no quantized weight).
FLOAT_MEAN_BITS = 32.0
WALL_SECONDS = "wall_seconds"


@dataclasses.dataclass(frozen=True)
class Column:
    """How a summary.json key is shown: heading, decimals (None: 4 significant digits), unit."""

    heading: str
    decimals: int | None
    suffix: str = ""


COLUMNS = {
    "test_accuracy": Column("test accuracy", 4),
    "float_test_accuracy": Column("float test accuracy", 4),
    "valid_perplexity": Column("valid perplexity", 2),
    "test_perplexity": Column("test perplexity", 2),
    "float_test_perplexity": Column("float test perplexity", 2),
    "model_size_mb": Column("size (MB)", None),
    "float_model_size_mb": Column("float size (MB)", None),
    "compressed_file_bytes": Column("compressed file bytes", 0),
    "compression_ratio": Column("ratio", 1, "x"),
    "mean_bits": Column("mean bits", 2),
    "epochs": Column("epochs", 0),
    WALL_SECONDS: Column("wall (s)", 0),
    # runtime:run_model's summaries (runtime/run_summary.proto).
    "float_path_test_accuracy": Column("float path accuracy", 4),
    "weight_bytes": Column("weight bytes in memory", 0),
    "file_bytes": Column("file bytes", 0),
    "latency_ms_p50": Column("p50 ms", 3),
    "float_path_latency_ms_p50": Column("float path p50 ms", 3),
    "latency_ratio": Column("time / float path", 2),
    "float_path_test_perplexity": Column("float path perplexity", 2),
    "tokens_per_second": Column("tokens/s", 0),
    "float_path_tokens_per_second": Column("float path tokens/s", 0),
    "tokens_per_second_ratio": Column("tokens/s / float path", 2),
}

# Columns computed from other keys of a summary: {column: (numerator, denominator)}.
RATIO_COLUMNS = {
    "latency_ratio": ("latency_ms_p50", "float_path_latency_ms_p50"),
    "tokens_per_second_ratio": ("tokens_per_second", "float_path_tokens_per_second"),
}


class ReportError(Exception):
    """A file that cannot be used; the message names the file and what is wrong in it."""


class TablesError(ReportError):
    """A tables file that is not valid; the message names the file, table, row and field."""


# The tables file.


def load_tables(path):
    """The tables of a tables file, validated, with their optional fields filled in.

    A table without quick_seeds gets the first of its seeds, and tables and rows without
    quick_flags get none; rows without inputs get {}. Raises TablesError.
    """
    document = read_json(path, TablesError)
    check_fields(document, {"tables": True}, path)
    tables = document["tables"]
    if not isinstance(tables, list) or not tables:
        raise TablesError(f'{path}: field "tables" must be a non-empty list')
    for index, table in enumerate(tables):
        check_table(table, index, path, tables[:index])
    check_unique([table["id"] for table in tables], f"{path}: table id")
    return [with_defaults(table) for table in tables]


def run_seeds(table, row, profile):
    """The seeds a profile ("full" or "quick") runs a row of a loaded table with.

    A row's own seeds replace the table's. The quick profile keeps those of them that are
    quick_seeds, or else the first.
    """
    seeds = row.get("seeds", table["seeds"])
    if profile != "quick":
        return seeds
    return [seed for seed in seeds if seed in table["quick_seeds"]] or seeds[:1]


def run_binary(table, row):
    return row.get("binary", table["binary"])


def binary_label(binary):
    """The Bazel target of a declared binary: a bare name is one of //experiments."""
    return binary if binary.startswith("//") else f"//experiments:{binary}"


def binary_path(binary):
    """Where Bazel builds a declared binary, relative to bazel-bin."""
    package, _, name = binary_label(binary)[2:].partition(":")
    return os.path.join(package, name)


def run_flags(table, row, profile):
    """A row's flags in a profile, but for --seed and the flags of its inputs."""
    flags = list(table["flags"]) + list(row["flags"])
    if profile == "quick":
        flags += list(table.get("quick_flags", [])) + list(row.get("quick_flags", []))
    return flags


def run_dir(runs, table_id, row_id, seed):
    """The directory of one run: <runs>/<table id>/<row id>/seed<N>."""
    return os.path.join(runs, table_id, row_id, f"seed{seed}")


def check_table(table, index, path, earlier_tables=()):
    check_fields(table, TABLE_FIELDS, f"{path}: tables[{index}]")
    check_id(table, TABLE_ID_PATTERN, f"{path}: tables[{index}]")
    where = f"{path}: table {table['id']!r}"
    if table.get("kind", TRAINING) not in (TRAINING, EVALUATION):
        raise TablesError(f'{where}: field "kind" must be "{TRAINING}" or "{EVALUATION}", '
                          f"not {table['kind']!r}")
    check_text(table, "title", where)
    check_text(table, "binary", where)
    check_seeds(table, "seeds", where)
    check_seeds(table, "quick_seeds", where)
    check_flags(table, "flags", where)
    check_flags(table, "quick_flags", where)
    check_columns(table, where)
    check_rows(table, where, earlier_tables)


def check_rows(table, where, earlier_tables):
    rows = table["rows"]
    if not isinstance(rows, list) or not rows:
        raise TablesError(f'{where}: field "rows" must be a non-empty list')
    for index, row in enumerate(rows):
        check_fields(row, ROW_FIELDS, f"{where}: rows[{index}]")
        check_id(row, ROW_ID_PATTERN, f"{where}: rows[{index}]")
    row_ids = [row["id"] for row in rows]
    check_unique(row_ids, f"{where}: row id")
    for index, row in enumerate(rows):
        row_where = f"{where}: row {row['id']!r}"
        check_text(row, "label", row_where)
        check_text(row, "binary", row_where)
        check_seeds(row, "seeds", row_where)
        check_flags(row, "flags", row_where)
        check_flags(row, "quick_flags", row_where)
        check_inputs(row, row_ids[:index], row_ids, row_where)
        check_model(table, row, earlier_tables, row_where)


def check_inputs(row, earlier_ids, row_ids, where):
    """Each input names a flag and a row of the same table that comes before this one."""
    inputs = row.get("inputs", {})
    if not isinstance(inputs, dict):
        raise TablesError(f'{where}: field "inputs" must be an object (flag: row id)')
    for flag, source in inputs.items():
        if not flag.startswith("--"):
            raise TablesError(f'{where}: field "inputs": {flag!r} is not a flag (--name)')
        if source in earlier_ids:
            continue
        if source == row["id"]:
            problem = "its own row"
        elif source in row_ids:
            problem = f"row {source!r}, which comes after it; rows run in order"
        else:
            problem = f"unknown row {source!r} (rows: {', '.join(row_ids)})"
        raise TablesError(f'{where}: field "inputs": {flag} refers to {problem}')


def check_model(table, row, earlier_tables, where):
    """An evaluation table's row names the row of an earlier table whose model it evaluates;
    a training table's rows do not."""
    evaluation = table.get("kind", TRAINING) == EVALUATION
    if not evaluation:
        if "model" in row:
            raise TablesError(f'{where}: field "model" is for tables of kind "{EVALUATION}"')
        return
    if "model" not in row:
        raise TablesError(f"{where}: missing field 'model' (the \"table/row\" it evaluates)")
    source = row["model"]
    table_id, _, row_id = source.partition("/") if isinstance(source, str) else ("", "", "")
    earlier = {t.get("id"): t for t in earlier_tables}
    if table_id not in earlier:
        raise TablesError(f'{where}: field "model": {source!r} is not "table/row" of a table '
                          f"declared before this one (tables: {', '.join(map(str, earlier))})")
    row_ids = [r.get("id") for r in earlier[table_id]["rows"]]
    if row_id not in row_ids:
        raise TablesError(f'{where}: field "model": table {table_id!r} has no row {row_id!r} '
                          f"(rows: {', '.join(row_ids)})")


def model_source(row):
    """(table id, row id) of the model an evaluation row evaluates."""
    table_id, _, row_id = row["model"].partition("/")
    return table_id, row_id


def check_fields(record, fields, where):
    if not isinstance(record, dict):
        raise TablesError(f"{where}: must be an object")
    for name in record:
        if name not in fields:
            raise TablesError(f"{where}: unknown field {name!r} (known: {', '.join(fields)})")
    for name, required in fields.items():
        if required and name not in record:
            raise TablesError(f"{where}: missing field {name!r}")


def check_id(record, pattern, where):
    if not isinstance(record["id"], str) or not pattern.fullmatch(record["id"]):
        raise TablesError(f'{where}: field "id" must match {pattern.pattern}, '
                          f'not {record["id"]!r}')


def check_text(record, field, where):
    if field not in record:
        return
    if not isinstance(record[field], str) or not record[field].strip():
        raise TablesError(f"{where}: field {field!r} must be a non-empty string")


def check_seeds(record, field, where):
    if field not in record:
        return
    seeds = record[field]
    if (not isinstance(seeds, list) or not seeds
            or not all(type(seed) is int and seed >= 0 for seed in seeds)):
        raise TablesError(f"{where}: field {field!r} must be a non-empty list of integers >= 0")
    check_unique(seeds, f"{where}: field {field!r}: seed")


def check_flags(record, field, where):
    if field not in record:
        return
    flags = record[field]
    if not isinstance(flags, list) or not all(isinstance(flag, str) for flag in flags):
        raise TablesError(f"{where}: field {field!r} must be a list of strings")
    for flag in flags:
        if not flag.startswith("--"):
            raise TablesError(f"{where}: field {field!r}: {flag!r} is not a flag (--name=value)")


def check_columns(table, where):
    columns = table["columns"]
    if not isinstance(columns, list) or not columns:
        raise TablesError(f'{where}: field "columns" must be a non-empty list')
    for column in columns:
        if column not in COLUMNS:
            raise TablesError(f'{where}: field "columns": unknown column {column!r} '
                              f"(known: {', '.join(COLUMNS)})")
    check_unique(columns, f'{where}: field "columns": column')


def check_unique(values, what):
    seen = set()
    for value in values:
        if value in seen:
            raise TablesError(f"{what} {value!r} is a duplicate")
        seen.add(value)


def with_defaults(table):
    table.setdefault("kind", TRAINING)
    table.setdefault("quick_seeds", table["seeds"][:1])
    table.setdefault("quick_flags", [])
    for row in table["rows"]:
        row.setdefault("quick_flags", [])
        row.setdefault("inputs", {})
    return table


# The runs.


@dataclasses.dataclass
class Run:
    """One (row, seed) run. values is None when the run is missing (no summary.json)."""

    seed: int
    values: dict | None  # column -> number, or None when summary.json lacks the key
    metrics: list  # per epoch, in epoch order: {name: number}, "epoch" included
    reproduce: dict | None

    @property
    def completed(self):
        return self.values is not None


@dataclasses.dataclass
class RowResult:
    """A table row and its runs, one per seed of the profile."""

    row: dict
    runs: list

    def completed_runs(self):
        return [run for run in self.runs if run.completed]

    def values(self, column):
        """The column's values over the completed runs that have it."""
        values = [run.values[column] for run in self.completed_runs()]
        return [value for value in values if value is not None]


def load_results(tables, runs, profile):
    """{table id: [RowResult]} for every row of every table."""
    return {table["id"]: [load_row(table, row, runs, profile) for row in table["rows"]]
            for table in tables}


def load_row(table, row, runs, profile):
    columns = list(dict.fromkeys(table["columns"] + [WALL_SECONDS]))
    return RowResult(row, [load_run(runs, table["id"], row["id"], seed, columns)
                           for seed in run_seeds(table, row, profile)])


def load_run(runs, table_id, row_id, seed, columns):
    directory = run_dir(runs, table_id, row_id, seed)
    summary_path = os.path.join(directory, SUMMARY_FILE)
    if not os.path.exists(summary_path):
        return Run(seed, None, [], None)
    summary = read_json_object(summary_path)
    values = {column: summary_value(summary, column, summary_path) for column in columns}
    metrics = read_metrics(os.path.join(directory, METRICS_FILE))
    expected = {"table": table_id, "row": row_id, "seed": seed}
    reproduce = read_reproduce(os.path.join(directory, REPRODUCE_FILE), expected)
    return Run(seed, values, metrics, reproduce)


def summary_value(summary, column, path):
    """The column's number in a summary, or None when absent. Float models have 32 bits."""
    if column == "mean_bits" and summary.get("method") == "float":
        return FLOAT_MEAN_BITS
    if column in RATIO_COLUMNS:
        numerator, denominator = (summary_value(summary, key, path)
                                  for key in RATIO_COLUMNS[column])
        return None if numerator is None or not denominator else numerator / denominator
    if column not in summary:
        return None
    return as_number(summary[column], f"{path}: field {column!r}")


def as_number(value, where):
    """A JSON number, or a string holding one (64-bit integers are written as strings)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
    raise ReportError(f"{where}: {value!r} is not a number")


def read_metrics(path):
    """The finite numeric fields of each epoch of a metrics.jsonl, by epoch; [] if absent.

    An epoch written twice (by a resumed run) counts once, as written last.
    """
    if not os.path.exists(path):
        return []
    by_epoch = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if line.strip():
            record = parse_metrics_line(line, f"{path}:{number}")
            by_epoch[record["epoch"]] = record
    return [by_epoch[epoch] for epoch in sorted(by_epoch)]


def parse_metrics_line(line, where):
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ReportError(f"{where}: not valid JSON: {error}") from None
    if not isinstance(record, dict) or type(record.get("epoch")) is not int:
        raise ReportError(f'{where}: must be an object with an integer "epoch"')
    return {name: float(value) for name, value in record.items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)}


def read_reproduce(path, expected):
    """A run's reproduce.json, or None if absent; its table, row and seed must be the run's."""
    if not os.path.exists(path):
        return None
    reproduce = read_json_object(path)
    for field, value in expected.items():
        if field in reproduce and reproduce[field] != value:
            raise ReportError(f"{path}: field {field!r} is {reproduce[field]!r}, but the "
                              f"run's directory is that of {value!r}")
    return reproduce


def read_json_object(path):
    document = read_json(path, ReportError)
    if not isinstance(document, dict):
        raise ReportError(f"{path}: must be a JSON object")
    return document


def read_json(path, error_type):
    try:
        return json.loads(read_text(path, error_type))
    except json.JSONDecodeError as error:
        raise error_type(f"{path}: not valid JSON: {error}") from None


def read_text(path, error_type=ReportError):
    try:
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        raise error_type(f"{path}: cannot be read: {error}") from None


# Numbers.


@dataclasses.dataclass(frozen=True)
class Stats:
    mean: float
    std: float | None  # sample standard deviation; None for a single value
    count: int


def describe(values):
    """Mean and sample standard deviation (n - 1) of the values, or None if there are none."""
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return Stats(statistics.fmean(values), std, len(values))


def column_decimals(column, value):
    decimals = COLUMNS[column].decimals
    return significant_decimals(value, 4) if decimals is None else decimals


def significant_decimals(value, digits):
    """The decimals that show `digits` significant digits of the value."""
    if value == 0 or not math.isfinite(value):
        return digits - 1
    return max(0, digits - 1 - math.floor(math.log10(abs(value))))


def format_number(value, decimals, suffix=""):
    rounded = round(value, decimals) + 0.0  # + 0.0: no "-0.00"
    return f"{rounded:.{decimals}f}{suffix}"


def format_signed(value, decimals):
    rounded = round(value, decimals) + 0.0
    return f"{rounded:+.{decimals}f}"


# The report.


@dataclasses.dataclass(frozen=True)
class Options:
    tables_path: str
    runs: str
    profile: str
    only: list  # the ids of the tables reported; [] for all
    command: str | None
    date: str
    readme: str | None = None  # the README whose results blocks are rewritten


def render_report(tables, results, options, plots):
    """The text of report.md; `plots` maps a table id (or "" for the overview) to its plots."""
    all_runs = [run for rows in results.values() for result in rows for run in result.runs]
    parts = [render_header(tables, all_runs, options), render_overview(plots.get("", []))]
    for table in tables:
        parts.append(render_table_section(table, results[table["id"]], options.profile,
                                          plots.get(table["id"], [])))
    parts.append(render_missing(tables, results, options.runs))
    return "\n".join(part for part in parts if part)


def render_header(tables, runs, options):
    completed = [run for run in runs if run.completed]
    lines = [
        "# Results",
        "",
        f"- Generated: {options.date}",
        f"- Profile: {options.profile}{profile_note(completed, options.profile)}",
        f"- Command: {code(options.command) if options.command else 'not given'}",
        f"- Tables: {code(options.tables_path)}, {plural(len(tables), 'table')}",
        f"- Runs: {code(options.runs)}, {len(completed)} of {len(runs)} completed",
    ]
    note = ["", "Wall times are those of the runs as they ran, one after another or side by "
            "side (`--jobs`), with whatever else the machine was doing: they tell how long a "
            "table takes, not how fast a method is (the benchmarks under `benchmarks/` do)."]
    return "\n".join(lines + render_machines(completed) + note) + "\n"


def profile_note(runs, profile):
    """Says how many runs reproduce.json records as made with another profile."""
    recorded = [run.reproduce.get("profile") for run in runs if run.reproduce]
    others = collections.Counter(name for name in recorded if name not in (None, profile))
    notes = [f"{plural(count, 'run')} made with profile {name!r}"
             for name, count in sorted(others.items(), key=lambda item: str(item[0]))]
    return f" (but {'; '.join(notes)})" if notes else ""


def render_machines(runs):
    """The header lines naming the distinct machines of the runs' reproduce.json."""
    machines = collections.Counter(describe_machine(run.reproduce["machine"]) for run in runs
                                   if run.reproduce and isinstance(run.reproduce.get("machine"),
                                                                   dict))
    unrecorded = len(runs) - sum(machines.values())
    note = f" ({plural(unrecorded, 'run')} with no machine recorded)" if unrecorded else ""
    if not machines:
        return [f"- Machine: not recorded{note}"]
    if len(machines) == 1:
        return [f"- Machine: {next(iter(machines))}{note}"]
    lines = [f"- Machines: the runs came from {len(machines)} different machines{note}:"]
    return lines + [f"  - {machine} ({plural(count, 'run')})"
                    for machine, count in machines.items()]


def describe_machine(machine):
    """The machine's fields, the usual ones first: "cpu: ...; cores: ...; ..."."""
    known = ["cpu", "cpu_flags", "cores", "os", "libtorch", "blas"]
    names = [name for name in known if name in machine]
    names += sorted(name for name in machine if name not in known)
    return "; ".join(f"{name}: {machine[name]}" for name in names)


def render_overview(plot_links):
    if not plot_links:
        return ""
    return "\n".join(["## Quality against model size", ""] + image_lines(plot_links))


def image_lines(plot_links):
    return [line for link in plot_links for line in (link, "")]


def render_table_section(table, results, profile, plot_links):
    flags = table["flags"] + (table["quick_flags"] if profile == "quick" else [])
    seeds = table["quick_seeds"] if profile == "quick" else table["seeds"]
    lines = [
        f"## {table['title']}",
        "",
        f"Table `{table['id']}`: binary `{table['binary']}`, flags "
        f"{code(' '.join(flags)) if flags else 'none'}, seeds {join_seeds(seeds)}.",
        "",
    ]
    lines += render_rows_of_their_own(results)
    lines += render_markdown_table(table, results)
    lines += render_differences(table, results)
    lines += render_commands(table, profile)
    return "\n".join(lines + image_lines(plot_links))


def render_rows_of_their_own(results):
    """A line naming the rows run with a binary or seeds other than the table's."""
    notes = []
    for result in results:
        row = result.row
        own = [f"binary `{row['binary']}`"] if "binary" in row else []
        own += [f"seeds {join_seeds(run.seed for run in result.runs)}"] if "seeds" in row else []
        if own:
            notes.append(f"{row['label']} ({', '.join(own)})")
    return [f"Rows with their own binary or seeds: {'; '.join(notes)}.", ""] if notes else []


def render_commands(table, profile):
    """Each row's command line."""
    evaluation = table["kind"] == EVALUATION
    lines = ["Commands (`<table/row>` stands for the model file of that row's run of the same "
             "seed):" if evaluation else
             "Commands (`<row>` stands for the model file of that row's run of the same seed, "
             "or of its first):", ""]
    for row in table["rows"]:
        words = ["bazel", "run", binary_label(run_binary(table, row)), "--"]
        words += [f"<{row['model']}>"] if evaluation else []
        words += run_flags(table, row, profile)
        words += [f"{flag}=<{source}>" for flag, source in sorted(row["inputs"].items())]
        words += [] if evaluation else ["--seed=<seed>"]
        lines.append(f"- {row['label']}: {code(' '.join(words))}")
    return lines + [""]


def join_seeds(seeds):
    return ", ".join(str(seed) for seed in seeds)


def render_markdown_table(table, results):
    columns = table["columns"]
    show_wall = WALL_SECONDS not in columns and table["kind"] == TRAINING
    headings = ["row"] + [COLUMNS[column].heading for column in columns]
    headings += ["median wall (s)"] if show_wall else []
    lines = [markdown_row(headings), markdown_row(["---"] + ["---:"] * (len(headings) - 1))]
    for result in results:
        cells = [result.row["label"]] + [format_cell(column, result) for column in columns]
        cells += [format_median_wall(result)] if show_wall else []
        lines.append(markdown_row(cells))
    return lines + [""]


def markdown_row(cells):
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def format_cell(column, result):
    """'mean ± std (a / b / c)' over the completed seeds; 'mean (n=1)' for a single value."""
    if not result.completed_runs():
        return "missing"
    stats = describe(result.values(column))
    if stats is None:
        return "n/a"
    decimals = column_decimals(column, stats.mean)
    suffix = COLUMNS[column].suffix
    text = format_number(stats.mean, decimals, suffix)
    if stats.std is not None:
        text += " ± " + format_number(stats.std, decimals, suffix)
    per_seed = " / ".join(format_seed(run, column, decimals) for run in result.runs)
    if stats.count > 1:
        return f"{text} ({per_seed})"
    return f"{text} (n=1)" if len(result.runs) == 1 else f"{text} (n=1: {per_seed})"


def format_seed(run, column, decimals):
    if not run.completed:
        return "missing"
    value = run.values[column]
    return "n/a" if value is None else format_number(value, decimals, COLUMNS[column].suffix)


def format_median_wall(result):
    """The median: one run slowed by other work on the machine moves it least."""
    if not result.completed_runs():
        return "missing"
    walls = result.values(WALL_SECONDS)
    return format_number(statistics.median(walls), 0) if walls else "n/a"


@dataclasses.dataclass(frozen=True)
class Difference:
    """How a row's mean of a column compares with the first row's."""

    column: str
    unit: str
    relative: bool  # percent of the first row's mean, or else points (the difference x 100)

    def of(self, mean, base):
        return (mean / base - 1) * 100 if self.relative else (mean - base) * 100


DIFFERENCES = [Difference("test_accuracy", " points", relative=False),
               Difference("test_perplexity", "%", relative=True)]


def compared_columns(table):
    """The Differences of a table's columns, in its order; none for evaluations, whose rows
    evaluate different models."""
    if table["kind"] == EVALUATION:
        return []
    return sorted((entry for entry in DIFFERENCES if entry.column in table["columns"]),
                  key=lambda entry: table["columns"].index(entry.column))


def render_differences(table, results):
    """Each row's mean against the first row's, for test accuracy and test perplexity."""
    differences = compared_columns(table)
    if not differences or len(results) < 2:
        return []
    first = results[0]
    if not first.completed_runs():
        return [f"No difference from the first row ({first.row['label']}): it has no "
                "completed run.", ""]
    lines = [f"Against the first row ({first.row['label']}), difference of the means:", ""]
    for result in results[1:]:
        parts = [describe_difference(difference, result, first) for difference in differences]
        lines.append(f"- {result.row['label']}: {', '.join(parts)}")
    return lines + [""]


def describe_difference(difference, result, first):
    return f"{COLUMNS[difference.column].heading} {difference_value(difference, result, first)}"


def difference_value(difference, result, first):
    """"-0.70 points", "+9.90%", or why there is none."""
    stats = describe(result.values(difference.column))
    base = describe(first.values(difference.column))
    if base is None:
        return "n/a (the first row has none)"
    if stats is None:
        return "n/a (no completed run)"
    if difference.relative and base.mean == 0:
        return "n/a (the first row's is 0)"
    return f"{format_signed(difference.of(stats.mean, base.mean), 2)}{difference.unit}"


def render_missing(tables, results, runs):
    missing = [(table["id"], result.row["id"], run.seed) for table in tables
               for result in results[table["id"]] for run in result.runs if not run.completed]
    lines = ["## Missing runs", ""]
    if not missing:
        return "\n".join(lines + [f"None: every run has its {SUMMARY_FILE}."]) + "\n"
    lines.append(f"{plural(len(missing), 'run')} without a {SUMMARY_FILE} under {code(runs)}:")
    lines.append("")
    lines += [f"- `{table_id}/{row_id}/seed{seed}`" for table_id, row_id, seed in missing]
    return "\n".join(lines) + "\n"


def plural(count, noun):
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def code(text):
    """A markdown code span holding the text (which may hold single backquotes)."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


# The README's results blocks.

README_BLOCK_START = re.compile(r"^<!-- results:(?P<id>[^ ]*) -->$", re.M)


def update_readme(path, declared_ids, tables, results, report_path, command, profile):
    """Rewrites the README's results blocks of the reported tables whose every run completed;
    returns what it did to each block ({table id: note})."""
    text = read_text(path)
    reported = {table["id"]: table for table in tables}
    report_link = os.path.relpath(report_path, os.path.dirname(os.path.abspath(path)))
    parts, notes = [], {}
    copied_to = block_end = 0  # text[:copied_to] is in parts; the last block ends at block_end
    for start in README_BLOCK_START.finditer(text):
        table_id = start["id"]
        if start.start() < block_end:
            raise ReportError(f"{path}: <!-- results:{table_id} --> is inside another block")
        if table_id not in declared_ids:
            raise ReportError(f"{path}: the block <!-- results:{table_id} --> names no declared "
                              f"table (tables: {', '.join(declared_ids)})")
        end_marker = f"<!-- end results:{table_id} -->"
        end = re.compile(f"^{re.escape(end_marker)}$", re.M).search(text, start.end())
        if end is None:
            raise ReportError(f"{path}: <!-- results:{table_id} --> has no line {end_marker}")
        block_end = end.end()
        if table_id not in reported:
            continue
        missing = sum(not run.completed for result in results[table_id] for run in result.runs)
        if missing:
            notes[table_id] = f"left as it was ({plural(missing, 'run')} missing)"
            continue
        parts += [text[copied_to:start.end() + 1],
                  render_readme_block(reported[table_id], results[table_id], report_link,
                                      command, profile)]
        copied_to = end.start()
        notes[table_id] = "rewritten"
    write_text_atomically(path, "".join(parts) + text[copied_to:])
    return notes


def render_readme_block(table, results, report_link, command, profile):
    """The table of the README: the quality column with its per-seed values, the others as
    mean ± std, and the difference from the first row."""
    columns = table["columns"]
    differences = compared_columns(table)[:1]
    headings = ["row"] + [COLUMNS[column].heading for column in columns]
    headings += [f"against {results[0].row['label']}" for _ in differences]
    lines = [markdown_row(headings), markdown_row(["---"] + ["---:"] * (len(headings) - 1))]
    for index, result in enumerate(results):
        cells = [result.row["label"]]
        cells += [format_cell(column, result) if column in PER_SEED_COLUMNS
                  else format_summary(column, result) for column in columns]
        cells += ["" if index == 0 else difference_value(entry, result, results[0])
                  for entry in differences]
        lines.append(markdown_row(cells))
    seeds = sorted({run.seed for result in results for run in result.runs})
    source = f"From [{report_link}]({report_link})"
    source += f", made by {code(command)}" if command else ""
    lines += ["", f"Mean ± standard deviation over seeds {join_seeds(seeds)}. {source}.", ""]
    lines += render_commands(table, profile)
    return "\n".join(lines[:-1]) + "\n"


# The columns whose per-seed values the README shows.
PER_SEED_COLUMNS = ("test_accuracy", "test_perplexity")


def format_summary(column, result):
    """'mean ± std' over the completed seeds, without the per-seed values."""
    return format_cell(column, result).split(" (", 1)[0]


def write_text_atomically(path, text):
    """Writes a temporary file beside `path`, then renames it over `path`."""
    temporary = f"{path}.tmp.{os.getpid()}"
    write_text(temporary, text)
    try:
        os.replace(temporary, path)
    except OSError as error:
        os.unlink(temporary)
        raise ReportError(f"{path}: cannot be replaced: {error.strerror}") from None


# SVG.


PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
           "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
WIDTH = 640
LEGEND_LINE = 16
LEGEND_LABEL_CHARS = 46


def colour(index):
    return PALETTE[index % len(PALETTE)]


def pixels(value):
    return f"{round(value, 1) + 0.0:.1f}"


class Svg:
    """An SVG document built element by element, in the order they are drawn."""

    def __init__(self, width, height, title):
        self.width = width
        self.height = height
        self.elements = [f"<title>{escape(title)}</title>",
                         f'<rect width="{width}" height="{height}" fill="white"/>']

    def line(self, x1, y1, x2, y2, stroke="black", width=1.0):
        self.elements.append(
            f'<line x1="{pixels(x1)}" y1="{pixels(y1)}" x2="{pixels(x2)}" y2="{pixels(y2)}" '
            f'stroke="{stroke}" stroke-width="{width}"/>')

    def rect(self, x, y, width, height, stroke="black", fill="none"):
        self.elements.append(
            f'<rect x="{pixels(x)}" y="{pixels(y)}" width="{pixels(width)}" '
            f'height="{pixels(height)}" stroke="{stroke}" fill="{fill}"/>')

    def circle(self, x, y, radius, fill):
        self.elements.append(
            f'<circle cx="{pixels(x)}" cy="{pixels(y)}" r="{radius}" fill="{fill}"/>')

    def polyline(self, points, stroke):
        coordinates = " ".join(f"{pixels(x)},{pixels(y)}" for x, y in points)
        self.elements.append(f'<polyline points="{coordinates}" fill="none" '
                             f'stroke="{stroke}" stroke-width="1.5"/>')

    def text(self, x, y, content, size=11, anchor="start", fill="black", rotate=False):
        transform = f' transform="rotate(-90 {pixels(x)} {pixels(y)})"' if rotate else ""
        self.elements.append(
            f'<text x="{pixels(x)}" y="{pixels(y)}" font-size="{size}" '
            f'text-anchor="{anchor}" fill="{fill}"{transform}>{escape(content)}</text>')

    def render(self):
        header = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" '
                  f'height="{self.height}" viewBox="0 0 {self.width} {self.height}" '
                  f'font-family="sans-serif">')
        return "\n".join([header] + ["  " + element for element in self.elements]
                         + ["</svg>"]) + "\n"


@dataclasses.dataclass(frozen=True)
class Scale:
    """Maps values in [low, high] to pixels in [start, end], linearly or on a log scale."""

    low: float
    high: float
    start: float
    end: float
    log: bool = False

    def __call__(self, value):
        transform = math.log10 if self.log else float
        low, high = transform(self.low), transform(self.high)
        return self.start + (transform(value) - low) / (high - low) * (self.end - self.start)


@dataclasses.dataclass(frozen=True)
class Frame:
    """A plot area in pixels: left, top, right, bottom."""

    left: float
    top: float
    right: float
    bottom: float


def padded_range(values, log=False, margin=0.08):
    """[low, high] holding the values with a margin; never empty. Log: in decades."""
    points = [math.log10(value) for value in values] if log else list(values)
    low, high = min(points), max(points)
    span = high - low
    pad = span * margin if span > 0 else (0.3 if log else max(abs(low) * 0.1, 0.01))
    low, high = low - pad, high + pad
    return (10 ** low, 10 ** high) if log else (low, high)


def nice_step(raw):
    power = 10 ** math.floor(math.log10(raw))
    return next(factor * power for factor in (1, 2, 5, 10) if factor * power >= raw * 0.999)


def linear_ticks(low, high, count=5, integer=False):
    """(value, label) of round values in [low, high], about `count` of them."""
    step = nice_step((high - low) / count)
    if integer:
        step = max(1, round(step))
    first, last = math.ceil(low / step - 1e-9), math.floor(high / step + 1e-9)
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    return [(k * step, format_number(k * step, decimals)) for k in range(first, last + 1)]


def log_ticks(low, high):
    """(value, label) of powers of 10 in [low, high], or if fewer than 3, of 1, 2 and 5 (then
    1, 2, 3 and 5) times powers of 10, or else of round linear values."""
    powers = range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
    for factors in ((1,), (1, 2, 5), (1, 2, 3, 5)):
        ticks = [factor * 10.0 ** power for power in powers for factor in factors]
        ticks = [tick for tick in ticks if low <= tick <= high]
        if len(ticks) >= 3:
            return [(tick, f"{tick:g}") for tick in ticks]
    return linear_ticks(low, high)


def draw_axes(svg, frame, x_scale, y_scale, x_ticks, y_ticks):
    """Grid lines and tick labels at the ticks, the frame, and nothing else."""
    for value, label in x_ticks:
        x = x_scale(value)
        svg.line(x, frame.top, x, frame.bottom, stroke="#e0e0e0")
        svg.text(x, frame.bottom + 15, label, size=10, anchor="middle")
    for value, label in y_ticks:
        y = y_scale(value)
        svg.line(frame.left, y, frame.right, y, stroke="#e0e0e0")
        svg.text(frame.left - 5, y + 3.5, label, size=10, anchor="end")
    svg.rect(frame.left, frame.top, frame.right - frame.left, frame.bottom - frame.top)


def draw_axis_labels(svg, frame, x_label, y_label=None):
    svg.text((frame.left + frame.right) / 2, frame.bottom + 34, x_label, anchor="middle")
    if y_label:
        svg.text(frame.left - 46, (frame.top + frame.bottom) / 2, y_label, anchor="middle",
                 rotate=True)


def legend_height(entries):
    return math.ceil(len(entries) / 2) * LEGEND_LINE


def draw_legend(svg, entries, top):
    """Colour swatches and labels in two columns, from `top` down."""
    column_width, lines = (WIDTH - 40) / 2, math.ceil(len(entries) / 2)
    for index, (label, fill) in enumerate(entries):
        x = 20 + (index // lines) * column_width
        y = top + (index % lines) * LEGEND_LINE
        svg.rect(x, y - 9, 10, 10, stroke=fill, fill=fill)
        svg.text(x + 16, y, shorten(label, LEGEND_LABEL_CHARS))


def shorten(text, length):
    return text if len(text) <= length else text[:length - 1] + "…"


@dataclasses.dataclass(frozen=True)
class Point:
    label: str
    x: float
    y: float
    error: float  # half the error bar: the standard deviation, 0 for one seed


def tradeoff_plot(series, title, y_label):
    """Points (x on a log scale) with vertical error bars: series is [(name, [Point])]."""
    points = [point for _, group in series for point in group]
    frame = Frame(left=70, top=36, right=WIDTH - 20, bottom=300)
    entries = [(name, colour(index)) for index, (name, _) in enumerate(series)]
    svg = Svg(WIDTH, frame.bottom + 60 + legend_height(entries), title)
    svg.text(WIDTH / 2, 22, title, size=14, anchor="middle")
    x_low, x_high = padded_range([point.x for point in points], log=True)
    y_low, y_high = padded_range([point.y - point.error for point in points]
                                 + [point.y + point.error for point in points])
    x_scale = Scale(x_low, x_high, frame.left, frame.right, log=True)
    y_scale = Scale(y_low, y_high, frame.bottom, frame.top)
    draw_axes(svg, frame, x_scale, y_scale, log_ticks(x_low, x_high),
              linear_ticks(y_low, y_high))
    draw_axis_labels(svg, frame, "model size (MB, log scale)", y_label)
    for (_, group), (_, fill) in zip(series, entries):
        for point in group:
            draw_point(svg, frame, x_scale(point.x), y_scale, point, fill)
    draw_legend(svg, entries, frame.bottom + 56)
    return svg.render()


def draw_point(svg, frame, x, y_scale, point, fill):
    """A dot at the mean, its error bar, and its label beside it (left of it near the edge)."""
    if point.error > 0:
        top, bottom = y_scale(point.y + point.error), y_scale(point.y - point.error)
        svg.line(x, top, x, bottom, stroke=fill)
        svg.line(x - 3, top, x + 3, top, stroke=fill)
        svg.line(x - 3, bottom, x + 3, bottom, stroke=fill)
    y = y_scale(point.y)
    svg.circle(x, y, 4, fill)
    near_right_edge = x > frame.right - 120
    svg.text(x - 7 if near_right_edge else x + 7, y - 6, point.label, size=10,
             anchor="end" if near_right_edge else "start", fill="#333333")


@dataclasses.dataclass(frozen=True)
class Panel:
    title: str
    curves: list  # one [(epoch, value)] per row, in row order; [] where a row has none


def curves_plot(title, labels, panels):
    """One panel per metric, side by side, with a line per row over the epochs."""
    entries = [(label, colour(index)) for index, label in enumerate(labels)]
    frames = panel_frames(len(panels))
    svg = Svg(WIDTH, frames[0].bottom + 60 + legend_height(entries), title)
    svg.text(WIDTH / 2, 18, title, size=14, anchor="middle")
    for panel, frame in zip(panels, frames):
        draw_panel(svg, frame, panel)
    draw_legend(svg, entries, frames[0].bottom + 56)
    return svg.render()


def panel_frames(count):
    gap, left, right = 70, 70, WIDTH - 20
    width = (right - left - gap * (count - 1)) / count
    return [Frame(left + index * (width + gap), 50, left + index * (width + gap) + width, 300)
            for index in range(count)]


def draw_panel(svg, frame, panel):
    points = [point for curve in panel.curves for point in curve]
    epochs, values = [epoch for epoch, _ in points], [value for _, value in points]
    x_low, x_high = padded_range(epochs, margin=0.04)
    y_low, y_high = padded_range(values)
    x_scale = Scale(x_low, x_high, frame.left, frame.right)
    y_scale = Scale(y_low, y_high, frame.bottom, frame.top)
    svg.text((frame.left + frame.right) / 2, frame.top - 8, panel.title, size=12,
             anchor="middle")
    draw_axes(svg, frame, x_scale, y_scale, linear_ticks(x_low, x_high, integer=True),
              linear_ticks(y_low, y_high))
    draw_axis_labels(svg, frame, "epoch")  # the panel's title names the y axis
    for index, curve in enumerate(panel.curves):
        pixels_of_curve = [(x_scale(epoch), y_scale(value)) for epoch, value in curve]
        if len(pixels_of_curve) > 1:
            svg.polyline(pixels_of_curve, colour(index))
        for x, y in pixels_of_curve:
            svg.circle(x, y, 2.5, colour(index))


# The plots.


@dataclasses.dataclass(frozen=True)
class TradeoffPlot:
    """A plot of a column's mean against the mean model size, over the tables that have both."""

    file: str
    title: str
    column: str


# A table goes to the first of these whose column it has.
TRADEOFF_PLOTS = [
    TradeoffPlot("perplexity_vs_size.svg", "Test perplexity against model size",
                 "test_perplexity"),
    TradeoffPlot("accuracy_vs_size.svg", "Test accuracy against model size", "test_accuracy"),
]
# The training curves' second panel: the first of these the runs have (a 0 is not measured).
SECOND_PANEL_METRICS = [("valid_perplexity", "valid perplexity"),
                        ("test_accuracy", "test accuracy")]


def make_plots(tables, results):
    """{file name: (title, SVG text)} and {table id, or "" for the overview: [file name]}."""
    files, owners = {}, collections.defaultdict(list)
    for plot, series in tradeoff_series(tables, results):
        y_label = COLUMNS[plot.column].heading
        files[plot.file] = (plot.title, tradeoff_plot(series, plot.title, y_label))
        owners[""].append(plot.file)
    for table in tables:
        panels = curve_panels(results[table["id"]])
        if panels:
            name = f"{table['id']}_curves.svg"
            title = f"Training curves: {table['title']}"
            labels = [result.row["label"] for result in results[table["id"]]]
            files[name] = (title, curves_plot(title, labels, panels))
            owners[table["id"]].append(name)
    return files, owners


def tradeoff_series(tables, results):
    """(TradeoffPlot, [(table title, [Point])]) of each size plot that has points."""
    grouped = collections.defaultdict(list)
    for table in tables:
        plot = tradeoff_plot_of(table)
        points = tradeoff_points(results[table["id"]], plot.column) if plot else []
        if points:
            grouped[plot.file].append((table["title"], points))
    return [(plot, grouped[plot.file]) for plot in TRADEOFF_PLOTS if grouped[plot.file]]


def tradeoff_plot_of(table):
    if "model_size_mb" not in table["columns"]:
        return None
    return next((plot for plot in TRADEOFF_PLOTS if plot.column in table["columns"]), None)


def tradeoff_points(results, column):
    points = []
    for result in results:
        quality, size = describe(result.values(column)), describe(result.values("model_size_mb"))
        if quality is not None and size is not None and plottable(size, quality):
            points.append(Point(result.row["label"], size.mean, quality.mean, quality.std or 0.0))
    return points


def plottable(size, quality):
    """Whether a point can be drawn: a positive size (log scale) and finite numbers."""
    numbers = (size.mean, quality.mean, quality.std or 0.0)
    return size.mean > 0 and all(math.isfinite(number) for number in numbers)


def curve_panels(results):
    """The train loss panel and, if measured, a second one; [] when there are no metrics."""
    losses = [mean_curve(result, "train_loss") for result in results]
    if not any(losses):
        return []
    panels = [Panel("train loss", losses)]
    for metric, title in SECOND_PANEL_METRICS:
        curves = [mean_curve(result, metric) for result in results]
        if any(curves):
            panels.append(Panel(title, curves))
            break
    return panels


def mean_curve(result, metric):
    """[(epoch, mean over the completed seeds)] of a metric; 0 means not measured."""
    by_epoch = collections.defaultdict(list)
    for run in result.completed_runs():
        for record in run.metrics:
            if record.get(metric):
                by_epoch[record["epoch"]].append(record[metric])
    return [(epoch, statistics.fmean(by_epoch[epoch])) for epoch in sorted(by_epoch)]


def plot_links(owners, files):
    """{owner: [markdown image line]}, the paths relative to report.md."""
    return {owner: [f"![{files[name][0]}]({PLOTS_DIR}/{name})" for name in names]
            for owner, names in owners.items()}


# The program.


def make_directory(path):
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise ReportError(f"{path}: cannot be created: {error.strerror}") from None


def write_text(path, text):
    try:
        with open(path, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
    except OSError as error:
        raise ReportError(f"{path}: cannot be written: {error.strerror}") from None


def select_tables(tables, only, path):
    """The tables whose ids `only` lists, all if it is empty."""
    known = [table["id"] for table in tables]
    for table_id in only:
        if table_id not in known:
            raise ReportError(f"--only: {path} has no table {table_id!r} "
                              f"(tables: {', '.join(known)})")
    return [table for table in tables if not only or table["id"] in only]


def write_report(options, out):
    """Reads the tables and runs, writes report.md and the plots; returns the number of runs
    completed and of runs declared."""
    declared = load_tables(options.tables_path)
    tables = select_tables(declared, options.only, options.tables_path)
    results = load_results(tables, options.runs, options.profile)
    files, owners = make_plots(tables, results)
    make_directory(os.path.join(out, PLOTS_DIR))
    for name, (_, svg) in files.items():
        write_text(os.path.join(out, PLOTS_DIR, name), svg)
    report = render_report(tables, results, options, plot_links(owners, files))
    write_text(os.path.join(out, REPORT_FILE), report)
    if options.readme:
        notes = update_readme(options.readme, [table["id"] for table in declared], tables,
                              results, os.path.join(out, REPORT_FILE), options.command,
                              options.profile)
        blocks = "; ".join(f"{table_id} {note}" for table_id, note in notes.items())
        print(f"{options.readme}: results blocks: {blocks or 'none of the reported tables'}")
    runs = [run for rows in results.values() for result in rows for run in result.runs]
    return sum(run.completed for run in runs), len(runs)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Writes report.md and SVG plots of the runs a tables file declares.")
    parser.add_argument("--tables", required=True, help="the tables file (JSON)")
    parser.add_argument("--runs", required=True, help="the runs' directory")
    parser.add_argument("--out", required=True, help="where report.md and plots/ go")
    parser.add_argument("--profile", choices=PROFILES, default="full",
                        help="the seeds expected: every seed (full) or quick_seeds (quick)")
    parser.add_argument("--only", default="",
                        help="comma-separated ids of the tables to report (default: all)")
    parser.add_argument("--command", help="the command that made the runs, for the header")
    parser.add_argument("--date", help="the generation date shown (default: now, UTC)")
    parser.add_argument("--readme", help="a README whose results blocks are rewritten")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    date = args.date or datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M UTC")
    only = [table_id for table_id in args.only.split(",") if table_id]
    options = Options(args.tables, args.runs, args.profile, only, args.command, date,
                      args.readme)
    try:
        completed, total = write_report(options, args.out)
    except ReportError as error:
        print(f"results_report: {error}", file=sys.stderr)
        return 1
    print(f"wrote {os.path.join(args.out, REPORT_FILE)}: {completed} of {total} runs completed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
