"""Hardening of the v2 API, through the real WSGI stack, on every backend.

Each scenario reproduces a failure of the hardening issue: a delete
outside the caller's scope, a ``raw`` nested too deeply, values that
changed on their way into storage.
"""

import os
import tempfile

from tests.functional import backends
from tests.functional.api_base import (
    ADMIN_A,
    ADMIN_B,
    ALL,
    USER_A1,
    USER_B,
    APITestCase,
)

EVENTS_LOG = "panko_like.api.controllers.v2.events"


class DeleteScopeScenarios:
    """DELETE /v2/events/{id} sees exactly what GET sees."""

    def visible(self, headers=ADMIN_A):
        return [e["message_id"] for e in self.app.get(
            "/v2/events?q.field=all_tenants&q.value=True",
            headers=headers).json]

    def test_admin_cannot_delete_another_projects_event(self):
        self.load()
        self.get("/v2/events/b1", headers=ADMIN_A, status=404)
        self.assertError(
            self.app.delete("/v2/events/b1", headers=ADMIN_A, status=404),
            404, "Event b1 Not Found")
        self.assertEqual(ALL, self.visible())

    def test_admin_deletes_what_it_sees(self):
        self.load()
        for message_id in ("a1", "np", "bare"):
            self.get(f"/v2/events/{message_id}", headers=ADMIN_A)
            self.app.delete(f"/v2/events/{message_id}", headers=ADMIN_A,
                            status=204)
            self.get(f"/v2/events/{message_id}", headers=ADMIN_A,
                     status=404)
        self.assertEqual(["a2", "b1"], self.visible())

    def test_all_tenants_delete_outside_the_scope_is_logged(self):
        self.load()
        with self.assertLogs(EVENTS_LOG, "INFO") as logs:
            self.app.delete("/v2/events/b1?all_tenants=True",
                            headers=ADMIN_A, status=204)
        (line,) = logs.output
        self.assertIn("b1", line)
        self.assertIn("admin-a", line)
        self.assertIn("proj-a", line)
        self.assertTrue(line.startswith("INFO:"))
        self.assertEqual(["a1", "a2", "np", "bare"], self.visible())
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=True",
                            headers=ADMIN_A, status=404),
            404, "Event b1 Not Found")

    def test_delete_within_the_scope_is_not_logged_as_wide(self):
        self.load()
        with self.assertNoLogs(EVENTS_LOG, "INFO"):
            self.app.delete("/v2/events/a1?all_tenants=True",
                            headers=ADMIN_A, status=204)
            self.app.delete("/v2/events/b1", headers=ADMIN_B, status=204)

    def test_show_with_all_tenants_matches_delete(self):
        self.load()
        body = self.get("/v2/events/b1?all_tenants=True",
                        headers=ADMIN_A).json
        self.assertEqual("b1", body["message_id"])
        self.get("/v2/events/b1?all_tenants=False", headers=ADMIN_A,
                 status=404)

    def test_bad_arguments_of_delete(self):
        self.load()
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=maybe",
                            headers=ADMIN_A, status=400),
            400, "Invalid input for field/attribute all_tenants. Value: "
            "'maybe'. expected true or false.")
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenant=True",
                            headers=ADMIN_A, status=400),
            400, 'Unknown argument: "all_tenant"')
        self.assertError(
            self.app.delete("/v2/events/b1?all_tenants=1&all_tenants=1",
                            headers=ADMIN_A, status=400),
            400, "all_tenants may be given only once.")
        self.assertEqual(ALL, self.visible())

    def test_members_allowed_to_delete_see_only_their_own(self):
        path = os.path.join(tempfile.mkdtemp(), "policy.yaml")
        with open(path, "w") as f:
            f.write('"telemetry:events:delete": ""\n')
        self.conf.set_override("policy_file", path, group="oslo_policy")
        app = self.make_app()
        self.load()
        # all_tenants widens nothing for a member, in GET or DELETE.
        for message_id in ("a2", "b1", "np", "bare"):
            app.get(f"/v2/events/{message_id}?all_tenants=True",
                    headers=USER_A1, status=404)
            app.delete(f"/v2/events/{message_id}?all_tenants=True",
                       headers=USER_A1, status=404)
        app.delete("/v2/events/a1", headers=USER_A1, status=204)
        app.delete("/v2/events/b1", headers=USER_B, status=204)
        self.assertEqual(["a2", "np", "bare"], self.visible())


class HardeningScenarios(DeleteScopeScenarios):
    pass


globals().update(backends.make_test_cases(HardeningScenarios,
                                          base=APITestCase))
