"""``[api] auth_mode = token`` over the real WSGI stack: tokens made by
``panko-like-token``'s own code, checked against the file; identity
headers a client forges are ignored; every bad credential is the same
401; a token created or revoked counts without a restart; a broken file
fails closed; no token reaches a log line.
"""

import contextlib
import io
import json
import logging
import os
import shutil
import tempfile
import time

import webtest

from panko_like.api import app, tokens
from panko_like.cmd import token as token_cmd
from tests.functional import backends
from tests.functional.api_base import fixture_events

ADMIN = ("admin-a", "proj-a", ["admin"])
MEMBER = ("u-a1", "proj-a", ["member"])


def make_token(path, user, project, roles):
    """A token made by panko-like-token's own code; returns it."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(io.StringIO()):
        token_cmd.create(path, user, project, roles)
    return out.getvalue().strip()


def revoke(path, token):
    with contextlib.redirect_stdout(io.StringIO()):
        token_cmd.revoke(path, tokens.split_token(token))


class TokenScenarios:
    def setUp(self):
        super().setUp()
        self.assertEqual([], self.conn.record_events(fixture_events()))
        self.dir = tempfile.mkdtemp(prefix="panko_like_tokens_")
        self.addCleanup(shutil.rmtree, self.dir)
        self.path = os.path.join(self.dir, "tokens.json")
        self.admin = make_token(self.path, *ADMIN)
        self.member = make_token(self.path, *MEMBER)
        self.conf.set_override("auth_mode", "token", group="api")
        self.conf.set_override("token_file", self.path, group="api")
        application = app.setup_app(self.conf)
        self.addCleanup(application.storage_holder.close)
        self.app = webtest.TestApp(application)

    def get(self, path, token=None, status=200, **headers):
        if token is not None:
            headers["X-Auth-Token"] = token
        return self.app.get(path, headers=headers, status=status)

    def listed(self, token, **headers):
        return sorted(e["message_id"]
                      for e in self.get("/v2/events", token, **headers).json)

    def test_tokens_give_their_identity(self):
        self.assertEqual(["a1", "a2", "bare", "np"], self.listed(self.admin))
        self.assertEqual(["a1"], self.listed(self.member))
        bearer = self.app.get("/v2/events", headers={
            "Authorization": f"Bearer {self.member}"}).json
        self.assertEqual(["a1"], [e["message_id"] for e in bearer])
        self.assertIn("compute.instance.create.end",
                      self.get("/v2/event_types", self.admin).json)
        self.get("/v2/event_types", self.member, status=401)

    def test_forged_identity_headers_are_ignored(self):
        forged = {"X-Roles": "admin", "X-Project-Id": "proj-b",
                  "X-User-Id": "u-b", "X-Tenant-Id": "proj-b",
                  "X-Role": "admin", "X-Is-Admin-Project": "True"}
        self.assertEqual(["a1"], self.listed(self.member, **forged))
        # A member's all_tenants is a trait filter, as in Panko.
        self.assertEqual([], self.get(
            "/v2/events?q.field=all_tenants&q.value=True", self.member,
            **forged).json)
        self.get("/v2/event_types", self.member, status=401, **forged)
        self.app.delete("/v2/events/a1", headers={
            "X-Auth-Token": self.member, **forged}, status=403)
        self.get("/v2/events/a1", self.admin)

    def test_every_bad_credential_is_the_same_401(self):
        token_id, _, secret = self.admin.partition(".")
        last = "A" if secret[-1] != "A" else "B"
        wrong_secret = f"{token_id}.{secret[:-1]}{last}"
        revoked = make_token(self.path, *ADMIN)
        revoke(self.path, revoked)
        time.sleep(tokens.RECHECK_INTERVAL + 0.1)
        cases = {
            "missing": {},
            "unknown id": {"X-Auth-Token": f"000000000000.{secret}"},
            "wrong secret": {"X-Auth-Token": wrong_secret},
            "revoked": {"X-Auth-Token": revoked},
            "no dot": {"X-Auth-Token": token_id + secret},
            "empty": {"X-Auth-Token": " "},
            "bearer without token": {"Authorization": "Bearer"},
            "basic": {"Authorization": f"Basic {self.admin}"},
            "headers only": {"X-User-Id": "admin-a",
                             "X-Project-Id": "proj-a", "X-Roles": "admin"},
            "not ascii": {"X-Auth-Token": "é" * 20},
        }
        bodies = set()
        for name, headers in cases.items():
            with self.subTest(name):
                answer = self.app.get("/v2/events", headers=headers,
                                      status=401)
                self.assertEqual('Bearer realm="panko_like"',
                                 answer.headers["WWW-Authenticate"])
                bodies.add(answer.body)
        self.assertEqual(1, len(bodies), bodies)
        message = json.loads(bodies.pop())["error_message"]["faultstring"]
        self.assertIn("valid token", message)

    def test_created_and_revoked_without_a_restart(self):
        later = make_token(self.path, "u-b", "proj-b", ["member"])
        time.sleep(tokens.RECHECK_INTERVAL + 0.1)
        self.assertEqual(["b1"], self.listed(later))
        revoke(self.path, later)
        time.sleep(tokens.RECHECK_INTERVAL + 0.1)
        self.get("/v2/events", later, status=401)
        self.assertEqual(["a1"], self.listed(self.member))

    def test_a_broken_file_fails_closed_until_mended(self):
        with open(self.path) as f:
            good = f.read()
        with self.assertLogs("panko_like.api.tokens", logging.ERROR) as logs:
            with open(self.path, "w") as f:
                f.write('{"tokens": [{"id": ')
            time.sleep(tokens.RECHECK_INTERVAL + 0.1)
            self.get("/v2/events", self.admin, status=401)
        self.assertIn("no token is accepted", logs.output[0])
        with open(self.path, "w") as f:
            f.write(good)
        time.sleep(tokens.RECHECK_INTERVAL + 0.1)
        self.assertEqual(["a1"], self.listed(self.member))

    def test_no_token_in_any_log_line(self):
        logger = logging.getLogger()
        records = []
        handler = logging.Handler(logging.DEBUG)
        handler.emit = lambda record: records.append(
            record.getMessage() + repr(record.args))
        logger.addHandler(handler)
        self.addCleanup(logger.removeHandler, handler)
        level = logger.level
        logger.setLevel(logging.DEBUG)
        self.addCleanup(logger.setLevel, level)
        self.listed(self.admin)
        self.get("/v2/events/a1", self.member)
        self.get("/v2/events", self.admin[:-2], status=401)
        self.app.get("/v2/events", status=401, headers={
            "Authorization": f"Bearer {self.member}x"})
        self.assertTrue(records)
        secrets = [t.partition(".")[2] for t in (self.admin, self.member)]
        for line in records:
            for secret in secrets:
                self.assertNotIn(secret[:20], line)

    def test_versions_and_healthcheck_need_no_token(self):
        self.assertIn("versions", self.get("/").json)
        self.get("/healthcheck")


globals().update(backends.make_test_cases(
    TokenScenarios, names=("sqlite", "postgresql")))
