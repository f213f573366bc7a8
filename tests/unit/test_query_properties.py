"""Property tests of the GET /v2/events argument parser.

Whatever a client sends as query string and JSON body, the parser
answers with a filter and a pagination, or with its own APIError (a 4xx
answer): never with another exception, which would be a 500.
"""

import json
import types
import unittest
import urllib.parse

import webob
from hypothesis import given
from hypothesis import strategies as st

from panko_like import storage
from panko_like.api import errors, rbac
from panko_like.api.controllers.v2 import query
from tests import strategies

CONF = types.SimpleNamespace(api=types.SimpleNamespace(
    max_limit=1000, default_api_return_limit=100, max_query_filters=32))
IDENTITY = rbac.Identity("u-1", "p-1", ["member"], None)

HUGE = st.sampled_from([
    "9" * 5000, "-" + "9" * 30, "1" * 19, "x" * 100_000,
    "\U0001f600" * 5000, "1e999", "-1e999", "NaN", "Infinity",
])
ODD = st.sampled_from([
    "", " ", "\x00", "\ud800", "\udfff", "\U0001f600", "\u202e", "\ufeff",
    "%", "%%", "%00", "&", "=", ";", "+", "\n", "\r\n", "\t",
    "0001-01-01T00:00:00", "9999-12-31T23:59:59.999999",
    "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00",
    "2026-01-01T00:00:00.0000001", "2026-01-01T00:00:00.1234560",
    "2026-01-01T00:00:00Z", "true", "false", "True", "yes", "0", "-1",
    "1.5", "٣", "1_000", " 7 ", "generated", "message_id:desc",
    "generated:sideways", ":", "::", "message_id:", ":asc",
])
FIELDS = st.sampled_from([
    "event_type", "message_id", "start_timestamp", "end_timestamp",
    "all_tenants", "project_id", "user_id", "flavor", "",
])
OPS = st.one_of(st.sampled_from(query.OPERATORS),
                st.sampled_from(["", "EQ", "like", "in", "=="]))
TYPES = st.one_of(st.sampled_from(query.TYPES),
                  st.sampled_from(["", "none", "int", "str", "bool"]))
PARAM_NAMES = st.one_of(
    st.sampled_from(["q.field", "q.op", "q.value", "q.type", "limit",
                     "marker", "sort", "all_tenants", "q", "q.", "Q.field",
                     "q.field ", "limit[]", "sort[0]"]),
    st.text(strategies.ANY_CHAR, max_size=8),
)
PARAM_VALUES = st.one_of(
    st.text(strategies.ANY_CHAR, max_size=30), ODD, HUGE, FIELDS, OPS,
    TYPES, st.integers().map(str), strategies.floats.map(repr),
)
#: Values the boundary lets through to the parser from either place (a
#: NUL or a lone surrogate is refused before, differently in each).
STORABLE_VALUES = st.one_of(
    strategies.storable_text(0, 30),
    ODD.filter(lambda v: "\x00" not in v and not any(
        0xD800 <= ord(c) <= 0xDFFF for c in v)),
    HUGE, FIELDS, OPS, TYPES, st.integers().map(str),
)

JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**200), 2**200),
    st.floats(), st.text(strategies.ANY_CHAR, max_size=20), ODD, HUGE,
)
FILTER_ITEMS = st.fixed_dictionaries(
    {"field": st.one_of(FIELDS, JSON_SCALARS),
     "value": st.one_of(JSON_SCALARS, ODD)},
    optional={"op": st.one_of(OPS, JSON_SCALARS),
              "type": st.one_of(TYPES, JSON_SCALARS),
              "extra": JSON_SCALARS},
)
JSON_ANY = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(strategies.ANY_CHAR, max_size=6), children,
                        max_size=4),
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    st.fixed_dictionaries({}, optional={
        "q": st.one_of(st.lists(st.one_of(FILTER_ITEMS, JSON_ANY),
                                max_size=4), JSON_ANY),
        "limit": st.one_of(JSON_SCALARS, PARAM_VALUES),
        "marker": st.one_of(JSON_SCALARS, PARAM_VALUES),
        "sort": st.one_of(st.lists(st.one_of(ODD, JSON_SCALARS),
                                   max_size=3), JSON_SCALARS, ODD),
        "all_tenants": JSON_SCALARS,
    }),
    JSON_ANY,
)


def encode_json(value):
    # json.dumps writes NaN, Infinity and lone surrogates, which a
    # client may send as well.
    return json.dumps(value, ensure_ascii=False).encode("utf-8",
                                                       "surrogatepass")


@st.composite
def body_bytes(draw):
    kind = draw(st.sampled_from(["none", "json", "json", "truncated",
                                 "bytes", "deep"]))
    if kind == "none":
        return draw(st.sampled_from([b"", b"  ", b"\n"]))
    if kind == "bytes":
        return draw(st.binary(max_size=40))
    if kind == "deep":
        depth = draw(st.integers(1, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"),
                                               ('{"q":', "}")]))
        return (opener * depth + "1" + closer * depth).encode()
    data = encode_json(draw(BODIES))
    if kind == "truncated" and len(data) > 1:
        data = data[:draw(st.integers(1, len(data) - 1))]
    return data


@st.composite
def query_strings(draw):
    pairs = draw(st.lists(st.tuples(PARAM_NAMES, PARAM_VALUES), max_size=8))
    # Repeated names, in any order.
    pairs += draw(st.lists(st.sampled_from(pairs), max_size=3)) \
        if pairs else []
    pairs = draw(st.permutations(pairs))
    encoded = urllib.parse.urlencode(
        [(n.encode("utf-8", "surrogatepass"),
          v.encode("utf-8", "surrogatepass")) for n, v in pairs])
    if draw(st.booleans()):
        return encoded
    # Not what urlencode writes: raw bytes, bad escapes, stray '&'s.
    extra = draw(st.binary(max_size=20)).decode("latin-1")
    return encoded + draw(st.sampled_from(["&", "&&", ";", "%", "%zz",
                                           "=&="])) + extra


def parse(query_string, body, admin):
    """What the controller does with a GET /v2/events before storage.

    The URL is checked first, as ErrorMiddleware does before any
    parsing: the parser reads a query string that is UTF-8 (webob
    raises UnicodeDecodeError otherwise) and free of NUL characters.
    """
    request = webob.Request.blank("/v2/events")
    request.environ["QUERY_STRING"] = query_string
    request.environ[errors.BODY] = body
    # Declared as JSON, as a body must be (undeclared is 415: test_api).
    request.content_type = "application/json"
    request.conf = CONF  # as the API's hook sets it
    errors._check_url(request.environ)
    args = query.list_arguments(request)
    event_filter = query.event_filter(args["q"], IDENTITY, admin)
    pagination = query.pagination(args, CONF)
    return event_filter, pagination


class TestQueryParserProperties(unittest.TestCase):
    def check(self, query_string, body, admin):
        try:
            event_filter, pagination = parse(query_string, body, admin)
        except errors.APIError as exc:
            self.assertLess(exc.status, 500, exc.message)
            self.assertIsInstance(exc.message, str)
            return
        self.assertIsInstance(event_filter, storage.EventFilter)
        self.assertIsInstance(pagination, storage.Pagination)
        self.assertTrue(1 <= pagination.limit <= CONF.api.max_limit)
        if not admin:
            # Never widened: a non-admin sees only their own events.
            self.assertIsNotNone(event_filter.traits_filter)
            keys = [(f.key, f.value) for f in event_filter.traits_filter]
            self.assertIn(("project_id", "p-1"), keys)
            self.assertIn(("user_id", "u-1"), keys)

    @strategies.examples(200)
    @given(query_strings(), st.booleans())
    def test_any_query_string(self, query_string, admin):
        self.check(query_string, b"", admin)

    @strategies.examples(150)
    @given(body_bytes(), st.booleans())
    def test_any_body(self, body, admin):
        self.check("", body, admin)

    @strategies.examples(75)
    @given(query_strings(), body_bytes(), st.booleans())
    def test_any_query_string_and_body(self, query_string, body, admin):
        self.check(query_string, body, admin)

    @strategies.examples(150)
    @given(st.lists(st.tuples(FIELDS, OPS, TYPES, STORABLE_VALUES),
                    max_size=4),
           st.booleans(), st.booleans())
    def test_filters_in_query_string_or_body_agree(self, filters, in_body,
                                                   admin):
        """The same filters read the same from either place."""
        pairs = []
        for field, op, type_name, value in filters:
            pairs += [("q.field", field), ("q.op", op), ("q.type", type_name),
                      ("q.value", value)]
        items = [{"field": f, "op": o, "type": t, "value": v}
                 for f, o, t, v in filters]

        def outcome(query_string, body):
            try:
                return parse(query_string, body, admin)
            except errors.APIError as exc:
                return exc.status, exc.message

        from_query = outcome(urllib.parse.urlencode(
            [(n, v.encode("utf-8")) for n, v in pairs]),
            b"")
        from_body = outcome("", encode_json({"q": items}))
        self.assertEqual(from_query, from_body)
