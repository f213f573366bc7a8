"""panko-like-bench: a smoke run on every backend (figures not judged)."""

import datetime
import json
import os
import tempfile

import testtools

from panko_like import bench, storage
from tests.functional import apiserver, backends
from tests.functional.scripts import run


class BenchScenarios:
    def admin_url(self):
        backend = backends.BACKENDS[self.backend_name]
        return backend.admin_url() or "sqlite://"

    def slow(self):
        # A pure-Python test server gets a smaller run, same checks.
        return backends.BACKENDS[self.backend_name].slow

    def smoke_events(self):
        return 400 if self.slow() else 2000

    def test_smoke_run_checks_every_answer(self):
        out = os.path.join(tempfile.mkdtemp(), "bench.json")
        self.addCleanup(os.remove, out)
        events = self.smoke_events()
        batch = events * 3 // 20
        checkpoint = str(batch * 3)
        result = run("panko-like-bench", "--url", self.admin_url(),
                     "-n", str(events), "--batch-size", str(batch),
                     "--repeat", "1" if self.slow() else "3",
                     "--scan-repeat", "1",
                     "--floor-events", str(events // 4 if self.slow()
                                           else events),
                     "--checkpoint", checkpoint, "--json", out,
                     timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertEqual(events, figures["events"])
        self.assertGreater(figures["ingest"]["events_per_s"], 0)
        self.assertGreater(figures["floor"]["events_per_s"], 0)
        self.assertEqual(events // 2, figures["expiry"]["events"])
        self.assertEqual(
            sorted(name for name, _, _ in bench.queries(
                bench.Expected(bench.Workload(1), 10), 1)),
            sorted(figures["queries"]))
        self.assertIn(checkpoint, figures["checkpoints"])
        self.assertGreater(figures["peak_rss_mb"], 0)
        # The server's own words on its version, beside the figures.
        self.assertTrue(any("version" in name and value
                            for name, value in figures["server"].items()),
                        figures["server"])
        self.assertIn("server: ", result.stdout)

    def test_a_wrong_answer_is_a_failure(self):
        workload = bench.Workload(7)
        expected = bench.Expected(workload, samples=50)
        for batch in workload.events(self.smoke_events() * 3 // 10, 200):
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


# Every backend the tool measures: the SQL driver and the MongoDB one.
globals().update(backends.make_test_cases(
    BenchScenarios, names=(*backends.SQL_BACKENDS, "mongodb")))


class TestUnreachableServer(testtools.TestCase):
    """Either tool ends with one line, not a traceback, when the server
    it is given does not answer."""

    def test_one_line_error(self):
        closed = apiserver.free_port()  # nothing listens there
        for command, url in (
                ("panko-like-bench",
                 f"postgresql+psycopg://postgres@127.0.0.1:{closed}/x"),
                ("panko-like-bench-api",
                 f"mysql+pymysql://root@127.0.0.1:{closed}/x")):
            with self.subTest(command=command):
                result = run(command, "--url", url, "-n", "10",
                             check=False)
                self.assertEqual(1, result.returncode)
                self.assertIn("cannot reach the", result.stderr)
                self.assertNotIn("Traceback", result.stderr)


class TestScanSkipped(testtools.TestCase):
    """``--scan-repeat 0`` leaves (i) out of the run and of its report;
    a negative count is refused."""

    def test_scan_skipped(self):
        out = os.path.join(tempfile.mkdtemp(), "bench.json")
        self.addCleanup(os.remove, out)
        result = run("panko-like-bench", "-n", "600", "--repeat", "1",
                     "--scan-repeat", "0", "--floor-events", "0",
                     "--json", out, timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        self.assertNotIn("i_state_values", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertNotIn("i_state_values", figures["queries"])
        self.assertIn("h_first_page", figures["queries"])
        table = run("panko-like-bench", "--report", out).stdout
        self.assertIn("(h) p50 / p95 ms", table)
        self.assertNotIn("(i)", table)

    def test_negative_scan_repeat_is_refused(self):
        result = run("panko-like-bench", "--scan-repeat", "-1", check=False)
        self.assertEqual(2, result.returncode)
        self.assertIn("must not be negative: -1", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


def _all_events(workload, count):
    return [event for batch in workload.events(count, 97) for event in batch]


class TestWorkloadOrder(testtools.TestCase):
    """``--order``: the same events, in time order or spread at random."""

    COUNT = 1001

    def test_time_order(self):
        events = _all_events(bench.Workload(3, "time"), self.COUNT)
        older = (self.COUNT + 1) // 2
        newer_start = bench.BASE + bench.HALF + bench.GAP
        self.assertTrue(all(e.generated < bench.BASE + bench.HALF
                            for e in events[:older]))
        self.assertTrue(all(newer_start <= e.generated
                            < newer_start + bench.HALF
                            for e in events[older:]))
        # Each half fills its 15 days...
        for half, start in ((events[:older], bench.BASE),
                            (events[older:], newer_start)):
            times = [e.generated for e in half]
            self.assertLess(min(times) - start, datetime.timedelta(hours=1))
            self.assertLess(start + bench.HALF - max(times),
                            datetime.timedelta(hours=1))
        # ...in order, no event more than JITTER before one sent earlier.
        latest = events[0].generated
        for event in events:
            self.assertLessEqual(latest - event.generated, bench.JITTER)
            latest = max(latest, event.generated)

    def test_random_order(self):
        events = _all_events(bench.Workload(3, "random"), self.COUNT)
        for index, event in enumerate(events):
            older = event.generated < bench.BASE + bench.HALF
            self.assertEqual(index % 2 == 0, older, index)
        # A batch spans nearly the whole half: no time order.
        first = [e.generated for e in events[:97:2]]
        self.assertGreater(max(first) - min(first), datetime.timedelta(
            days=10))

    def test_order_changes_only_the_times(self):
        by_time = _all_events(bench.Workload(3, "time"), 50)
        at_random = _all_events(bench.Workload(3, "random"), 50)
        again = _all_events(bench.Workload(3, "time"), 50)
        self.assertEqual([(e.message_id, e.generated) for e in by_time],
                         [(e.message_id, e.generated) for e in again])
        self.assertEqual([(e.message_id, e.event_type) for e in by_time],
                         [(e.message_id, e.event_type)
                          for e in at_random])
        self.assertEqual(
            [[t.value for t in e.traits[:11]] for e in by_time],
            [[t.value for t in e.traits[:11]] for e in at_random])
        self.assertNotEqual([e.generated for e in by_time],
                            [e.generated for e in at_random])

    def test_random_order_run(self):
        out = os.path.join(tempfile.mkdtemp(), "bench.json")
        self.addCleanup(os.remove, out)
        result = run("panko-like-bench", "-n", "600", "--repeat", "1",
                     "--scan-repeat", "1", "--floor-events", "0",
                     "--order", "random", "--json", out, timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertEqual("random", figures["order"])
        self.assertEqual(300, figures["expiry"]["events"])

    def test_unknown_order_is_refused(self):
        for command in ("panko-like-bench", "panko-like-bench-api"):
            with self.subTest(command=command):
                result = run(command, "--order", "sorted", check=False)
                self.assertEqual(2, result.returncode)
                self.assertIn("invalid choice: 'sorted'", result.stderr)
                self.assertNotIn("Traceback", result.stderr)
