"""``panko-like://`` in Ceilometer's event pipeline: loaded by
Ceilometer's own publisher loading (the real ``ceilometer`` package),
storing events straight through the storage driver.
"""

import logging
import os
import shutil
import tempfile
import urllib.parse

from panko_like import storage
from tests.functional import backends
from tests.functional.interop.test_ceilometer import (
    T0,
    ceilometer_conf,
    ceilometer_events,
    importing_ceilometer,
)

NAMESPACE = "ceilometer.event.publisher"


class PublisherScenarios:
    def publisher(self, query):
        with importing_ceilometer():
            from ceilometer import publisher

        return publisher.get_publisher(
            ceilometer_conf(), f"panko-like://?{query}", NAMESPACE)

    def by_connection(self):
        return urllib.parse.urlencode({"connection": self.url})

    def stored(self):
        return {e.message_id: e
                for e in self.conn.get_events(storage.EventFilter())}

    def test_events_stored_once_as_sent(self):
        events = ceilometer_events("pub", 3)
        publisher = self.publisher(self.by_connection())
        publisher.publish_events(events)
        # Sent again (the agent redelivered them): stored once.
        with self.assertLogs("panko_like.publisher", logging.DEBUG) as logs:
            publisher.publish_events(events[1:])
        self.assertEqual(2, sum("already stored" in line
                                for line in logs.output))
        stored = self.stored()
        self.assertEqual(["pub-0", "pub-1", "pub-2"], sorted(stored))
        got = stored["pub-1"]
        self.assertEqual(("compute.instance.create.end",
                          T0.replace(second=1)),
                         (got.event_type, got.generated))
        self.assertEqual(
            {"project_id": (1, "p-1"), "memory_mb": (2, 1024),
             "progress": (3, 99.5), "launched_at": (4, T0),
             "note": (1, "untyped")},
            {t.name: (t.dtype, t.value) for t in got.traits})
        self.assertEqual({"payload": {"instance_id": "i-1", "name": "vm ü"}},
                         got.raw)
        publisher.publish_events([])

    def test_a_bad_event_is_logged_and_the_others_stored(self):
        with importing_ceilometer():
            from ceilometer.event import models

        good = ceilometer_events("ok", 2)
        bad = models.Event(
            "bad", "compute.instance.create.end", T0,
            [models.Trait("memory_mb", models.Trait.INT_TYPE, "many")], {})
        publisher = self.publisher(self.by_connection())
        with self.assertLogs("panko_like.publisher", logging.ERROR) as logs:
            publisher.publish_events([good[0], bad, good[1]])
        self.assertEqual(["ok-0", "ok-1"], sorted(self.stored()))
        (line,) = logs.output
        self.assertIn("Event bad not stored", line)
        self.assertIn("memory_mb", line)

    def config_file(self, text):
        """A panko_like.conf of ``text`` in a directory of its own."""
        directory = tempfile.mkdtemp(prefix="panko_like_publisher_")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "panko_like.conf")
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_configuration_file(self):
        path = self.config_file(f"[database]\nconnection = {self.url}\n")
        publisher = self.publisher(
            urllib.parse.urlencode({"config_file": path}))
        publisher.publish_events(ceilometer_events("file", 1))
        self.assertEqual(["file-0"], list(self.stored()))

    def test_mistakes_refused_when_the_pipeline_loads(self):
        typo = self.config_file(f"[database]\nconection = {self.url}\n")
        directory = os.path.dirname(typo)
        bad_value = self.config_file(
            f"[database]\nconnection = {self.url}\nmax_retries = many\n")
        cases = [
            ("conection=x", "unknown parameter(s) 'conection'"),
            (urllib.parse.urlencode({"config_file": typo}),
             "[database] connection is not set"),
            (urllib.parse.urlencode(
                {"config_file": os.path.join(directory, "missing.conf")}),
             "missing.conf"),
            (urllib.parse.urlencode({"config_file": bad_value}),
             "max_retries"),
            ("connection", "cannot read the query"),
            ("=", "unknown parameter(s) ''"),
        ]
        for query, words in cases:
            with self.subTest(query=query):
                with self.assertRaises(ValueError) as caught:
                    self.publisher(query)
                self.assertIn(words, str(caught.exception))
        self.assertEqual({}, self.stored())

    def test_samples_are_not_taken(self):
        publisher = self.publisher(self.by_connection())
        self.assertRaises(NotImplementedError, publisher.publish_samples, [])


globals().update(backends.make_test_cases(
    PublisherScenarios, names=("sqlite", "postgresql")))
