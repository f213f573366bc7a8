"""Panko's own API answers, replayed against adopted Panko databases.

``tests/data/panko/golden.json`` holds 89 requests and what Panko
answered on its database. After ``dbsync`` adopts a copy of that
database, panko_like must give the same answers, except where Panko was
wrong; those requests are listed in FIXED with what we answer instead.
"""

import functools
import json
import urllib.parse

import testtools

from panko_like import storage
from tests.functional import backends, dataset
from tests.functional.api_base import APITestCase
from tests.functional.storage.test_capabilities import document

ADMIN_PROJECT = "6abff5d3570ca64200ae865757764b02"


@functools.cache
def golden():
    with open(dataset.panko_path("golden.json"), encoding="utf-8") as f:
        return json.load(f)


def _trait_key(trait):
    return (trait["name"], trait["type"], trait["value"])


def normalized_event(body):
    # Traits of one event sharing a name may come in any order.
    return dict(body, traits=sorted(body["traits"], key=_trait_key))


def normalized(body):
    if isinstance(body, list) and body and isinstance(body[0], dict) \
            and "traits" in body[0]:
        return [normalized_event(e) for e in body]
    if isinstance(body, dict) and "traits" in body:
        return normalized_event(body)
    return body


def _reference(event_filter, pagination):
    """What the storage contract says, from the dataset itself."""
    return dataset.expected(dataset.panko_events(), event_filter,
                            pagination)


# Where panko_like's answer differs from Panko's recorded one, and what
# it answers instead: (status, faultstring) for errors, or the storage
# query whose reference answer (from the dataset) is expected.

#: Panko's bugs, which panko_like fixes.
PANKO_BUGS = {
    # A client error, not a 500.
    "unknown marker (Panko: 500)":
        (400, "Marker 00000000-0000-4000-8000-000000000000 not found."),
    "q.type given for only one of two filters (Panko: 500)":
        (400, "q.type was given for 1 of 2 filters: give it for every "
              "filter or for none."),
    # Panko hid the events without text traits from admins.
    "events, admin (own project + events without project_id)":
        (storage.EventFilter(admin_proj=ADMIN_PROJECT),
         storage.Pagination(limit=100)),
    # Paging on generated alone skipped the events tied with the marker.
    "marker with sort=generated only skips events tied with it":
        (storage.EventFilter(
            start_timestamp=dataset.models.parse_datetime(
                "2020-03-30T23:01:15"),
            end_timestamp=dataset.models.parse_datetime(
                "2020-03-30T23:01:15")),
         storage.Pagination(sort=[("generated", "asc")],
                            marker="214fa355-d597-46a5-8ad5-8e3bd22202c7")),
}

#: Deliberate incompatibilities: Panko's answer was what it meant to
#: give, panko_like answers otherwise on purpose (doc/source/admin/
#: panko.rst gives each reason).
INCOMPATIBLE = {
    # Every event endpoint needs an identity.
    "event types, no identity headers":
        (403, "RBAC Authorization Failed"),
    "trait types, no identity headers":
        (403, "RBAC Authorization Failed"),
    # limit must be > 0 (Panko took 0 as the default).
    "limit=0 (Panko: default limit)":
        (400, "Invalid input for field/attribute limit. Value: '0'. the "
              "limit should be a positive integer."),
}

FIXED = {**PANKO_BUGS, **INCOMPATIBLE}


class TestDifferences(testtools.TestCase):
    def test_each_difference_is_one_recorded_request(self):
        self.assertEqual(set(), set(PANKO_BUGS) & set(INCOMPATIBLE))
        names = {request["name"] for request in golden()["requests"]}
        self.assertEqual(set(), set(FIXED) - names)


@backends.requires("events:query:simple")
class GoldenScenarios:
    auto_upgrade = False

    def load(self):
        backend = backends.BACKENDS[self.backend_name]
        if backend.panko_copy:
            # The database Panko wrote, adopted by dbsync.
            self.conn.close()
            backend.load_panko_copy(self.url)
            self.conn = storage.get_connection(self.url, self.conf)
            self.addCleanup(self.conn.close)
            self.conn.upgrade()
        else:
            # Panko's data was never dumped from this backend (MongoDB):
            # the same events, written through the driver.
            self.conn.upgrade()
            self.assertEqual(
                [], self.conn.record_events(dataset.panko_events()))

    def test_panko_answers_after_adoption(self):
        self.load()
        recorded = {}
        failures = []
        for request in golden()["requests"]:
            response = self.app.get(request["path"],
                                    headers=request["headers"],
                                    expect_errors=True)
            if response.status_int == 200:
                for event in response.json if isinstance(
                        response.json, list) else []:
                    if isinstance(event, dict) and "message_id" in event:
                        recorded[event["message_id"]] = event
            problem = self.check(request, response) or \
                self.check_json_body(request, response)
            if problem:
                failures.append(f"{request['name']}: {problem}")
        self.assertEqual([], failures)
        self.assertEqual(200, len(recorded))

    def check(self, request, response):
        fixed = FIXED.get(request["name"])
        if isinstance(fixed, tuple) and isinstance(fixed[0], int):
            return self.check_error(response, *fixed)
        if fixed is not None:
            return self.check_reference(request, response, *fixed)
        if request["path"] == "/v2/capabilities":
            return self.check_capabilities(request, response)
        if request["status"] >= 400:
            return self.check_error(response, request["status"],
                                    _panko_message(request["body"]))
        if response.status_int != 200:
            return f"status {response.status_int}: {response.text[:300]}"
        return _compare(request, response.json)

    def check_json_body(self, request, response):
        """The same query as a JSON body on the GET answers the same."""
        body = _as_json_body(request["path"])
        if body is None or response.status_int != 200:
            return None
        again = self.app.request(
            "/v2/events", method="GET", headers=request["headers"],
            body=json.dumps(body).encode(), content_type="application/json",
            expect_errors=True)
        if again.status_int != 200 or again.json != response.json:
            return f"as a JSON body: {again.status} {again.text[:200]}"
        return None

    def check_capabilities(self, request, response):
        """Panko's keys with Panko's values, and the keys panko_like
        added with what the driver declares."""
        if response.status_int != 200:
            return f"status {response.status_int}"
        if dataset.panko_capabilities(response.json) != request["body"]:
            return f"Panko's keys differ: {response.json}"
        if response.json != document(type(self.conn)):
            return f"not what the driver declares: {response.json}"
        return None

    def check_error(self, response, status, message):
        if response.status_int != status:
            return f"status {response.status_int}, expected {status}"
        error = response.json["error_message"]
        if error["faultstring"] != message:
            return f"message {error['faultstring']!r}, expected {message!r}"
        return None

    def check_reference(self, request, response, event_filter, pagination):
        if response.status_int != 200:
            return f"status {response.status_int}"
        expected = _reference(event_filter, pagination)
        got = [e["message_id"] for e in response.json]
        if got != expected:
            return f"got {got}, expected {expected}"
        # The events Panko did return must be identical.
        panko = {e["message_id"]: normalized_event(e)
                 for e in request["body"]}
        for event in response.json:
            if event["message_id"] in panko and \
                    normalized_event(event) != panko[event["message_id"]]:
                return f"event {event['message_id']} differs"
        return None


def _as_json_body(path):
    """``/v2/events?q.field=...`` as ``{"q": [...], ...}``, else None."""
    parts = urllib.parse.urlsplit(path)
    if parts.path != "/v2/events" or not parts.query:
        return None
    params = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    columns = {}
    body = {}
    for name, value in params:
        if name.startswith("q."):
            columns.setdefault(name[2:], []).append(value)
        elif name == "sort":
            body.setdefault("sort", []).append(value)
        else:
            body[name] = value
    if columns:
        count = len(columns["field"])
        if any(len(v) != count for v in columns.values()):
            return None
        body["q"] = [{k: v[i] for k, v in columns.items()}
                     for i in range(count)]
    return body


def _panko_message(body):
    error = body["error_message"]
    # Panko's 401/403 bodies had another shape; ours have one.
    return error.get("faultstring") or error.get("description")


def _compare(request, body):
    expected = request["body"]
    compare = request["compare"]
    if request["path"].endswith("/traits"):
        # An event type's trait types: Panko's order, by type then by
        # name, which panko_like keeps on every backend.
        compare = "exact"
    if compare == "unordered":
        key = functools.partial(json.dumps, sort_keys=True)
        ok = sorted(body, key=key) == sorted(expected, key=key)
    elif compare == "ties:generated":
        ok = _by_generated(body) == _by_generated(expected)
    else:
        ok = normalized(body) == normalized(expected)
    if not ok:
        return "body differs: " + json.dumps(body)[:300]
    return None


def _by_generated(events):
    groups = {}
    for event in events:
        groups.setdefault(event["generated"], []).append(
            json.dumps(normalized_event(event), sort_keys=True))
    order = list(dict.fromkeys(e["generated"] for e in events))
    return order, {k: sorted(v) for k, v in groups.items()}


globals().update(backends.make_test_cases(GoldenScenarios,
                                          base=APITestCase))
