"""``auth_mode = keystone``: real auth_token middleware, real app.

keystonemiddleware's own AuthTokenFixture stands in for the Keystone
server (it answers auth_token's token lookups); everything else —
auth_token, the identity it hands to the app, our policy and
segregation — runs as in production, through webtest.
"""

import datetime
import uuid

import webtest
from keystonemiddleware import fixture as ksm_fixture
from keystonemiddleware import opts as ksm_opts

from panko_like.api import app
from panko_like.storage import models
from tests.functional import backends

KEYSTONE = "http://127.0.0.1:5000/v3"
PROJECT_A, PROJECT_B = "a" * 32, "b" * 32
USER_A, USER_B = "1" * 32, "2" * 32


def event(message_id, project, user, when):
    traits = [models.Trait("user_id", models.TEXT_TYPE, user)]
    if project is not None:
        traits.append(models.Trait("project_id", models.TEXT_TYPE, project))
    return models.Event(message_id, "compute.instance.create.end",
                        datetime.datetime(2026, 1, 1, 12, 0, when), traits,
                        {})


@backends.requires("events:query:simple")
class KeystoneScenarios:
    def setUp(self):
        super().setUp()
        self.assertEqual([], self.conn.record_events([
            event("a-1", PROJECT_A, USER_A, 1),
            event("a-2", PROJECT_A, USER_B, 2),
            event("b-1", PROJECT_B, USER_B, 3),
            event("none-1", None, USER_B, 4),
        ]))
        self.conf.set_override("auth_mode", "keystone", group="api")
        # What an operator writes in [keystone_authtoken]. The fixture
        # answers auth_token's token lookups, so Keystone is never
        # contacted: the URI only names the realm of the 401 answers.
        for group, options in ksm_opts.list_auth_token_opts():
            self.conf.register_opts(options, group=group)
        self.conf.set_override("www_authenticate_uri", KEYSTONE,
                               group="keystone_authtoken")
        self.tokens = ksm_fixture.AuthTokenFixture()
        self.tokens.setUp()
        self.addCleanup(self.tokens.cleanUp)
        application = app.setup_app(self.conf)
        self.addCleanup(application.storage_holder.close)
        self.app = webtest.TestApp(application)

    def token(self, project, user, *roles, expires=None):
        token_id = uuid.uuid4().hex
        self.tokens.add_token_data(
            token_id=token_id, user_id=user, project_id=project,
            role_list=list(roles), expires=expires)
        return token_id

    def get(self, path, token, status=200, **headers):
        if token is not None:
            headers["X-Auth-Token"] = token
        return self.app.get(path, headers=headers, status=status)

    def listed(self, token, query=""):
        return [e["message_id"]
                for e in self.get("/v2/events" + query, token).json]

    def test_admin_sees_own_project_and_unowned_events(self):
        admin = self.token(PROJECT_A, USER_A, "admin")
        self.assertEqual(["a-1", "a-2", "none-1"], self.listed(admin))
        self.assertEqual(["compute.instance.create.end"],
                         self.get("/v2/event_types", admin).json)

    def test_admin_with_all_tenants_sees_everything(self):
        admin = self.token(PROJECT_B, USER_B, "admin")
        self.assertEqual(
            ["a-1", "a-2", "b-1", "none-1"],
            self.listed(admin, "?q.field=all_tenants&q.value=True"),
        )

    def test_member_sees_own_user_and_project_only(self):
        member = self.token(PROJECT_A, USER_A, "member")
        self.assertEqual(["a-1"], self.listed(member))
        # As in Panko, a member's all_tenants is a filter on a trait of
        # that name, which no event has: never a way out of segregation.
        self.assertEqual(
            [], self.listed(member, "?q.field=all_tenants&q.value=True")
        )
        self.get("/v2/events/a-2", member, status=404)
        self.get("/v2/event_types", member, status=401)

    def test_member_cannot_claim_roles_with_headers(self):
        # auth_token replaces identity headers with the token's.
        member = self.token(PROJECT_B, USER_B, "member")
        forged = {"X-Roles": "admin", "X-Project-Id": PROJECT_A,
                  "X-User-Id": USER_A}
        answer = self.get("/v2/events", member, **forged)
        self.assertEqual(["b-1"],
                         [e["message_id"] for e in answer.json])
        self.get("/v2/event_types", member, status=401, **forged)

    def test_post_needs_an_admin_token(self):
        body = [{"message_id": "new", "event_type": "t",
                 "generated": "2026-01-01T00:00:00", "traits": [],
                 "raw": {}}]
        member = self.token(PROJECT_A, USER_A, "member")
        self.app.post_json("/v2/events", body, status=403,
                           headers={"X-Auth-Token": member})
        admin = self.token(PROJECT_A, USER_A, "admin")
        self.app.post_json("/v2/events", body, status=201,
                           headers={"X-Auth-Token": admin})

    def test_invalid_or_missing_token_is_401(self):
        for token in ("not-a-token", None):
            with self.subTest(token=token):
                answer = self.get("/v2/events", token, status=401)
                self.assertIn(KEYSTONE,
                              answer.headers["WWW-Authenticate"])
        # Identity headers without a token are not an identity.
        self.get("/v2/events", None, status=401,
                 **{"X-User-Id": USER_A, "X-Project-Id": PROJECT_A,
                    "X-Roles": "admin"})

    def test_expired_token_is_401(self):
        expired = self.token(PROJECT_A, USER_A, "admin",
                             expires=datetime.datetime(2000, 1, 1))
        self.get("/v2/events", expired, status=401)

    def test_versions_and_healthcheck_need_no_token(self):
        self.assertIn("versions", self.get("/", None).json)
        self.get("/healthcheck", None)


globals().update(backends.make_test_cases(KeystoneScenarios))
