"""How deeply a raw payload may nest: measured without recursion, the
same limit on every path of dump_raw."""

import datetime
import unittest

from panko_like import service, storage
from panko_like.storage import models


def nested(depth, leaf=None):
    raw = [] if leaf is None else [leaf]
    for _ in range(depth - 1):
        raw = {"a": raw}
    return raw


class DumpRawDepthTest(unittest.TestCase):
    def assertTooDeep(self, raw, max_depth=models.MAX_RAW_DEPTH):
        with self.assertRaises(models.InvalidEvent) as caught:
            models.dump_raw(raw, max_depth)
        self.assertEqual(models.Problem.INVALID, caught.exception.problem)
        self.assertEqual(
            f"raw payload is nested more than {max_depth} levels deep "
            "([database] max_raw_depth)", caught.exception.reason)

    def test_scalars_have_no_depth(self):
        for raw in (1, "x", None, 1.5, True):
            self.assertIsNotNone(models.dump_raw(raw, 1))

    def test_at_and_over_the_limit(self):
        self.assertEqual('{"a":[]}', models.dump_raw(nested(2), 2))
        self.assertTooDeep(nested(3), 2)
        self.assertEqual(99, models.dump_raw(nested(100)).count("{"))
        self.assertTooDeep(nested(101))

    def test_every_path_of_dump_raw(self):
        # orjson writes it; orjson refuses it (255 levels or more); the
        # standard library writes it (a null may stand for a NaN); a
        # depth beyond Python's recursion limit.
        for depth in (101, 254, 255, 930, 1024, 50000):
            for leaf in (None, 1, float("nan")):
                with self.subTest(depth=depth, leaf=leaf):
                    self.assertTooDeep(nested(depth, leaf))
        self.assertTooDeep(nested(400, None), 300)

    def test_many_brackets_are_not_depth(self):
        wide = {"k": [{"a": [i]} for i in range(1000)], "s": "[[[[{{{{"}
        self.assertEqual(models.dump_raw(wide, 4),
                         models.dump_raw(wide))
        self.assertTooDeep(dict(wide, deeper=[[[[1]]]]), 4)

    def test_brackets_in_strings_are_not_depth(self):
        self.assertEqual('["[[[[[["]', models.dump_raw(["[" * 6], 1))


class OptionTest(unittest.TestCase):
    def test_option_and_its_bounds(self):
        conf = service.prepare_service([], config_files=[])
        self.assertEqual(models.MAX_RAW_DEPTH, conf.database.max_raw_depth)
        self.assertEqual(100, storage.max_raw_depth(None))
        for bad in (0, models.MAX_RAW_DEPTH_LIMIT + 1):
            with self.assertRaises(ValueError):
                conf.set_override("max_raw_depth", bad, group="database")
        conf.set_override("max_raw_depth", 7, group="database")
        self.assertEqual(7, storage.max_raw_depth(conf))

    def test_log_driver_refuses_deep_raw_alone(self):
        conf = service.prepare_service([], config_files=[])
        conf.set_override("max_raw_depth", 4, group="database")
        conn = storage.get_connection("log://", conf)
        at = datetime.datetime(2026, 1, 1)
        rejected = conn.record_events([
            models.Event("ok", "t", at, [], nested(4)),
            models.Event("deep", "t", at, [], nested(5)),
        ])
        self.assertEqual(["deep"], [r.message_id for r in rejected])
