"""The storage benchmark, ``tools/bench.py``: a smoke run on every
backend as a real subprocess from the top of the checkout (figures not
judged, every answer checked), and what keeps the tools outside the
installed package and off the drivers' internals."""

import ast
import configparser
import datetime
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile

import testtools

from panko_like import storage
from tests.functional import apiserver, backends
from tools.benchlib import queries
from tools.benchlib import workload as wl

#: The top of the checkout, where ``python -m tools.<name>`` runs.
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
TOOLS = os.path.join(ROOT, "tools")


def run_tool(module, *args, check=True, timeout=120):
    """``python -m module args`` from the top of the checkout."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=ROOT,
        capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{module} exited {result.returncode}:\n{result.stdout}\n"
            f"{result.stderr}"
        )
    return result


def json_path(test, name):
    directory = tempfile.mkdtemp()
    test.addCleanup(shutil.rmtree, directory)
    return os.path.join(directory, name)


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
        out = json_path(self, "bench.json")
        events = self.smoke_events()
        batch = events * 3 // 20
        checkpoint = str(batch * 3)
        result = run_tool("tools.bench", "--url", self.admin_url(),
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
        self.assertEqual(self.backend_name, figures["backend"])
        self.assertEqual(events, figures["events"])
        self.assertTrue(figures["command"].startswith("python -m "
                                                      "tools.bench "))
        self.assertGreater(figures["ingest"]["events_per_s"], 0)
        self.assertGreater(figures["floor"]["events_per_s"], 0)
        self.assertGreater(figures["ingest"]["ratio_to_floor"], 0)
        self.assertEqual(events // 2, figures["expiry"]["events"])
        self.assertEqual(
            sorted(name for name, _, _ in queries.queries(
                wl.Expected(wl.Workload(1), 10), 1)),
            sorted(figures["queries"]))
        for name, query in figures["queries"].items():
            self.assertGreater(query["runs"], 0, name)
            self.assertLessEqual(query["p50_ms"], query["p95_ms"], name)
        self.assertGreater(
            figures["queries"]["i_state_values"]["rows_per_s"], 0)
        self.assertIn(checkpoint, figures["checkpoints"])
        self.assertGreater(figures["peak_rss_mb"], 0)
        # Every figure is printed too, not only written.
        for line in ("ingestion: ", "p50 ", "p95 ", " rows/s",
                     f"expiry of the older half: {events // 2} events",
                     "floor (", "peak RSS of this process: ",
                     f"queries at {checkpoint} events"):
            self.assertIn(line, result.stdout)
        # The server's own words on its version, beside the figures.
        self.assertTrue(any("version" in name and value
                            for name, value in figures["server"].items()),
                        figures["server"])
        self.assertIn("server: ", result.stdout)

    def test_a_wrong_answer_is_a_failure(self):
        workload = wl.Workload(7)
        expected = wl.Expected(workload, samples=50)
        for batch in workload.events(self.smoke_events() * 3 // 10, 200):
            self.assertEqual([], self.conn.record_events(batch))
            expected.add(batch)
        figures, failures = queries.run_queries(self.conn, expected, 2, 1)
        self.assertEqual([], failures)
        # The first event goes missing: every query that should list it
        # now answers wrong, and says so.
        first = expected.first.ids()[0]
        self.conn.delete_events(storage.EventFilter(message_id=first))
        figures, failures = queries.run_queries(self.conn, expected, 8, 1)
        self.assertTrue(
            any(f.startswith("h_first_page") for f in failures), failures)


# Every backend the tool measures: the SQL driver and the MongoDB one.
globals().update(backends.make_test_cases(
    BenchScenarios, names=(*backends.SQL_BACKENDS, "mongodb")))


class TestUnreachableServer(testtools.TestCase):
    """Either tool ends with one line, not a traceback, when the server
    it is given does not answer or is no database it can work on."""

    def test_one_line_error(self):
        closed = apiserver.free_port()  # nothing listens there
        for module, url, message in (
                ("tools.bench",
                 f"postgresql+psycopg://postgres@127.0.0.1:{closed}/x",
                 "cannot reach the postgresql server"),
                ("tools.bench_api",
                 f"mysql+pymysql://root@127.0.0.1:{closed}/x",
                 "cannot reach the mysql server"),
                ("tools.bench", f"mariadb://root@127.0.0.1:{closed}/x",
                 "cannot reach the mysql server"),
                ("tools.bench", "log://", "cannot use --url log://")):
            with self.subTest(module=module, url=url):
                result = run_tool(module, "--url", url, "-n", "10",
                                  check=False)
                self.assertEqual(1, result.returncode)
                self.assertIn(message, result.stderr)
                self.assertNotIn("Traceback", result.stderr)


class TestMigrateBench(testtools.TestCase):
    """The migration benchmark runs panko-like-migrate and reports it."""

    def test_smoke_run(self):
        result = run_tool("tools.bench_migrate", "-n", "300",
                          "--batch-size", "64")
        self.assertIn("sqlite -> sqlite, 300 events", result.stdout)
        self.assertRegex(result.stdout,
                         r"panko-like-migrate: 300 events in [0-9.]+ s "
                         r"\([0-9,]+ events/s, counts on both sides "
                         r"included\); peak RSS [0-9.]+ MB")

    def test_unreachable_target_is_one_line(self):
        closed = apiserver.free_port()
        result = run_tool(
            "tools.bench_migrate", "-n", "10", "--to",
            f"postgresql+psycopg://postgres@127.0.0.1:{closed}/x",
            check=False)
        self.assertEqual(1, result.returncode)
        self.assertIn("cannot reach the postgresql server", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


class TestSQLitePath(testtools.TestCase):
    """``--url sqlite:////path --keep``: our database stays at that path
    with the newer half in it; the floor's file is gone."""

    def test_kept_database(self):
        directory = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "events.sqlite")
        result = run_tool("tools.bench", "--url", f"sqlite:///{path}",
                          "-n", "600", "--repeat", "1", "--scan-repeat",
                          "0", "--floor-events", "300", "--keep",
                          timeout=600)
        self.assertIn(f"kept our database: sqlite:///{path}", result.stdout)
        self.assertEqual(["events.sqlite"],
                         [name for name in os.listdir(directory)
                          if not name.endswith(("-wal", "-shm"))])
        conn = storage.get_connection(f"sqlite:///{path}",
                                      backends.make_conf(f"sqlite:///{path}"))
        self.addCleanup(conn.close)
        events = list(conn.get_events(storage.EventFilter()))
        self.assertEqual(300, len(events))
        self.assertTrue(all(e.generated > wl.BASE + wl.HALF
                            for e in events))
        # The path is not overwritten by a second run.
        again = run_tool("tools.bench", "--url", f"sqlite:///{path}",
                         "-n", "10", check=False)
        self.assertEqual(1, again.returncode)
        self.assertIn(f"{path} exists; give a new path", again.stderr)


class TestScanSkipped(testtools.TestCase):
    """``--scan-repeat 0`` leaves (i) out of the run and of its report;
    a negative count is refused."""

    def test_scan_skipped(self):
        out = json_path(self, "bench.json")
        result = run_tool("tools.bench", "-n", "600", "--repeat", "1",
                          "--scan-repeat", "0", "--floor-events", "0",
                          "--json", out, timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        self.assertNotIn("i_state_values", result.stdout)
        self.assertNotIn("floor (", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertNotIn("i_state_values", figures["queries"])
        self.assertNotIn("floor", figures)
        self.assertIn("h_first_page", figures["queries"])
        # A figure, never a bound: it depends on the interpreter.
        passes = figures["ingest"]["collector"]
        self.assertEqual(passes["passes"], sum(passes["by_generation"]))
        self.assertIn("collector passes during record_events: ",
                      result.stdout)
        table = run_tool("tools.bench", "--report", out).stdout
        self.assertIn("collector passes a batch", table)
        self.assertIn("(h) p50 / p95 ms", table)
        self.assertIn("ingestion, events/s", table)
        self.assertIn("expiry of half: s (events/s)", table)
        self.assertIn("peak RSS of the tool, MB", table)
        self.assertIn("sqlite 600", table)
        self.assertNotIn("(i)", table)
        self.assertNotIn("floor, events/s", table)

    def test_negative_scan_repeat_is_refused(self):
        result = run_tool("tools.bench", "--scan-repeat", "-1", check=False)
        self.assertEqual(2, result.returncode)
        self.assertIn("must not be negative: -1", result.stderr)
        self.assertNotIn("Traceback", result.stderr)


def _all_events(workload, count):
    return [event for batch in workload.events(count, 97) for event in batch]


class TestWorkloadOrder(testtools.TestCase):
    """``--order``: the same events, in time order or spread at random."""

    COUNT = 1001

    def test_time_order(self):
        events = _all_events(wl.Workload(3, "time"), self.COUNT)
        older = (self.COUNT + 1) // 2
        newer_start = wl.BASE + wl.HALF + wl.GAP
        self.assertTrue(all(e.generated < wl.BASE + wl.HALF
                            for e in events[:older]))
        self.assertTrue(all(newer_start <= e.generated
                            < newer_start + wl.HALF
                            for e in events[older:]))
        # Each half fills its 15 days...
        for half, start in ((events[:older], wl.BASE),
                            (events[older:], newer_start)):
            times = [e.generated for e in half]
            self.assertLess(min(times) - start, datetime.timedelta(hours=1))
            self.assertLess(start + wl.HALF - max(times),
                            datetime.timedelta(hours=1))
        # ...in order, no event more than JITTER before one sent earlier.
        latest = events[0].generated
        for event in events:
            self.assertLessEqual(latest - event.generated, wl.JITTER)
            latest = max(latest, event.generated)

    def test_random_order(self):
        events = _all_events(wl.Workload(3, "random"), self.COUNT)
        for index, event in enumerate(events):
            older = event.generated < wl.BASE + wl.HALF
            self.assertEqual(index % 2 == 0, older, index)
        # A batch spans nearly the whole half: no time order.
        first = [e.generated for e in events[:97:2]]
        self.assertGreater(max(first) - min(first), datetime.timedelta(
            days=10))

    def test_order_changes_only_the_times(self):
        by_time = _all_events(wl.Workload(3, "time"), 50)
        at_random = _all_events(wl.Workload(3, "random"), 50)
        again = _all_events(wl.Workload(3, "time"), 50)
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
        out = json_path(self, "bench.json")
        result = run_tool("tools.bench", "-n", "600", "--repeat", "1",
                          "--scan-repeat", "1", "--floor-events", "0",
                          "--order", "random", "--json", out, timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertEqual("random", figures["order"])
        self.assertEqual(300, figures["expiry"]["events"])

    def test_unknown_order_is_refused(self):
        for module in ("tools.bench", "tools.bench_api"):
            with self.subTest(module=module):
                result = run_tool(module, "--order", "sorted", check=False)
                self.assertEqual(2, result.returncode)
                self.assertIn("invalid choice: 'sorted'", result.stderr)
                self.assertNotIn("Traceback", result.stderr)


#: What the tools may import of panko_like: the storage API and models,
#: and the listener's priorities (the names of its queues).
PUBLIC = ("panko_like.storage", "panko_like.storage.models",
          "panko_like.listener")


def _tool_sources():
    for directory, _, names in os.walk(TOOLS):
        for name in sorted(names):
            if name.endswith(".py"):
                path = os.path.join(directory, name)
                with open(path) as f:
                    yield os.path.relpath(path, ROOT), ast.parse(f.read())


def _imported(tree):
    """Every dotted name a module imports (``from a import b``: a.b)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield from (f"{node.module}.{alias.name}"
                        for alias in node.names)


def _allowed(name):
    if name in PUBLIC:
        return True
    # ``from panko_like.storage import EventFilter`` names no module,
    # ``from panko_like.storage import base`` does.
    return (name.rpartition(".")[0] in PUBLIC
            and importlib.util.find_spec(name) is None)


class TestToolsOutsideThePackage(testtools.TestCase):
    """The tools use the storage drivers through their public contract
    only, and nothing of them is installed with panko_like."""

    def test_only_the_public_storage_api(self):
        for path, tree in _tool_sources():
            for name in _imported(tree):
                if name.startswith("panko_like"):
                    self.assertTrue(_allowed(name),
                                    f"{path} imports {name}")
            for node in ast.walk(tree):
                # The SQL driver's engine is its own: the tools open
                # their own connections where they need one.
                self.assertFalse(
                    isinstance(node, ast.Attribute) and node.attr == "engine",
                    f"{path}:{getattr(node, 'lineno', '?')} reads .engine")

    def test_not_installed(self):
        self.assertIsNone(importlib.util.find_spec("panko_like.bench"))
        self.assertIsNone(importlib.util.find_spec("panko_like.bench_api"))
        setup = configparser.ConfigParser()
        setup.read(os.path.join(ROOT, "setup.cfg"))
        scripts = setup["options.entry_points"]["console_scripts"]
        self.assertNotIn("bench", scripts)
        included = setup["options.packages.find"]["include"].split()
        self.assertEqual(["panko_like", "panko_like.*"], included)
