"""The API is stateless: two ``panko-like-api`` processes on different
ports over one database serve as one. Events written through one are
read and deleted through the other, and both apply the same policy and
limits, from the same configuration file."""

import os

from tests.functional import apiserver, backends
from tests.functional.api_base import ADMIN_A, USER_A1

EVENT = {"event_type": "compute.instance.create.end",
         "generated": "2026-03-01T10:00:00.000001", "raw": {},
         "traits": [{"name": "project_id", "type": "string",
                     "value": "proj-a"},
                    {"name": "user_id", "type": "string", "value": "u-a1"}]}


class TwoServersScenarios:
    def setUp(self):
        super().setUp()
        self.servers = apiserver.start_servers(self, 2, self.sections)

    def sections(self, home):
        policy = os.path.join(home, "policy.yaml")
        with open(policy, "w") as f:
            # Members may delete their own events here.
            f.write('"telemetry:events:delete": '
                    '"role:admin or role:member"\n')
        return {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 1,
                    "max_events_per_request": 3},
            "oslo_policy": {"policy_file": policy},
        }

    def test_one_database_two_servers(self):
        first, second = self.servers
        self.assertNotEqual(first.port, second.port)
        posted = first.request("POST", "/v2/events", headers=ADMIN_A, body=[
            dict(EVENT, message_id=f"e{i}") for i in range(3)])
        self.assertEqual(201, posted.status, posted.body)

        listed = second.request("GET", "/v2/events", headers=USER_A1)
        self.assertEqual(["e0", "e1", "e2"],
                         sorted(e["message_id"] for e in listed.json()))
        # The policy file of both lets a member delete its own event.
        deleted = second.request("DELETE", "/v2/events/e1",
                                 headers=USER_A1)
        self.assertEqual(204, deleted.status, deleted.body)
        self.assertEqual(404, first.request("GET", "/v2/events/e1",
                                            headers=USER_A1).status)
        self.assertEqual(200, first.request("GET", "/v2/events/e0",
                                            headers=USER_A1).status)
        for server in self.servers:
            too_many = server.request(
                "POST", "/v2/events", headers=ADMIN_A,
                body=[dict(EVENT, message_id=f"x{i}") for i in range(4)])
            self.assertEqual(413, too_many.status)
            self.assertIn("max_events_per_request",
                          too_many.json()["error_message"]["faultstring"])
            other = server.request("GET", "/v2/events", headers={
                "X-User-Id": "u-b", "X-Project-Id": "proj-b",
                "X-Roles": "member"})
            self.assertEqual([], other.json())


globals().update(backends.make_test_cases(
    TwoServersScenarios, names=("sqlite", "postgresql", "mysql")))
