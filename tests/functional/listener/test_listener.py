"""``panko-like-listener`` against the machine's RabbitMQ, run as a real
process group: the services' notifications and Ceilometer's
``notifier://`` events stored, malformed messages dropped while the
others are stored, a storage outage survived, and a SIGKILL in the
middle of a stream costing no notification and storing none twice.
"""

import datetime
import os
import shutil
import tempfile
import textwrap
import threading
import urllib.parse

from oslo_context.context import RequestContext

from panko_like import storage
from tests.functional import backends, dataset
from tests.functional.api.test_outage import ProxyLoss
from tests.functional.bus import Bus, Listener, wait_until
from tests.functional.interop.test_ceilometer import (
    ceilometer_conf,
    ceilometer_events,
    importing_ceilometer,
)

DEFINITIONS = textwrap.dedent("""\
    - event_type: compute.instance.*
      traits: &instance
        instance_id:
          fields: payload.instance_id
        memory_mb:
          type: int
          fields: payload.memory_mb
        launched_at:
          type: datetime
          fields: payload.launched_at
        host:
          fields: publisher_id.`split(., 1, 1)`
    - event_type: compute.instance.create.end
      traits:
        <<: *instance
        zone:
          fields: [payload.availability_zone, payload.az]
    - event_type: ['*', '!compute.*', '!image.*']
      traits:
        kind:
          fields: payload.kind
        number:
          type: int
          fields: payload.number
    """)

#: How long a test waits for the listener to store what it was sent.
PATIENCE = 60


class ListenerScenarios:
    #: [listener] options of the test's configuration file.
    listener_options = {"batch_size": 50}

    def setUp(self):
        super().setUp()
        self.bus = Bus(self)
        self.dir = tempfile.mkdtemp(prefix="panko_like_listener_")
        self.addCleanup(shutil.rmtree, self.dir)
        self.definitions = os.path.join(self.dir, "definitions.yaml")
        with open(self.definitions, "w") as f:
            f.write(DEFINITIONS)

    def config(self, url=None, **options):
        """A configuration file for the listener; returns its path."""
        listener = {"topics": self.bus.topic,
                    "definitions_file": self.definitions,
                    "requeue_delay": 0.5, **self.listener_options, **options}
        lines = ["[DEFAULT]", f"transport_url = {self.bus.url}",
                 "[database]", f"connection = {url or self.url}",
                 "max_retries = 0", "[listener]"]
        lines += [f"{key} = {value}" for key, value in listener.items()]
        path = os.path.join(self.dir, "listener.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def listener(self, config_path):
        listener = Listener(self, config_path,
                            os.path.join(self.dir, "listener.log"))
        listener.start()
        self.bus.wait_for_queues()
        return listener

    def stored(self):
        return {e.message_id: e
                for e in self.conn.get_events(storage.EventFilter())}

    def wait_for(self, count, listener):
        try:
            wait_until(lambda: len(self.stored()) >= count, PATIENCE,
                       what=f"{count} events stored")
        except AssertionError as exc:
            exc.add_note("The listener's log:\n" + listener.log())
            raise
        return self.stored()

    def test_notifications_become_events_by_the_definitions(self):
        listener = self.listener(self.config())
        notifier = self.bus.notifier("compute.host-7.example")
        # Services send a RequestContext (a dict would be dropped).
        context = RequestContext(project_id="p-ctx", user_id="u-1",
                                 request_id="req-1")
        notifier.info(context, "compute.instance.create.end", {
            "tenant_id": "p-1", "instance_id": "i-1", "memory_mb": "512",
            "launched_at": "2026-11-30T10:00:00.5+01:00", "az": "nova"})
        notifier.warn(context, "compute.instance.update", {
            "instance_id": "i-2", "memory_mb": "a lot"})
        notifier.info({}, "volume.create.end", {"kind": {"ssd": True}})
        notifier.error({}, "image.upload", "a payload that is text")
        stored = self.wait_for(4, listener)
        by_type = {e.event_type: e for e in stored.values()}

        created = by_type["compute.instance.create.end"]
        self.assertEqual(
            {"service": (1, "compute.host-7.example"),
             "request_id": (1, "req-1"), "project_id": (1, "p-1"),
             "tenant_id": (1, "p-1"), "user_id": (1, "u-1"),
             "instance_id": (1, "i-1"), "memory_mb": (2, 512),
             "launched_at": (4, datetime.datetime(2026, 11, 30, 9, 0, 0,
                                                  500000)),
             "host": (1, "host-7.example"), "zone": (1, "nova")},
            {t.name: (t.dtype, t.value) for t in created.traits})
        # The oslo.messaging message id and time, never the listener's.
        self.assertEqual({}, created.raw)
        age = datetime.datetime.utcnow() - created.generated
        self.assertLess(abs(age.total_seconds()), 300)

        # A value that does not fit its type leaves that trait out only.
        updated = by_type["compute.instance.update"]
        self.assertEqual(
            {"service", "request_id", "project_id", "tenant_id", "user_id",
             "instance_id", "host"},
            {t.name for t in updated.traits})
        # Objects keep their JSON text; a type no definition covers but
        # the catch-all gets the default traits.
        kind = by_type["volume.create.end"]
        self.assertIn(("kind", 1, '{"ssd":true}'),
                      [(t.name, t.dtype, t.value) for t in kind.traits])
        self.assertEqual({"service": "compute.host-7.example"},
                         {t.name: t.value
                          for t in by_type["image.upload"].traits})
        self.assertEqual(0, self.bus.depth())
        self.assertEqual(0, listener.stop())

    def test_ceilometer_notifier_publisher_events_stored_as_sent(self):
        listener = self.listener(self.config(store_raw="info"))
        with importing_ceilometer():
            from ceilometer import publisher

        # The publisher's URL names the broker (as rabbit://).
        broker = urllib.parse.urlsplit(self.bus.url).netloc
        sender = publisher.get_publisher(
            ceilometer_conf(),
            f"notifier://{broker}/?topic={self.bus.topic}",
            "ceilometer.event.publisher")
        events = ceilometer_events("cm", 5)
        sender.publish_events(events[:3])
        sender.publish_events(events[2:])  # one sent twice: stored once
        stored = self.wait_for(5, listener)
        self.assertEqual(
            {e.message_id: dataset.normalized(e) for e in events},
            {key: dataset.normalized(e) for key, e in stored.items()})
        wait_until(lambda: self.bus.depth() == 0, PATIENCE,
                   what="an empty queue")

    def test_malformed_messages_are_dropped_and_the_others_stored(self):
        listener = self.listener(self.config())
        good = {"event_type": "good.one", "payload": {"kind": "k"},
                "priority": "INFO", "publisher_id": "svc.h",
                "message_id": "good-1",
                "timestamp": "2026-01-01 00:00:00.000001"}
        published = {"message_id": "c-ok", "event_type": "a.b",
                     "generated": "2026-01-01T00:00:00",
                     "traits": [["n", 2, 5]], "raw": {}}
        self.bus.publish_raw(b"not json at all")
        self.bus.publish_raw(b"[1, 2")
        self.bus.publish_raw(dict(good, message_id="bad-time",
                                  timestamp="yesterday"))
        self.bus.publish_raw(dict(good, message_id=None))
        self.bus.publish_raw({k: v for k, v in good.items()
                              if k != "event_type"})
        self.bus.publish_raw(dict(good, message_id="bad-depth",
                                  timestamp=["2026"]))
        self.bus.publish_raw(dict(
            good, message_id="m-list", priority="SAMPLE", payload=[
                dict(published, message_id="c-bad", traits=[["n", 2, "x"]]),
                "not an event", dict(published, unknown=1), published]),
            priority="sample")
        self.bus.publish_raw(good)
        stored = self.wait_for(2, listener)
        wait_until(lambda: self.bus.depth() == 0, PATIENCE,
                   what="an empty queue")
        self.assertEqual(["c-ok", "good-1"], sorted(self.stored()))
        self.assertEqual([("n", 2, 5)],
                         [(t.name, t.dtype, t.value)
                          for t in stored["c-ok"].traits])
        log = listener.log()
        for words in ("Notification bad-time (good.one) dropped",
                      "not an ISO 8601 datetime",
                      "Notification None (good.one) dropped",
                      "has no event_type",
                      "Event c-bad of notification m-list dropped",
                      "Event None of notification m-list dropped"):
            self.assertIn(words, log)
        # Still consuming after all of that.
        self.bus.publish_raw(dict(good, message_id="good-2"))
        self.wait_for(3, listener)
        self.assertEqual(0, listener.stop())

    def test_sigkill_mid_stream_loses_nothing_and_stores_nothing_twice(self):
        total = 3000 if not backends.BACKENDS[self.backend_name].slow \
            else 600
        config = self.config(workers=2)
        listener = self.listener(config)
        notifier = self.bus.notifier()

        def send():
            for number in range(total):
                notifier.info({"project_id": "p-kill"}, "kill.test",
                              {"number": number})
        sender = threading.Thread(target=send)
        sender.start()
        self.addCleanup(sender.join)
        wait_until(lambda: len(self.stored()) >= total // 5, PATIENCE,
                   what="a fifth of the stream stored")
        listener.kill()
        at_kill = len(self.stored())
        sender.join()
        self.assertLess(at_kill, total, "the stream ended before the kill")

        restarted = self.listener(config)
        stored = self.wait_for(total, restarted)
        wait_until(lambda: self.bus.depth() == 0, PATIENCE,
                   what="an empty queue")
        # Every notification sent is there, once.
        numbers = sorted(t.value for e in stored.values()
                         for t in e.traits if t.name == "number")
        self.assertEqual(list(range(total)), numbers)
        self.assertEqual(total, len(list(self.conn.get_events(
            storage.EventFilter(event_type="kill.test")))))
        # The figures of the run, for the record (stestr shows them).
        print(f"{self.backend_name}: {total} notifications sent, "
              f"{at_kill} events stored at the SIGKILL, {len(stored)} "
              f"after the restart, each notification once")
        self.assertEqual(0, restarted.stop())


class OutageScenarios:
    """The storage lost while notifications arrive: nothing acknowledged
    until stored, everything stored once it is back."""

    def count(self):
        return len(list(self.conn.get_events(storage.EventFilter())))

    def test_batches_requeued_while_the_storage_is_down(self):
        self.bus = Bus(self)
        self.dir = tempfile.mkdtemp(prefix="panko_like_listener_")
        self.addCleanup(shutil.rmtree, self.dir)
        loss = ProxyLoss(self.url)
        self.addCleanup(loss.proxy.close)
        path = os.path.join(self.dir, "listener.conf")
        with open(path, "w") as f:
            f.write(f"[DEFAULT]\ntransport_url = {self.bus.url}\n"
                    f"[database]\nconnection = {loss.url}\nmax_retries = 0\n"
                    f"[listener]\ntopics = {self.bus.topic}\n"
                    "requeue_delay = 0.5\nbatch_size = 10\n")
        listener = Listener(self, path, os.path.join(self.dir, "log"))
        listener.start()
        self.bus.wait_for_queues()
        notifier = self.bus.notifier()
        notifier.info({}, "outage.before", {})
        wait_until(lambda: self.count() == 1, PATIENCE,
                   what="the first event")

        loss.lose()
        for number in range(20):
            notifier.info({}, "outage.during", {"n": number})
        # Requeued, then delivered and requeued again: not acknowledged.
        wait_until(lambda: listener.log().count("notifications requeued")
                   >= 2, PATIENCE, what="two requeues")
        self.assertEqual(1, self.count())

        loss.restore()
        wait_until(lambda: self.count() == 21, PATIENCE,
                   what="every event")
        wait_until(lambda: self.bus.depth() == 0, PATIENCE,
                   what="an empty queue")
        self.assertEqual(0, listener.stop())


globals().update(backends.make_test_cases(
    ListenerScenarios, names=("sqlite", "postgresql")))
globals().update(backends.make_test_cases(
    OutageScenarios, names=("postgresql",)))
