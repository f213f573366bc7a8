"""The listener benchmark, ``tools/bench_listener.py``: a smoke run on
the machine's RabbitMQ, as a real subprocess from the top of the
checkout. The figures are not judged; the tool's own check that every
notification was stored once is, and so are its mistakes."""

import re
import unittest

from tests.functional import backends
from tests.functional.bus import Bus
from tests.functional.test_bench import run_tool


class BenchListenerScenarios:
    def test_smoke_run_stores_every_notification_once(self):
        bus = Bus(self)  # the broker is there, or the test says why not
        backend = backends.BACKENDS[self.backend_name]
        result = run_tool("tools.bench_listener",
                          "--url", backend.admin_url() or "sqlite://",
                          "--rabbit", bus.url, "-n", "300",
                          "--workers", "1,2", "--batch-size", "50",
                          timeout=600)
        runs = re.findall(r"(\d) worker\(s\): ([\d,]+) notifications/s "
                          r"stored from the process's start, .*; every "
                          r"notification stored once", result.stdout)
        self.assertEqual(["1", "2"], [workers for workers, _ in runs],
                         result.stdout)
        for _, rate in runs:
            self.assertGreater(int(rate.replace(",", "")), 0)
        self.assertIn("sent 300 notifications", result.stdout)


class TestBenchListenerArguments(unittest.TestCase):
    def test_bad_arguments_are_refused(self):
        for args, words in ((["--workers", "1,none"], "--workers"),
                            (["-n", "0"], "must be positive")):
            with self.subTest(args=args):
                result = run_tool("tools.bench_listener", *args,
                                  check=False)
                self.assertEqual(2, result.returncode)
                self.assertIn(words, result.stderr)
                self.assertNotIn("Traceback", result.stderr)


globals().update(backends.make_test_cases(
    BenchListenerScenarios, names=("sqlite", "postgresql")))
