"""storage.base.collector_paused: the collector is off for a batch, and
on again after the last of nested or concurrent pauses."""

import gc
import threading
import unittest

from panko_like.storage import base


class TestCollectorPaused(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.assertTrue(gc.isenabled())
        self.addCleanup(gc.enable)

    def test_off_inside_on_after(self):
        with base.collector_paused():
            self.assertFalse(gc.isenabled())
        self.assertTrue(gc.isenabled())

    def test_on_again_after_an_error(self):
        with self.assertRaises(KeyError):
            with base.collector_paused():
                raise KeyError("boom")
        self.assertTrue(gc.isenabled())

    def test_left_off_when_it_was_off(self):
        gc.disable()
        with base.collector_paused():
            self.assertFalse(gc.isenabled())
        self.assertFalse(gc.isenabled())

    def test_nested_pauses_end_with_the_outer_one(self):
        with base.collector_paused():
            with base.collector_paused():
                pass
            self.assertFalse(gc.isenabled())
        self.assertTrue(gc.isenabled())

    def test_concurrent_pauses_end_with_the_last(self):
        inside, release = threading.Event(), threading.Event()

        def other():
            with base.collector_paused():
                inside.set()
                release.wait(10)

        thread = threading.Thread(target=other)
        thread.start()
        self.addCleanup(thread.join)
        self.assertTrue(inside.wait(10))
        with base.collector_paused():
            pass
        # The other thread's pause still runs.
        self.assertFalse(gc.isenabled())
        release.set()
        thread.join(10)
        self.assertTrue(gc.isenabled())

    def test_decorator_passes_arguments_and_result(self):
        @base.pauses_collector
        def add(a, b=0):
            self.assertFalse(gc.isenabled())
            return a + b

        self.assertEqual(5, add(2, b=3))
        self.assertTrue(gc.isenabled())
