#!/usr/bin/env python3
"""Tests of results_report.py: a report of fake runs, its numbers and plots, and the errors
of invalid tables files.

    python3 tools/results_report_test.py

Runs from any directory; temporary files go under $TEST_TMPDIR when it is set.
"""

import contextlib
import copy
import io
import json
import os
import shutil
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ElementTree

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import results_report  # noqa: E402 (found through the path above)

MACHINE_A = {"cpu": "AMD EPYC 7B13", "cores": 2, "libtorch": "1.13.1+dfsg-4",
             "blas": "libopenblas0-pthread 0.3.21+ds-4", "os": "Debian GNU/Linux 12 (bookworm)"}
MACHINE_B = dict(MACHINE_A, cpu="Intel Xeon Gold 6248")

TABLES = {
    "tables": [
        {
            "id": "cls",
            "title": "DiffQ: ResNet-20 on Fashion-MNIST",
            "binary": "cifar_diffq",
            "seeds": [1, 2, 3],
            "flags": ["--dataset=fashion_mnist", "--model=resnet20", "--epochs=3"],
            "quick_flags": ["--epochs=1"],
            "columns": ["test_accuracy", "model_size_mb", "compression_ratio", "mean_bits"],
            "rows": [
                {"id": "float", "label": "float", "flags": ["--method=float"]},
                {"id": "diffq", "label": "DiffQ, penalty 10",
                 "flags": ["--method=diffq", "--penalty=10"], "inputs": {"--teacher": "float"}},
            ],
        },
        {
            "id": "lm",
            "title": "Small LSTM on KJV",
            "binary": "lm_diffq",
            "seeds": [1, 2],
            "flags": ["--dataset=kjv", "--model=lstm_lm_small"],
            "columns": ["test_perplexity", "test_accuracy", "model_size_mb"],
            "rows": [
                {"id": "float", "label": "float", "flags": ["--method=float"]},
                {"id": "diffq", "label": "DiffQ", "flags": ["--method=diffq"]},
            ],
        },
    ]
}

# (table, row, seed): the summary.json fields of each completed run; cls/diffq/seed3 is missing.
SUMMARIES = {
    ("cls", "float", 1): {"method": "float", "test_accuracy": 0.90, "model_size_mb": 1.0,
                          "compression_ratio": 1, "mean_bits": 0, "wall_seconds": 100.2},
    ("cls", "float", 2): {"method": "float", "test_accuracy": 0.91, "model_size_mb": 1.0,
                          "compression_ratio": 1, "mean_bits": 0, "wall_seconds": 110.0},
    ("cls", "float", 3): {"method": "float", "test_accuracy": 0.92, "model_size_mb": 1.0,
                          "compression_ratio": 1, "mean_bits": 0, "wall_seconds": 120.0},
    ("cls", "diffq", 1): {"method": "diffq", "test_accuracy": 0.88, "model_size_mb": 0.0625,
                          "compression_ratio": "16", "mean_bits": 2.1, "wall_seconds": 200},
    ("cls", "diffq", 2): {"method": "diffq", "test_accuracy": 0.89, "model_size_mb": 0.0625,
                          "compression_ratio": "16", "mean_bits": 2.3, "wall_seconds": 210},
    ("lm", "float", 1): {"method": "float", "test_perplexity": 100.0, "test_accuracy": 0.28,
                         "model_size_mb": 10.12115478515625, "wall_seconds": 697.37},
    ("lm", "float", 2): {"method": "float", "test_perplexity": 102.0, "test_accuracy": 0.29,
                         "model_size_mb": 10.12115478515625, "wall_seconds": 700.0},
    ("lm", "diffq", 1): {"method": "diffq", "test_perplexity": 110.0, "test_accuracy": 0.27,
                         "model_size_mb": 2.5, "wall_seconds": 800.0},
    ("lm", "diffq", 2): {"method": "diffq", "test_perplexity": 112.0, "test_accuracy": 0.27,
                         "model_size_mb": 2.5, "wall_seconds": 810.0},
}


def temporary_directory():
    return tempfile.mkdtemp(prefix="results_report_test_", dir=os.environ.get("TEST_TMPDIR"))


def write_json(path, value):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as file:
        json.dump(value, file)


def metrics_lines(table_id, summary):
    """Two epochs of metrics.jsonl; language models have a validation perplexity."""
    lines = []
    for epoch in (1, 2):
        record = {"epoch": epoch, "train_loss": 2.0 / epoch, "test_loss": 0, "lr": 0.1,
                  "test_accuracy": summary["test_accuracy"] if table_id == "cls" else 0,
                  "extra": {}}
        if table_id == "lm":
            record["valid_perplexity"] = summary["test_perplexity"] + 10 / epoch
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def write_runs(runs):
    for (table_id, row_id, seed), summary in SUMMARIES.items():
        directory = results_report.run_dir(runs, table_id, row_id, seed)
        write_json(os.path.join(directory, "summary.json"), dict(summary, seed=seed))
        with open(os.path.join(directory, "metrics.jsonl"), "w", encoding="utf-8") as file:
            file.write(metrics_lines(table_id, summary))
        write_json(os.path.join(directory, "reproduce.json"), {
            "table": table_id, "row": row_id, "seed": seed, "binary": "b", "args": [],
            "profile": "full", "machine": MACHINE_A if table_id == "cls" else MACHINE_B})
    # A run that started but did not complete: a directory without summary.json.
    os.makedirs(results_report.run_dir(runs, "cls", "diffq", 3))


def run_main(argv):
    """main's exit code, standard output and standard error."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = results_report.main(argv)
    return code, stdout.getvalue(), stderr.getvalue()


def read(path):
    with open(path, encoding="utf-8") as file:
        return file.read()


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.directory = temporary_directory()
        self.addCleanup(shutil.rmtree, self.directory)
        self.tables_path = os.path.join(self.directory, "tables.json")
        self.runs = os.path.join(self.directory, "runs")
        self.out = os.path.join(self.directory, "out")
        self.stdout = ""
        write_json(self.tables_path, TABLES)
        write_runs(self.runs)

    def generate(self, *extra):
        """Writes the report of the runs into self.out and returns report.md's text."""
        code, stdout, stderr = run_main([f"--tables={self.tables_path}", f"--runs={self.runs}",
                                         f"--out={self.out}", "--date=2024-05-06", *extra])
        self.assertEqual(code, 0, stderr)
        self.stdout = stdout
        return read(os.path.join(self.out, "report.md"))

    def table_line(self, report, section_title, label):
        """The markdown table line of a row in the section with that title."""
        section = report.split(f"## {section_title}\n", 1)[1].split("\n## ", 1)[0]
        return next(line for line in section.splitlines() if line.startswith(f"| {label} |"))

    def test_header(self):
        report = self.generate("--command=python3 tools/reproduce.py --profile=full")
        self.assertTrue(report.startswith("# Results\n"))
        self.assertIn("- Generated: 2024-05-06\n", report)
        self.assertIn("- Profile: full\n", report)
        self.assertIn("- Command: `python3 tools/reproduce.py --profile=full`\n", report)
        self.assertIn("9 of 10 completed", report)
        self.assertIn("9 of 10 runs completed", self.stdout)
        self.assertIn("the runs came from 2 different machines", report)
        self.assertIn("cpu: AMD EPYC 7B13; cores: 2; os: Debian GNU/Linux 12 (bookworm); "
                      "libtorch: 1.13.1+dfsg-4; blas: libopenblas0-pthread 0.3.21+ds-4 (5 runs)",
                      report)
        self.assertIn("cpu: Intel Xeon Gold 6248;", report)

    def test_mean_std_and_per_seed_values(self):
        report = self.generate()
        line = self.table_line(report, "DiffQ: ResNet-20 on Fashion-MNIST", "float")
        # Mean 0.91, sample standard deviation 0.01; 32 bits for a float model; wall 110.07.
        self.assertIn("| 0.9100 ± 0.0100 (0.9000 / 0.9100 / 0.9200) |", line)
        self.assertIn("| 32.00 ± 0.00 (32.00 / 32.00 / 32.00) |", line)
        self.assertIn("| 1.0x ± 0.0x (1.0x / 1.0x / 1.0x) |", line)
        self.assertTrue(line.endswith("| 110 |"), line)
        line = self.table_line(report, "DiffQ: ResNet-20 on Fashion-MNIST", "DiffQ, penalty 10")
        # Two seeds of three: mean 0.885, std sqrt(2 * 0.005^2 / 1) = 0.00707.
        self.assertIn("| 0.8850 ± 0.0071 (0.8800 / 0.8900 / missing) |", line)
        self.assertIn("| 0.06250 ± 0.00000 (0.06250 / 0.06250 / missing) |", line)
        self.assertIn("| 16.0x ± 0.0x (16.0x / 16.0x / missing) |", line)
        self.assertIn("| 2.20 ± 0.14 (2.10 / 2.30 / missing) |", line)
        self.assertTrue(line.endswith("| 205 |"), line)

    def test_language_model_table(self):
        report = self.generate()
        line = self.table_line(report, "Small LSTM on KJV", "float")
        # Mean 101, sample standard deviation sqrt(2) = 1.414; 10.12 MB to 4 digits.
        self.assertIn("| 101.00 ± 1.41 (100.00 / 102.00) |", line)
        self.assertIn("| 10.12 ± 0.00 (10.12 / 10.12) |", line)
        self.assertTrue(line.endswith("| 699 |"), line)

    def test_difference_from_first_row(self):
        report = self.generate()
        # 0.885 - 0.91 = -2.5 points; 111 / 101 - 1 = +9.90%, 0.27 - 0.285 = -1.5 points.
        self.assertIn("- DiffQ, penalty 10: test accuracy -2.50 points\n", report)
        self.assertIn("- DiffQ: test perplexity +9.90%, test accuracy -1.50 points\n", report)

    def test_missing_runs(self):
        report = self.generate()
        missing = report.split("## Missing runs\n", 1)[1]
        self.assertIn("1 run without a summary.json", missing)
        self.assertIn("- `cls/diffq/seed3`", missing)

    def test_quick_profile_has_one_seed(self):
        code, _, stderr = run_main([f"--tables={self.tables_path}", f"--runs={self.runs}",
                                    f"--out={self.out}", "--profile=quick", "--date=d"])
        self.assertEqual(code, 0, stderr)
        report = read(os.path.join(self.out, "report.md"))
        line = self.table_line(report, "DiffQ: ResNet-20 on Fashion-MNIST", "float")
        self.assertIn("| 0.9000 (n=1) |", line)
        self.assertIn("flags `--dataset=fashion_mnist --model=resnet20 --epochs=3 --epochs=1`",
                      report)
        self.assertIn("(but 4 runs made with profile 'full')", report)
        self.assertIn("- float: `bazel run //experiments:cifar_diffq -- --dataset=fashion_mnist "
                      "--model=resnet20 --epochs=3 --method=float --epochs=1 --seed=<seed>`\n",
                      report)
        self.assertIn("None: every run has its summary.json.", report)

    def test_every_run_missing(self):
        shutil.rmtree(os.path.join(self.runs, "lm"))
        code, _, stderr = run_main([f"--tables={self.tables_path}", f"--runs={self.runs}",
                                    f"--out={self.out}", "--date=d"])
        self.assertEqual(code, 0, stderr)
        report = read(os.path.join(self.out, "report.md"))
        self.assertIn("| float | missing | missing | missing | missing |", report)
        self.assertIn("- `lm/diffq/seed2`", report)
        self.assertFalse(os.path.exists(os.path.join(self.out, "plots", "lm_curves.svg")))

    def test_plots_are_svg_and_linked(self):
        report = self.generate()
        plots = os.path.join(self.out, "plots")
        self.assertEqual(sorted(os.listdir(plots)), [
            "accuracy_vs_size.svg", "cls_curves.svg", "lm_curves.svg", "perplexity_vs_size.svg"])
        for name in os.listdir(plots):
            root = ElementTree.parse(os.path.join(plots, name)).getroot()
            self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg", name)
            self.assertIn(f"](plots/{name})", report)
        accuracy = read(os.path.join(plots, "accuracy_vs_size.svg"))
        self.assertIn(">DiffQ, penalty 10</text>", accuracy)
        self.assertNotIn("Small LSTM", accuracy)  # it has perplexity: the other plot
        self.assertIn(">valid perplexity</text>", read(os.path.join(plots, "lm_curves.svg")))
        self.assertIn(">test accuracy</text>", read(os.path.join(plots, "cls_curves.svg")))

    def test_output_is_deterministic(self):
        first = self.generate()
        first_plots = {name: read(os.path.join(self.out, "plots", name))
                       for name in os.listdir(os.path.join(self.out, "plots"))}
        shutil.rmtree(self.out)
        self.assertEqual(self.generate(), first)
        for name, text in first_plots.items():
            self.assertEqual(read(os.path.join(self.out, "plots", name)), text, name)

    def test_rows_with_their_own_seeds_and_binary(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][1]["rows"][0].update(seeds=[2], binary="lm_baseline")
        write_json(self.tables_path, tables)
        report = self.generate()
        self.assertIn("Rows with their own binary or seeds: float (binary `lm_baseline`, "
                      "seeds 2).", report)
        self.assertIn("| 102.00 (n=1) |", self.table_line(report, "Small LSTM on KJV", "float"))
        # 111 / 102 - 1 = +8.82%.
        self.assertIn("- DiffQ: test perplexity +8.82%", report)

    def test_only_some_tables(self):
        report = self.generate("--only=lm")
        self.assertNotIn("## DiffQ: ResNet-20", report)
        self.assertIn("## Small LSTM on KJV", report)
        self.assertIn("None: every run has its summary.json.", report)
        code, _, stderr = run_main([f"--tables={self.tables_path}", f"--runs={self.runs}",
                                    f"--out={self.out}", "--only=lm,nope"])
        self.assertEqual(code, 1)
        self.assertIn("--only: ", stderr)
        self.assertIn("has no table 'nope'", stderr)

    def test_reproduce_json_of_another_run_is_an_error(self):
        path = os.path.join(results_report.run_dir(self.runs, "cls", "float", 2), "reproduce.json")
        write_json(path, {"table": "cls", "row": "float", "seed": 1})
        code, _, stderr = run_main([f"--tables={self.tables_path}", f"--runs={self.runs}",
                                    f"--out={self.out}"])
        self.assertEqual(code, 1)
        self.assertIn(f"{path}: field 'seed' is 1", stderr)

    def test_bad_summary_value_names_file_and_field(self):
        path = os.path.join(results_report.run_dir(self.runs, "lm", "float", 1), "summary.json")
        write_json(path, dict(SUMMARIES[("lm", "float", 1)], test_perplexity="high"))
        code, _, stderr = run_main([f"--tables={self.tables_path}", f"--runs={self.runs}",
                                    f"--out={self.out}"])
        self.assertEqual(code, 1)
        self.assertIn(f"{path}: field 'test_perplexity': 'high' is not a number", stderr)


README = """# Project

Results:

<!-- results:cls -->
an old table
<!-- end results:cls -->

Between the tables.

<!-- results:lm -->
<!-- end results:lm -->
The end.
"""


class ReadmeTest(unittest.TestCase):
    """--readme: the README's results blocks rewritten from the report's results."""

    def setUp(self):
        self.directory = temporary_directory()
        self.addCleanup(shutil.rmtree, self.directory)
        self.tables_path = os.path.join(self.directory, "tables.json")
        self.runs = os.path.join(self.directory, "runs")
        self.readme = os.path.join(self.directory, "README.md")
        write_json(self.tables_path, TABLES)
        write_runs(self.runs)
        # Every run complete: the missing seed 3 of DiffQ at 0.90.
        write_json(os.path.join(results_report.run_dir(self.runs, "cls", "diffq", 3),
                                "summary.json"),
                   dict(SUMMARIES[("cls", "diffq", 2)], seed=3, test_accuracy=0.90))

    def update(self, readme_text, *extra):
        """main's exit code and standard error after it ran on a README with that text."""
        with open(self.readme, "w", encoding="utf-8") as file:
            file.write(readme_text)
        code, self.stdout, stderr = run_main([
            f"--tables={self.tables_path}", f"--runs={self.runs}",
            f"--out={os.path.join(self.directory, 'docs')}", f"--readme={self.readme}",
            "--command=tools/reproduce.sh", *extra])
        return code, stderr

    def test_blocks_are_rewritten_and_the_rest_kept(self):
        code, stderr = self.update(README)
        self.assertEqual(code, 0, stderr)
        text = read(self.readme)
        self.assertTrue(text.startswith("# Project\n\nResults:\n\n<!-- results:cls -->\n"
                                        "| row | test accuracy | size (MB) |"), text)
        self.assertNotIn("an old table", text)
        self.assertIn("\n<!-- end results:cls -->\n\nBetween the tables.\n\n"
                      "<!-- results:lm -->\n| row |", text)
        self.assertTrue(text.endswith("<!-- end results:lm -->\nThe end.\n"), text)
        # Per-seed values of the quality column only; the difference from the first row.
        self.assertIn("| float | 0.9100 ± 0.0100 (0.9000 / 0.9100 / 0.9200) | 1.000 ± 0.000 | "
                      "1.0x ± 0.0x | 32.00 ± 0.00 |  |\n", text)
        self.assertIn("| DiffQ, penalty 10 | 0.8900 ± 0.0100 (0.8800 / 0.8900 / 0.9000) | "
                      "0.06250 ± 0.00000 | 16.0x ± 0.0x | 2.23 ± 0.12 | -2.00 points |\n", text)
        self.assertIn("| DiffQ | 111.00 ± 1.41 (110.00 / 112.00) |", text)
        self.assertIn("| +9.90% |\n", text)
        self.assertIn("Mean ± standard deviation over seeds 1, 2, 3. From "
                      "[docs/report.md](docs/report.md), made by `tools/reproduce.sh`.\n", text)
        self.assertIn("\n- DiffQ, penalty 10: `bazel run //experiments:cifar_diffq -- "
                      "--dataset=fashion_mnist --model=resnet20 --epochs=3 --method=diffq "
                      "--penalty=10 --teacher=<float> --seed=<seed>`\n"
                      "<!-- end results:cls -->\n", text)
        # Rewriting again changes nothing.
        code, stderr = self.update(text)
        self.assertEqual(code, 0, stderr)
        self.assertEqual(read(self.readme), text)

    def test_blocks_of_tables_not_reported_or_with_missing_runs_are_kept(self):
        code, stderr = self.update(README, "--only=lm")
        self.assertEqual(code, 0, stderr)
        text = read(self.readme)
        self.assertIn("<!-- results:cls -->\nan old table\n<!-- end results:cls -->", text)
        self.assertIn("| DiffQ | 111.00 ± 1.41 (110.00 / 112.00) |", text)
        os.remove(os.path.join(results_report.run_dir(self.runs, "cls", "diffq", 3),
                               "summary.json"))
        code, stderr = self.update(README)
        self.assertEqual(code, 0, stderr)
        self.assertIn("cls left as it was (1 run missing); lm rewritten", self.stdout)
        self.assertIn("<!-- results:cls -->\nan old table\n<!-- end results:cls -->",
                      read(self.readme))

    def test_bad_blocks_are_errors_and_leave_the_readme(self):
        cases = {
            "unclosed": (README.replace("<!-- end results:lm -->\n", ""),
                         "<!-- results:lm --> has no line <!-- end results:lm -->"),
            "nested": (README.replace("an old table\n", "<!-- results:lm -->\n"),
                       "<!-- results:lm --> is inside another block"),
            "unknown": (README.replace("results:lm", "results:nope"),
                        "the block <!-- results:nope --> names no declared table"),
        }
        for name, (text, message) in cases.items():
            with self.subTest(name):
                code, stderr = self.update(text)
                self.assertEqual(code, 1)
                self.assertIn(f"{self.readme}: {message}", stderr)
                self.assertEqual(read(self.readme), text)


class TablesFileTest(unittest.TestCase):
    def setUp(self):
        self.directory = temporary_directory()
        self.addCleanup(shutil.rmtree, self.directory)
        self.path = os.path.join(self.directory, "tables.json")

    def load(self, tables):
        write_json(self.path, tables)
        return results_report.load_tables(self.path)

    def assert_invalid(self, tables, message):
        """load_tables and main both fail, naming the file and the problem."""
        with self.assertRaises(results_report.TablesError) as raised:
            self.load(tables)
        self.assertIn(f"{self.path}: ", str(raised.exception))
        self.assertIn(message, str(raised.exception))
        code, _, stderr = run_main([f"--tables={self.path}", f"--runs={self.directory}",
                                    f"--out={self.directory}"])
        self.assertEqual(code, 1)
        self.assertIn(message, stderr)

    def test_defaults_are_filled_in(self):
        tables = self.load(TABLES)
        self.assertEqual(tables[0]["quick_seeds"], [1])
        self.assertEqual(tables[1]["quick_flags"], [])
        self.assertEqual(tables[0]["rows"][0]["inputs"], {})
        self.assertEqual(tables[0]["rows"][1]["inputs"], {"--teacher": "float"})
        float_row = tables[0]["rows"][0]
        self.assertEqual(results_report.run_seeds(tables[0], float_row, "quick"), [1])
        self.assertEqual(results_report.run_seeds(tables[0], float_row, "full"), [1, 2, 3])

    def test_row_seeds_replace_the_tables(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][0]["quick_seeds"] = [2, 3]
        rows = tables["tables"][0]["rows"]
        rows[0].update(seeds=[3, 4], binary="cifar_baseline")
        rows[1].update(seeds=[5, 6], id="diffq_lr_1e-3")
        table = self.load(tables)[0]
        self.assertEqual(results_report.run_seeds(table, table["rows"][0], "full"), [3, 4])
        self.assertEqual(results_report.run_seeds(table, table["rows"][0], "quick"), [3])
        self.assertEqual(results_report.run_seeds(table, table["rows"][1], "quick"), [5])

    def test_run_dir(self):
        self.assertEqual(results_report.run_dir("runs", "cls", "float", 2),
                         os.path.join("runs", "cls", "float", "seed2"))

    def test_unknown_column(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][1]["columns"].append("accuracy")
        self.assert_invalid(tables, "table 'lm': field \"columns\": unknown column 'accuracy'")

    def test_input_of_unknown_row(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][0]["rows"][1]["inputs"] = {"--teacher": "teacher"}
        self.assert_invalid(tables, "table 'cls': row 'diffq': field \"inputs\": --teacher "
                                    "refers to unknown row 'teacher'")

    def test_input_of_later_row(self):
        tables = copy.deepcopy(TABLES)
        rows = tables["tables"][0]["rows"]
        rows.reverse()
        self.assert_invalid(tables, "row 'diffq': field \"inputs\": --teacher refers to row "
                                    "'float', which comes after it")

    def test_evaluation_rows_name_a_model_of_an_earlier_table(self):
        evaluation = {"id": "run", "title": "Run", "kind": "evaluation",
                      "binary": "//runtime:run_model", "seeds": [1], "flags": [],
                      "columns": ["test_accuracy", "latency_ratio"],
                      "rows": [{"id": "exact", "label": "exact", "flags": [],
                                "model": "cls/diffq"}]}
        tables = copy.deepcopy(TABLES)
        tables["tables"].append(evaluation)
        loaded = self.load(tables)
        self.assertEqual(results_report.model_source(loaded[2]["rows"][0]), ("cls", "diffq"))
        self.assertEqual(loaded[0]["kind"], "training")
        self.assertEqual(results_report.binary_path("//runtime:run_model"), "runtime/run_model")
        self.assertEqual(results_report.binary_path("cifar_diffq"), "experiments/cifar_diffq")
        cases = [
            (["rows", 0, "model", "cls/nope"], "table 'cls' has no row 'nope'"),
            (["rows", 0, "model", "run/exact"], "'run/exact' is not \"table/row\" of a table "
                                                "declared before this one"),
            (["rows", 0, "model", "diffq"], "'diffq' is not \"table/row\""),
            (["kind", "scoring"], 'field "kind" must be "training" or "evaluation"'),
        ]
        for path, message in cases:
            with self.subTest(message):
                broken = copy.deepcopy(tables)
                record = broken["tables"][2]
                for key in path[:-2]:
                    record = record[key]
                record[path[-2]] = path[-1]
                self.assert_invalid(broken, message)
        missing = copy.deepcopy(tables)
        del missing["tables"][2]["rows"][0]["model"]
        self.assert_invalid(missing, "row 'exact': missing field 'model'")
        training = copy.deepcopy(TABLES)
        training["tables"][0]["rows"][0]["model"] = "lm/float"
        self.assert_invalid(training, 'field "model" is for tables of kind "evaluation"')

    def test_duplicate_table_id(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][1]["id"] = "cls"
        self.assert_invalid(tables, "table id 'cls' is a duplicate")

    def test_duplicate_row_id(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][1]["rows"][1]["id"] = "float"
        self.assert_invalid(tables, "table 'lm': row id 'float' is a duplicate")

    def test_unknown_and_missing_fields(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][0]["rows"][0]["flag"] = []
        self.assert_invalid(tables, "table 'cls': rows[0]: unknown field 'flag'")
        tables = copy.deepcopy(TABLES)
        del tables["tables"][1]["seeds"]
        self.assert_invalid(tables, "tables[1]: missing field 'seeds'")

    def test_bad_ids(self):
        tables = copy.deepcopy(TABLES)
        tables["tables"][0]["id"] = "Bad-Id"
        self.assert_invalid(tables, "field \"id\" must match [a-z0-9_]+, not 'Bad-Id'")
        tables = copy.deepcopy(TABLES)
        tables["tables"][0]["rows"][0]["id"] = "../float"
        self.assert_invalid(tables, "table 'cls': rows[0]: field \"id\" must match")

    def test_not_json(self):
        with open(self.path, "w", encoding="utf-8") as file:
            file.write("{")
        with self.assertRaisesRegex(results_report.TablesError, "not valid JSON"):
            results_report.load_tables(self.path)


if __name__ == "__main__":
    unittest.main()
