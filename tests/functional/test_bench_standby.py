"""The standby read benchmark, ``tools/bench_standby.py``: a smoke run,
as a real subprocess from the top of the checkout.

The figures are not judged; the answers the tool checked and where its
reads went are.
"""

import json
import unittest

from tests.functional import pgcluster
from tests.functional.test_bench import json_path, run_tool


class TestBenchStandby(unittest.TestCase):
    def test_smoke_run(self):
        pgcluster.require(self)
        out = json_path(self, "bench-standby.json")
        result = run_tool("tools.bench_standby", "-n", "300",
                          "--seconds", "1", "--clients", "1",
                          "--workers", "1", "--json", out, timeout=300)
        self.assertIn("pages/s (median of 1)", result.stdout)
        with open(out) as f:
            runs = json.load(f)["runs"]
        only, both = runs["primary_only"][0], runs["primary_and_standby"][0]
        for figures in (only, both):
            self.assertGreater(figures["requests"], 0)
            self.assertEqual(0, figures["errors"])
        # Each page is at least one transaction where it was read.
        self.assertGreaterEqual(only["primary_transactions"],
                                only["requests"])
        self.assertGreaterEqual(both["standby_transactions"],
                                both["requests"])
        self.assertLess(only["standby_transactions"], 5)
