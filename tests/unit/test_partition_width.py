"""How many days one PostgreSQL partition holds."""

import unittest

from panko_like import service
from panko_like.storage.sqlalchemy import partitions

DAY = 86400


def width(**options):
    conf = service.prepare_service([], config_files=[])
    for name, value in options.items():
        conf.set_override(name, value, group="database")
    return partitions.partition_width(conf)


class TestPartitionWidth(unittest.TestCase):
    def test_one_day_each_while_the_time_to_live_is_short(self):
        for days in (1, 7, 30, 60):
            with self.subTest(days=days):
                self.assertEqual(1, width(event_time_to_live=days * DAY))
        # A part of a day counts as a whole one.
        self.assertEqual(1, width(event_time_to_live=3600))

    def test_longer_times_to_live_keep_about_sixty_partitions(self):
        for days, expected in ((61, 2), (90, 2), (365, 7), (3650, 61)):
            with self.subTest(days=days):
                self.assertEqual(expected,
                                 width(event_time_to_live=days * DAY))
        self.assertEqual(2, width(event_time_to_live=60 * DAY + 1))

    def test_events_kept_forever_get_thirty_days(self):
        self.assertEqual(30, width())
        self.assertEqual(30, width(event_time_to_live=0))

    def test_the_option_wins(self):
        self.assertEqual(3, width(partition_days=3))
        self.assertEqual(1, width(partition_days=1,
                                  event_time_to_live=3650 * DAY))

    def test_without_configuration_one_day(self):
        self.assertEqual(1, partitions.partition_width(None))
