#!/usr/bin/env python3
"""The committed results are the report of the committed archive: results_report.py, run on
docs/results/runs with the command and date the committed report names, writes the committed
docs/results/report.md, its plots and the README's results blocks, byte for byte. Fails when a
README results table is edited by hand, or the archive changes without its report.

    python3 tools/published_results_test.py   (from the repository's root)
"""

import contextlib
import io
import os
import re
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import results_report  # noqa: E402 (found through the path above)
from results_report import read_text  # noqa: E402

TABLES = "experiments/results_tables.json"
ARCHIVE = "docs/results/runs"
PUBLISHED = "docs/results"


def header_field(report, name):
    match = re.search(rf"^- {name}: (.*)$", report, re.M)
    if match is None:
        raise AssertionError(f"{PUBLISHED}/report.md has no '- {name}:' line")
    return match.group(1)


def files_under(directory):
    return sorted(os.path.relpath(os.path.join(parent, name), directory)
                  for parent, _, names in os.walk(directory) for name in names)


class PublishedResultsTest(unittest.TestCase):

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(dir=os.environ.get("TEST_TMPDIR"))
        self.readme = os.path.join(self.tmp.name, "README.md")
        self.out = os.path.join(self.tmp.name, PUBLISHED)
        shutil.copyfile("README.md", self.readme)
        published = read_text(os.path.join(PUBLISHED, "report.md"))
        command = header_field(published, "Command").strip("`")
        date = header_field(published, "Generated")
        with contextlib.redirect_stdout(io.StringIO()):
            code = results_report.main([f"--tables={TABLES}", f"--runs={ARCHIVE}",
                                        f"--out={self.out}", f"--command={command}",
                                        f"--date={date}", f"--readme={self.readme}"])
        self.assertEqual(code, 0)

    def tearDown(self):
        self.tmp.cleanup()

    def test_the_report_and_its_plots_are_those_of_the_archive(self):
        self.assertEqual(read_text(os.path.join(self.out, "report.md")),
                         read_text(os.path.join(PUBLISHED, "report.md")))
        plots = os.path.join(PUBLISHED, "plots")
        self.assertEqual(files_under(os.path.join(self.out, "plots")), files_under(plots))
        for name in files_under(plots):
            self.assertEqual(read_text(os.path.join(self.out, "plots", name)),
                             read_text(os.path.join(plots, name)), name)

    def test_the_readme_results_tables_are_those_of_the_report(self):
        self.assertEqual(read_text(self.readme), read_text("README.md"))


if __name__ == "__main__":
    unittest.main()
