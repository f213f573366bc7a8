"""The harness's own rules: when a scenario is skipped, when it fails,
what PANKO_LIKE_TEST_REQUIRE accepts, which skips CI accepts, and where
the log of a test goes.

Scenarios run here on SQLite against drivers made to lack a method,
with and without declaring it; their TestCase classes are made inside
the tests, so that discovery does not run them on their own.
"""

import io
import logging
import os
import subprocess
import sys
import unittest
from unittest import mock

import subunit
import subunit.run

from panko_like import storage
from panko_like.storage import base, impl_log, impl_sqlalchemy
from tests.functional import backends, skips

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
LOG = logging.getLogger(__name__)


class LostDelete(impl_sqlalchemy.Connection):
    """Declares events:delete, but lost delete_events."""

    delete_events = base.Connection.delete_events


class WithoutDelete(LostDelete):
    """Lacks delete_events and says so."""

    CAPABILITIES = {"events": {"query": {"simple": True}}}


class LostUpgrade(impl_sqlalchemy.Connection):
    """Lost a method no capability covers."""

    upgrade = base.Connection.upgrade


class Scenarios:
    ran = False

    def test_delete(self):
        type(self).ran = True
        self.conn.delete_events(storage.EventFilter(message_id="x"))

    @backends.requires("events:delete")
    def test_requiring_delete(self):
        type(self).ran = True
        self.conn.delete_events(storage.EventFilter(message_id="x"))

    def test_upgrade(self):
        self.conn.upgrade()

    @backends.requires("events:query:complex")
    def test_requiring_what_no_driver_declares(self):
        type(self).ran = True

    def test_failing_after_an_error_was_logged(self):
        LOG.error("the expected error of this test")
        self.fail("failed on purpose")

    def test_logging_an_error(self):
        LOG.error("an error this scenario provokes on purpose")


def outcome(test, driver_class=None, backend_name="sqlite", **attributes):
    """Run Scenarios.``test`` on ``driver_class``: ``(what, text,
    ran)``, what being ok, skip, failure or error."""
    cls = type("Case", (Scenarios, backends.BackendTestCase), {
        "backend_name": backend_name, "driver_class": driver_class,
        "ran": False, **attributes})
    result = unittest.TestResult()
    cls(test).run(result)
    for what, entries in (("skip", result.skipped),
                          ("failure", result.failures),
                          ("error", result.errors)):
        if entries:
            return what, entries[0][1], cls.ran
    return "ok", "", cls.ran


class TestCapabilityRules(unittest.TestCase):
    def test_the_installed_driver_passes(self):
        self.assertEqual(("ok", "", True), outcome("test_delete"))
        self.assertEqual(("ok", "", True), outcome("test_requiring_delete"))

    def test_declared_lacking_is_skipped_with_its_reason(self):
        what, reason, ran = outcome("test_delete", WithoutDelete)
        self.assertEqual("skip", what)
        self.assertEqual(
            "capability: tests.functional.test_harness.WithoutDelete "
            "declares events:delete false", reason)
        self.assertTrue(backends.explains(reason))

    def test_a_required_capability_skips_before_the_test(self):
        what, reason, ran = outcome("test_requiring_delete", WithoutDelete)
        self.assertEqual("skip", what)
        self.assertTrue(backends.explains(reason), reason)
        self.assertFalse(ran)

    def test_lost_while_declared_is_a_failure(self):
        what, text, _ = outcome("test_delete", LostDelete)
        self.assertEqual("failure", what)
        self.assertIn("delete_events is not implemented by the "
                      "tests.functional.test_harness driver", text)
        self.assertIn("declares events:delete true", text)
        what, _, _ = outcome("test_requiring_delete", LostDelete)
        self.assertEqual("failure", what)

    def test_lost_method_no_capability_covers_is_a_failure(self):
        what, text, _ = outcome("test_upgrade", LostUpgrade,
                                auto_upgrade=False)
        self.assertEqual("failure", what)
        self.assertIn("upgrade is no optional method", text)
        self.assertEqual("error", outcome("test_delete", LostUpgrade)[0])

    def test_requiring_an_unknown_capability_is_an_error(self):
        what, text, ran = outcome("test_requiring_what_no_driver_declares")
        self.assertEqual("error", what)
        self.assertIn("LookupError", text)
        self.assertIn("'events:query:complex', which no driver declares",
                      text)
        self.assertFalse(ran)

    def test_a_skip_is_explained_only_by_a_true_declaration(self):
        log = "panko_like.storage.impl_log.Connection"
        sql = "panko_like.storage.impl_sqlalchemy.Connection"
        for reason, explained in (
                (f"capability: {log} declares events:query:simple false",
                 True),
                (f"capability: {log} declares storage:expiry false", True),
                (f"capability: {sql} declares events:delete false", False),
                (f"capability: {log} declares events:nothing false", False),
                ("capability: panko_like.storage.impl_log.Nothing declares "
                 "events:delete false", False),
                ("capability: no.such.Module declares events:delete false",
                 False),
                ("capability: os.path declares events:delete false", False),
                ("PANKO_LIKE_TEST_MYSQL_URL is not set", False),
                ("", False)):
            with self.subTest(reason=reason):
                self.assertIs(explained, backends.explains(reason))
        self.assertEqual(
            f"capability: {log} declares events:delete false",
            backends.capability_skip(impl_log.Connection, "events:delete"))


class TestRequiredBackends(unittest.TestCase):
    def test_names(self):
        self.assertEqual(set(backends.BACKENDS), backends.required("all"))
        self.assertEqual({"sqlite", "mysql"},
                         backends.required(" sqlite, mysql,"))
        self.assertEqual(set(), backends.required(""))

    def test_unknown_name_is_an_error(self):
        for value in ("pgsql", "all,postgres", "sqlite,MySQL"):
            with self.subTest(value=value):
                with self.assertRaises(ValueError) as ctx:
                    backends.required(value)
                self.assertIn("names no backend", str(ctx.exception))

    def test_unknown_name_fails_the_whole_run(self):
        result = subprocess.run(
            [sys.executable, "-c", "import tests.functional.backends"],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
            env={**os.environ, "PANKO_LIKE_TEST_REQUIRE": "postgres"})
        self.assertNotEqual(0, result.returncode)
        self.assertIn("PANKO_LIKE_TEST_REQUIRE='postgres' names no backend "
                      "postgres", result.stderr)

    def test_missing_backend_fails_when_required_else_skips(self):
        env = {"PANKO_LIKE_TEST_POSTGRESQL_URL": ""}
        with mock.patch.dict(os.environ, {
                **env, "PANKO_LIKE_TEST_REQUIRE": "postgresql"}):
            what, text, ran = outcome("test_delete",
                                      backend_name="postgresql")
        self.assertEqual("failure", what)
        self.assertIn("backend postgresql required", text)
        with mock.patch.dict(os.environ, {
                **env, "PANKO_LIKE_TEST_REQUIRE": "sqlite"}):
            what, reason, ran = outcome("test_delete",
                                        backend_name="postgresql")
        self.assertEqual(("skip", False), (what, ran))
        # Not a capability: CI fails on such a skip.
        self.assertFalse(backends.explains(reason))


class TestSkipCheck(unittest.TestCase):
    """tests/functional/skips.py, which .ci/run runs on the results."""

    def stream(self, *tests):
        out = io.BytesIO()
        result = subunit.StreamResultToBytes(out)
        for test_id, status, reason in tests:
            result.status(test_id=test_id, test_status="inprogress")
            if reason is not None:
                result.status(test_id=test_id, file_name="reason",
                              file_bytes=reason.encode(),
                              mime_type="text/plain; charset=utf8")
            result.status(test_id=test_id, test_status=status)
        out.seek(0)
        return out

    def check(self, *tests):
        out = io.StringIO()
        return skips.main(self.stream(*tests), out), out.getvalue()

    def test_explained_skips_pass(self):
        reason = backends.capability_skip(impl_log.Connection,
                                          "events:query:simple")
        status, out = self.check(("a", "success", None),
                                 ("b", "skip", reason))
        self.assertEqual(0, status, out)
        self.assertIn("1 skipped, 0 of them not explained", out)

    def test_any_other_skip_fails(self):
        status, out = self.check(
            ("a", "success", None),
            ("b", "skip", "PANKO_LIKE_TEST_MYSQL_URL is not set"),
            ("c", "skip", backends.capability_skip(
                impl_sqlalchemy.Connection, "events:delete")),
            ("d", "skip", None))
        self.assertEqual(1, status)
        self.assertIn("unexplained skip: b: PANKO_LIKE_TEST_MYSQL_URL is "
                      "not set", out)
        self.assertIn("unexplained skip: c: capability: "
                      "panko_like.storage.impl_sqlalchemy.Connection", out)
        self.assertIn("unexplained skip: d: (no reason)", out)
        self.assertIn("3 skipped, 3 of them not explained", out)

    def test_a_real_skip_reaches_the_check(self):
        # What unittest and subunit make of a skip, end to end.
        stream = io.BytesIO()
        runner = subunit.run.SubunitTestRunner(stream=stream)
        suite = unittest.TestSuite([
            type("Case", (Scenarios, backends.BackendTestCase), {
                "driver_class": WithoutDelete})("test_delete")])
        runner.run(suite)
        stream.seek(0)
        found = skips.skips(stream)
        self.assertEqual(1, len(found), found)
        self.assertTrue(backends.explains(found[0][1]), found)


class TestCapturedLog(unittest.TestCase):
    def test_a_passing_test_prints_no_log(self):
        self.assertEqual("ok", outcome("test_logging_an_error")[0])
        self.assertEqual([backends.LOGS], logging.getLogger().handlers)
        self.assertIn("an error this scenario provokes on purpose",
                      backends.LOGS.lines[-1])

    def test_a_failing_test_shows_its_log(self):
        what, text, _ = outcome("test_failing_after_an_error_was_logged")
        self.assertEqual("failure", what)
        self.assertIn("failed on purpose", text)
        self.assertIn("Logged during the test:", text)
        self.assertIn("ERROR tests.functional.test_harness: the expected "
                      "error of this test", text)

    def test_make_conf_keeps_the_console_quiet(self):
        # oslo.log's setup adds its console handler each time.
        backends.make_conf("sqlite://")
        self.assertEqual([backends.LOGS], logging.getLogger().handlers)
