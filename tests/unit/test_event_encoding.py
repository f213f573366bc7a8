"""An event the driver read as stored is written out as if decoded."""

import datetime
import json

import testtools

from panko_like.api import streaming
from panko_like.api.controllers.v2 import events
from panko_like.storage import models
from panko_like.storage.sqlalchemy import traits as tables


def decode(text):
    return models.traits_from_items(tables.load_trait_items(text))


GENERATED = datetime.datetime(2026, 3, 4, 5, 6, 7, 890)
TRAITS = [
    models.Trait("cost", models.FLOAT_TYPE, 0.1),
    models.Trait("count", models.INT_TYPE, -(2**63)),
    models.Trait("empty", models.DATETIME_TYPE, None),
    models.Trait("name", models.NONE_TYPE, "vm \u00e9 1"),
    models.Trait("seen", models.DATETIME_TYPE,
                 datetime.datetime(2026, 3, 4, 0, 0)),
    models.Trait("when", models.DATETIME_TYPE,
                 datetime.datetime(2026, 3, 4, 0, 0, 0, 1)),
]
RAW_TEXTS = [
    None,
    "null",
    models.dump_raw({"payload": {"a": [1, 2.5e-7, True, None]}}),
    models.dump_raw({"text": "\u00e9\u4e2d \"quoted\" \\ NaN inside"}),
    # What Panko's json.dumps could store: not all of it is JSON.
    '{"ratio": NaN, "limit": Infinity, "floor": -Infinity}',
    '{"big": 123456789012345678901234567890}',
    '{"lone": "\\ud800"}',
    '[1, {"nested": {}}]',
]


def _parse(data):
    return json.loads(data)


class TestEncodeEvent(testtools.TestCase):
    def stored(self, raw_text):
        return models.Event.from_stored(
            "m-1", "compute.instance.update", GENERATED,
            stored_traits=tables.load_trait_items(
                tables.encode_traits(TRAITS)),
            raw_text=raw_text)

    def decoded(self, raw_text):
        raw = None if raw_text is None else json.loads(raw_text)
        return models.Event("m-1", "compute.instance.update", GENERATED,
                            decode(tables.encode_traits(TRAITS)),
                            raw)

    def test_same_json_as_the_decoded_event(self):
        for raw_text in RAW_TEXTS:
            with self.subTest(raw=raw_text):
                want = streaming.encode_json(
                    events.event_body(self.decoded(raw_text)))
                got = events.encode_event(self.stored(raw_text))
                self.assertEqual(_parse(want), _parse(got))

    def test_trait_values_as_panko_printed_them(self):
        body = _parse(events.encode_event(self.stored(None)))
        self.assertEqual(
            [("cost", "float", "0.1"),
             ("count", "integer", str(-(2**63))),
             ("empty", "datetime", "None"),
             ("name", "string", "vm \u00e9 1"),
             ("seen", "datetime", "2026-03-04T00:00:00"),
             ("when", "datetime", "2026-03-04T00:00:00.000001")],
            [(t["name"], t["type"], t["value"]) for t in body["traits"]])
        self.assertEqual("2026-03-04T05:06:07.000890", body["generated"])
        self.assertIsNone(body["raw"])

    def test_stored_text_is_written_as_stored(self):
        text = '{"b": 1,   "a": [ 2 ]}'
        data = events.encode_event(self.stored(text))
        self.assertIn(b'"raw":' + text.encode(), data)

    def test_not_json_text_is_decoded_first(self):
        data = events.encode_event(self.stored(RAW_TEXTS[4]))
        # Written as JSON (null for what JSON cannot hold), never as NaN.
        self.assertNotIn(b"NaN", data)
        self.assertEqual({"ratio": None, "limit": None, "floor": None},
                         _parse(data)["raw"])

    def test_event_with_trait_objects(self):
        event = models.Event("m-2", "t", GENERATED, TRAITS, {"x": 1})
        self.assertEqual(events.event_body(event),
                         _parse(events.encode_event(event)))

    def test_what_a_reader_changed_is_written(self):
        event = self.stored(RAW_TEXTS[2])
        event.traits.append(models.Trait("zz", models.TEXT_TYPE, "added"))
        event.raw["payload"]["a"].append("more")
        body = _parse(events.encode_event(event))
        self.assertEqual({"name": "zz", "type": "string", "value": "added"},
                         body["traits"][-1])
        self.assertEqual([1, 2.5e-7, True, None, "more"],
                         body["raw"]["payload"]["a"])
