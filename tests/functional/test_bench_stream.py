"""The stream benchmark, ``tools/bench_stream.py``: a tiny run through
the real API server, as a real subprocess from the top of the checkout.

The figures are not judged; every delivery the tool counted is.
"""

import json

from tests.functional import backends
from tests.functional.test_bench import json_path, run_tool


class BenchStreamScenarios:
    def test_tiny_run_checks_every_delivery(self):
        backend = backends.BACKENDS[self.backend_name]
        out = json_path(self, "bench-stream.json")
        result = run_tool("tools.bench_stream",
                          "--url", backend.admin_url() or "sqlite://",
                          "--subscribers", "4", "--projects", "2",
                          "--admins", "1", "--rate", "100",
                          "--seconds", "1", "--batch-size", "10",
                          "--workers", "1", "--json", out, timeout=300)
        self.assertIn("every delivery checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertEqual(self.backend_name, figures["backend"])
        self.assertTrue(figures["command"].startswith(
            "python -m tools.bench_stream "))
        stream = figures["stream"]
        # 100 events: each to its project's two members and the admin.
        self.assertEqual(100, stream["events_posted"])
        self.assertEqual(300, stream["expected"])
        self.assertEqual(300, stream["delivered"])
        for name in ("lost", "duplicated", "foreign"):
            self.assertEqual(0, stream[name])
        for line in ("delivery latency: p50 ", " p99 ",
                     "300 expected, 300 delivered, 0 lost, 0 duplicated"):
            self.assertIn(line, result.stdout)


globals().update(backends.make_test_cases(
    BenchStreamScenarios, names=("sqlite", "postgresql")))
