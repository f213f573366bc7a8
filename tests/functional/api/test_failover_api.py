"""A PostgreSQL failover under a client writing through the API.

A primary and a synchronous standby (the primary acknowledges a commit
once the standby has it): the API's URL lists the standby first. A
client posts batches of events without pause, resending a batch until
it is acknowledged, as a notifier does; meanwhile the primary is killed
and the standby promoted. Every acknowledged event must be stored
exactly once, and the outage (the longest time without an
acknowledgement) stays within a generous bound; its figures are printed
on one line.
"""

import socket
import threading
import time

from tests.functional import pgcluster
from tests.functional.apiserver import ADMIN

#: Events per POST.
BATCH = 10
#: Acknowledged batches before the failover, and after it.
BEFORE = AFTER = 20
#: The longest outage tolerated, however loaded the machine: a bound
#: against hangs, not the figure to reach (printed, not asserted).
OUTAGE_BOUND = 20.0


def api_event(message_id):
    return {"message_id": message_id, "event_type": "failover.test",
            "generated": "2026-03-01T10:00:00.000001", "raw": {},
            "traits": [{"name": "n", "type": "string", "value": message_id}]}


class Sender(threading.Thread):
    """Posts batches until stopped, each until acknowledged (201)."""

    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.halt = threading.Event()
        #: (monotonic time, message_ids) of each acknowledged batch.
        self.acks = []
        self.sent = set()
        self.refused = 0
        self.error = None

    def run(self):
        try:
            batch = 0
            while not self.halt.is_set():
                ids = [f"f{batch:05d}-{i}" for i in range(BATCH)]
                self.send(ids)
                self.acks.append((time.monotonic(), ids))
                batch += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def send(self, ids):
        self.sent.update(ids)
        body = [api_event(message_id) for message_id in ids]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            answer = self.server.request("POST", "/v2/events", body=body,
                                         headers=ADMIN, timeout=60)
            if answer.status == 201:
                return
            if answer.status != 503:
                raise AssertionError(f"{answer.status}: {answer.body}")
            self.refused += 1
            time.sleep(0.05)
        raise AssertionError("a batch was never acknowledged")

    def acked_since(self, moment):
        return sum(1 for at, _ in self.acks if at > moment)

    def outage(self):
        """The longest time between two acknowledgements."""
        times = [at for at, _ in self.acks]
        return max(b - a for a, b in zip(times, times[1:], strict=False))


class TestFailoverThroughTheAPI(pgcluster.PairTestCase):
    synchronous = True

    def test_acknowledged_events_survive_a_failover(self):
        url = self.pair.url()
        self.upgrade(url)
        sender = Sender(self.start_api(url))
        sender.start()
        self.addCleanup(sender.join, 180)
        self.addCleanup(sender.halt.set)
        self.pair.wait(lambda: len(sender.acks) >= BEFORE or sender.error,
                       "no batch acknowledged before the failover")
        killed = time.monotonic()
        self.primary.stop()
        self.standby.promote()
        promoted = time.monotonic() - killed
        self.pair.wait(
            lambda: sender.acked_since(killed) >= AFTER or sender.error,
            "no batch acknowledged after the failover")
        sender.halt.set()
        sender.join(180)
        self.assertIsNone(sender.error)

        acked = [m for _, ids in sender.acks for m in ids]
        rows = self.standby.psql(
            "SELECT message_id FROM event", "events").split()
        duplicates = len(rows) - len(set(rows))
        lost = set(acked) - set(rows)
        outage = sender.outage()
        print(f"PostgreSQL failover through the API: acknowledged="
              f"{len(acked)} stored={len(set(rows) & set(acked))} "
              f"duplicates={duplicates} lost={len(lost)} "
              f"outage={outage:.2f}s (stop and promote: {promoted:.2f}s) "
              f"503s={sender.refused}")
        self.assertEqual(set(), lost)
        self.assertEqual(0, duplicates)
        self.assertLessEqual(set(rows), sender.sent)
        self.assertLess(outage, OUTAGE_BOUND)

    def test_first_listed_host_down_at_start(self):
        """The API starts and serves with a dead host first in the list:
        one refusing connections, and one that never answers (a
        powered-off machine: each new connection waits connect_timeout
        for it)."""
        silent = socket.socket()
        self.addCleanup(silent.close)
        silent.bind(("127.0.0.1", 0))
        silent.listen(100)  # accepted by the kernel, never answered
        refusing = pgcluster.free_port()
        self.upgrade(self.pair.url(self.primary))
        for dead in (refusing, silent.getsockname()[1]):
            with self.subTest(dead=dead):
                url = (f"postgresql://postgres@127.0.0.1:{dead},"
                       f"{self.pair.hosts(self.primary)}/events")
                server = self.start_api(url, connect_timeout=1)
                ids = [f"d{dead}-{i}" for i in range(3)]
                posted = server.request(
                    "POST", "/v2/events", headers=ADMIN,
                    body=[api_event(m) for m in ids])
                self.assertEqual(201, posted.status, posted.body)
                for message_id in ids:
                    got = server.request("GET", f"/v2/events/{message_id}",
                                         headers=ADMIN)
                    self.assertEqual(200, got.status, got.body)
