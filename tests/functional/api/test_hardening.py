"""Hardening of the v2 API, through the real WSGI stack, on every backend.

Each scenario reproduces a failure of the hardening issue: a delete
outside the caller's scope, a ``raw`` nested too deeply, values that
changed on their way into storage.
"""

import json
import os
import tempfile

from panko_like.storage import models
from tests.functional import backends
from tests.functional.api_base import (
    ADMIN_A,
    ADMIN_B,
    ALL,
    USER_A1,
    USER_B,
    APITestCase,
)

EVENTS_LOG = "panko_like.api.controllers.v2.events"


class DeleteScopeScenarios:
    """DELETE /v2/events/{id} sees exactly what GET sees."""

    def visible(self, headers=ADMIN_A):
        return [e["message_id"] for e in self.app.get(
            "/v2/events?q.field=all_tenants&q.value=True",
            headers=headers).json]

    def test_admin_cannot_delete_another_projects_event(self):
        self.load()
        self.get("/v2/events/b1", headers=ADMIN_A, status=404)
        self.assertError(
            self.app.delete("/v2/events/b1", headers=ADMIN_A, status=404),
            404, "Event b1 Not Found")
        self.assertEqual(ALL, self.visible())

    def test_admin_deletes_what_it_sees(self):
        self.load()
        for message_id in ("a1", "np", "bare"):
            self.get(f"/v2/events/{message_id}", headers=ADMIN_A)
            self.app.delete(f"/v2/events/{message_id}", headers=ADMIN_A,
                            status=204)
            self.get(f"/v2/events/{message_id}", headers=ADMIN_A,
                     status=404)
        self.assertEqual(["a2", "b1"], self.visible())

    def test_all_tenants_delete_outside_the_scope_is_logged(self):
        self.load()
        with self.assertLogs(EVENTS_LOG, "INFO") as logs:
            self.app.delete("/v2/events/b1?all_tenants=True",
                            headers=ADMIN_A, status=204)
        (line,) = logs.output
        self.assertIn("b1", line)
        self.assertIn("admin-a", line)
        self.assertIn("proj-a", line)
        self.assertTrue(line.startswith("INFO:"))
        self.assertEqual(["a1", "a2", "np", "bare"], self.visible())
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=True",
                            headers=ADMIN_A, status=404),
            404, "Event b1 Not Found")

    def test_delete_within_the_scope_is_not_logged_as_wide(self):
        self.load()
        with self.assertNoLogs(EVENTS_LOG, "INFO"):
            self.app.delete("/v2/events/a1?all_tenants=True",
                            headers=ADMIN_A, status=204)
            self.app.delete("/v2/events/b1", headers=ADMIN_B, status=204)

    def test_show_with_all_tenants_matches_delete(self):
        self.load()
        body = self.get("/v2/events/b1?all_tenants=True",
                        headers=ADMIN_A).json
        self.assertEqual("b1", body["message_id"])
        self.get("/v2/events/b1?all_tenants=False", headers=ADMIN_A,
                 status=404)

    def test_bad_arguments_of_delete(self):
        self.load()
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=maybe",
                            headers=ADMIN_A, status=400),
            400, "Invalid input for field/attribute all_tenants. Value: "
            "'maybe'. expected true or false.")
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenant=True",
                            headers=ADMIN_A, status=400),
            400, 'Unknown argument: "all_tenant"')
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=1&all_tenants=1",
                            headers=ADMIN_A, status=400),
            400, "all_tenants may be given only once.")
        self.assertEqual(ALL, self.visible())

    def test_members_allowed_to_delete_see_only_their_own(self):
        path = os.path.join(tempfile.mkdtemp(), "policy.yaml")
        with open(path, "w") as f:
            f.write('"telemetry:events:delete": ""\n')
        self.conf.set_override("policy_file", path, group="oslo_policy")
        app = self.make_app()
        self.load()
        # all_tenants widens nothing for a member, in GET or DELETE.
        for message_id in ("a2", "b1", "np", "bare"):
            app.get(f"/v2/events/{message_id}?all_tenants=True",
                    headers=USER_A1, status=404)
            app.delete(f"/v2/events/{message_id}?all_tenants=True",
                       headers=USER_A1, status=404)
        app.delete("/v2/events/a1", headers=USER_A1, status=204)
        app.delete("/v2/events/b1", headers=USER_B, status=204)
        self.assertEqual(["a2", "np", "bare"], self.visible())


def nested(depth):
    """A raw payload ``depth`` levels deep: {"a": {"a": ... {}}}."""
    raw = {}
    for _ in range(depth - 1):
        raw = {"a": raw}
    return raw


def nested_text(depth):
    """``nested(depth)`` as JSON text, made without json's recursion."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def api_event(message_id, raw=None, traits=()):
    return {"message_id": message_id, "event_type": "image.upload",
            "generated": "2026-02-01T10:00:00.000001",
            "traits": [{"name": "project_id", "type": "string",
                        "value": "proj-a"}, *traits],
            "raw": {"id": message_id} if raw is None else raw}


class RawDepthScenarios:
    """A raw payload nested too deeply is refused alone, never a 500."""

    def visible(self):
        return [e["message_id"] for e in self.app.get(
            "/v2/events?q.field=all_tenants&q.value=True",
            headers=ADMIN_A).json]

    def post_text(self, events_json, status):
        body = "[" + ",".join(events_json) + "]"
        return self.app.post("/v2/events", body.encode(), headers=ADMIN_A,
                             content_type="application/json",
                             status=status)

    def event_text(self, message_id, depth):
        text = json.dumps(api_event(message_id, raw="RAW"))
        return text.replace('"RAW"', nested_text(depth))

    def assertRefusedAlone(self, response, message_id, depth_limit,
                           stored=("ok-1", "ok-2")):
        error = self.assertError(response, 400)
        self.assertEqual("1 of 3 events were not stored; see \"rejected\".",
                         error)
        self.assertEqual(2, response.json["stored"])
        self.assertEqual(
            [{"message_id": message_id, "problem": "invalid",
              "reason": f"raw payload is nested more than {depth_limit} "
                        "levels deep ([database] max_raw_depth)"}],
            response.json["rejected"])
        self.assertEqual(sorted(stored), sorted(self.visible()))

    def test_deep_raw_of_a_batch_is_refused_alone(self):
        # 925 to 1,024 levels: read by the body parser, then made the
        # JSON fallback of the drivers recurse (500, batch lost).
        stored = []
        for depth in (930, 1000):
            with self.subTest(depth=depth):
                stored += [f"ok-{depth}-1", f"ok-{depth}-2"]
                response = self.post_text(
                    [json.dumps(api_event(stored[-2])),
                     self.event_text(f"deep-{depth}", depth),
                     json.dumps(api_event(stored[-1]))], status=400)
                self.assertRefusedAlone(response, f"deep-{depth}", 100,
                                        stored)

    def test_depth_limit_is_inclusive(self):
        self.app.post_json("/v2/events", [
            api_event("at-limit", raw=nested(100)),
        ], headers=ADMIN_A, status=201)
        body = self.app.get("/v2/events/at-limit", headers=ADMIN_A).json
        self.assertEqual(nested(100), body["raw"])
        response = self.app.post_json("/v2/events", [
            api_event("ok-1"), api_event("over", raw=[nested(100)]),
            api_event("ok-2")], headers=ADMIN_A, status=400)
        self.assertEqual(["over"], [r["message_id"]
                                    for r in response.json["rejected"]])

    def test_depth_limit_is_configurable(self):
        self.conf.set_override("max_raw_depth", 3, group="database")
        self.app = self.make_app()
        response = self.app.post_json("/v2/events", [
            api_event("ok-1", raw={"a": [{"b": 1}]}),
            api_event("four", raw={"a": [{"b": [None]}]}),
            api_event("ok-2", raw=[[[None]]])], headers=ADMIN_A, status=400)
        self.assertRefusedAlone(response, "four", 3)

    def test_storage_refuses_deep_raw_alone(self):
        stored = []
        at = models.parse_datetime("2026-02-01T10:00:00")
        for depth in (101, 300, 1000, 20000):
            with self.subTest(depth=depth):
                stored += [f"ok-{depth}-1", f"ok-{depth}-2"]
                rejected = self.conn.record_events([
                    models.Event(stored[-2], "t", at, [], {"x": 1}),
                    models.Event(f"deep-{depth}", "t", at, [],
                                 nested(depth)),
                    models.Event(stored[-1], "t", at, [], None),
                ])
                self.assertEqual([models.Rejected(
                    f"deep-{depth}", models.Problem.INVALID,
                    "raw payload is nested more than 100 levels deep "
                    "([database] max_raw_depth)")], rejected)
                self.assertEqual(sorted(stored), sorted(self.visible()))

    def test_body_too_deep_for_the_parser_is_400(self):
        for depth in (1025, 1100, 100000):
            with self.subTest(depth=depth):
                response = self.post_text(
                    [json.dumps(api_event("ok-1")),
                     self.event_text("deep", depth)], status=400)
                self.assertError(response, 400,
                                 "The request body is nested too deeply.")
        self.assertEqual([], self.visible())

    def test_deep_query_body_is_400(self):
        for depth in (950, 100000):
            with self.subTest(depth=depth):
                body = '{"q": [{"field": "a", "value": "x"}], "sort": ' \
                    + nested_text(depth) + "}"
                response = self.get_body("/v2/events", body, status=400)
                self.assertEqual(400, response.status_int)
                self.assertError(response, 400)


def typed(name, type_, value):
    return {"name": name, "type": type_, "value": value}


class ValuesScenarios:
    """What is stored reads back as it was sent, or is refused."""

    def post_batch(self, *events, status=400):
        return self.app.post_json("/v2/events", list(events),
                                  headers=ADMIN_A, status=status)

    def traits_of(self, message_id):
        body = self.app.get(f"/v2/events/{message_id}", headers=ADMIN_A).json
        return {t["name"]: (t["type"], t["value"]) for t in body["traits"]}

    def assertRejected(self, response, expected, stored=2):
        self.assertError(response, 400)
        self.assertEqual(stored, response.json["stored"])
        self.assertEqual(expected, [
            (r["message_id"], r["problem"], r["reason"])
            for r in response.json["rejected"]])
        self.assertEqual([], response.json["duplicates"])

    def test_string_traits_keep_the_json_text_of_scalars(self):
        self.post_batch(api_event("scalars", traits=[
            typed("yes", "string", True), typed("no", "string", False),
            typed("count", "string", 42),
            typed("big", "string", 2**70),
            typed("ratio", "string", 1.5),
            typed("tiny", "string", 1e-300),
            typed("untyped", "string", "text"),
        ]), status=201)
        self.app.post_json("/v2/events", {
            "message_id": "ceilometer", "event_type": "image.upload",
            "generated": "2026-02-01T10:00:00",
            "traits": [["project_id", 1, "proj-a"], ["flag", 1, True],
                       ["note", 0, False], ["n", 0, 7]],
            "raw": {}}, headers=ADMIN_A, status=201)
        self.assertEqual({
            "project_id": ("string", "proj-a"),
            "yes": ("string", "true"), "no": ("string", "false"),
            "count": ("string", "42"),
            "big": ("string", "1180591620717411303424"),
            "ratio": ("string", "1.5"), "tiny": ("string", "1e-300"),
            "untyped": ("string", "text"),
        }, self.traits_of("scalars"))
        self.assertEqual({
            "project_id": ("string", "proj-a"), "flag": ("string", "true"),
            "note": ("string", "false"), "n": ("string", "7"),
        }, self.traits_of("ceilometer"))
        found = self.app.get(
            "/v2/events?q.field=yes&q.value=true", headers=ADMIN_A).json
        self.assertEqual(["scalars"], [e["message_id"] for e in found])

    def test_null_is_no_value(self):
        self.post_batch(api_event("nulls", traits=[
            typed("s", "string", None), typed("i", "integer", None),
            typed("f", "float", None), typed("d", "datetime", None),
            ["c", 1, None], typed("kept", "integer", 0),
        ]), status=201)
        self.assertEqual({"project_id": ("string", "proj-a"),
                          "kept": ("integer", "0")},
                         self.traits_of("nulls"))
        # Checked all the same: a null trait of an unknown type refuses
        # its event.
        response = self.post_batch(
            api_event("ok-1"), api_event("bad", traits=[
                typed("x", "text", None)]), api_event("ok-2"))
        self.assertRejected(response, [
            ("bad", "incompatible_trait", "unknown trait type 'text'")])

    def test_string_traits_refuse_objects_and_arrays(self):
        response = self.post_batch(
            api_event("ok-1"),
            api_event("object", traits=[
                typed("s", "string", {"k": [1, None]})]),
            api_event("array", traits=[["s", 0, [1, None]]]),
            api_event("nan", traits=[typed("s", "string", 1e400)]),
            api_event("ok-2"))
        self.assertRejected(response, [
            ("object", "incompatible_trait",
             "trait 's': value does not fit type string: a string trait "
             "takes a string, a number, true or false, not an object"),
            ("array", "incompatible_trait",
             "trait 's': value does not fit type none: a string trait "
             "takes a string, a number, true or false, not an array"),
            ("nan", "incompatible_trait",
             "trait 's': value does not fit type string: not a finite "
             "number: inf"),
        ])
        self.assertEqual(["ok-1", "ok-2"], sorted(
            e["message_id"] for e in self.app.get(
                "/v2/events", headers=ADMIN_A).json))

    def test_numbers_of_ascii_digits_only(self):
        cases = [("arabic-indic", "integer", "\u0663"),
                 ("underscore", "integer", "1_000"),
                 ("fullwidth", "integer", "\uff11\uff12"),
                 ("float-underscore", "float", "1_000.5"),
                 ("float-arabic-indic", "float", "\u0663.5"),
                 ("float-devanagari", "float", "\u0967e3")]
        response = self.post_batch(
            api_event("ok-1", traits=[typed("n", "integer", " -12 "),
                                      typed("x", "float", "1e3")]),
            *[api_event(name, traits=[typed("n", type_, value)])
              for name, type_, value in cases],
            api_event("ok-2", traits=[typed("n", "integer", 9)]))
        what = {"integer": "an integer", "float": "a float"}
        self.assertRejected(response, [
            (name, "incompatible_trait",
             f"trait 'n': value does not fit type {type_}: not "
             f"{what[type_]} of ASCII digits: {value!r}")
            for name, type_, value in cases])
        self.assertEqual({"project_id": ("string", "proj-a"),
                          "n": ("integer", "-12"), "x": ("float", "1000.0")},
                         self.traits_of("ok-1"))
        for path in ("/v2/events?q.field=n&q.type=integer&q.value=%D9%A3",
                     "/v2/events?q.field=n&q.type=integer&q.value=1_2",
                     "/v2/events?q.field=x&q.type=float&q.value=1_000.0"):
            self.assertError(self.app.get(path, headers=ADMIN_A,
                                          status=400), 400)

    def test_no_digit_of_a_second_is_dropped(self):
        response = self.post_batch(
            api_event("ok-1", traits=[
                typed("at", "datetime", "2026-02-01T09:00:00.1234560")]),
            dict(api_event("generated"),
                 generated="2026-02-01T10:00:00.0000015"),
            api_event("trait", traits=[
                typed("at", "datetime", "2026-02-01T09:00:00.123456789Z")]),
            dict(api_event("ok-2"),
                 generated="2026-02-01T10:00:00.999999000+00:00"))
        self.assertRejected(response, [
            ("generated", "invalid",
             "generated: more than 6 fractional digits of seconds: "
             "'2026-02-01T10:00:00.0000015' (microseconds are the finest "
             "time kept)"),
            ("trait", "incompatible_trait",
             "trait 'at': value does not fit type datetime: more than 6 "
             "fractional digits of seconds: '2026-02-01T09:00:00.123456789Z'"
             " (microseconds are the finest time kept)"),
        ])
        self.assertEqual(("datetime", "2026-02-01T09:00:00.123456"),
                         self.traits_of("ok-1")["at"])
        body = self.app.get("/v2/events/ok-2", headers=ADMIN_A).json
        self.assertEqual("2026-02-01T10:00:00.999999", body["generated"])
        self.assertError(self.app.get(
            "/v2/events?q.field=at&q.type=datetime"
            "&q.value=2026-02-01T09:00:00.1234561",
            headers=ADMIN_A, status=400), 400)

    def test_storage_refuses_what_would_change(self):
        at = models.parse_datetime("2026-02-01T10:00:00")
        rejected = self.conn.record_events([
            models.Event("ok", "t", at, [
                models.Trait("s", models.TEXT_TYPE, True),
                models.Trait("n", models.INT_TYPE, "42")], {}),
            models.Event("object", "t", at, [
                models.Trait("s", models.TEXT_TYPE, {"k": 1})], {}),
            models.Event("digits", "t", at, [
                models.Trait("n", models.INT_TYPE, "4\u0662")], {}),
        ])
        self.assertEqual(["object", "digits"],
                         [r.message_id for r in rejected])
        (event,) = self.conn.get_events(
            backends.storage.EventFilter(message_id="ok"))
        self.assertEqual({"s": "true", "n": 42},
                         {t.name: t.value for t in event.traits})


class HardeningScenarios(DeleteScopeScenarios, RawDepthScenarios,
                         ValuesScenarios):
    pass


globals().update(backends.make_test_cases(HardeningScenarios,
                                          base=APITestCase))
