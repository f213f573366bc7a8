"""The API over a real MariaDB Galera cluster of three nodes.

Events are posted continuously through ``panko-like-api`` processes
whose ``[database] connection`` lists the three nodes. A sender resends
a batch until it is acknowledged (201), as a real one would after a
503. Checked afterwards on every node still up: each acknowledged event
is stored, and stored once.

- Failover: the node being written to is killed (SIGKILL) mid-stream;
  writing moves to the next node. The outage, from the kill to the
  first acknowledged write sent after it, is printed.
- Multi-writer: two API processes write to two different nodes at once,
  the same message_ids through both.
"""

import sys
import threading
import time
import unittest

from panko_like import storage
from tests.functional import apiserver, galera

EVENT_TYPE = "compute.instance.exists"
BATCH = 20
#: Seconds each sender may spend on one batch before the test fails.
BATCH_DEADLINE = 90


def api_events(numbers):
    return [{"message_id": f"m{i:06d}", "event_type": EVENT_TYPE,
             "generated": "2026-03-01T10:00:00.000001",
             "traits": [{"name": "n", "type": "integer", "value": str(i)},
                        {"name": "project_id", "type": "string",
                         "value": "p-admin"}],
             "raw": {"n": i}} for i in numbers]


class Sender:
    """Posts batches, each until acknowledged; keeps what happened."""

    def __init__(self, server):
        self.server = server
        #: (sent at, answered at) of each acknowledged request.
        self.acks = []
        #: The message_ids acknowledged.
        self.acknowledged = set()
        #: Events each 201 reported stored (not duplicates).
        self.stored = 0
        self.failures = 0

    def send(self, numbers):
        body = api_events(numbers)
        deadline = time.monotonic() + BATCH_DEADLINE
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                answer = self.server.request(
                    "POST", "/v2/events", body=body, headers=apiserver.ADMIN,
                    timeout=30)
            except OSError:
                answer = None
            if answer is not None and answer.status == 201:
                self.acks.append((sent, time.monotonic()))
                self.acknowledged.update(e["message_id"] for e in body)
                self.stored += answer.json()["stored"]
                return
            self.failures += 1
            time.sleep(0.1)
        raise AssertionError(f"batch {numbers[0]} never acknowledged:\n"
                             f"{self.server.logs()}")


class GaleraAPITestCase(galera.ClusterTestCase, unittest.TestCase):

    def start_api(self, nodes=None):
        conn = self.connect(nodes)
        conn.upgrade()
        conn.close()
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.cluster.url(self.database,
                                                        nodes)},
            "api": {"auth_mode": "noauth", "workers": 1},
        })
        server.args[:0] = ["--config-file", path]
        return server.start()

    def check_stored(self, acknowledged):
        """Every acknowledged event on every living node, once; the
        figures (stored, duplicates) of the first."""
        figures = None
        for node in self.cluster.alive():
            ids = galera.stored_ids(node, self.database)
            duplicates = len(ids) - len(set(ids))
            self.assertEqual(0, duplicates, node.name)
            self.assertEqual(set(), acknowledged - set(ids), node.name)
            # Readable through the driver too, from this node alone.
            read = {event.message_id for event in self.connect(
                [node]).get_events(storage.EventFilter(
                    event_type=EVENT_TYPE))}
            self.assertEqual(set(ids), read, node.name)
            figures = figures or (len(ids), duplicates)
        return figures


class TestGaleraFailover(GaleraAPITestCase):
    own_cluster = True

    def test_writes_survive_losing_the_node_written_to(self):
        server = self.start_api()
        sender = Sender(server)
        stop = threading.Event()
        errors = []

        def ingest():
            try:
                start = 0
                while not stop.is_set():
                    sender.send(range(start, start + BATCH))
                    start += BATCH
            except BaseException as exc:
                errors.append(exc)

        thread = threading.Thread(target=ingest, daemon=True)
        thread.start()
        self.addCleanup(stop.set)
        wait_for(lambda: len(sender.acks) >= 20 or errors, "first writes")
        victim = self.written_to()
        self.assertIs(self.cluster.nodes[0], victim)
        killed = time.monotonic()
        victim.kill()
        wait_for(lambda: any(sent > killed for sent, _ in sender.acks)
                 and len(sender.acks) >= 40 or errors,
                 "writes after the kill", timeout=BATCH_DEADLINE)
        stop.set()
        thread.join(BATCH_DEADLINE + 30)
        self.assertEqual([], errors)
        outage = min(done for sent, done in sender.acks
                     if sent > killed) - killed
        stored, duplicates = self.check_stored(sender.acknowledged)
        print(f"\ngalera failover: acknowledged {len(sender.acknowledged)}"
              f", stored {stored}, duplicates {duplicates}, outage "
              f"{outage:.2f} s ({sender.failures} requests resent)",
              file=sys.stderr)
        self.assertEqual(len(sender.acknowledged), stored)

    def written_to(self):
        """The node holding the API's connections to this database."""
        for node in self.cluster.nodes:
            (count,), = node.query(
                "SELECT count(*) FROM information_schema.processlist "
                f"WHERE db = '{self.database}'")
            if count:
                return node
        self.fail("the API holds no connection to any node")


class TestGaleraMultiWriter(GaleraAPITestCase):

    def test_two_servers_on_two_nodes_same_message_ids(self):
        first, second, third = self.cluster.nodes
        senders = [Sender(self.start_api([first, second, third])),
                   Sender(self.start_api([second, third, first]))]
        conflicts = self.conflicts()
        # Both send each batch of message_ids, in the same order: each
        # is written on both nodes at about the same time.
        threads = [threading.Thread(
            target=lambda s=sender: [
                s.send(range(n, n + BATCH)) for n in range(0, 1000, BATCH)],
            daemon=True) for sender in senders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(BATCH_DEADLINE * 2)
        expected = {f"m{i:06d}" for i in range(1000)}
        for sender in senders:
            self.assertEqual(expected, sender.acknowledged)
        stored, duplicates = self.check_stored(expected)
        self.assertEqual((1000, 0), (stored, duplicates))
        if not any(sender.failures for sender in senders):
            # Each event reported stored by exactly one of the two.
            self.assertEqual(1000, sum(s.stored for s in senders))
        print(f"\ngalera multi-writer: acknowledged {len(expected)} by "
              f"both servers, stored {stored}, duplicates {duplicates}, "
              f"reported stored {[s.stored for s in senders]}, "
              f"certification conflicts {self.conflicts() - conflicts}",
              file=sys.stderr)

    def conflicts(self):
        """Transactions the cluster's nodes rolled back for conflicting
        with another node's, so far."""
        return sum(int(node.status(name)) for node in self.cluster.nodes
                   for name in ("wsrep_local_cert_failures",
                                "wsrep_local_bf_aborts"))


def wait_for(condition, what, timeout=60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.05)
