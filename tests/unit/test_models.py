import datetime
import json
import math
import unittest

from panko_like.storage import models


class TestConvertValue(unittest.TestCase):
    def assertRefused(self, dtype, value, problem="incompatible_trait"):
        with self.assertRaises(models.InvalidEvent) as ctx:
            models.convert_value(dtype, value)
        self.assertEqual(problem, ctx.exception.problem.value)
        self.assertTrue(ctx.exception.reason)

    def test_integers(self):
        self.assertEqual(42, models.convert_value(models.INT_TYPE, "42"))
        self.assertEqual(-7, models.convert_value(models.INT_TYPE, -7))
        self.assertEqual(3, models.convert_value(models.INT_TYPE, 3.0))
        self.assertEqual(2**63 - 1,
                         models.convert_value(models.INT_TYPE, 2**63 - 1))
        for bad in ("abc", "1.5", 1.5, True, 2**63, -(2**63) - 1, [], {}):
            with self.subTest(bad=bad):
                self.assertRefused(models.INT_TYPE, bad)

    def test_floats(self):
        self.assertEqual(0.1, models.convert_value(models.FLOAT_TYPE, "0.1"))
        self.assertEqual(2.0, models.convert_value(models.FLOAT_TYPE, 2))
        for bad in ("x", "nan", "inf", float("-inf"), True, [1]):
            with self.subTest(bad=bad):
                self.assertRefused(models.FLOAT_TYPE, bad)

    def test_datetimes(self):
        conv = models.convert_value
        self.assertEqual(
            datetime.datetime(2020, 1, 1, 10, 0, 0, 1),
            conv(models.DATETIME_TYPE, "2020-01-01T12:00:00.000001+02:00"),
        )
        self.assertEqual(
            datetime.datetime(2020, 1, 1),
            conv(models.DATETIME_TYPE, "2020-01-01T00:00:00Z"),
        )
        for bad in ("yesterday", 12, "2020-13-01"):
            with self.subTest(bad=bad):
                self.assertRefused(models.DATETIME_TYPE, bad)

    def test_text(self):
        self.assertEqual("é🚀", models.convert_value(models.TEXT_TYPE, "é🚀"))
        self.assertEqual("12", models.convert_value(models.TEXT_TYPE, 12))
        self.assertIsNone(models.convert_value(models.NONE_TYPE, None))
        self.assertRefused(models.TEXT_TYPE, "a\x00")
        self.assertRefused(models.TEXT_TYPE, "\ud800")
        self.assertRefused(
            models.TEXT_TYPE, "x" * (models.MAX_TEXT_LENGTH + 1), "too_large"
        )

    def test_unknown_dtype(self):
        self.assertRefused(7, "x")
        self.assertRefused("string", "x")


class TestTraitAndEvent(unittest.TestCase):
    def test_trait_names(self):
        with self.assertRaises(models.InvalidEvent):
            models.Trait.checked("", 1, "x")
        with self.assertRaises(models.InvalidEvent):
            models.Trait.checked("n" * 256, 1, "x")
        with self.assertRaises(models.InvalidEvent):
            models.Trait.checked(None, 1, "x")
        for name in ("a\x00b", "a\ud800b"):
            with self.subTest(name=name), self.assertRaises(
                    models.InvalidEvent) as caught:
                models.Trait.checked(name, 1, "x")
            self.assertEqual(models.Problem.INVALID, caught.exception.problem)

    def test_value_as_text_follows_panko(self):
        cases = [
            (models.FLOAT_TYPE, 1e16, "1e+16"),
            (models.FLOAT_TYPE, 100.0, "100.0"),
            (models.INT_TYPE, 2**53 + 1, "9007199254740993"),
            (models.DATETIME_TYPE, datetime.datetime(2021, 1, 1),
             "2021-01-01T00:00:00"),
            (models.DATETIME_TYPE, datetime.datetime(2021, 1, 1, 0, 0, 0, 5),
             "2021-01-01T00:00:00.000005"),
        ]
        for dtype, value, text in cases:
            self.assertEqual(text, models.Trait("t", dtype, value)
                             .value_as_text())
        self.assertEqual("string", models.Trait("t", 0, "x").type_name)

    def test_event_validate(self):
        event = models.Event("m", "t", datetime.datetime(2020, 1, 1),
                             [models.Trait("n", 2, "5")])
        event.validate()
        self.assertEqual(5, event.traits[0].value)
        for bad in (
            models.Event("", "t", datetime.datetime(2020, 1, 1), []),
            models.Event("m", None, datetime.datetime(2020, 1, 1), []),
            models.Event("m", "t", "2020-01-01", []),
            models.Event("m", "t", datetime.datetime(2020, 1, 1), "x"),
            models.Event("m\x00", "t", datetime.datetime(2020, 1, 1), []),
            models.Event("m", "t\udfff", datetime.datetime(2020, 1, 1), []),
            # Valid where it was written, out of range once in UTC.
            models.Event("m", "t", datetime.datetime(
                1, 1, 1, tzinfo=datetime.timezone(
                    datetime.timedelta(hours=5))), []),
        ):
            with self.subTest(bad=bad), self.assertRaises(
                    models.InvalidEvent):
                bad.validate()

    def test_dump_raw(self):
        self.assertEqual('{"a": "é"}', models.dump_raw({"a": "é"}))
        with self.assertRaises(models.InvalidEvent) as ctx:
            models.dump_raw({"a": float("nan")})
        self.assertEqual(models.Problem.INVALID, ctx.exception.problem)
        with self.assertRaises(models.InvalidEvent) as ctx:
            models.dump_raw("x" * models.MAX_RAW_SIZE)
        self.assertEqual(models.Problem.TOO_LARGE, ctx.exception.problem)


class TestLoadJson(unittest.TestCase):
    def test_same_as_the_standard_library(self):
        texts = [
            '{"n": 123456789012345678901234567890, "m": -9223372036854775809}',
            '{"big": 18446744073709551616, "in_text": "12345678901234567890"}',
            '{"a": [1, 2.5, 1e-300, 0.30000000000000004, null, true]}',
            '{"t": "\\u00fc \\ud83d\\ude80", "dup": 1, "dup": 2}',
            '"\\ud800"',
            "[]",
            "null",
        ]
        for text in texts:
            got, want = models.load_json(text), json.loads(text)
            self.assertEqual(want, got, text)
            self.assertEqual(repr(want), repr(got), text)
        self.assertTrue(math.isnan(models.load_json('{"x": NaN}')["x"]))
