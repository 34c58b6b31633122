#!/usr/bin/env python3
"""Tests of reproduce.py against a fake experiment binary: runs in dependency order with their
inputs' model files (those others wait for first), skipping complete runs, resuming
interrupted ones, re-running those declared differently, failures that stop their
dependents, cores split between jobs, and the archive of complete runs the report reads.

    python3 tools/reproduce_test.py

Runs from any directory; temporary files go under $TEST_TMPDIR when it is set.
"""

import contextlib
import io
import json
import os
import shutil
import stat
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import reproduce  # noqa: E402 (found through the path above)

# A stand-in for an experiment binary: records its arguments, fails when FAKE_FAIL names its
# output directory, and otherwise writes the outputs the report reads.
FAKE_BINARY = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
out = [a.split("=", 1)[1] for a in args if a.startswith("--output_dir=")][0]
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(json.dumps(args) + "\n")
if os.environ.get("FAKE_FAIL") and os.environ["FAKE_FAIL"] in out:
    print("simulated failure")
    sys.exit(3)
seed = int([a.split("=", 1)[1] for a in args if a.startswith("--seed=")][0])
with open(os.path.join(out, "metrics.jsonl"), "w") as f:
    f.write(json.dumps({"epoch": 1, "train_loss": 1.0 / seed, "test_accuracy": 0.5}) + "\n")
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump({"method": "float", "test_accuracy": 0.8 + seed / 100, "model_size_mb": 1.0,
               "compression_ratio": 1.0, "wall_seconds": 2.0,
               "model_file": os.path.join(out, "model.mcm")}, f)
'''

# A stand-in for an evaluation binary (runtime:run_model): reads the model file given first,
# writes the summary --summary_json names.
FAKE_EVALUATOR = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_CALLS"], "a") as f:
    f.write(json.dumps(args) + "\n")
assert os.path.basename(args[0]) == "model.mcm", args
out = [a.split("=", 1)[1] for a in args if a.startswith("--summary_json=")][0]
with open(out, "w") as f:
    json.dump({"test_accuracy": 0.75, "latency_ms_p50": 1.5, "float_path_latency_ms_p50": 3.0}, f)
'''

TABLES = {
    "tables": [{
        "id": "t",
        "title": "A table",
        "binary": "fake",
        "seeds": [1, 2],
        "flags": ["--dataset=fashion_mnist"],
        "quick_flags": ["--max_train_batches=2"],
        "columns": ["test_accuracy", "model_size_mb"],
        "rows": [
            {"id": "teacher", "label": "teacher", "seeds": [1], "flags": ["--epochs=3"]},
            {"id": "float", "label": "float", "flags": ["--epochs=1"]},
            {"id": "student", "label": "student", "flags": ["--bits=4"],
             "inputs": {"--teacher": "teacher", "--init_from": "float"}},
        ],
    }]
}


class ReproduceTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMPDIR"))
        root = self.tmp.name
        self.bin_dir = os.path.join(root, "bin")
        for path, text in (("experiments/fake", FAKE_BINARY),
                           ("runtime/evaluate", FAKE_EVALUATOR)):
            path = os.path.join(self.bin_dir, path)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(text)
            os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
        self.tables = os.path.join(root, "tables.json")
        self.write_tables(TABLES)
        self.runs = os.path.join(root, "runs")
        self.report = os.path.join(root, "report")
        self.calls = os.path.join(root, "calls.jsonl")
        os.environ["FAKE_CALLS"] = self.calls
        os.environ.pop("FAKE_FAIL", None)

    def tearDown(self):
        os.environ.pop("FAKE_FAIL", None)
        self.tmp.cleanup()

    def write_tables(self, tables):
        with open(self.tables, "w") as f:
            json.dump(tables, f)

    def reproduce(self, *extra):
        argv = [f"--tables={self.tables}", f"--runs={self.runs}", f"--report={self.report}",
                f"--bin_dir={self.bin_dir}", *extra]
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = reproduce.main(argv)
        return code, out.getvalue()

    def read_calls(self):
        if not os.path.exists(self.calls):
            return []
        with open(self.calls) as f:
            return [json.loads(line) for line in f]

    def output_dirs(self, calls):
        return [next(a for a in c if a.startswith("--output_dir="))[len("--output_dir="):]
                for c in calls]

    def run_path(self, row, seed):
        return os.path.join(self.runs, "t", row, f"seed{seed}")

    def archive_path(self, row, seed, table="t"):
        return os.path.join(self.report, "runs", table, row, f"seed{seed}")

    def read_report(self):
        with open(os.path.join(self.report, "report.md")) as f:
            return f.read()

    def with_evaluation_table(self):
        tables = json.loads(json.dumps(TABLES))
        tables["tables"].append({
            "id": "e", "title": "Evaluated", "kind": "evaluation", "binary": "//runtime:evaluate",
            "seeds": [1, 2], "flags": ["--threads=1"],
            "columns": ["test_accuracy", "latency_ratio"],
            "rows": [{"id": "student", "label": "student, exact", "model": "t/student",
                      "flags": ["--activations=float"]}]})
        self.write_tables(tables)

    def test_runs_rows_in_order_with_their_inputs_model_files(self):
        code, _ = self.reproduce()
        self.assertEqual(code, 0)
        calls = self.read_calls()
        self.assertEqual(self.output_dirs(calls), [
            self.run_path("teacher", 1), self.run_path("float", 1), self.run_path("float", 2),
            self.run_path("student", 1), self.run_path("student", 2)])
        student2 = calls[4]
        # The teacher ran seed 1 only, so seed 2 takes it; the float model is the same seed's.
        self.assertIn(f"--teacher={self.run_path('teacher', 1)}/model.mcm", student2)
        self.assertIn(f"--init_from={self.run_path('float', 2)}/model.mcm", student2)
        self.assertIn("--seed=2", student2)
        self.assertEqual(student2[:2], ["--dataset=fashion_mnist", "--bits=4"])
        with open(os.path.join(self.run_path("student", 2), "reproduce.json")) as f:
            record = json.load(f)
        self.assertEqual(record["inputs"]["--init_from"]["row"], "float")
        self.assertEqual(record["inputs"]["--init_from"]["seed"], 2)
        self.assertEqual(record["inputs"]["--teacher"]["args"], ["--dataset=fashion_mnist",
                                                                 "--epochs=3", "--seed=1"])
        self.assertIn("cores", record["machine"])
        self.assertIn("cpu_flags", record["machine"])
        with open(os.path.join(self.report, "report.md")) as f:
            report = f.read()
        self.assertIn("A table", report)
        self.assertIn("0.8150 ± 0.0071", report)  # float and student: seeds 0.81 and 0.82

    def test_skips_complete_runs(self):
        self.reproduce()
        first = len(self.read_calls())
        code, out = self.reproduce()
        self.assertEqual(code, 0)
        self.assertEqual(len(self.read_calls()), first)
        self.assertEqual(out.count("complete, skipped"), 5)

    def test_resumes_an_interrupted_run(self):
        self.reproduce()
        # Interrupted: no summary, and so never archived.
        os.remove(os.path.join(self.run_path("float", 2), "summary.json"))
        shutil.rmtree(self.archive_path("float", 2))
        self.reproduce()
        calls = self.read_calls()[5:]
        self.assertEqual(self.output_dirs(calls), [self.run_path("float", 2)])
        self.assertIn("--resume", calls[0])

    def test_reruns_a_run_declared_differently_and_keeps_the_old_one(self):
        self.reproduce()
        tables = json.loads(json.dumps(TABLES))
        tables["tables"][0]["rows"][1]["flags"] = ["--epochs=2"]
        self.write_tables(tables)
        self.reproduce()
        calls = self.read_calls()[5:]
        # Both float runs again, then the students, whose input changed with them.
        self.assertEqual(self.output_dirs(calls), [
            self.run_path("float", 1), self.run_path("float", 2),
            self.run_path("student", 1), self.run_path("student", 2)])
        self.assertNotIn("--resume", calls[0])
        self.assertTrue(os.path.exists(self.run_path("float", 1) + ".replaced-1/summary.json"))

    def test_an_archived_run_declared_differently_is_not_reported(self):
        self.reproduce()
        shutil.rmtree(self.runs)
        tables = json.loads(json.dumps(TABLES))
        tables["tables"][0]["rows"][1]["flags"] = ["--epochs=2"]
        self.write_tables(tables)
        os.environ["FAKE_FAIL"] = "float"
        code, out = self.reproduce()
        self.assertEqual(code, 1)
        self.assertIn("t/float/seed1: archived as declared before; record removed", out)
        # The students took the old float models: their records go too.
        self.assertFalse(os.path.exists(self.archive_path("student", 2)))
        self.assertTrue(os.path.exists(self.archive_path("teacher", 1)))
        self.assertIn("| float | missing |", self.read_report())

    def test_a_run_others_wait_for_starts_before_those_declared_earlier(self):
        tables = json.loads(json.dumps(TABLES))
        rows = tables["tables"][0]["rows"]
        rows[:] = [rows[1], rows[0], {"id": "student", "label": "student", "flags": ["--bits=4"],
                                      "inputs": {"--teacher": "teacher"}}]
        self.write_tables(tables)
        code, _ = self.reproduce()
        self.assertEqual(code, 0)
        self.assertEqual(self.output_dirs(self.read_calls()), [
            self.run_path("teacher", 1), self.run_path("float", 1), self.run_path("float", 2),
            self.run_path("student", 1), self.run_path("student", 2)])

    def test_a_failed_run_stops_its_dependents_and_the_report_lists_them(self):
        os.environ["FAKE_FAIL"] = os.path.join("float", "seed2")
        code, out = self.reproduce()
        self.assertEqual(code, 1)
        self.assertIn("t/float/seed2: FAILED (exit 3)", out)
        self.assertIn("simulated failure", out)
        self.assertIn("t/student/seed2: not run, an input failed", out)
        self.assertNotIn(self.run_path("student", 2), self.output_dirs(self.read_calls()))
        with open(os.path.join(self.report, "report.md")) as f:
            self.assertIn("missing", f.read())

    def test_jobs_split_the_cores_and_quick_uses_the_quick_profile(self):
        self.reproduce("--jobs=2", "--quick")
        calls = self.read_calls()
        self.assertEqual(len(calls), 3)  # teacher, float, student: seed 1 only
        threads = max(1, (os.cpu_count() or 1) // 2)
        for call in calls:
            self.assertIn(f"--threads={threads}", call)
            self.assertIn("--max_train_batches=2", call)

    def test_refuses_an_unknown_table_and_a_missing_binary(self):
        with self.assertRaisesRegex(SystemExit, "unknown table.*nope"):
            self.reproduce("--only=nope")
        os.remove(os.path.join(self.bin_dir, "experiments", "fake"))
        with self.assertRaisesRegex(SystemExit, "no executable //experiments:fake"):
            self.reproduce()

    def test_an_evaluation_table_runs_on_the_models_of_another(self):
        self.with_evaluation_table()
        with contextlib.redirect_stdout(io.StringIO()) as out:
            reproduce.main([f"--tables={self.tables}", "--list_binaries", "--only=e"])
        self.assertEqual(out.getvalue().split(), ["//experiments:fake", "//runtime:evaluate"])
        # --only=e also runs the rows of t that it evaluates, and those they take.
        code, _ = self.reproduce("--only=e")
        self.assertEqual(code, 0)
        calls = self.read_calls()
        self.assertEqual(len(calls), 7)
        summary = os.path.join(self.runs, "e", "student", "seed2", "summary.json")
        # The table's --threads replaces the runner's share of the cores.
        self.assertEqual(calls[-1], [f"{self.run_path('student', 2)}/model.mcm", "--threads=1",
                                     "--activations=float", f"--summary_json={summary}"])
        with open(os.path.join(self.report, "report.md")) as f:
            report = f.read()
        # 1.5 ms against 3.0 ms on the float path.
        self.assertIn("| student, exact | 0.7500 ± 0.0000 (0.7500 / 0.7500) | "
                      "0.50 ± 0.00 (0.50 / 0.50) |", report)
        self.assertIn("- student, exact: `bazel run //runtime:evaluate -- <t/student> "
                      "--threads=1 --activations=float`", report)
        os.remove(summary)
        shutil.rmtree(self.archive_path("student", 2, table="e"))
        self.reproduce("--only=e")
        self.assertEqual(self.read_calls()[7:], [calls[-1]])  # run again, not resumed

    def test_evaluations_go_first_and_come_along_with_the_models_they_read(self):
        self.with_evaluation_table()
        code, _ = self.reproduce("--only=t")
        self.assertEqual(code, 0)
        evaluated = [c[0] for c in self.read_calls() if "--activations=float" in c]
        self.assertEqual(evaluated, [f"{self.run_path('student', 1)}/model.mcm",
                                     f"{self.run_path('student', 2)}/model.mcm"])
        # Seed 1's model is evaluated as soon as it is made, before seed 2's training.
        order = [c[0] if "--activations=float" in c else next(
            a for a in c if a.startswith("--output_dir=")) for c in self.read_calls()]
        self.assertEqual(order[3:], [f"--output_dir={self.run_path('student', 1)}",
                                     f"{self.run_path('student', 1)}/model.mcm",
                                     f"--output_dir={self.run_path('student', 2)}",
                                     f"{self.run_path('student', 2)}/model.mcm"])

    def test_the_archive_keeps_complete_runs_without_their_models(self):
        self.reproduce()
        report = self.read_report()
        archived = self.archive_path("student", 2)
        self.assertEqual(sorted(os.listdir(archived)),
                         ["metrics.jsonl", "reproduce.json", "summary.json"])
        # Another machine, with the archive but none of the runs: nothing to make, same report.
        shutil.rmtree(self.runs)
        code, out = self.reproduce()
        self.assertEqual(code, 0)
        self.assertEqual(len(self.read_calls()), 5)
        self.assertEqual(out.count("complete, skipped"), 5)
        def undated(text):
            return [line for line in text.split("\n") if not line.startswith("- Generated:")]
        self.assertEqual(undated(self.read_report()), undated(report))

    def test_an_archived_run_is_made_again_when_a_run_needs_its_model(self):
        self.reproduce()
        shutil.rmtree(self.runs)
        shutil.rmtree(self.archive_path("student", 2))
        code, out = self.reproduce("--dry_run")
        self.assertIn("t/float/seed2 to make", out)
        self.assertIn("t/float/seed1 complete", out)
        self.reproduce()
        # Student 2 takes the teacher and float 2: both archived, their model files gone.
        self.assertEqual(self.output_dirs(self.read_calls()[5:]), [
            self.run_path("teacher", 1), self.run_path("float", 2), self.run_path("student", 2)])
        with open(os.path.join(self.archive_path("float", 2), "summary.json")) as f:
            self.assertEqual(json.load(f)["model_file"],
                             os.path.join(self.run_path("float", 2), "model.mcm"))


if __name__ == "__main__":
    unittest.main()
