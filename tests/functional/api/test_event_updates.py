"""``PATCH /v2/events/{message_id}`` over the real WSGI stack, on every
backend whose driver declares events:update (the log driver's 501 is in
storage/test_log_driver)."""

import concurrent.futures
import json
import os
import shutil
import tempfile
import threading

from panko_like import storage
from tests.functional import api_base, backends
from tests.functional.api_base import ADMIN_A, ADMIN_B, USER_A1, USER_A2

#: Concurrent PATCH requests of one event (within max_traits_per_event).
UPDATERS = 8


def text(name, value):
    return {"name": name, "type": "string", "value": value}


def names(event):
    return [t["name"] for t in event["traits"]]


@backends.requires("events:update", "events:query:simple")
class UpdateAPIScenarios:
    overrides = {("api", "max_traits_per_event"): 10}

    def setUp(self):
        super().setUp()
        self.load()

    def patch(self, path, body, headers=ADMIN_A, status=200,
              content_type="application/json"):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        return self.app.request(f"/v2/events/{path}", method="PATCH",
                                body=body, headers=headers, status=status,
                                content_type=content_type)

    def test_set_replace_remove_and_answer(self):
        before = self.get("/v2/events/a1").json
        answer = self.patch("a1", {
            "traits": [text("flavor", "m1.xlarge"),
                       {"name": "memory_mb", "type": "integer",
                        "value": "16384"},
                       {"name": "zone", "value": "nova"}],
            "remove": ["ratio", "absent"]}).json
        shown = self.get("/v2/events/a1").json
        self.assertEqual(shown, answer)
        for key in ("message_id", "event_type", "generated", "raw"):
            self.assertEqual(before[key], shown[key])
        self.assertEqual(
            [text("flavor", "m1.xlarge"),
             {"name": "launched_at", "type": "datetime",
              "value": "2026-01-01T11:59:00.123456"},
             {"name": "memory_mb", "type": "integer", "value": "16384"},
             text("project_id", "proj-a"), text("user_id", "u-a1"),
             text("zone", "nova")],
            shown["traits"])
        # Filters see the new values at once.
        self.assertEqual(["a1"], self.ids(
            "/v2/events?q.field=zone&q.value=nova"))
        self.assertEqual([], self.ids(
            "/v2/events?q.field=ratio&q.type=float&q.value=0.5"))
        event, = self.conn.get_events(storage.EventFilter(message_id="a1"))
        self.assertIsNotNone(event.updated_at)

    def test_scope_as_delete(self):
        # b1 is proj-b's: out of proj-a's admin's scope without
        # all_tenants, and never a member's to change.
        body = {"traits": [text("note", "x")]}
        self.assertError(self.patch("b1", body, status=404), 404,
                         "Event b1 Not Found")
        self.assertError(self.patch("nope", body, status=404), 404,
                         "Event nope Not Found")
        self.assertError(self.patch("a1", body, headers=USER_A1,
                                    status=403), 403,
                         "RBAC Authorization Failed")
        self.patch("np", body)
        answer = self.patch("b1?all_tenants=True", body).json
        self.assertIn("note", names(answer))
        self.assertIn("note", names(self.get("/v2/events/b1",
                                             headers=ADMIN_B).json))

    def test_members_when_the_policy_allows_them(self):
        # A member sees only its own events, and all_tenants never
        # widens that, nor lets it move an event to another tenant.
        home = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, home)
        path = os.path.join(home, "policy.yaml")
        with open(path, "w") as f:
            f.write('"telemetry:events:update": ""\n')
        self.conf.set_override("policy_file", path, group="oslo_policy")
        self.app = self.make_app()
        body = {"traits": [text("note", "mine")]}
        self.patch("a1", body, headers=USER_A1)
        self.assertError(self.patch("a1?all_tenants=True", body,
                                    headers=USER_A2, status=404), 404)
        message = self.assertError(self.patch(
            "a1?all_tenants=True", {"remove": ["project_id"]},
            headers=USER_A1, status=400), 400)
        self.assertIn("only an admin may", message)

    def test_project_and_user_change_needs_all_tenants(self):
        for body in ({"traits": [text("project_id", "proj-b")]},
                     {"remove": ["user_id"]}):
            with self.subTest(body=body):
                message = self.assertError(
                    self.patch("a1", body, status=400), 400)
                self.assertIn("all_tenants=True", message)
        self.patch("a1?all_tenants=True",
                   {"traits": [text("project_id", "proj-b")]})
        self.assertError(self.get("/v2/events/a1", status=404), 404)
        self.get("/v2/events/a1", headers=ADMIN_B)

    def test_bad_bodies(self):
        too_many = self.conf.api.max_traits_per_event + 1
        for body, fragment in (
                (b"{", "not valid JSON"),
                (b"", "not valid JSON"),
                ([], "must be a JSON object"),
                ({"traits": [], "extra": 1}, "unknown keys: extra"),
                ({"traits": {}}, "are lists"),
                ({"remove": "flavor"}, "are lists"),
                ({}, "nothing to set or remove"),
                ({"traits": [], "remove": []}, "nothing to set or remove"),
                ({"traits": [text("flavor", "a")], "remove": ["flavor"]},
                 "both set and removed: flavor"),
                ({"traits": [["flavor", 1, "a"]]}, "a trait is"),
                ({"traits": [{"name": "flavor", "value": None}]},
                 "a trait is"),
                ({"traits": [{"name": "n", "type": "integer",
                              "value": "x"}]}, "trait 'n'"),
                ({"traits": [{"name": "n", "type": "blob", "value": 1}]},
                 "unknown trait type"),
                ({"traits": [{"name": "n", "value": 1, "x": 2}]},
                 "a trait is"),
                ({"remove": [3]}, "trait name"),
                ({"remove": [""]}, "trait name"),
                ({"traits": [text(f"t{i}", "v") for i in range(too_many)]},
                 "max_traits_per_event"),
                ({"traits": [text("n" * 300, "v")]},
                 "longer than 255"),
                ({"traits": [text("n", "v" * 5000)]}, "longer than 4096"),
                ({"traits": [text("n", "a\x00b")]}, "NUL character"),
        ):
            with self.subTest(body=body):
                message = self.assertError(
                    self.patch("a1", body, status=400), 400)
                self.assertIn(fragment, message)
        self.assertError(
            self.patch("a1", {"remove": ["flavor"]}, status=415,
                       content_type="text/plain"), 415)
        self.assertError(
            self.patch("a1?limit=1", {"remove": ["flavor"]}, status=400),
            400, 'Unknown argument: "limit"')
        event, = self.conn.get_events(storage.EventFilter(message_id="a1"))
        self.assertIsNone(event.updated_at)

    def test_traits_afterwards_within_the_limit(self):
        limit = self.conf.api.max_traits_per_event
        # a1 has 6 traits: room for limit - 6 more.
        self.patch("a1", {"traits": [text(f"t{i:03d}", "v")
                                     for i in range(limit - 6)]})
        message = self.assertError(
            self.patch("a1", {"traits": [text("one", "more")]},
                       status=400), 400)
        self.assertIn("max_traits_per_event", message)
        self.patch("a1", {"traits": [text("one", "more")],
                          "remove": ["flavor"]})

    def test_concurrent_requests_lose_none(self):
        start = threading.Barrier(UPDATERS)

        def update(n):
            start.wait()
            return self.patch("np", {"traits": [text(f"t{n:02d}", "v")]})

        with concurrent.futures.ThreadPoolExecutor(UPDATERS) as pool:
            list(pool.map(update, range(UPDATERS)))
        self.assertEqual(
            ["host"] + [f"t{n:02d}" for n in range(UPDATERS)],
            names(self.get("/v2/events/np").json))


globals().update(backends.make_test_cases(
    UpdateAPIScenarios, base=api_base.APITestCase))
