"""An API over the real WSGI stack, on a fresh database per test."""

import datetime

import webtest

from panko_like.api import app
from panko_like.storage import models
from tests.functional import backends

ADMIN_A = {"X-User-Id": "admin-a", "X-Project-Id": "proj-a",
           "X-Roles": "admin"}
USER_A1 = {"X-User-Id": "u-a1", "X-Project-Id": "proj-a",
           "X-Roles": "member"}
USER_A2 = {"X-User-Id": "u-a2", "X-Project-Id": "proj-a",
           "X-Roles": "member,reader"}
USER_B = {"X-User-Id": "u-b", "X-Project-Id": "proj-b", "X-Roles": "member"}
ADMIN_B = {"X-User-Id": "admin-b", "X-Project-Id": "proj-b",
           "X-Roles": "admin,member"}
T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, 123456)


def trait(name, value, dtype=models.TEXT_TYPE):
    return models.Trait(name, dtype, value)


def owned(project, user):
    return [trait("project_id", project), trait("user_id", user)]


def event(message_id, traits=(), event_type="compute.instance.create.end",
          generated=T0, raw=None):
    return models.Event(message_id, event_type, generated, list(traits),
                        raw if raw is not None else {"id": message_id})


def fixture_events():
    """Events of two projects, one without project, one without traits."""
    minute = datetime.timedelta(minutes=1)
    return [
        event("a1", owned("proj-a", "u-a1") + [
            trait("flavor", "m1.small"), trait("memory_mb", 2048, 2),
            trait("ratio", 0.5, 3),
            trait("launched_at", T0 - minute, 4)]),
        event("a2", owned("proj-a", "u-a2") + [
            trait("flavor", "m1.large"), trait("memory_mb", 8192, 2)],
            generated=T0 + minute),
        event("b1", owned("proj-b", "u-b") + [
            trait("flavor", "m1.small"), trait("memory_mb", 4096, 2)],
            event_type="volume.create.end", generated=T0 + 2 * minute),
        event("np", [trait("host", "compute-1")], event_type="heartbeat",
              generated=T0 + 3 * minute),
        event("bare", [], event_type="heartbeat",
              generated=T0 + 4 * minute),
    ]


ALL = ["a1", "a2", "b1", "np", "bare"]


class APITestCase(backends.BackendTestCase):
    """``self.app`` is a webtest.TestApp over ``setup_app(self.conf)``."""

    auth_mode = "noauth"
    overrides = {}

    def setUp(self):
        super().setUp()
        self.conf.set_override("auth_mode", self.auth_mode, group="api")
        for (group, name), value in self.overrides.items():
            self.conf.set_override(name, value, group=group)
        self.app = self.make_app()

    def make_app(self, **extra_environ):
        wsgi = app.setup_app(self.conf)
        self.addCleanup(wsgi.storage_holder.close)
        return webtest.TestApp(wsgi, extra_environ=extra_environ)

    def load(self, events=None):
        rejected = self.conn.record_events(
            fixture_events() if events is None else events)
        self.assertEqual([], rejected)

    def get(self, path, headers=ADMIN_A, status=200, **kwargs):
        return self.app.get(path, headers=headers, status=status, **kwargs)

    def get_body(self, path, body, headers=ADMIN_A, status=200):
        """GET with a JSON body, as Panko's clients may send it."""
        if isinstance(body, str):
            body = body.encode("utf-8")
        return self.app.request(path, method="GET", body=body,
                                headers=headers, status=status,
                                content_type="application/json")

    def ids(self, path, headers=ADMIN_A, **kwargs):
        response = self.get(path, headers=headers, **kwargs)
        return [e["message_id"] for e in response.json]

    def assertError(self, response, status, message=None,
                    faultcode="Client"):
        self.assertEqual(status, response.status_int, response.body)
        self.assertEqual("application/json", response.content_type)
        error = response.json["error_message"]
        self.assertEqual(faultcode, error["faultcode"])
        self.assertIsNone(error["debuginfo"])
        if message is not None:
            self.assertEqual(message, error["faultstring"])
        return error["faultstring"]
