"""event.traits: what the SQL driver keeps of each event's traits."""

import datetime
import json
import math

import testtools

from panko_like.storage import models
from panko_like.storage.sqlalchemy import tables


def decode(text):
    return models.traits_from_items(tables.load_trait_items(text))


Trait = models.Trait


class EncodeTraitsTest(testtools.TestCase):
    def test_round_trip_keeps_values_exactly(self):
        traits = [
            Trait("size", models.INT_TYPE, 2**63 - 1),
            Trait("ratio", models.FLOAT_TYPE, 0.30000000000000004),
            Trait("at", models.DATETIME_TYPE,
                  datetime.datetime(2020, 2, 29, 23, 59, 59, 999999)),
            Trait("whole", models.DATETIME_TYPE,
                  datetime.datetime(2020, 1, 1)),
            Trait("name", models.TEXT_TYPE, "Zürich \u2028 🚀 \"q\""),
            Trait("empty", models.TEXT_TYPE, None),
            Trait("none_at", models.DATETIME_TYPE, None),
        ]
        back = decode(tables.encode_traits(traits))
        self.assertEqual(
            sorted((t.name, t.dtype, t.value) for t in traits),
            [(t.name, t.dtype, t.value) for t in back],
        )
        for trait in back:
            self.assertIs(
                type(next(t.value for t in traits if t.name == trait.name)),
                type(trait.value),
            )

    def test_untyped_reads_back_as_text_in_name_then_type_order(self):
        traits = [
            Trait("b", models.INT_TYPE, 1),
            Trait("a", models.NONE_TYPE, "x"),
            Trait("b", models.TEXT_TYPE, "1"),
        ]
        self.assertEqual(
            [["a", 1, "x"], ["b", 1, "1"], ["b", 2, 1]],
            json.loads(tables.encode_traits(traits)),
        )

    def test_no_traits(self):
        self.assertEqual("[]", tables.encode_traits([]))
        self.assertEqual([], decode("[]"))

    def test_nan_from_an_adopted_database_reads_back(self):
        (back,) = decode(tables.encode_traits(
            [Trait("ratio", models.FLOAT_TYPE, float("nan"))]))
        self.assertEqual(("ratio", models.FLOAT_TYPE),
                         (back.name, back.dtype))
        self.assertTrue(math.isnan(back.value))
