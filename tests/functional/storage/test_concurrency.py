"""Writers racing on the same message ids lose nothing, store nothing twice."""

import concurrent.futures
import datetime

from panko_like import storage
from panko_like.storage import models
from tests.functional import backends

WRITERS = 4


def batch(start, stop):
    return [
        models.Event(
            f"msg-{i:05d}", f"type.{i % 3}",
            datetime.datetime(2026, 1, 1) + datetime.timedelta(seconds=i),
            [models.Trait("i", models.INT_TYPE, i),
             models.Trait("s", models.TEXT_TYPE, f"v{i}")],
        )
        for i in range(start, stop)
    ]


@backends.requires("events:query:simple")
class ConcurrencyScenarios:
    def test_overlapping_batches_from_concurrent_writers(self):
        # Each writer has its own connection (as API workers do) and
        # sends batches that overlap the other writers' batches.
        conns = [storage.get_connection(self.url, self.conf)
                 for _ in range(WRITERS)]
        for conn in conns:
            self.addCleanup(conn.close)

        def write(n):
            rejected = []
            for round_ in range(5):
                start = round_ * 100 + n * 25
                rejected += conns[n].record_events(batch(start, start + 150))
            return rejected

        with concurrent.futures.ThreadPoolExecutor(WRITERS) as pool:
            results = list(pool.map(write, range(WRITERS)))

        stored = [e for e in self.conn.get_events(storage.EventFilter())]
        ids = [e.message_id for e in stored]
        want = sorted({e.message_id for r in range(5) for n in range(WRITERS)
                       for e in batch(r * 100 + n * 25, r * 100 + n * 25
                                      + 150)})
        self.assertEqual(want, sorted(ids))
        for event in stored:
            i = int(event.message_id.split("-")[1])
            self.assertEqual([("i", i), ("s", f"v{i}")],
                             [(t.name, t.value) for t in event.traits])
        problems = {r.problem for rs in results for r in rs}
        self.assertLessEqual(problems, {models.Problem.DUPLICATE})
        sent = sum(150 * 5 for _ in range(WRITERS))
        duplicates = sum(len(rs) for rs in results)
        self.assertEqual(sent - len(want), duplicates)


globals().update(backends.make_test_cases(ConcurrencyScenarios))
