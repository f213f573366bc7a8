"""Property tests of the event codecs: the API's JSON of an event and
the decoding of a POST /v2/events body.

- Any valid event, written as the API writes it and posted back, is
  the same event (as a client that copies events from one service to
  another relies on).
- An event the SQL driver read as stored items and raw JSON text is
  written exactly as the same event decoded.
- Whatever JSON a client posts, each item becomes an event or is
  refused with InvalidEvent (a 4xx per event): never another exception.
"""

import json
import unittest

from hypothesis import given
from hypothesis import strategies as st

from panko_like.api.controllers.v2 import events as api_events
from panko_like.storage import models
from panko_like.storage.sqlalchemy import traits as tables
from tests import strategies
from tests.functional import dataset


def api_json(event):
    """The event as GET /v2/events/{id} writes it, read by a client."""
    return json.loads(api_events.encode_event(event))


def sorted_traits(body):
    body["traits"].sort(key=lambda t: (t["name"], t["type"]))
    return body


def assert_same(test, expected, actual):
    test.assertEqual(dataset.normalized(expected),
                     dataset.normalized(actual))
    # -0.0 == 0.0: the sign of each float is compared as well.
    for ours, theirs in zip(sorted(expected.traits, key=_key),
                            sorted(actual.traits, key=_key), strict=True):
        if ours.dtype == models.FLOAT_TYPE and ours.value is not None:
            test.assertTrue(strategies.same_float(ours.value, theirs.value),
                            (ours, theirs))


def _key(trait):
    return (trait.name,
            models.TEXT_TYPE if trait.dtype == models.NONE_TYPE
            else trait.dtype)


TRAIT_TYPES = st.one_of(
    st.sampled_from(["string", "integer", "float", "datetime", "none"]),
    st.sampled_from(sorted(models.TYPE_NAMES)),
    st.sampled_from(["", "int", "STRING", 5, -1, 2.0, True, None, [], {}]),
)
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(2**90), 2**90),
    st.floats(), st.text(strategies.ANY_CHAR, max_size=20),
    st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01",
                     "2026-01-01T00:00:00.0000001", "2026-01-01", "Z",
                     "1_000", "\u0663", " 1 ", "1e999", "NaN", "-0.0",
                     "x" * (models.MAX_TEXT_LENGTH + 1), "\x00", "\ud800"]),
)
ANY_JSON = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(strategies.ANY_CHAR, max_size=8), children,
                        max_size=4),
    ),
    max_leaves=16,
)
API_TRAITS = st.one_of(
    st.fixed_dictionaries(
        {"name": st.one_of(strategies.name(models.MAX_TRAIT_NAME_LENGTH),
                           SCALARS)},
        optional={"type": TRAIT_TYPES, "value": SCALARS,
                  "extra": SCALARS}),
    # Ceilometer's [name, dtype, value], and lists of other lengths.
    st.tuples(st.one_of(strategies.storable_text(1, 10), SCALARS),
              TRAIT_TYPES, SCALARS).map(list),
    st.lists(SCALARS, max_size=4),
    ANY_JSON,
)
POSTED_EVENTS = st.fixed_dictionaries(
    {},
    optional={
        "message_id": st.one_of(strategies.name(60), SCALARS),
        "event_type": st.one_of(strategies.name(260), SCALARS),
        "generated": st.one_of(strategies.datetimes.map(
            models.format_datetime), SCALARS),
        "traits": st.one_of(st.lists(API_TRAITS, max_size=5), SCALARS),
        "raw": ANY_JSON,
        "message_signature": SCALARS,
        "unknown": SCALARS,
    },
)


@st.composite
def mutated(draw):
    """A valid event as the API writes it, with one part changed."""
    body = api_json(draw(strategies.events(allow_none=False)))
    key = draw(st.sampled_from(sorted(body) + ["traits", "traits"]))
    if key == "traits" and body["traits"]:
        index = draw(st.integers(0, len(body["traits"]) - 1))
        trait = body["traits"][index]
        part = draw(st.sampled_from(["name", "type", "value", None]))
        if part is None:
            body["traits"][index] = [trait["name"], draw(TRAIT_TYPES),
                                     trait["value"]]
        else:
            trait[part] = draw(st.one_of(SCALARS, ANY_JSON))
    else:
        body[key] = draw(st.one_of(SCALARS, ANY_JSON))
    return body


class TestEventCodecProperties(unittest.TestCase):
    @strategies.examples(150)
    @given(strategies.events(allow_none=False))
    def test_api_json_posted_back_is_the_same_event(self, event):
        posted = api_events.event_from_json(api_json(event))
        assert_same(self, event, posted)

    @strategies.examples(100)
    @given(strategies.events())
    def test_stored_form_is_written_as_the_decoded_event(self, event):
        stored = models.Event.from_stored(
            event.message_id, event.event_type, event.generated,
            stored_traits=tables.load_trait_items(
                tables.encode_traits(event.traits)),
            raw_text=event.dumped_raw())
        # The stored items are in the driver's order, not the event's.
        self.assertEqual(sorted_traits(api_json(event)),
                         sorted_traits(api_json(stored)))

    @strategies.examples(100)
    @given(strategies.events())
    def test_ceilometer_triples_are_the_same_event(self, event):
        body = api_json(event)
        kept = [t for t in event.traits if t.value is not None]
        body["traits"] = json.loads(json.dumps(
            [[t.name, t.dtype, t.value] for t in kept],
            default=models.format_datetime))
        expected = models.Event(event.message_id, event.event_type,
                                event.generated, kept, event.raw)
        posted = api_events.event_from_json(body)
        assert_same(self, expected, posted)

    def check_posted(self, item):
        try:
            event = api_events.event_from_json(item)
            event.dumped_raw()
        except models.InvalidEvent as exc:
            self.assertIsInstance(exc.problem, models.Problem)
            self.assertIsInstance(exc.reason, str)
            return
        # Accepted: what the drivers would store is valid as it is.
        self.assertIsInstance(event, models.Event)
        event.validate()

    @strategies.examples(200)
    @given(st.one_of(POSTED_EVENTS, ANY_JSON))
    def test_any_posted_json_is_an_event_or_refused(self, item):
        self.check_posted(item)

    @strategies.examples(200)
    @given(mutated())
    def test_mutated_events_are_events_or_refused(self, item):
        self.check_posted(item)
