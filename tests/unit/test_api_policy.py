"""Policy defaults, the generated sample, and the JSON error layer."""

import io
import itertools
import os
import tempfile
import time
import unittest

import webob
import webtest
from oslo_policy import generator

import panko_like
from panko_like import service
from panko_like.api import errors, policies

ETC = os.path.join(os.path.dirname(__file__), "..", "..", "etc",
                   "panko_like")


class TestPolicies(unittest.TestCase):
    def test_rules(self):
        names = [rule.name for rule in policies.list_rules()]
        self.assertEqual(
            ["context_is_admin", "segregation", "telemetry:events:index",
             "telemetry:events:show", "telemetry:events:count",
             "telemetry:events:statistics", "telemetry:events:stream",
             "telemetry:events:create",
             "telemetry:events:delete", "telemetry:events:delete_matching",
             "telemetry:events:update"], names)

    def test_enforcer_defaults(self):
        enforcer = policies.make_enforcer(service.prepare_service([]))
        admin = {"roles": ["admin"], "project_id": "p", "user_id": "u"}
        member = {"roles": ["member"], "project_id": "p", "user_id": "u"}
        for rule, as_admin, as_member in (
                ("telemetry:events:index", True, True),
                ("telemetry:events:show", True, True),
                ("telemetry:events:count", True, True),
                ("telemetry:events:statistics", True, True),
                ("telemetry:events:delete_matching", True, False),
                ("telemetry:events:stream", True, True),
                ("telemetry:events:create", True, False),
                ("telemetry:events:delete", True, False),
                ("telemetry:events:update", True, False),
                ("segregation", True, False)):
            self.assertEqual(as_admin, enforcer.enforce(rule, {}, admin))
            self.assertEqual(as_member, enforcer.enforce(rule, {}, member))

    def policy_file(self, rule):
        """A configuration whose policy file gives the delete rule
        ``rule``, and a function that changes it to another."""
        home = self.enterContext(tempfile.TemporaryDirectory())
        path = os.path.join(home, "policy.yaml")
        config = os.path.join(home, "panko_like.conf")
        with open(config, "w") as f:
            f.write(f"[oslo_policy]\npolicy_file = {path}\n")

        writes = itertools.count()

        def write(rule):
            with open(path, "w") as f:
                f.write(f'"telemetry:events:delete": "{rule}"\n')
            # A modification time of its own, however soon after the
            # last write: oslo.policy reads the file when that changes.
            mtime = os.stat(path).st_mtime_ns + next(writes) * 10**9
            os.utime(path, ns=(mtime, mtime))

        write(rule)
        conf = service.prepare_service([], config_files=[config])
        return conf, write

    AUDITOR = {"roles": ["auditor"], "project_id": "p", "user_id": "u"}
    RULE = "telemetry:events:delete"

    def test_policy_file_not_looked_at_within_the_check_interval(self):
        conf, write = self.policy_file("role:auditor")
        # No test lasts an hour: the file is read once.
        enforcer = policies.make_enforcer(conf, check_interval=3600)
        self.assertTrue(enforcer.enforce(self.RULE, {}, self.AUDITOR))
        write("role:admin")
        self.assertTrue(enforcer.enforce(self.RULE, {}, self.AUDITOR))

    def test_policy_file_changes_apply_after_the_check_interval(self):
        conf, write = self.policy_file("role:auditor")
        enforcer = policies.make_enforcer(conf, check_interval=0.05)
        self.assertTrue(enforcer.enforce(self.RULE, {}, self.AUDITOR))
        write("role:admin")
        # However loaded the machine, the change applies at a check
        # after the interval: wait for it, within a generous limit.
        deadline = time.monotonic() + 60
        while enforcer.enforce(self.RULE, {}, self.AUDITOR):
            self.assertLess(time.monotonic(), deadline,
                            "the policy file change never applied")
            time.sleep(0.01)

    def test_sample_policy_is_up_to_date(self):
        out = os.path.join(tempfile.mkdtemp(), "policy.yaml")
        generator.generate_sample(args=[
            "--config-file",
            os.path.join(ETC, "panko_like-policy-generator.conf"),
            "--output-file", out,
        ])
        with open(out) as f:
            generated = f.read()
        with open(os.path.join(ETC, "policy.yaml.sample")) as f:
            committed = f.read()
        self.assertEqual(
            committed, generated,
            "etc/panko_like/policy.yaml.sample is out of date: run "
            "'tox -e genpolicy'")


def _raising(exc):
    def app(environ, start_response):
        raise exc
    return app


class TestErrorMiddleware(unittest.TestCase):
    def app(self, inner):
        conf = service.prepare_service([])
        return webtest.TestApp(errors.ErrorMiddleware(inner, conf))

    def test_not_implemented_is_501(self):
        app = self.app(_raising(panko_like.NotImplementedError(
            "get_traits is not implemented by the log driver")))
        error = app.get("/v2/x", status=501).json["error_message"]
        self.assertEqual(
            {"faultcode": "Server", "debuginfo": None,
             "faultstring": "get_traits is not implemented by the log "
                            "driver"}, error)

    def test_unexpected_error_is_500_without_details(self):
        app = self.app(_raising(KeyError("secret internals")))
        # Logged whole for the operator (and kept off the test output).
        with self.assertLogs("panko_like.api.errors", "ERROR") as logs:
            error = app.get("/", status=500).json["error_message"]
        self.assertEqual("Server", error["faultcode"])
        self.assertNotIn("secret", error["faultstring"])
        self.assertIn("KeyError: 'secret internals'", logs.output[0])

    def test_other_layers_errors_are_rewritten(self):
        @webob.dec.wsgify
        def keystone_like(request):
            response = webob.Response(
                status=401, content_type="application/json",
                json_body={"error": {"code": 401, "title": "Unauthorized",
                                     "message": "The request you have "
                                                "made requires "
                                                "authentication."}})
            response.headers["WWW-Authenticate"] = "Keystone uri='x'"
            return response

        response = self.app(keystone_like).get("/v2/events", status=401)
        self.assertEqual(
            {"error_message": {
                "faultcode": "Client", "debuginfo": None,
                "faultstring": "The request you have made requires "
                               "authentication."}}, response.json)
        self.assertEqual("Keystone uri='x'",
                         response.headers["WWW-Authenticate"])

    def test_raw_bytes_of_the_query_string_are_checked(self):
        """Not only %-escapes: WSGI hands the query string's raw bytes
        over decoded as latin-1, and those must be UTF-8 as well."""
        seen = []

        def inner(environ, start_response):
            seen.append(environ["QUERY_STRING"])
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]

        app = self.app(inner)
        for raw, status in ((b"q.value=\x80", 400), (b"a&\xff\xfe", 400),
                            (b"q.value=\xc3\xa9", 200)):
            request = webob.Request.blank("/v2/events")
            request.environ["QUERY_STRING"] = raw.decode("latin-1")
            response = app.do_request(request, status=status)
            if status == 400:
                self.assertEqual(
                    "The request URL is not valid UTF-8.",
                    response.json["error_message"]["faultstring"])
        self.assertEqual(["q.value=\xc3\xa9"], seen)

    def test_body_limit_without_content_length(self):
        conf = service.prepare_service([])
        conf.set_override("max_request_body_size", 1024, group="api")
        seen = []

        def inner(environ, start_response):
            seen.append(environ[errors.BODY])
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"ok"]

        app = webtest.TestApp(errors.ErrorMiddleware(inner, conf))
        for size, status in ((1024, 200), (1025, 413)):
            request = webob.Request.blank("/v2/events", method="POST")
            request.environ["wsgi.input"] = io.BytesIO(b"x" * size)
            request.environ.pop("CONTENT_LENGTH", None)
            request.environ["wsgi.input_terminated"] = True
            response = app.do_request(request, status=status)
            self.assertEqual(status, response.status_int)
        self.assertEqual([b"x" * 1024], seen)



class TestControllerSignatures(unittest.TestCase):
    def test_remembered_signatures_are_pecans(self):
        import pecan
        import pecan.core
        import pecan.util

        from panko_like.api import app

        class Controller:
            @pecan.expose()
            def index(self, a, b=1, *args, **kwargs):
                pass

            @pecan.expose()
            def _route(self, args, request):
                pass

        def plain(x, y):
            pass

        app._remember_signatures()
        app._remember_signatures()  # idempotent
        for controller in (Controller().index, Controller()._route,
                           Controller().index, plain):
            with self.subTest(controller=controller):
                self.assertEqual(pecan.util.getargspec(controller),
                                 pecan.core.getargspec(controller))
        self.assertEqual(["self", "a", "b"],
                         pecan.core.getargspec(Controller().index).args)

    def test_remembered_signatures_are_inspects(self):
        import inspect

        from oslo_middleware import base as middleware_base
        from oslo_policy import _checks

        from panko_like.api import app

        class Check:
            def __call__(self, target, creds, enforcer, current_rule):
                pass

        class Legacy:
            def __call__(self, target, creds, enforcer):
                pass

        def plain(x, y=2):
            pass

        app._remember_signatures()
        for remembered in (middleware_base.getfullargspec,
                           _checks.inspect.getfullargspec):
            for function in (Check().__call__, Legacy().__call__,
                             Check().__call__, plain):
                with self.subTest(function=function):
                    self.assertEqual(inspect.getfullargspec(function),
                                     remembered(function))
        # The rest of inspect is inspect's own.
        self.assertIs(inspect.isclass, _checks.inspect.isclass)
        # What oslo.policy decides with it: both kinds of check run.
        calls = []
        Check.__call__ = lambda self, t, c, e, rule: calls.append(rule)
        Legacy.__call__ = lambda self, t, c, e: calls.append("legacy")
        _checks._check(Check(), {}, {}, None, "rule")
        _checks._check(Legacy(), {}, {}, None, "rule")
        self.assertEqual(["rule", "legacy"], calls)
