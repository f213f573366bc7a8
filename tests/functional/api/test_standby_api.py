"""The API with [database] read_from_standby, over a PostgreSQL primary
and a streaming standby (the URL lists the primary first).

While the standby's replay is paused, an event just posted is not found
through it, and is with ``Cache-Control: no-cache`` (read from the
primary); once the standby is stopped, every read answers as before,
from the primary.
"""

from tests.functional import pgcluster
from tests.functional.api.test_failover_api import api_event
from tests.functional.apiserver import ADMIN

FRESH = dict(ADMIN, **{"Cache-Control": "no-cache"})


class TestReadsOnStandby(pgcluster.PairTestCase):
    def answers(self, server, headers=ADMIN):
        """What the read endpoints answer, as (status, JSON) pairs."""
        paths = ("/v2/events?limit=100", "/v2/event_types",
                 "/v2/event_types/failover.test/traits",
                 "/v2/event_types/failover.test/traits/n")
        got = []
        for path in paths:
            answer = server.request("GET", path, headers=headers)
            self.assertEqual(200, answer.status, answer.body)
            got.append(answer.json())
        return got

    def test_reads_from_the_standby(self):
        url = self.pair.url(self.primary, self.standby)
        self.upgrade(url)
        server = self.start_api(url, read_from_standby="true")
        posted = server.request("POST", "/v2/events", headers=ADMIN,
                                body=[api_event(f"s{i}") for i in range(3)])
        self.assertEqual(201, posted.status, posted.body)
        self.pair.wait_replicated(3)

        self.standby.psql("SELECT pg_wal_replay_pause()")
        posted = server.request("POST", "/v2/events", headers=ADMIN,
                                body=[api_event("s3")])
        self.assertEqual(201, posted.status, posted.body)
        # The standby lags behind: the new event is on the primary only.
        self.assertEqual(404, server.request(
            "GET", "/v2/events/s3", headers=ADMIN).status)
        self.assertEqual(200, server.request(
            "GET", "/v2/events/s3", headers=FRESH).status)
        self.standby.psql("SELECT pg_wal_replay_resume()")
        self.pair.wait_replicated(4)
        expected = self.answers(server, FRESH)
        self.assertEqual(4, len(expected[0]))
        self.assertEqual(expected, self.answers(server))

        self.standby.stop()
        self.assertEqual(expected, self.answers(server))
        self.assertEqual(200, server.request(
            "GET", "/v2/events/s3", headers=ADMIN).status)
