"""The v2 API through the real WSGI stack, on every backend."""

import gc
import json
import os
import tempfile
import urllib.parse
from unittest import mock

from keystonemiddleware import auth_token

from panko_like.storage import impl_log, models
from tests.functional import backends
from tests.functional.api_base import (
    ADMIN_A,
    ADMIN_B,
    ALL,
    USER_A1,
    USER_A2,
    USER_B,
    APITestCase,
)
from tests.functional.storage.test_capabilities import document


def q(*filters, **params):
    """Query string of (field, op, type, value) filters and params."""
    pairs = []
    # Panko wants q.op (q.type) for every filter once one has it.
    any_op = any(f[1] for f in filters)
    any_type = any(f[2] for f in filters)
    for field, op, type_, value in filters:
        op = op or ("eq" if any_op else None)
        type_ = type_ or ("string" if any_type else None)
        pairs += [("q.field", field)]
        pairs += [("q.op", op)] if op else []
        pairs += [("q.type", type_)] if type_ else []
        pairs += [("q.value", value)]
    for name, value in params.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    return "/v2/events?" + urllib.parse.urlencode(pairs)


ALL_TENANTS = ("all_tenants", None, None, "True")


class RootScenarios:
    def test_versions_document(self):
        body = self.app.get("/").json
        (v2,) = body["versions"]["values"]
        self.assertEqual("v2", v2["id"])
        self.assertEqual("stable", v2["status"])
        self.assertEqual("http://localhost/v2", v2["links"][0]["href"])

    def test_versions_need_no_identity_in_keystone_mode(self):
        self.conf.set_override("auth_mode", "keystone", group="api")
        app = self.make_app()
        self.assertEqual("v2", app.get("/").json["versions"]["values"][0]
                         ["id"])

    def test_keystone_mode_refuses_requests_without_a_token(self):
        self.conf.set_override("auth_mode", "keystone", group="api")
        for group, options in auth_token.list_opts():
            self.conf.register_opts(options, group=group)
        self.conf.set_override("www_authenticate_uri",
                               "http://keystone.example/identity",
                               group="keystone_authtoken")
        app = self.make_app()
        # Identity headers alone mean nothing in keystone mode.
        response = app.get("/v2/events", headers=ADMIN_A, status=401)
        self.assertError(response, 401)
        self.assertEqual('Keystone uri="http://keystone.example/identity"',
                         response.headers["WWW-Authenticate"])
        app.get("/healthcheck", status=200)

    def test_versions_under_a_script_name(self):
        app = self.make_app(SCRIPT_NAME="/telemetry")
        (v2,) = app.get("/").json["versions"]["values"]
        self.assertEqual("http://localhost/telemetry/v2",
                         v2["links"][0]["href"])
        self.load()
        self.assertEqual(ALL[:2] + ALL[3:], [
            e["message_id"]
            for e in app.get("/v2/events", headers=ADMIN_A).json])

    def test_versions_behind_a_proxy_with_a_prefix(self):
        self.conf.set_override("enable_proxy_headers_parsing", True,
                               group="oslo_middleware")
        app = self.make_app()
        body = app.get("/", headers={
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "api.example.org",
            "X-Forwarded-Prefix": "/telemetry"}).json
        self.assertEqual("https://api.example.org/telemetry/v2",
                         body["versions"]["values"][0]["links"][0]["href"])

    def test_request_id_header(self):
        response = self.app.get("/v2/capabilities")
        self.assertTrue(
            response.headers["X-Openstack-Request-Id"].startswith("req-"))

    def test_cors(self):
        self.conf.set_override("allowed_origin", ["https://dash.example"],
                               group="cors")
        app = self.make_app()
        response = app.options("/v2/events", headers={
            "Origin": "https://dash.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Auth-Token"})
        self.assertEqual("https://dash.example",
                         response.headers["Access-Control-Allow-Origin"])
        response = app.get("/v2/capabilities",
                           headers={"Origin": "https://evil.example"})
        self.assertNotIn("Access-Control-Allow-Origin", response.headers)

    def test_healthcheck(self):
        self.assertEqual({"OK"},
                         set(self.app.get("/healthcheck").text.split()))

    def test_healthcheck_disabled_by_file(self):
        path = os.path.join(tempfile.mkdtemp(), "disable")
        self.conf.set_override("disable_by_file_path", path,
                               group="healthcheck")
        app = self.make_app()
        app.get("/healthcheck", status=200)
        open(path, "w").close()
        self.addCleanup(os.remove, path)
        disabled = app.get("/healthcheck", status=503)
        self.assertIn("DISABLED BY FILE", disabled.text)
        self.assertEqual(str(self.conf.database.retry_interval),
                         disabled.headers["Retry-After"])
        self.assertEqual(1, len(disabled.headers.getall("Retry-After")))

    def test_healthcheck_fails_while_storage_is_down(self):
        directory = tempfile.mkdtemp()
        self.conf.set_override(
            "connection", f"sqlite:///{directory}/missing/dir/x.sqlite",
            group="database")
        self.conf.set_override("max_retries", 0, group="database")
        app = self.make_app()
        app.get("/healthcheck", status=503)

    def test_storage_down_is_503_and_nothing_is_stored(self):
        # A closed port: the database is gone, not just slow.
        self.conf.set_override(
            "connection", "postgresql+psycopg://u@127.0.0.1:9/x",
            group="database")
        self.conf.set_override("max_retries", 0, group="database")
        app = self.make_app()
        for response in (
            app.get("/v2/events", headers=ADMIN_A, status=503),
            app.post_json("/v2/events", [IngestScenarios.API_EVENT],
                          headers=ADMIN_A, status=503),
        ):
            self.assertError(response, 503, "The storage is not available.",
                             faultcode="Server")
            self.assertNotIn("127.0.0.1", response.text)

    def test_driver_without_queries_answers_501(self):
        self.conf.set_override("connection", "log://", group="database")
        app = self.make_app()
        app.post_json("/v2/events", [IngestScenarios.API_EVENT],
                      headers=ADMIN_A, status=201)
        for path in ("/v2/events", "/v2/events/x", "/v2/event_types"):
            response = app.get(path, headers=ADMIN_A, status=501)
            self.assertError(response, 501, faultcode="Server")
        self.assertEqual(document(impl_log.Connection),
                         app.get("/v2/capabilities").json)

    def test_unknown_path_and_method(self):
        self.assertError(self.get("/v2/nothing", status=404), 404,
                         "The resource could not be found.")
        self.assertError(self.get("/nothing", status=404), 404)
        self.assertError(self.get("/v2/event_types/heartbeat", status=404),
                         404, "The resource could not be found.")
        response = self.app.put("/v2/events/a1", headers=ADMIN_A,
                                status=405)
        self.assertError(response, 405)
        self.assertEqual("DELETE, GET, HEAD, PATCH",
                         response.headers["Allow"])


class RBACScenarios:
    def test_list_visibility(self):
        self.load()
        self.assertEqual(["a1", "a2", "np", "bare"], self.ids("/v2/events"))
        self.assertEqual(ALL, self.ids(q(ALL_TENANTS)))
        self.assertEqual(["b1", "np", "bare"],
                         self.ids("/v2/events", headers=ADMIN_B))
        self.assertEqual(["a1"], self.ids("/v2/events", headers=USER_A1))
        self.assertEqual(["a2"], self.ids("/v2/events", headers=USER_A2))
        self.assertEqual(["b1"], self.ids("/v2/events", headers=USER_B))

    def test_all_tenants_false_is_own_project(self):
        self.load()
        self.assertEqual(
            ["a1", "a2", "np", "bare"],
            self.ids(q(("all_tenants", "eq", None, "False"))))

    def test_member_cannot_widen_with_all_tenants_or_filters(self):
        self.load()
        for path in (q(ALL_TENANTS),
                     q(("project_id", None, None, "proj-b")),
                     q(("user_id", None, None, "u-b")),
                     q(("project_id", "ne", None, "proj-a")),
                     q(("event_type", None, None, "volume.create.end")),
                     q(("message_id", None, None, "b1"))):
            self.assertEqual([], self.ids(path, headers=USER_A1), path)
        # Not even through the JSON body.
        response = self.get_body(
            "/v2/events", headers=USER_A1,
            body=json.dumps({"q": [{"field": "all_tenants",
                                    "value": "True"}]}))
        self.assertEqual([], response.json)

    def test_member_cannot_infer_through_marker_or_show(self):
        self.load()
        unknown = self.assertError(
            self.get(q(marker="nope"), headers=USER_A1, status=400), 400)
        other = self.assertError(
            self.get(q(marker="b1"), headers=USER_A1, status=400), 400)
        self.assertEqual(unknown.replace("nope", "b1"), other)
        missing = self.get("/v2/events/nope", headers=USER_A1, status=404)
        hidden = self.get("/v2/events/b1", headers=USER_A1, status=404)
        self.assertEqual("Event b1 Not Found",
                         hidden.json["error_message"]["faultstring"])
        self.assertEqual(missing.json["error_message"]["faultstring"]
                         .replace("nope", "b1"),
                         hidden.json["error_message"]["faultstring"])

    def test_show_visibility(self):
        self.load()
        for headers, visible in ((ADMIN_A, {"a1", "a2", "np", "bare"}),
                                 (USER_A1, {"a1"}), (USER_B, {"b1"})):
            for message_id in ALL:
                status = 200 if message_id in visible else 404
                response = self.get(f"/v2/events/{message_id}",
                                    headers=headers, status=status)
                if status == 200:
                    self.assertEqual(message_id, response.json["message_id"])

    def test_head_answers_as_show_without_a_body(self):
        self.load()
        for headers, visible in ((ADMIN_A, {"a1", "a2", "np", "bare"}),
                                 (USER_A1, {"a1"}), (USER_B, {"b1"})):
            for message_id in ALL + ["nope"]:
                with self.subTest(who=headers["X-User-Id"],
                                  message_id=message_id):
                    status = 200 if message_id in visible else 404
                    response = self.app.head(f"/v2/events/{message_id}",
                                             headers=headers, status=status)
                    self.assertEqual(b"", response.body)
        # Scoped as GET: all_tenants widens it for an admin only.
        self.app.head("/v2/events/b1?all_tenants=True", headers=ADMIN_A,
                      status=200)
        self.app.head("/v2/events/b1?all_tenants=True", headers=USER_A1,
                      status=404)
        self.app.head("/v2/events/a1?all_tenants=maybe", headers=ADMIN_A,
                      status=400)
        self.app.head("/v2/events/a1", status=403)

    def test_missing_identity_is_403(self):
        self.load()
        for headers in ({}, {"X-User-Id": "u-a1"},
                        {"X-Project-Id": "proj-a", "X-Roles": "admin"}):
            for path in ("/v2/events", "/v2/events/a1", "/v2/event_types",
                         "/v2/event_types/heartbeat/traits",
                         "/v2/event_types/heartbeat/traits/host"):
                self.assertError(
                    self.get(path, headers=headers, status=403), 403,
                    "RBAC Authorization Failed")
            self.assertError(
                self.app.post_json("/v2/events", [], headers=headers,
                                   status=403), 403)
            self.assertError(
                self.app.delete("/v2/events/a1", headers=headers,
                                status=403), 403)

    def test_admin_only_endpoints_are_401_for_members(self):
        self.load()
        for path in ("/v2/event_types", "/v2/event_types/heartbeat/traits",
                     "/v2/event_types/heartbeat/traits/host"):
            self.assertError(
                self.get(path, headers=USER_A1, status=401), 401,
                "Not Authorized to access project proj-a")

    def test_operator_policy_file(self):
        path = os.path.join(tempfile.mkdtemp(), "policy.yaml")
        with open(path, "w") as f:
            f.write('"context_is_admin": "role:admin or role:auditor"\n'
                    '"telemetry:events:index": "role:member"\n')
        self.conf.set_override("policy_file", path, group="oslo_policy")
        app = self.make_app()
        self.load()
        auditor = dict(USER_B, **{"X-Roles": "auditor,member"})
        self.assertEqual(["b1", "np", "bare"], [
            e["message_id"]
            for e in app.get("/v2/events", headers=auditor).json])
        app.get("/v2/event_types", headers=auditor, status=200)
        app.get("/v2/events", headers=ADMIN_A, status=403)


class QueryScenarios:
    def test_event_fields(self):
        self.load()
        self.assertEqual(["b1"], self.ids(q(
            ALL_TENANTS, ("event_type", None, None, "volume.create.end"))))
        self.assertEqual(["a2"], self.ids(q(
            ALL_TENANTS, ("message_id", "eq", None, "a2"))))
        self.assertEqual(["a2", "b1"], self.ids(q(
            ALL_TENANTS,
            ("start_timestamp", "ge", None, "2026-01-01T12:01:00.123456"),
            ("end_timestamp", "le", None, "2026-01-01T12:02:00.123456"))))
        # An offset is converted to UTC.
        self.assertEqual(["np", "bare"], self.ids(q(
            ALL_TENANTS,
            ("start_timestamp", "ge", None,
             "2026-01-01T14:03:00.123456+02:00"))))

    def test_trait_types_and_operators(self):
        self.load()
        cases = [
            (("flavor", "eq", "string", "m1.small"), ["a1", "b1"]),
            (("flavor", "ne", None, "m1.small"), ["a2"]),
            (("flavor", "lt", "string", "m1.small"), ["a2"]),
            (("memory_mb", "ge", "integer", "4096"), ["a2", "b1"]),
            (("memory_mb", "lt", "integer", "4096"), ["a1"]),
            (("memory_mb", "le", "integer", " 4096 "), ["a1", "b1"]),
            (("ratio", "gt", "float", "0.25"), ["a1"]),
            (("ratio", "eq", "float", "0.5"), ["a1"]),
            (("launched_at", "lt", "datetime", "2026-01-01T12:00:00"),
             ["a1"]),
            (("launched_at", "ge", "datetime", "2026-01-01T12:00:00"), []),
            (("host", None, None, "compute-1"), ["np"]),
        ]
        for trait_filter, expected in cases:
            self.assertEqual(expected,
                             self.ids(q(ALL_TENANTS, trait_filter)),
                             trait_filter)

    def test_two_filters_on_one_trait(self):
        self.load()
        self.assertEqual(["b1"], self.ids(q(
            ("all_tenants", "eq", "string", "True"),
            ("memory_mb", "gt", "integer", "2048"),
            ("memory_mb", "lt", "integer", "8192"))))

    def test_json_body_query(self):
        self.load()
        body = {"q": [{"field": "all_tenants", "value": "True"},
                      {"field": "memory_mb", "op": "ge", "type": "integer",
                       "value": 4096}],
                "limit": 1, "sort": ["generated:desc"]}
        response = self.get_body("/v2/events", body=json.dumps(body))
        self.assertEqual(["b1"], [e["message_id"] for e in response.json])

    def test_json_body_wrong_shape(self):
        for body in ([], {"q": {}}, {"q": [{"op": "eq"}]},
                     {"q": [{"field": "x", "value": "y", "other": 1}]},
                     {"q": [{"field": 1, "value": "y"}]},
                     {"q": [{"field": "x", "value": {"a": 1}}]},
                     {"q": [[]]}, {"limit": [1]}, {"sort": [1]},
                     {"nope": 1}, "text"):
            response = self.get_body("/v2/events", body=json.dumps(body),
                                     status=400)
            self.assertError(response, 400)

    def test_argument_in_body_and_query(self):
        response = self.get_body("/v2/events?limit=2",
                                 body=json.dumps({"limit": 3}), status=400)
        self.assertError(response, 400,
                         "limit is given both in the query string and in "
                         "the body.")

    def test_body_not_declared_as_json_is_415(self):
        # As Panko's WSME answered: the body is not read at all.
        self.load()
        body = json.dumps({"limit": 1})
        for content_type in ("text/plain", "application/xml",
                             "application/x-www-form-urlencoded", None):
            with self.subTest(content_type=content_type):
                headers = dict(ADMIN_A)
                if content_type:
                    headers["Content-Type"] = content_type
                response = self.app.request(
                    "/v2/events", method="GET", body=body.encode(),
                    headers=headers, status=415)
                self.assertError(
                    response, 415, "The request body must be JSON, "
                    "declared with Content-Type: application/json; got "
                    f"{content_type or 'no Content-Type'}.")
        response = self.app.request(
            "/v2/events", method="GET", body=b"not json",
            headers={**ADMIN_A, "Content-Type": "text/plain"}, status=415)
        self.assertError(response, 415)
        # JSON under another name, and an empty body of any type, pass.
        for content_type in ("application/json; charset=UTF-8",
                             "application/vnd.panko+json"):
            response = self.app.request(
                "/v2/events", method="GET", body=body.encode(),
                headers={**ADMIN_A, "Content-Type": content_type})
            self.assertEqual(1, len(response.json))
        response = self.app.request(
            "/v2/events", method="GET", body=b"",
            headers={**ADMIN_A, "Content-Type": "text/plain"})
        self.assertEqual(ALL[:2] + ALL[3:],
                         [e["message_id"] for e in response.json])

    def test_malformed_json_body(self):
        for body in (b"{", b"{'q': []}", b"\xff\xfe", b"[1,"):
            response = self.get_body("/v2/events", body=body, status=400)
            self.assertError(response, 400)

    def test_panko_error_messages(self):
        cases = [
            (q(("state", "foo", "string", "x")),
             "Operator foo is not supported. The supported operators are: "
             "('lt', 'le', 'eq', 'ne', 'ge', 'gt')"),
            (q(("memory_mb", "eq", "integer", "abc")),
             "Unable to convert the value abc to the expected data type "
             "integer."),
            (q(("ratio", "eq", "float", "nan")),
             "Unable to convert the value nan to the expected data type "
             "float."),
            (q(("at", "eq", "datetime", "yesterday")),
             "Unable to convert the value yesterday to the expected data "
             "type datetime."),
            (q(("memory_mb", "eq", "integer", str(2**64))),
             f"Unable to convert the value {2**64} to the expected data "
             "type integer."),
            (q(("state", "eq", "foo", "x")),
             "The data type foo is not supported. The supported data type "
             "list is: ['integer', 'float', 'string', 'datetime']"),
            ("/v2/events?foo=bar", 'Unknown argument: "foo"'),
            ("/v2/events?q.bogus=1&foo=bar",
             'Unknown arguments: "foo", "q.bogus"'),
            (q(limit="-1"), "Invalid input for field/attribute limit. "
             "Value: '-1'. the limit should be a positive integer."),
            (q(limit="0"), "Invalid input for field/attribute limit. "
             "Value: '0'. the limit should be a positive integer."),
            (q(limit="ten"), "Invalid input for field/attribute limit. "
             "Value: 'ten'. the limit should be a positive integer."),
            (q(sort="raw:asc"),
             "Invalid input for field/attribute sort. Value: 'raw:asc'. "
             "the sort parameter should be a pair of sort key and sort dir "
             "combined with ':', or only sort key specified and sort dir "
             "will be default 'asc', the supported sort keys are: "
             "('message_id', 'generated')"),
            (q(sort="generated:up"), None),
            (q(marker="00000000-0000-4000-8000-000000000000"),
             "Marker 00000000-0000-4000-8000-000000000000 not found."),
            (q(("event_type", "ne", None, "heartbeat")),
             "Operator ne is not supported. Only `eq' operator is available "
             "for field event_type"),
            (q(("message_id", "gt", None, "a")),
             "Operator gt is not supported. Only `eq' operator is available "
             "for field message_id"),
            (q(("start_timestamp", None, None, "2020-06-01T00:00:00")),
             "Operator eq is not supported. Only `ge' operator is available "
             "for field start_timestamp"),
            (q(("end_timestamp", "ge", None, "2020-06-01T00:00:00")),
             "Operator ge is not supported. Only `le' operator is available "
             "for field end_timestamp"),
            (q(("start_timestamp", "ge", None, "June")),
             "Unable to convert the value June to the expected data type "
             "datetime."),
            (q(("event_type", None, None, "a"), ("event_type", None, None,
                                                 "b")),
             "event_type may be given only once."),
            ("/v2/events?q.field=all_tenants&q.value=True&q.field=memory_mb"
             "&q.type=integer&q.value=4096",
             "q.type was given for 1 of 2 filters: give it for every filter "
             "or for none."),
            ("/v2/events?q.field=a&q.value=1&q.value=2",
             "Each filter needs one q.field and one q.value; got 1 q.field "
             "and 2 q.value."),
            # Deliberate: Panko answered [] (doc/source/admin/panko.rst).
            ("/v2/events?q.field=flavor",
             "Each filter needs one q.field and one q.value; got 1 q.field "
             "and 0 q.value."),
            ("/v2/events?limit=1&limit=2", "limit may be given only once."),
        ]
        for path, message in cases:
            self.assertError(self.get(path, status=400), 400, message)

    def test_invalid_utf8_in_query_and_path(self):
        self.load()
        self.assertError(
            self.get("/v2/events?q.field=flavor&q.value=%ff%fe",
                     status=400), 400, "The request URL is not valid UTF-8.")
        self.assertError(self.get("/v2/events/%ff", status=400), 400)
        self.assertError(self.get("/v2/event_types/%c3%28/traits",
                                  status=400), 400)

    def test_nul_characters_are_refused_everywhere(self):
        self.load()
        for path in ("/v2/events?q.field=event_type&q.value=%00",
                     "/v2/events?q.field=message_id&q.value=a%00",
                     "/v2/events?q.field=x%00&q.value=1&q.type=integer",
                     "/v2/events?marker=%00", "/v2/events/%00",
                     "/v2/event_types/%00/traits",
                     "/v2/event_types/a/traits/%00"):
            self.assertError(self.get(path, status=400), 400,
                             "The request URL contains a NUL character.")
        self.assertError(self.app.delete("/v2/events/%00", headers=ADMIN_A,
                                         status=400), 400)
        for value in ("a\x00", "\ud800"):
            body = {"q": [{"field": "event_type", "value": value}]}
            self.assertError(
                self.get_body("/v2/events", json.dumps(body), status=400),
                400)

    def test_unicode_values_round_trip(self):
        from tests.functional.api_base import event, trait
        self.load([event("u", [trait("name", "東京サーバー 🚀"),
                               trait("project_id", "proj-a")])])
        self.assertEqual(["u"], self.ids(q(("name", None, None,
                                            "東京サーバー 🚀"))))
        body = self.get("/v2/events/u").json
        self.assertEqual("東京サーバー 🚀", body["traits"][0]["value"])

    def test_limit_default_and_max(self):
        self.load()
        self.conf.set_override("default_api_return_limit", 2, group="api")
        self.conf.set_override("max_limit", 3, group="api")
        self.assertEqual(["a1", "a2"], self.ids(q(ALL_TENANTS)))
        self.assertEqual(["a1", "a2", "b1"],
                         self.ids(q(ALL_TENANTS, limit="1000")))
        self.assertEqual(["a1"], self.ids(q(ALL_TENANTS, limit="1")))

    def test_sort_and_marker(self):
        self.load()
        self.assertEqual(list(reversed(ALL)),
                         self.ids(q(ALL_TENANTS, sort="generated:desc")))
        self.assertEqual(sorted(ALL), self.ids(q(ALL_TENANTS,
                                                 sort="message_id")))
        self.assertEqual(["np", "bare"],
                         self.ids(q(ALL_TENANTS, marker="b1")))
        self.assertEqual(["b1", "a2"], self.ids(q(
            ALL_TENANTS, sort=["generated:desc", "message_id"],
            marker="np", limit="2")))
        pages, marker = [], None
        while True:
            params = {"limit": "2", "sort": "message_id:desc"}
            if marker:
                params["marker"] = marker
            page = self.ids(q(ALL_TENANTS, **params))
            if not page:
                break
            pages.append(page)
            marker = page[-1]
        self.assertEqual([["np", "bare"], ["b1", "a2"], ["a1"]], pages)

    def test_event_body(self):
        self.load()
        body = self.get("/v2/events/a1").json
        self.assertEqual({
            "message_id": "a1",
            "event_type": "compute.instance.create.end",
            "generated": "2026-01-01T12:00:00.123456",
            "traits": [
                {"name": "flavor", "type": "string", "value": "m1.small"},
                {"name": "launched_at", "type": "datetime",
                 "value": "2026-01-01T11:59:00.123456"},
                {"name": "memory_mb", "type": "integer", "value": "2048"},
                {"name": "project_id", "type": "string", "value": "proj-a"},
                {"name": "ratio", "type": "float", "value": "0.5"},
                {"name": "user_id", "type": "string", "value": "u-a1"},
            ],
            "raw": {"id": "a1"},
        }, body)

    def test_event_types_and_traits(self):
        self.load()
        self.assertEqual(
            ["compute.instance.create.end", "heartbeat",
             "volume.create.end"],
            self.get("/v2/event_types").json)
        self.assertEqual(
            [{"name": "host", "type": "string"}],
            self.get("/v2/event_types/heartbeat/traits").json)
        self.assertEqual([], self.get("/v2/event_types/none/traits").json)
        types = self.get(
            "/v2/event_types/compute.instance.create.end/traits").json
        # Panko's order: by type (string, integer, float, datetime),
        # then by name.
        self.assertEqual(
            [("flavor", "string"), ("project_id", "string"),
             ("user_id", "string"), ("memory_mb", "integer"),
             ("ratio", "float"), ("launched_at", "datetime")],
            [(t["name"], t["type"]) for t in types])
        values = self.get("/v2/event_types/compute.instance.create.end/"
                          "traits/memory_mb").json
        self.assertEqual(
            [{"name": "memory_mb", "type": "integer", "value": "2048"},
             {"name": "memory_mb", "type": "integer", "value": "8192"}],
            sorted(values, key=lambda v: v["value"]))
        self.assertEqual([], self.get(
            "/v2/event_types/heartbeat/traits/nothing").json)


class IngestScenarios:
    API_EVENT = {
        "message_id": "new-1",
        "event_type": "image.upload",
        "generated": "2026-02-01T10:00:00.000001",
        "traits": [
            {"name": "project_id", "type": "string", "value": "proj-a"},
            {"name": "size", "type": "integer", "value": "9007199254740993"},
            {"name": "created_at", "type": "datetime",
             "value": "2026-02-01T09:00:00"},
            {"name": "ratio", "type": "float", "value": "0.1"},
        ],
        "raw": {"payload": {"é": [1, 2]}},
    }
    # What Ceilometer's http:// event publisher posts.
    CEILOMETER_EVENT = {
        "message_id": "ceilo-1",
        "event_type": "compute.instance.delete.end",
        "generated": "2026-02-01T11:00:00.5",
        "traits": [["project_id", 1, "proj-a"], ["memory_mb", 2, 512],
                   ["progress", 3, 99.5],
                   ["deleted_at", 4, "2026-02-01T10:59:59.000001"],
                   ["note", 0, "untyped"]],
        "raw": {},
        "message_signature": "0d1e",
    }

    def post(self, body, headers=ADMIN_A, status=201):
        return self.app.post_json("/v2/events", body, headers=headers,
                                  status=status)

    def test_post_parsed_and_written_with_the_collector_off(self):
        # The body's events are made, then checked and written by
        # record_events, with the cyclic collector held off
        # (base.collector_paused), and it is on again after. How many
        # passes that saves is a figure of tools/bench.py, not a test.
        check = models.Event.validate_traits
        seen = []

        def watched(event):
            seen.append(gc.isenabled())
            return check(event)

        body = [dict(self.API_EVENT, message_id=f"gc-{i}") for i in range(3)]
        with mock.patch.object(models.Event, "validate_traits", watched):
            response = self.post(body)
        self.assertEqual({"stored": 3, "duplicates": []}, response.json)
        # Each event is checked as it is read, and by the driver.
        self.assertGreaterEqual(len(seen), 6, seen)
        self.assertNotIn(True, seen)
        self.assertTrue(gc.isenabled())

    def test_post_api_and_ceilometer_shapes(self):
        response = self.post([self.API_EVENT, self.CEILOMETER_EVENT])
        self.assertEqual({"stored": 2, "duplicates": []}, response.json)
        posted = self.get("/v2/events/new-1").json
        self.assertEqual(self.API_EVENT["traits"], [
            t for name in ("project_id", "size", "created_at", "ratio")
            for t in posted["traits"] if t["name"] == name])
        self.assertEqual(self.API_EVENT["raw"], posted["raw"])
        self.assertEqual("2026-02-01T10:00:00.000001", posted["generated"])
        ceilo = self.get("/v2/events/ceilo-1").json
        self.assertEqual("2026-02-01T11:00:00.500000", ceilo["generated"])
        self.assertEqual([
            {"name": "deleted_at", "type": "datetime",
             "value": "2026-02-01T10:59:59.000001"},
            {"name": "memory_mb", "type": "integer", "value": "512"},
            {"name": "note", "type": "string", "value": "untyped"},
            {"name": "progress", "type": "float", "value": "99.5"},
            {"name": "project_id", "type": "string", "value": "proj-a"},
        ], ceilo["traits"])

    def test_numbers_keep_their_exact_value(self):
        # Integers beyond 64 bits in raw, and beyond 2**53 as trait
        # values given as JSON numbers, come back unchanged in listings.
        raw = {"n": 2**70, "m": -(2**65) - 1, "f": 0.30000000000000004,
               "ids": ["12345678901234567890123"]}
        event = dict(self.API_EVENT, raw=raw, traits=[
            {"name": "project_id", "type": "string", "value": "proj-a"},
            {"name": "size", "type": "integer", "value": 2**63 - 1},
        ])
        self.post([event])
        (listed,) = self.app.get("/v2/events", headers=ADMIN_A).json
        self.assertEqual(raw, listed["raw"])
        self.assertEqual(str(2**63 - 1), next(
            t["value"] for t in listed["traits"] if t["name"] == "size"))
        self.assertEqual(raw, self.get("/v2/events/new-1").json["raw"])

    def test_resent_batch_reports_duplicates(self):
        self.post([self.API_EVENT])
        response = self.post([self.API_EVENT, self.CEILOMETER_EVENT])
        self.assertEqual({"stored": 1, "duplicates": ["new-1"]},
                         response.json)
        self.assertEqual(["new-1", "ceilo-1"], self.ids(q(ALL_TENANTS)))

    def test_rejected_events_are_listed_and_others_stored(self):
        bad_type = dict(self.API_EVENT, message_id="bad-int", traits=[
            {"name": "size", "type": "integer", "value": "big"}])
        no_date = {"message_id": "no-date", "event_type": "x"}
        long_text = dict(self.CEILOMETER_EVENT, message_id="long",
                         traits=[["t", 1, "x" * 5000]])
        self.post([self.API_EVENT])
        response = self.post(
            [bad_type, self.API_EVENT, no_date, long_text,
             self.CEILOMETER_EVENT, "not an event"], status=400)
        self.assertError(response, 400,
                         '4 of 6 events were not stored; see "rejected".')
        body = response.json
        self.assertEqual(1, body["stored"])
        self.assertEqual(["new-1"], body["duplicates"])
        self.assertEqual(
            [("bad-int", "incompatible_trait"), ("no-date", "invalid"),
             ("long", "too_large"), (None, "invalid")],
            [(r["message_id"], r["problem"]) for r in body["rejected"]])
        for r in body["rejected"]:
            self.assertTrue(r["reason"])
        self.assertEqual(["new-1", "ceilo-1"], self.ids(q(ALL_TENANTS)))

    def test_unstorable_text_and_dates_are_rejected_events(self):
        base = {"event_type": "x", "generated": "2026-01-01T00:00:00"}
        events = [
            dict(base, message_id="a\ud800"),
            dict(base, message_id="a\x00"),
            dict(base, message_id="b", event_type="x\x00"),
            dict(base, message_id="c", traits=[["k\x00", 1, "v"]]),
            dict(base, message_id="d", traits=[["k", 1, "v\x00"]]),
            dict(base, message_id="e",
                 generated="0001-01-01T00:00:00+01:00"),
            dict(base, message_id="f",
                 generated="9999-12-31T23:59:59-01:00"),
            dict(base, message_id="ok", raw={"a\x00": "\x00"}),
        ]
        response = self.post(events, status=400)
        self.assertEqual(
            ["a\ud800", "a\x00", "b", "c", "d", "e", "f"],
            [r["message_id"] for r in response.json["rejected"]])
        self.assertEqual(1, response.json["stored"])
        self.assertEqual({"a\x00": "\x00"},
                         self.get("/v2/events/ok").json["raw"])

    def test_bad_bodies(self):
        for body, message in (
                (b"[" * 100000 + b"]" * 100000,
                 "The request body is nested too deeply."),
                (b"[" + b"9" * 5000 + b"]", None),
                (b"{", None), (b"\xff", "The request body is not valid "
                               "UTF-8."),
                (b'"x"', "The body must be a JSON list of events (or one "
                         "event)."), (b"3", None)):
            response = self.app.post(
                "/v2/events", body, headers=ADMIN_A,
                content_type="application/json", status=400)
            self.assertError(response, 400, message)

    def test_limits_are_413(self):
        self.conf.set_override("max_events_per_request", 2, group="api")
        self.conf.set_override("max_request_body_size", 4096, group="api")
        app = self.make_app()
        response = app.post_json("/v2/events", [self.API_EVENT] * 3,
                                 headers=ADMIN_A, status=413)
        self.assertError(response, 413,
                         "3 events in one request; at most 2 are accepted "
                         "([api] max_events_per_request).")
        big = [dict(self.API_EVENT, raw={"x": "y" * 5000})]
        response = app.post_json("/v2/events", big, headers=ADMIN_A,
                                 status=413)
        self.assertError(response, 413)
        response = app.request("/v2/events", method="GET",
                               body=json.dumps(big).encode(),
                               content_type="application/json",
                               headers=ADMIN_A, status=413)
        self.assertError(response, 413)
        self.assertEqual([], self.ids(q(ALL_TENANTS)))

    def test_ceilometer_unbatched_post(self):
        response = self.post(self.CEILOMETER_EVENT)
        self.assertEqual({"stored": 1, "duplicates": []}, response.json)

    def test_anonymous_post_when_the_policy_allows_it(self):
        # Ceilometer's http publisher sends no credentials.
        self.assertError(self.post([self.API_EVENT], headers={},
                                   status=403), 403,
                         "RBAC Authorization Failed")
        path = os.path.join(tempfile.mkdtemp(), "policy.yaml")
        with open(path, "w") as f:
            f.write('"telemetry:events:create": "@"\n')
        self.conf.set_override("policy_file", path, group="oslo_policy")
        app = self.make_app()
        app.post_json("/v2/events", [self.API_EVENT], status=201)
        self.assertError(app.get("/v2/events", status=403), 403)
        self.assertEqual(["new-1"], self.ids(q(ALL_TENANTS)))

    @backends.requires("events:delete")
    def test_only_admins_post_and_delete(self):
        self.load()
        self.assertError(self.post([self.API_EVENT], headers=USER_A1,
                                   status=403), 403,
                         "RBAC Authorization Failed")
        self.assertError(
            self.app.delete("/v2/events/a1", headers=USER_A1, status=403),
            403)
        self.app.delete("/v2/events/b1?all_tenants=True", headers=ADMIN_A,
                        status=204)
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=True",
                            headers=ADMIN_A, status=404),
            404, "Event b1 Not Found")
        self.assertEqual(["a1", "a2", "np", "bare"],
                         self.ids(q(ALL_TENANTS)))


class CapabilityScenarios:
    def test_capabilities_are_the_drivers(self):
        self.assertEqual(document(type(self.conn)),
                         self.app.get("/v2/capabilities").json)


# Each of them reads through the API what it wrote or loaded.
@backends.requires("events:query:simple")
class APIScenarios(RBACScenarios, QueryScenarios, IngestScenarios,
                   CapabilityScenarios):
    pass


globals().update(backends.make_test_cases(APIScenarios, base=APITestCase))


class RootTest(RootScenarios, APITestCase):
    """The pipeline around the v2 API does not depend on the backend."""

    backend_name = "sqlite"
