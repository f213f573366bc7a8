"""``auth_mode = keystone`` against a real Keystone (the ``keystone``
package, bootstrapped on SQLite and served on loopback): projects,
users with the admin and member roles and the service user made through
Keystone's API; a real ``panko-like-api`` validating their tokens with
keystonemiddleware; segregation, 401 answers; and pankoclient logging in
with a password and finding the API in Keystone's catalog.
"""

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client as ks_client
from pankoclient import client as panko_client
from pankoclient import exceptions as panko_exc

from tests.functional import apiserver, backends
from tests.functional.api_base import event, owned
from tests.functional.keystone import ADMIN_PASSWORD, Keystone

PASSWORD = "user-secret"


class RealKeystoneScenarios:
    def setUp(self):
        super().setUp()
        self.keystone = Keystone()
        self.addCleanup(self.keystone.stop)
        self.keystone.start()
        admin = self.login("admin", ADMIN_PASSWORD, "admin")
        manage = ks_client.Client(session=admin, interface="public")
        roles = {r.name: r for r in manage.roles.list()}
        self.projects = {name: manage.projects.create(name, "default")
                         for name in ("proj-a", "proj-b", "service")}
        self.users = {}
        for name, project, role in (("alice", "proj-a", "admin"),
                                    ("bob", "proj-a", "member"),
                                    ("carol", "proj-b", "member"),
                                    ("panko", "service", "admin")):
            user = manage.users.create(name, domain="default",
                                       password=PASSWORD)
            manage.roles.grant(roles[role], user=user,
                               project=self.projects[project])
            self.users[name] = user

        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        # The API in Keystone's catalog, as a deployment registers it.
        service = manage.services.create("panko_like", type="event")
        manage.endpoints.create(service, server.url, interface="public",
                                region="RegionOne")
        self.server = self.api(server)

        def ids(user, project):
            return owned(self.projects[project].id, self.users[user].id)

        self.assertEqual([], self.conn.record_events([
            event("a-alice", ids("alice", "proj-a")),
            event("a-bob", ids("bob", "proj-a")),
            event("b-carol", ids("carol", "proj-b")),
            event("nobody", []),
        ]))

    def api(self, server, **authtoken):
        """``server`` started with [keystone_authtoken] as a deployment
        writes it (and ``authtoken``)."""
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "keystone", "workers": 1},
            "keystone_authtoken": {
                "www_authenticate_uri": self.keystone.url,
                "auth_url": self.keystone.url, "auth_type": "password",
                "username": "panko", "password": PASSWORD,
                "project_name": "service", "user_domain_id": "default",
                "project_domain_id": "default", **authtoken},
        })
        server.args[:0] = ["--config-file", path]
        return server.start()

    def login(self, user, password, project):
        return ks_session.Session(auth=v3.Password(
            auth_url=self.keystone.url, username=user, password=password,
            project_name=project, user_domain_id="default",
            project_domain_id="default"))

    def token(self, user, project):
        return self.login(user, PASSWORD, project).get_token()

    def listed(self, token, query=""):
        answer = self.server.request("GET", "/v2/events" + query,
                                     headers={"X-Auth-Token": token})
        self.assertEqual(200, answer.status,
                         answer.body + self.server.logs().encode()[-3000:])
        return sorted(e["message_id"] for e in answer.json())

    def test_tokens_roles_and_segregation(self):
        alice = self.token("alice", "proj-a")
        bob = self.token("bob", "proj-a")
        carol = self.token("carol", "proj-b")
        self.assertEqual(["a-alice", "a-bob", "nobody"], self.listed(alice))
        self.assertEqual(
            ["a-alice", "a-bob", "b-carol", "nobody"],
            self.listed(alice, "?q.field=all_tenants&q.value=True"))
        self.assertEqual(["a-bob"], self.listed(bob))
        self.assertEqual(["b-carol"], self.listed(carol))
        # Identity headers beside a real token are the token's.
        forged = self.server.request("GET", "/v2/events", headers={
            "X-Auth-Token": carol, "X-Roles": "admin",
            "X-Project-Id": self.projects["proj-a"].id})
        self.assertEqual(["b-carol"],
                         [e["message_id"] for e in forged.json()])
        types = self.server.request("GET", "/v2/event_types",
                                    headers={"X-Auth-Token": bob})
        self.assertEqual(401, types.status)

    def test_401_without_a_valid_token(self):
        for headers in ({}, {"X-Auth-Token": "not-a-token"},
                        {"X-Auth-Token": self.token("bob", "proj-a")[:-4]},
                        {"X-User-Id": self.users["alice"].id,
                         "X-Project-Id": self.projects["proj-a"].id,
                         "X-Roles": "admin"}):
            with self.subTest(headers=sorted(headers)):
                answer = self.server.request("GET", "/v2/events",
                                             headers=headers)
                self.assertEqual(401, answer.status, answer.body)
                self.assertIn(self.keystone.url,
                              answer.headers["WWW-Authenticate"])
                self.assertIn("error_message", answer.json())

    def test_a_keystone_it_cannot_use_is_503(self):
        # A region the catalog does not have: keystonemiddleware finds
        # no identity endpoint to check tokens with.
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        misconfigured = self.api(server, region_name="Nowhere")
        answer = misconfigured.request("GET", "/v2/events", headers={
            "X-Auth-Token": self.token("alice", "proj-a")})
        self.assertEqual(503, answer.status, answer.body)
        self.assertEqual("5", answer.headers["Retry-After"])
        self.assertIn("identity service could not check the token",
                      answer.json()["error_message"]["faultstring"])
        self.assertIn("see [keystone_authtoken]", misconfigured.logs())
        self.assertNotIn("Traceback", misconfigured.logs())

    def test_pankoclient_with_a_password_and_the_catalog(self):
        alice = panko_client.Client(
            "2", session=self.login("alice", PASSWORD, "proj-a"))
        self.assertEqual(["a-alice", "a-bob", "nobody"],
                         sorted(e.message_id for e in alice.event.list()))
        self.assertEqual(["compute.instance.create.end"],
                         list(alice.event_type.list()))
        bob = panko_client.Client(
            "2", session=self.login("bob", PASSWORD, "proj-a"))
        self.assertEqual(["a-bob"],
                         [e.message_id for e in bob.event.list()])
        with self.assertRaises(panko_exc.Unauthorized):
            bob.event_type.list()


globals().update(backends.make_test_cases(
    RealKeystoneScenarios, names=("sqlite",)))
