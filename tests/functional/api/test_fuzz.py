"""A bounded, seeded fuzz of a live ``panko-like-api`` on each SQL backend.

A real server process (tests/functional/apiserver.py) is sent random and
mutated requests over plain HTTP: valid events with fields changed,
wrong types, deep nesting, huge strings, bytes that are not UTF-8,
truncated JSON, Ceilometer's ``[name, dtype, value]`` traits; random
query strings, paths and identities. Every answer must be below 500, and
every error the documented JSON shape. The run is bounded by a number of
cases and by time; the cases run are counted in the test's details.
"""

import http.client
import json
import random
import re
import sys
import time
import urllib.parse

import testtools
from testtools import content

from tests.functional import apiserver, backends

SEED = 20260101
#: At most this many cases per backend, within TIME_BUDGET seconds.
CASES = 600
TIME_BUDGET = 30.0
MAX_EVENTS = 50
MAX_BODY = 2 * 1024 * 1024
#: The start of a string that dumps() writes as the JSON text that
#: follows it: what json.dumps cannot write (too deep, too long).
LITERAL = "__literal__"


def literal(text):
    return LITERAL + text


#: Longest path and query string sent: past the server's 256 KiB of
#: request line and headers, its own (JSON) 431 answers.
MAX_TARGET = 300_000
#: Failures reported in full; the others are counted.
REPORTED = 10

ADMIN = {"X-User-Id": "u-admin", "X-Project-Id": "p-admin",
         "X-Roles": "admin"}
MEMBER = {"X-User-Id": "u-1", "X-Project-Id": "p-1", "X-Roles": "member"}
IDENTITIES = [
    ADMIN, ADMIN, MEMBER, {},
    {"X-User-Id": "u-1"}, {"X-Project-Id": "p-1"},
    {"X-User-Id": "u-2", "X-Project-Id": "p-2", "X-Roles": "admin,member"},
    {"X-User-Id": "u-3", "X-Project-Id": "p-3", "X-Roles": " admin "},
    {"X-User-Id": "u-3", "X-Project-Id": "p-3", "X-Roles": "ADMIN"},
    {"X-User-Id": "u-3", "X-Project-Id": "p-3", "X-Roles": ",,,"},
    {"X-User-Id": "", "X-Project-Id": "", "X-Roles": ""},
    {"X-User-Id": "x" * 300, "X-Project-Id": "p-1", "X-Roles": "reader"},
    # Raw UTF-8 bytes, and bytes that are not UTF-8, in header values.
    {"X-User-Id": "\u00e9\U0001f600".encode(), "X-Project-Id": b"p-\xff",
     "X-Roles": b"admin"},
    {"X-User-Id": b"u-1", "X-Project-Id": "p\u00e9".encode(),
     "X-Roles": "member"},
]
CONTENT_TYPES = ["application/json", "application/json",
                 "application/json; charset=UTF-8", "text/plain",
                 "application/x-www-form-urlencoded", None]

# No time in the first two days of year 1: PostgreSQL's partitions
# refuse it with a 500 (a known bug, see the storage round-trip
# property test).
TIMES = ["2026-01-01T12:00:00", "2026-01-01T12:00:00.000001",
         "2026-01-01T12:00:00Z", "2026-01-01T12:00:00+14:00",
         "0001-02-01T00:00:00", "9999-12-31T23:59:59.999999",
         "9999-12-31T23:59:59-01:00", "2026-01-01T00:00:00.0000001",
         "2026-13-01T00:00:00", "2026-01-01", "yesterday", ""]
STRINGS = ["", " ", "a", "compute.instance.create.end", "\x00", "a\x00b",
           "\ud800", "\udfff", "\U0001f600" * 60, "\u00e9\u202e\ufeff",
           "NaN", "Infinity", "1_000", "\u0663", "true", "None", "-0.0",
           "x" * 300, "y" * 5000, "z" * 300_000, "%00", "..", "/"]
NUMBERS = [0, -1, 1.5, -0.0, 2**63 - 1, 2**63, -(2**63) - 1, 10**30,
           literal("9" * 5000), 1e308, float("nan"), float("inf"),
           float("-inf")]
OTHERS = [None, True, False, [], {}, [1, "a"], {"a": {"b": [None]}}]
TYPES = ["string", "integer", "float", "datetime", "none", "", "int",
         0, 1, 2, 3, 4, 5, -1, None, True, 2.0, [], {}]
QUERY_NAMES = ["q.field", "q.op", "q.value", "q.type", "limit", "marker",
               "sort", "all_tenants", "q", "Q.FIELD", "offset", "",
               "q.field ", "\u00e9", "limit[]"]
QUERY_VALUES = ["event_type", "message_id", "start_timestamp",
                "end_timestamp", "all_tenants", "project_id", "flavor",
                "eq", "ne", "lt", "le", "gt", "ge", "like", "integer",
                "float", "datetime", "string", "none", "1", "0", "-5",
                "1000000", "9" * 400, "m-1", "m-404", "generated:desc",
                "message_id:asc", "generated:sideways", ":", "True",
                *TIMES, *STRINGS[:20]]


def scalar(rng):
    pool = rng.choice([STRINGS, NUMBERS, OTHERS, TIMES, TYPES])
    return rng.choice(pool)


def nested(rng, depth):
    value = rng.choice([1, "x", None])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {"k": value}
    return value


def valid_event(rng, index):
    traits = [
        {"name": "project_id", "type": "string",
         "value": rng.choice(["p-admin", "p-1", "p-2"])},
        {"name": "user_id", "type": "string",
         "value": rng.choice(["u-admin", "u-1"])},
        {"name": "memory_mb", "type": "integer",
         "value": str(rng.choice([512, 2**63 - 1, -(2**63)]))},
        {"name": "ratio", "type": "float",
         "value": rng.choice(["0.5", "-0.0", "1e-300"])},
        {"name": "launched_at", "type": "datetime",
         "value": rng.choice(TIMES[:6])},
    ]
    if rng.random() < 0.3:
        # Ceilometer's http:// publisher: [name, dtype, value].
        traits = [[t["name"], {"string": 1, "integer": 2, "float": 3,
                               "datetime": 4}[t["type"]], t["value"]]
                  for t in traits]
    return {
        "message_id": f"f-{rng.getrandbits(48):012x}-{index}",
        "event_type": rng.choice(["compute.instance.create.end",
                                  "volume.delete", "\U0001f600.event"]),
        "generated": rng.choice(TIMES[:6]),
        "traits": rng.sample(traits, rng.randint(0, len(traits))),
        "raw": {"payload": {"n": rng.randint(-10, 10), "s": "\u00e9"}},
    }


def mutate_event(rng, event):
    kind = rng.randrange(8)
    key = rng.choice(["message_id", "event_type", "generated", "traits",
                      "raw", "message_signature", "unknown"])
    if kind == 0:
        event.pop(key, None)
    elif kind == 1:
        event[key] = scalar(rng)
    elif kind == 2:
        depth = rng.choice([10, 99, 100, 101, 300, 600, 5000])
        event["raw"] = nested(rng, depth) if depth < 200 else \
            literal("[" * depth + "1" + "]" * depth)
    elif kind == 3:
        event["raw"] = {"big": rng.choice(NUMBERS + STRINGS)}
    elif kind == 4 and event["traits"]:
        trait = rng.choice(event["traits"])
        if isinstance(trait, dict):
            trait[rng.choice(["name", "type", "value", "other"])] = \
                scalar(rng)
        else:
            trait[rng.randrange(3)] = scalar(rng)
    elif kind == 5:
        event["traits"] = event["traits"] + [rng.choice([
            [scalar(rng), rng.choice(TYPES), scalar(rng)],
            [scalar(rng), rng.choice(TYPES)],
            {"name": scalar(rng), "type": rng.choice(TYPES),
             "value": scalar(rng)},
            {"name": "dup", "value": "1"},
            scalar(rng),
        ]) for _ in range(rng.randint(1, 3))]
    elif kind == 6:
        event["traits"] = scalar(rng)
    else:
        event[key] = nested(rng, rng.randint(1, 50))
    return event


def dumps(rng, value):
    # NaN, Infinity and lone surrogates are written as a careless
    # client would; integers beyond 4300 digits cannot be written.
    try:
        text = json.dumps(value, ensure_ascii=rng.random() < 0.5)
    except ValueError:
        text = "[]"
    text = re.sub(f'"{LITERAL}([^"]*)"', lambda m: m.group(1), text)
    return text.encode("utf-8", "surrogatepass")


def mutate_bytes(rng, data):
    kind = rng.randrange(6)
    if kind == 0 and len(data) > 1:
        return data[:rng.randrange(1, len(data))]
    if kind == 1:
        at = rng.randrange(len(data) + 1)
        return data[:at] + rng.choice([b"\xff", b"\xc3(", b"\xed\xa0\x80",
                                       b"\x00", b"\x80\x80"]) + data[at:]
    if kind == 2 and data:
        at = rng.randrange(len(data))
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1:]
    if kind == 3:
        return b"\xef\xbb\xbf" + data
    if kind == 4:
        return rng.choice([b"", b" ", b"null", b"[", b"{}", b"[]",
                           b"[" * 5000, b"[1,]", b"\"\\ud800\"", b"NaN"])
    return data


def post_body(rng):
    events = [mutate_event(rng, valid_event(rng, i))
              if rng.random() < 0.7 else valid_event(rng, i)
              for i in range(rng.randint(1, 3))]
    shape = rng.randrange(10)
    if shape == 0:
        body = events[0]
    elif shape == 1:
        body = [{}] * (MAX_EVENTS + 1)
    elif shape == 2:
        body = scalar(rng)
    else:
        body = events
    data = dumps(rng, body)
    return mutate_bytes(rng, data) if rng.random() < 0.3 else data


def query_string(rng):
    pairs = []
    for _ in range(rng.randint(0, 6)):
        if rng.random() < 0.6:
            field = rng.choice(QUERY_VALUES[:7] + ["x", "all_tenants"])
            pairs += [("q.field", field), ("q.value", rng.choice(
                QUERY_VALUES))]
            for part in ("q.op", "q.type"):
                if rng.random() < 0.5:
                    pairs.append((part, rng.choice(QUERY_VALUES)))
        else:
            pairs.append((rng.choice(QUERY_NAMES),
                          rng.choice(QUERY_VALUES)))
    rng.shuffle(pairs)
    text = urllib.parse.urlencode(
        [(n.encode("utf-8", "surrogatepass"),
          v.encode("utf-8", "surrogatepass")) for n, v in pairs])
    if rng.random() < 0.15:
        text += rng.choice(["&%ff=1", "&q.value=%c3%28", "&%00", "&&",
                            "&q.field=%zz", "&limit=%2", "&=&="])
    return text


def list_body(rng):
    body = {}
    if rng.random() < 0.6:
        body["q"] = [{"field": rng.choice(QUERY_VALUES[:7]),
                      "value": rng.choice([scalar(rng),
                                           rng.choice(QUERY_VALUES)]),
                      **({"op": rng.choice(QUERY_VALUES[7:14])}
                         if rng.random() < 0.5 else {}),
                      **({"type": rng.choice(TYPES)}
                         if rng.random() < 0.5 else {})}
                     for _ in range(rng.randint(0, 3))]
    for name in ("limit", "marker", "sort", "all_tenants"):
        if rng.random() < 0.2:
            body[name] = rng.choice([scalar(rng),
                                     rng.choice(QUERY_VALUES)])
    if rng.random() < 0.2:
        body = scalar(rng)
    data = dumps(rng, body)
    return mutate_bytes(rng, data) if rng.random() < 0.3 else data


def quoted(value):
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"),
                              safe="")


def request_case(rng):
    """``(method, path, body bytes or None, content type)``."""
    kind = rng.choices(["post", "list", "list_body", "one", "delete",
                        "types", "other"], [40, 25, 10, 8, 5, 7, 5])[0]
    name = quoted(rng.choice(["m-1", "m-404", *STRINGS[:12]]))
    if kind == "post":
        return "POST", "/v2/events", post_body(rng), \
            rng.choice(CONTENT_TYPES)
    if kind == "list":
        return "GET", "/v2/events?" + query_string(rng), None, None
    if kind == "list_body":
        return "GET", "/v2/events", list_body(rng), "application/json"
    if kind == "one":
        return "GET", f"/v2/events/{name}?{query_string(rng)}", None, None
    if kind == "delete":
        return "DELETE", f"/v2/events/{name}?" + rng.choice(
            ["", "all_tenants=True", "all_tenants=maybe", "x=1",
             "all_tenants=1&all_tenants=0"]), None, None
    if kind == "types":
        return "GET", rng.choice([
            "/v2/event_types", f"/v2/event_types/{name}/traits",
            f"/v2/event_types/{name}/traits/{name}"]), None, None
    return rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE"]), \
        rng.choice(["/", "/v2", "/v2/capabilities", "/v2/events/",
                    "/v2/nothing", f"/v2/events/{name}/x",
                    "/v2/event_types/", "/%ff", "/v2/events/%00"]), \
        rng.choice([None, b"{}", b"\xff"]), rng.choice(CONTENT_TYPES)


def send(port, method, path, body, content_type, identity):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in identity.items():
            conn.putheader(name, value)
        if content_type:
            conn.putheader("Content-Type", content_type)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type"), \
            response.read()
    finally:
        conn.close()


def shape_problem(status, content_type, data):
    """Why an answer is not as documented, or None."""
    if status >= 500:
        return f"status {status}"
    if status < 400:
        return None
    if (content_type or "").split(";")[0] != "application/json":
        return f"content type {content_type!r}"
    try:
        body = json.loads(data)
        error = body["error_message"]
    except (ValueError, TypeError, KeyError):
        return "no error_message"
    if set(error) != {"faultcode", "faultstring", "debuginfo"} \
            or error["faultcode"] != "Client" \
            or not isinstance(error["faultstring"], str) \
            or error["debuginfo"] is not None:
        return f"error_message {error!r}"
    extra = set(body) - {"error_message", "stored", "duplicates",
                         "rejected"}
    if extra:
        return f"unexpected keys {sorted(extra)}"
    return None


class FuzzCase(backends.BackendTestCase, testtools.TestCase):
    """A BackendTestCase with testtools' details, for the case count."""


@backends.requires("events:query:simple")
class FuzzScenarios:
    def start_server(self):
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 1,
                    "max_events_per_request": MAX_EVENTS,
                    "max_request_body_size": MAX_BODY},
        })
        return server.start(), path

    def test_fuzz_requests(self):
        server, _ = self.start_server()
        seeded = server.request("POST", "/v2/events", [
            {"message_id": f"m-{i}", "event_type": "compute.x",
             "generated": f"2026-01-01T12:00:0{i}",
             "traits": [{"name": "project_id", "value": "p-1"},
                        {"name": "user_id", "value": "u-1"}]}
            for i in range(1, 4)], ADMIN)
        self.assertEqual(201, seeded.status, seeded.body)

        rng = random.Random(f"{SEED}-{self.backend_name}")
        deadline = time.monotonic() + TIME_BUDGET
        ran, statuses, failures = 0, {}, []
        while ran < CASES and time.monotonic() < deadline:
            method, path, body, content_type = request_case(rng)
            path = path[:MAX_TARGET]
            # Most writes as an admin: others are refused before the
            # body is read.
            identity = ADMIN if method == "POST" and rng.random() < 0.75 \
                else rng.choice(IDENTITIES)
            status, answer_type, data = send(
                server.port, method, path, body, content_type, identity)
            ran += 1
            statuses[status] = statuses.get(status, 0) + 1
            problem = shape_problem(status, answer_type, data)
            if problem:
                failures.append(
                    f"{problem}: {method} {path[:200]!r} "
                    f"headers={identity!r} "
                    f"body={None if body is None else body[:300]!r} "
                    f"-> {status} {data[:300]!r}")

        summary = (f"{ran} fuzz cases on {self.backend_name} (seed {SEED}), "
                   f"answers by status: {dict(sorted(statuses.items()))}")
        print(summary, file=sys.stderr)
        self.addDetail("fuzz-cases", content.text_content(summary))
        if failures:
            self.addDetail("server-log", content.text_content(
                server.logs()[-20000:]))
        self.assertEqual(
            [], failures[:REPORTED],
            f"{len(failures)} of {ran} answers not as documented")
        self.assertGreater(ran, 50, summary)
        self.assertNotIn("Traceback", server.logs())


globals().update(backends.make_test_cases(
    FuzzScenarios, base=FuzzCase, names=backends.SQL_BACKENDS))
