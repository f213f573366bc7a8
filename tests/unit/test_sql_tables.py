"""event.traits: what the SQL driver keeps of each event's traits."""

import datetime
import json
import math

import testtools

from panko_like.storage import models
from panko_like.storage.sqlalchemy import dialect as dialect_mod
from panko_like.storage.sqlalchemy import schema as tables
from panko_like.storage.sqlalchemy import traits as codec


def decode(text):
    return models.traits_from_items(codec.load_trait_items(text))


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
        back = decode(codec.encode_traits(traits))
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
            json.loads(codec.encode_traits(traits)),
        )

    def test_no_traits(self):
        self.assertEqual("[]", codec.encode_traits([]))
        self.assertEqual([], decode("[]"))

    def test_null_in_the_text_is_looked_at_closer(self):
        # orjson writes NaN as null: a text with a null in it is written
        # by orjson only when no float is NaN or infinite.
        for traits in (
            [Trait("s", models.TEXT_TYPE, "null"),
             Trait("f", models.FLOAT_TYPE, float("nan"))],
            [Trait("n", models.TEXT_TYPE, None),
             Trait("f", models.FLOAT_TYPE, float("-inf"))],
            [Trait("n", models.TEXT_TYPE, None),
             Trait("f", models.FLOAT_TYPE, 1.5)],
        ):
            with self.subTest(traits=traits):
                back = decode(codec.encode_traits(traits))
                self.assertEqual(
                    [repr((t.name, t.value)) for t in sorted(
                        traits, key=lambda t: t.name)],
                    [repr((t.name, t.value)) for t in back])

    def test_datetimes_as_isoformat_writes_them(self):
        class Stamp(datetime.datetime):
            pass

        for value in (datetime.datetime(1, 1, 1),
                      datetime.datetime(999, 12, 31, 23, 59, 59, 5),
                      datetime.datetime(2026, 12, 2, 10, 11, 12, 130000),
                      Stamp(2026, 12, 2, 10, 11, 12, 1)):
            with self.subTest(value=value):
                self.assertEqual(
                    [["at", models.DATETIME_TYPE, value.isoformat()]],
                    json.loads(codec.encode_traits(
                        [Trait("at", models.DATETIME_TYPE, value)])))

    def test_nan_from_an_adopted_database_reads_back(self):
        (back,) = decode(codec.encode_traits(
            [Trait("ratio", models.FLOAT_TYPE, float("nan"))]))
        self.assertEqual(("ratio", models.FLOAT_TYPE),
                         (back.name, back.dtype))
        self.assertTrue(math.isnan(back.value))


class BindProcessorTest(testtools.TestCase):
    """The driver's own conversion of the values it inserts sends what
    SQLAlchemy's bind processors would."""

    def test_same_as_sqlalchemy(self):
        import random

        from sqlalchemy.dialects import mysql, sqlite

        rng = random.Random(5)
        values = [None, datetime.datetime(1, 1, 1),
                  datetime.datetime(9999, 12, 31, 23, 59, 59, 999999),
                  datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone(
                      datetime.timedelta(hours=2)))]
        values += [datetime.datetime(1970, 1, 1) + datetime.timedelta(
            microseconds=rng.randrange(-10**15, 10**17)) for _ in range(500)]
        for dialect in (sqlite.dialect(), mysql.dialect()):
            for column in (tables.event.c.generated,
                           tables.trait_datetime.c.value):
                theirs = column.type.dialect_impl(dialect).bind_processor(
                    dialect)
                ours = _bind_processor(column, dialect)
                for value in values:
                    with self.subTest(dialect=dialect.name, value=value):
                        try:
                            expected = theirs(value)
                        except TypeError:
                            self.assertRaises(TypeError, ours, value)
                        else:
                            self.assertEqual(expected, ours(value))
            for column in (tables.event.c.message_id,
                           tables.trait_text.c.value,
                           tables.trait_int.c.value):
                self.assertIsNone(
                    _bind_processor(column, dialect))


def _bind_processor(column, dialect):
    """The driver's own conversion of ``column``'s values on ``dialect``
    (see dialect.Dialect.bind_processor)."""
    kind = dialect_mod.dialect_class(dialect.name)
    return kind(None).bind_processor(column, dialect)
