"""panko-like-bench: a smoke run on every backend (figures not judged)."""

import json
import os
import subprocess
import tempfile

from panko_like import bench, storage
from tests.functional import backends
from tests.functional.test_commands import BIN


class BenchScenarios:
    def admin_url(self):
        backend = backends.BACKENDS[self.backend_name]
        return backend.admin_url() or "sqlite://"

    def test_smoke_run_checks_every_answer(self):
        out = os.path.join(tempfile.mkdtemp(), "bench.json")
        self.addCleanup(os.remove, out)
        # A generous timeout: the API phase starts a server, and CI
        # machines are busy.
        result = subprocess.run(
            [os.path.join(BIN, "panko-like-bench"), "--url",
             self.admin_url(), "-n", "2000", "--batch-size", "500",
             "--repeat", "2", "--scan-repeat", "1", "--checkpoint", "1000",
             "--api", "--api-seconds", "0.2", "--api-post-events", "600",
             "--json", out],
            capture_output=True, text=True, timeout=600,
            stdin=subprocess.DEVNULL)
        self.assertEqual(0, result.returncode, result.stdout + result.stderr)
        self.assertIn("every answer checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertEqual(2000, figures["events"])
        self.assertGreater(figures["ingest"]["events_per_s"], 0)
        self.assertGreater(figures["floor"]["events_per_s"], 0)
        # The API's POSTed events are expired with their older half.
        self.assertEqual(600, figures["api"]["post"]["events"])
        self.assertEqual(1300, figures["expiry"]["events"])
        for shape in ("all_tenants_page", "own_project_page",
                      "event_by_id"):
            self.assertGreater(figures["api"][shape]["requests"], 0)
        self.assertEqual(2600, figures["api"]["large_page"]["events"])
        self.assertEqual(
            sorted(name for name, _, _ in bench.queries(
                bench.Expected(bench.Workload(1), 10), 1)),
            sorted(figures["queries"]))
        self.assertIn("1000", figures["checkpoints"])
        self.assertGreater(figures["peak_rss_mb"], 0)

    def test_a_wrong_answer_is_a_failure(self):
        workload = bench.Workload(7)
        expected = bench.Expected(workload, samples=50)
        for batch in workload.events(600, 200):
            self.assertEqual([], self.conn.record_events(batch))
            expected.add(batch)
        figures, failures = bench.run_queries(self.conn, expected, 2, 1)
        self.assertEqual([], failures)
        # The first event goes missing: every query that should list it
        # now answers wrong, and says so.
        first = expected.first.ids()[0]
        self.conn.delete_events(storage.EventFilter(message_id=first))
        figures, failures = bench.run_queries(self.conn, expected, 8, 1)
        self.assertTrue(
            any(f.startswith("h_first_page") for f in failures), failures)


# The tool measures the SQL driver (its floor is written in SQL).
globals().update(backends.make_test_cases(
    BenchScenarios, names=backends.SQL_BACKENDS))
