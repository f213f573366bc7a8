"""Trait values and times are kept as they were sent, or refused."""

import datetime
import unittest

from panko_like import storage
from panko_like.storage import models


class ScalarTextTest(unittest.TestCase):
    def test_json_scalars_keep_their_json_text(self):
        for value, text in [(True, "true"), (False, "false"), (0, "0"),
                            (-42, "-42"), (2**80, str(2**80)),
                            (1.5, "1.5"), (1e-300, "1e-300"),
                            (1e16, "1e+16"), ("x", "x")]:
            with self.subTest(value=value):
                self.assertEqual(
                    text, models.convert_value(models.TEXT_TYPE, value))
                self.assertEqual(
                    text, models.convert_value(models.NONE_TYPE, value))

    def test_null_stays_no_value(self):
        self.assertIsNone(models.convert_value(models.TEXT_TYPE, None))

    def test_documents_and_non_finite_numbers_are_refused(self):
        for value in ({}, {"k": [1, None]}, [], [1], (1,),
                      float("nan"), float("inf")):
            with self.subTest(value=value):
                with self.assertRaises(models.InvalidEvent) as caught:
                    models.convert_value(models.TEXT_TYPE, value)
                self.assertEqual(models.Problem.INCOMPATIBLE_TRAIT,
                                 caught.exception.problem)


class NumberTextTest(unittest.TestCase):
    def test_ascii_digits(self):
        self.assertEqual(-12, models.convert_value(models.INT_TYPE, " -12 "))
        self.assertEqual(1000.0,
                         models.convert_value(models.FLOAT_TYPE, "1e3"))
        self.assertEqual(0.5, models.convert_value(models.FLOAT_TYPE, ".5"))

    def test_other_digits_and_underscores_are_refused(self):
        for dtype, text in [(models.INT_TYPE, "\u0663"),
                            (models.INT_TYPE, "1_000"),
                            (models.INT_TYPE, "\uff11"),
                            (models.INT_TYPE, "\u20031"),
                            (models.FLOAT_TYPE, "1_000.5"),
                            (models.FLOAT_TYPE, "\u0663.5"),
                            (models.FLOAT_TYPE, "1e\u0663")]:
            with self.subTest(text=text):
                with self.assertRaises(models.InvalidEvent) as caught:
                    models.convert_value(dtype, text)
                self.assertIn("of ASCII digits", caught.exception.reason)

    def test_trait_filters_take_the_same_rule(self):
        with self.assertRaises(ValueError):
            storage.TraitFilter("n", "integer", "1_0")
        self.assertEqual(10, storage.TraitFilter("n", "integer", "10").value)


class SubMicrosecondTest(unittest.TestCase):
    def test_seventh_digit_is_refused(self):
        for text in ("2026-01-01T00:00:00.0000001",
                     "2026-01-01T00:00:00.1234567",
                     "2026-01-01T00:00:00,123456789Z",
                     "2026-01-01T00:00:00.1234560001+02:00",
                     "20260101T000000.1234567"):
            with self.subTest(text=text):
                with self.assertRaisesRegex(
                        ValueError, "more than 6 fractional digits"):
                    models.parse_datetime(text)

    def test_zeros_and_microseconds_are_kept(self):
        expected = datetime.datetime(2026, 1, 1, 0, 0, 0, 123456)
        for text in ("2026-01-01T00:00:00.123456",
                     "2026-01-01T00:00:00.1234560",
                     "2026-01-01T00:00:00.123456000Z",
                     "2026-01-01T01:00:00.12345600+01:00"):
            with self.subTest(text=text):
                self.assertEqual(expected, models.parse_datetime(text))
        self.assertEqual(datetime.datetime(2026, 1, 1, 0, 0, 0, 500000),
                         models.parse_datetime("2026-01-01T00:00:00.5"))

    def test_datetime_traits(self):
        with self.assertRaises(models.InvalidEvent):
            models.convert_value(models.DATETIME_TYPE,
                                 "2026-01-01T00:00:00.1234567")
