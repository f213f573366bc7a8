"""Stored time, counts, statistics and deletes by filter over the WSGI
stack, on every backend whose driver declares them."""

import datetime
import time

from panko_like.storage import models
from tests.functional import api_base, backends
from tests.functional.api_base import (
    ADMIN_A,
    ADMIN_B,
    ALL,
    T0,
    USER_A1,
    USER_B,
)


def q(*filters):
    """Query string of (field, value[, op[, type]]) filters."""
    parts = []
    for item in filters:
        field, value, *rest = item
        parts += [f"q.field={field}", f"q.value={value}"]
        if rest:
            parts.append(f"q.op={rest[0]}")
        if rest[1:]:
            parts.append(f"q.type={rest[1]}")
    return "&".join(parts)


@backends.requires("events:query:simple")
class StoredTimeScenarios:
    def test_stored_at_only_when_shown(self):
        self.load()
        plain = self.get("/v2/events/a1").json
        self.assertNotIn("stored_at", plain)
        self.assertNotIn("updated_at", plain)
        shown = self.get("/v2/events/a1?show=stored_at,updated_at").json
        stored = models.parse_datetime(shown["stored_at"])
        self.assertLess(abs(stored - models.utc_now()),
                        datetime.timedelta(minutes=5))
        self.assertIsNone(shown["updated_at"])
        listed = self.get("/v2/events?show=stored_at&show=stored_at").json
        self.assertEqual(len(ALL) - 1, len(listed))  # b1 is proj-b's
        self.assertTrue(all(set(e) == set(plain) | {"stored_at"}
                            for e in listed))

    def test_show_refuses_unknown_fields(self):
        self.load()
        for path in ("/v2/events?show=password", "/v2/events/a1?show=raw",
                     "/v2/events?show="):
            with self.subTest(path=path):
                self.assertError(self.get(path, status=400), 400)

    def test_stored_filters(self):
        self.load()
        first = self.get("/v2/events/a1?show=stored_at").json["stored_at"]
        time.sleep(0.05)
        self.load([api_base.event("late", api_base.owned("proj-a", "u-a1"))])
        late = self.get("/v2/events/late?show=stored_at").json["stored_at"]
        self.assertLess(first, late)
        self.assertEqual(["late"], self.ids(
            "/v2/events?" + q(("stored_since", late, "ge"))))
        self.assertNotIn("late", self.ids(
            "/v2/events?" + q(("stored_before", late, "lt"))))
        # Each takes only its own operator, as start_timestamp does.
        self.assertError(self.get(
            "/v2/events?" + q(("stored_since", late, "gt")), status=400),
            400)
        self.assertError(self.get(
            "/v2/events?" + q(("stored_before", "yesterday")),
            status=400), 400)


@backends.requires("events:query:count")
class CountScenarios:
    def test_count_is_scoped_as_the_listing(self):
        self.load()
        for headers in (ADMIN_A, USER_A1, USER_B, ADMIN_B):
            for filters in ("", q(("event_type", "heartbeat")),
                            q(("flavor", "m1.small")),
                            q(("all_tenants", "True"))):
                with self.subTest(headers=headers, filters=filters):
                    listed = self.ids("/v2/events?" + filters,
                                      headers=headers)
                    counted = self.get("/v2/events/count?" + filters,
                                       headers=headers).json
                    self.assertEqual({"count": len(listed)}, counted)
        self.assertEqual({"count": 1}, self.get(
            "/v2/events/count", headers=USER_B).json)
        self.assertEqual({"count": 5}, self.get(
            "/v2/events/count?" + q(("all_tenants", "True"))).json)

    def test_count_with_a_body(self):
        self.load()
        body = '{"q": [{"field": "flavor", "value": "m1.small"}]}'
        self.assertEqual({"count": 1},
                         self.get_body("/v2/events/count", body).json)

    def test_count_refuses_listing_arguments_and_bad_filters(self):
        self.load()
        for query in ("limit=1", "sort=generated", "marker=a1",
                      q(("start_timestamp", "not-a-time")),
                      q(("flavor", "x", "like")),
                      "q.field=flavor"):
            with self.subTest(query=query):
                self.assertError(self.get("/v2/events/count?" + query,
                                          status=400), 400)
        self.assertError(self.get_body("/v2/events/count", '{"limit": 1}',
                                       status=400), 400)
        response = self.app.request(
            "/v2/events/count", method="GET", body=b'{"q": []}',
            headers=ADMIN_A, content_type="text/plain", status=415)
        self.assertError(response, 415)

    def test_post_to_count_is_not_allowed(self):
        response = self.app.post("/v2/events/count", headers=ADMIN_A,
                                 status=405)
        self.assertEqual("GET", response.headers["Allow"])


@backends.requires("events:query:statistics")
class StatisticsScenarios:
    def stats(self, query, headers=ADMIN_A):
        body = self.get("/v2/events/statistics?" + query,
                        headers=headers).json
        return [(line["group"], line["period_start"], line["count"])
                for line in body["statistics"]]

    def test_by_event_type_and_minute(self):
        self.load()
        wide = q(("all_tenants", "True"))
        self.assertEqual(
            [("compute.instance.create.end", None, 2), ("heartbeat", None, 2),
             ("volume.create.end", None, 1)],
            self.stats("group_by=event_type&" + wide))
        minute = T0.replace(second=0, microsecond=0)
        self.assertEqual(
            [(None, models.format_datetime(minute + datetime.timedelta(
                minutes=i)), 1) for i in range(5)],
            self.stats("period=60&" + wide))
        body = self.get("/v2/events/statistics?group_by=flavor&period=3600"
                        ).json
        self.assertEqual("flavor", body["group_by"])
        self.assertEqual(3600, body["period"])

    def test_scoped_as_the_listing(self):
        self.load()
        self.assertEqual([("proj-b", None, 1)],
                         self.stats("group_by=project_id", headers=USER_B))
        self.assertEqual([(None, None, 2), ("proj-a", None, 2)],
                         self.stats("group_by=project_id"))
        # A member's all_tenants is a trait filter, as in a listing.
        self.assertEqual([], self.stats(
            "group_by=project_id&" + q(("all_tenants", "True")),
            headers=USER_B))

    def test_bad_arguments(self):
        self.load()
        for query in ("period=0", "period=-5", "period=1.5", "period=x",
                      f"period={400 * 86400}", "group_by=",
                      "group_by=a&group_by=b", "limit=3", "bucket=60"):
            with self.subTest(query=query):
                self.assertError(self.get("/v2/events/statistics?" + query,
                                          status=400), 400)

    def test_too_many_groups(self):
        self.conf.set_override("max_statistics_groups", 3, group="api")
        self.app = self.make_app()
        self.load()
        message = self.assertError(self.get(
            "/v2/events/statistics?period=60&" + q(("all_tenants", "True")),
            status=400), 400)
        self.assertIn("max_statistics_groups", message)
        self.assertEqual(3, len(self.stats("group_by=event_type&" + q(
            ("all_tenants", "True")))))


@backends.requires("events:delete")
class DeleteByFilterScenarios:
    def left(self):
        return self.ids("/v2/events?" + q(("all_tenants", "True")))

    def test_deletes_what_the_filters_match_in_scope(self):
        self.load()
        answer = self.app.delete("/v2/events?" + q(("flavor", "m1.small")),
                                 headers=ADMIN_A).json
        # b1 is m1.small too, but proj-b's.
        self.assertEqual({"deleted": 1}, answer)
        self.assertEqual(["a2", "b1", "np", "bare"], self.left())

    def test_all_tenants_crosses_projects(self):
        self.load()
        for path in ("/v2/events?all_tenants=True&" + q(("flavor",
                                                          "m1.small")),
                     "/v2/events?" + q(("flavor", "m1.large"),
                                       ("all_tenants", "True"))):
            self.app.delete(path, headers=ADMIN_A)
        self.assertEqual(["np", "bare"], self.left())

    def test_dry_run_counts_and_deletes_nothing(self):
        self.load()
        answer = self.app.delete(
            "/v2/events?dry_run=True&all_tenants=True&"
            + q(("event_type", "heartbeat")), headers=ADMIN_A).json
        self.assertEqual({"count": 2}, answer)
        self.assertEqual(ALL, self.left())

    def test_empty_filter_needs_all(self):
        self.load()
        self.assertError(self.app.delete("/v2/events", headers=ADMIN_A,
                                         status=400), 400)
        self.assertError(self.app.delete("/v2/events?all_tenants=True",
                                         headers=ADMIN_A, status=400), 400)
        self.assertEqual(ALL, self.left())
        self.assertEqual({"deleted": 4}, self.app.delete(
            "/v2/events?all=True", headers=ADMIN_A).json)
        self.assertEqual(["b1"], self.left())

    def test_stored_and_generated_ranges(self):
        self.load()
        later = T0 + datetime.timedelta(minutes=2)
        self.assertEqual({"deleted": 3}, self.app.delete(
            "/v2/events?all_tenants=True&" + q(
                ("start_timestamp", models.format_datetime(later), "ge")),
            headers=ADMIN_A).json)
        self.assertEqual(["a1", "a2"], self.left())
        self.assertEqual({"deleted": 0}, self.app.delete(
            "/v2/events?" + q(("stored_before", "2000-01-01T00:00:00",
                               "lt")),
            headers=ADMIN_A).json)

    def test_members_are_refused(self):
        self.load()
        for headers in (USER_A1, USER_B):
            self.app.delete("/v2/events?all=True", headers=headers,
                            status=403)
        self.assertEqual(ALL, self.left())

    def test_bad_arguments_delete_nothing(self):
        self.load()
        for query in ("all=maybe", "dry_run=2", "all_tenants=yes-please",
                      "limit=3", q(("flavor", "x", "like")),
                      q(("generated", "x", "gt", "datetime"))):
            with self.subTest(query=query):
                self.assertError(self.app.delete(
                    "/v2/events?" + query, headers=ADMIN_A, status=400),
                    400)
        self.assertEqual(ALL, self.left())

    def test_deletes_in_batches(self):
        self.conf.set_override("delete_batch_size", 2, group="api")
        self.app = self.make_app()
        self.load()
        events = [api_base.event(f"x{i}", [api_base.trait("batch", "x")])
                  for i in range(7)]
        self.load(events)
        self.assertEqual({"deleted": 7}, self.app.delete(
            "/v2/events?" + q(("batch", "x")), headers=ADMIN_A).json)
        self.assertEqual(ALL, self.left())


for _scenarios in (StoredTimeScenarios, CountScenarios, StatisticsScenarios,
                   DeleteByFilterScenarios):
    globals().update(backends.make_test_cases(_scenarios,
                                              base=api_base.APITestCase))
