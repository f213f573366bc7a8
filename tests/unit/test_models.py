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

    def test_trait_names_refused_every_time(self):
        # Names that pass are remembered; one that failed never is.
        models.Trait.checked("fine", 1, "x")
        self.assertEqual("fine", models.Trait.checked("fine", 1, "y").name)
        for _ in range(2):
            with self.assertRaises(models.InvalidEvent):
                models.Trait.checked("a\x00b", 1, "x")
        # A str subclass equal to a remembered name is still checked.

        class Name(str):
            pass

        self.assertEqual("fine", models.Trait.checked(Name("fine"), 1, "x")
                         .name)
        with self.assertRaises(models.InvalidEvent):
            models.Trait.checked(["fine"], 1, "x")

    def test_values_kept_as_given_are_what_conversion_gives(self):
        # _needs_no_conversion lets the common values skip convert_value:
        # it may only say so where convert_value returns the value itself.
        class Text(str):
            pass

        when = datetime.datetime(2020, 1, 1, 5, 6, 7, 8)
        taken = [
            (models.TEXT_TYPE, "plain"), (models.NONE_TYPE, ""),
            (models.TEXT_TYPE, "x" * models.MAX_TEXT_LENGTH),
            (models.INT_TYPE, 0), (models.INT_TYPE, models.INT_MAX),
            (models.INT_TYPE, models.INT_MIN), (models.FLOAT_TYPE, -2.5),
            (models.DATETIME_TYPE, when),
        ]
        converted = [
            (models.TEXT_TYPE, "é"), (models.TEXT_TYPE, Text("x")),
            (models.TEXT_TYPE, 12), (models.INT_TYPE, "5"),
            (models.INT_TYPE, 5.0), (models.FLOAT_TYPE, 2),
            (models.DATETIME_TYPE, "2020-01-01T00:00:00Z"),
            (models.DATETIME_TYPE,
             when.replace(tzinfo=datetime.UTC)),
            (models.INT_TYPE, "x"), (models.TEXT_TYPE, 5),
        ]
        refused = [
            (models.TEXT_TYPE, "a\x00"), (models.TEXT_TYPE, "\ud800"),
            (models.TEXT_TYPE, "x" * (models.MAX_TEXT_LENGTH + 1)),
            (models.INT_TYPE, True), (models.INT_TYPE, models.INT_MAX + 1),
            (models.FLOAT_TYPE, float("nan")), (models.FLOAT_TYPE, math.inf),
            (models.INT_TYPE, 2.5), (models.FLOAT_TYPE, "x"),
            (models.DATETIME_TYPE, 12), (models.INT_TYPE, None.__class__),
            (9, "x"),
        ]
        for dtype, value in taken:
            with self.subTest(dtype=dtype, value=value):
                self.assertTrue(models._needs_no_conversion(dtype, value))
                result = models.convert_value(dtype, value)
                self.assertIs(value.__class__, result.__class__)
                self.assertEqual(value, result)
        for dtype, value in converted + refused:
            with self.subTest(dtype=dtype, value=value):
                self.assertFalse(models._needs_no_conversion(dtype, value))
        for dtype, value in refused:
            with self.subTest(dtype=dtype, value=value):
                with self.assertRaises(models.InvalidEvent):
                    models.Trait.checked("t", dtype, value)

    def test_validated_traits_with_nothing_to_convert_are_kept(self):
        keep = models.Trait("kept", models.INT_TYPE, 4096)
        convert = models.Trait("converted", models.INT_TYPE, "4096")
        models.Trait.checked("kept", models.INT_TYPE, 1)  # a known name
        event = models.Event("m", "t", datetime.datetime(2020, 1, 1),
                             [keep, convert])
        event.validate_traits()
        self.assertIs(keep, event.traits[0])
        self.assertEqual(models.Trait("converted", models.INT_TYPE, 4096),
                         event.traits[1])
        self.assertEqual("4096", convert.value)  # the caller's, untouched
        # A duplicate is refused whichever way its traits were checked.
        event = models.Event("m", "t", datetime.datetime(2020, 1, 1),
                             [keep, models.Trait("kept", 2, "1")])
        with self.assertRaises(models.InvalidEvent) as caught:
            event.validate_traits()
        self.assertEqual(models.Problem.INCOMPATIBLE_TRAIT,
                         caught.exception.problem)

    def test_validate_traits_twice_changes_nothing(self):
        when = datetime.datetime(2020, 1, 1, 5)
        event = models.Event("m", "t", when, [
            models.Trait("n", 2, "5"), models.Trait("f", 3, "2.5"),
            models.Trait("d", 4, "2020-01-01T05:00:00+01:00"),
            models.Trait("s", 0, 7)])
        event.validate_traits()
        first = list(event.traits)
        event.validate_traits()
        self.assertEqual(first, event.traits)
        self.assertEqual([5, 2.5, datetime.datetime(2020, 1, 1, 4), "7"],
                         [trait.value for trait in event.traits])

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
        self.assertEqual('{"a":"é"}', models.dump_raw({"a": "é"}))
        with self.assertRaises(models.InvalidEvent) as ctx:
            models.dump_raw({"a": float("nan")})
        self.assertEqual(models.Problem.INVALID, ctx.exception.problem)
        with self.assertRaises(models.InvalidEvent) as ctx:
            models.dump_raw("x" * models.MAX_RAW_SIZE)
        self.assertEqual(models.Problem.TOO_LARGE, ctx.exception.problem)

    def test_dump_raw_as_the_standard_library_would(self):
        # orjson writes most payloads; what it refuses or may have
        # written differently goes to json.dumps. Either way the text
        # is the standard library's compact JSON, or the same refusal.
        def compact(value):
            return json.dumps(value, ensure_ascii=False, allow_nan=False,
                              separators=(",", ":"))

        class Text(str):
            pass

        accepted = [
            {"a": [1, 2.5, True, None, "é\u2028"], "b": {"c": {}}},
            {1: "int key", None: "null key"},
            {"big": 2**70, "small": -(2**64)},
            ("tuple", 1),
            {"sub": Text("text")},
            "null",
            [],
            0.1,
        ]
        for value in accepted:
            with self.subTest(value=value):
                self.assertEqual(json.loads(compact(value)),
                                 json.loads(models.dump_raw(value)))
                self.assertEqual(compact(value).replace(" ", ""),
                                 models.dump_raw(value).replace(" ", ""))
        refused = [
            {"a": float("nan")}, [float("inf")], -math.inf,
            {"when": datetime.datetime(2020, 1, 1)}, {"set": {1}},
            {"surrogate": "a\ud800"}, {"a\udfff": 1},
        ]
        for value in refused:
            with self.subTest(value=value), self.assertRaises(
                    models.InvalidEvent) as ctx:
                models.dump_raw(value)
            self.assertEqual(models.Problem.INVALID, ctx.exception.problem)
        # The limit counts the UTF-8 bytes of the compact text; a payload
        # of exactly that many is taken.
        fits = "é" * ((models.MAX_RAW_SIZE - 2) // 2)
        self.assertEqual(models.MAX_RAW_SIZE,
                         len(models.dump_raw(fits).encode()))
        with self.assertRaises(models.InvalidEvent) as ctx:
            models.dump_raw([fits])
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


class TestStoredEvent(unittest.TestCase):
    """An event a driver builds from what it stored reads like any other."""

    GENERATED = datetime.datetime(2026, 1, 2, 3, 4, 5, 6)
    ITEMS = [["launched_at", models.DATETIME_TYPE, "2026-01-01T00:00:00.5"],
             ["memory_mb", models.INT_TYPE, 512],
             ["none_yet", models.DATETIME_TYPE, None],
             ["state", models.TEXT_TYPE, "active"]]
    TRAITS = [
        models.Trait("launched_at", models.DATETIME_TYPE,
                     datetime.datetime(2026, 1, 1, 0, 0, 0, 500000)),
        models.Trait("memory_mb", models.INT_TYPE, 512),
        models.Trait("none_yet", models.DATETIME_TYPE, None),
        models.Trait("state", models.TEXT_TYPE, "active"),
    ]

    def stored(self, raw_text='{"a": [1, 2.5, "\\u00e9"]}'):
        return models.Event.from_stored(
            "m1", "t", self.GENERATED,
            stored_traits=json.loads(json.dumps(self.ITEMS)),
            raw_text=raw_text)

    def test_traits_from_items(self):
        self.assertEqual(self.TRAITS, models.traits_from_items(self.ITEMS))
        self.assertEqual([], models.traits_from_items([]))

    def test_decoded_when_read_and_equal_to_the_built_event(self):
        event = self.stored()
        self.assertEqual(self.ITEMS, event.stored_traits)
        self.assertEqual('{"a": [1, 2.5, "\\u00e9"]}', event.raw_text)
        built = models.Event("m1", "t", self.GENERATED, self.TRAITS,
                             {"a": [1, 2.5, "\u00e9"]})
        self.assertEqual(built, event)
        self.assertEqual(event, built)
        self.assertEqual(self.TRAITS, event.traits)
        self.assertIs(event.traits, event.traits)  # decoded once
        self.assertEqual({"a": [1, 2.5, "\u00e9"]}, event.raw)
        # Once decoded, what the reader may change is the only form left.
        self.assertIsNone(event.stored_traits)
        self.assertIsNone(event.raw_text)
        self.assertEqual(repr(built), repr(event))
        self.assertNotEqual(
            models.Event("m1", "t", self.GENERATED, self.TRAITS, {}), event)
        self.assertNotEqual(event, ("m1", "t"))

    def test_no_raw_and_traits_as_objects(self):
        event = models.Event.from_stored("m1", "t", self.GENERATED,
                                         traits=self.TRAITS)
        self.assertIsNone(event.raw)
        self.assertIsNone(event.raw_text)
        self.assertIsNone(event.stored_traits)
        self.assertEqual(self.TRAITS, event.traits)

    def test_raw_text_that_only_the_standard_library_reads(self):
        event = self.stored('{"big": 123456789012345678901234567890, '
                            '"x": NaN}')
        self.assertEqual(123456789012345678901234567890, event.raw["big"])
        self.assertTrue(math.isnan(event.raw["x"]))

    def test_setting_drops_the_stored_form(self):
        event = self.stored()
        event.traits = self.TRAITS[:1]
        event.raw = {"b": 1}
        self.assertIsNone(event.stored_traits)
        self.assertIsNone(event.raw_text)
        self.assertEqual(self.TRAITS[:1], event.traits)
        self.assertEqual({"b": 1}, event.raw)

    def test_validate_reads_the_stored_form(self):
        event = self.stored()
        event.validate()
        self.assertEqual(self.TRAITS, event.traits)

    def test_not_hashable(self):
        with self.assertRaises(TypeError):
            hash(self.stored())
