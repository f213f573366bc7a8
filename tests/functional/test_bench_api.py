"""The API benchmark, ``tools/bench_api.py``: a smoke run through the
real API server, as a real subprocess from the top of the checkout.

The figures are not judged; every answer the tool got is.
"""

import io
import json

import testtools

from tests.functional import backends
from tests.functional.test_bench import json_path, run_tool
from tools import bench_api
from tools.benchlib import api_http, workload


class BenchAPIScenarios:
    def test_smoke_run_checks_every_answer(self):
        backend = backends.BACKENDS[self.backend_name]
        out = json_path(self, "bench-api.json")
        result = run_tool("tools.bench_api",
                          "--url", backend.admin_url() or "sqlite://",
                          "-n", "600", "--batch-size", "200",
                          "--seconds", "0.5", "--rounds", "2",
                          "--stream-events", "500", "--json", out,
                          timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual([], figures["failures"])
        self.assertEqual(self.backend_name, figures["backend"])
        self.assertTrue(figures["command"].startswith(
            "python -m tools.bench_api "))
        self.assertEqual(3, figures["ingest"]["requests"])
        self.assertGreater(figures["ingest"]["events_per_s"], 0)
        for name in ("admin_all_tenants_page", "member_own_page",
                     "event_by_id"):
            query = figures["queries"][name]
            self.assertGreater(query["requests"], 0)
            self.assertEqual(0, query["errors"])
            self.assertEqual(2, len(query["rounds"]))
            self.assertEqual(
                sorted(r["req_per_s"] for r in query["rounds"]),
                [query["req_per_s_min"], query["req_per_s_max"]])
        self.assertEqual(500, figures["stream"]["events"])
        self.assertGreater(figures["stream"]["worker_peak_rss_mb"], 0)
        self.assertEqual(300, figures["expiry"]["events"])
        self.assertEqual(0, figures["expiry"]["errors"])
        # Every figure is printed too, not only written.
        for line in ("POST /v2/events: ", " events/s", " req/s", "p50 ",
                     "p95 ", " median of 2 rounds (range):",
                     "streamed 500 events", "worker RSS ",
                     "expiry of the older half: 300 events"):
            self.assertIn(line, result.stdout)


globals().update(backends.make_test_cases(
    BenchAPIScenarios, names=backends.SQL_BACKENDS))


class TestMedianRound(testtools.TestCase):
    """Rounds of one timed query become one figure and its range."""

    def test_median_round_and_range(self):
        rounds = [{"req_per_s": rate, "errors": errors, "p50_ms": p50}
                  for rate, errors, p50 in
                  ((210.0, 0, 9.0), (150.5, 1, 12.0), (190.0, 0, 10.0))]
        figures = bench_api.median_round(rounds)
        self.assertEqual(190.0, figures["req_per_s"])
        self.assertEqual(10.0, figures["p50_ms"])
        self.assertEqual(150.5, figures["req_per_s_min"])
        self.assertEqual(210.0, figures["req_per_s_max"])
        self.assertEqual(1, figures["errors"])
        self.assertEqual(rounds, figures["rounds"])

    def test_even_count_takes_the_lower_middle(self):
        rounds = [{"req_per_s": rate, "errors": 0} for rate in (4, 1, 3, 2)]
        figures = bench_api.median_round(rounds)
        self.assertEqual(2, figures["req_per_s"])
        self.assertEqual((1, 4), (figures["req_per_s_min"],
                                  figures["req_per_s_max"]))


class TestChecks(testtools.TestCase):
    """A wrong answer is caught, not counted as served."""

    def setUp(self):
        super().setUp()
        self.event = next(workload.Workload(3).events(1, 1))[0]
        self.body = json.loads(json.dumps(bench_api.event_json(self.event)))
        # The API shows every trait value as text.
        for trait in self.body["traits"]:
            trait["value"] = str(trait["value"])

    def test_event_check(self):
        self.assertIsNone(bench_api.check_event(self.body, self.event))
        self.body["traits"][0]["value"] = "someone-else"
        self.assertIn("traits differ",
                      bench_api.check_event(self.body, self.event))

    def test_ids_check(self):
        check = bench_api._ids_check(["a", "b"])
        body = json.dumps([{"message_id": "a"}, {"message_id": "b"}])
        self.assertIsNone(check(200, body.encode()))
        self.assertIsNotNone(check(200, b'[{"message_id": "a"}]'))
        self.assertIn("status 500", check(500, b"{}"))

    def test_streamed_array_is_decoded_and_checked_whole(self):
        items = [{"n": n, "s": "x" * n} for n in range(300)]
        data = json.dumps(items).encode()
        self.assertEqual(items, list(api_http.iter_json_array(
            io.BytesIO(data), size=7)))
        self.assertEqual([], list(api_http.iter_json_array(
            io.BytesIO(b"[]"))))
        cut = api_http.iter_json_array(io.BytesIO(data[:-40]), size=64)
        self.assertRaises(ValueError, list, cut)


class TestBenchAPIWithTokens(testtools.TestCase):
    """``--auth token``: the same run, every request with a bearer token
    of its identity, every answer still checked (a token the server did
    not know would be a 401, counted as a failure)."""

    def test_smoke_run_with_tokens(self):
        out = json_path(self, "bench-api-token.json")
        result = run_tool("tools.bench_api", "--url", "sqlite://",
                          "-n", "400", "--batch-size", "200",
                          "--seconds", "0.3", "--rounds", "1",
                          "--stream-events", "300", "--auth", "token",
                          "--json", out, timeout=600)
        self.assertIn("every answer checked: OK", result.stdout)
        with open(out) as f:
            figures = json.load(f)
        self.assertEqual(("token", []), (figures["auth"],
                                         figures["failures"]))
        self.assertGreater(
            figures["queries"]["event_by_id"]["requests"], 0)
