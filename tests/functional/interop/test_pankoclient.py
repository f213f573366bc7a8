"""Panko's own client, ``pankoclient``, against a real panko-like-api.

The server holds the 200 events Panko wrote, and each answer the client
gets is compared with the answer Panko's API gave to the same request
(``golden.json``), on every backend.

pankoclient 1.2.0 (its last release, 2020) installs and imports on
Python 3.11 as it is: it still imports ``six``, which it declares, so
no shim is needed. Its CLI cannot send noauth identity headers, so the
library is driven here, with those headers on a keystoneauth session.
"""

import collections
import functools
import json

from keystoneauth1 import noauth, token_endpoint
from keystoneauth1 import session as ks_session
from pankoclient import client as panko_client
from pankoclient import exceptions as panko_exc

from tests.functional import apiserver, backends, dataset
from tests.functional.scripts import run
from tests.functional.storage.test_capabilities import document


@functools.cache
def _golden():
    with open(dataset.panko_path("golden.json"), encoding="utf-8") as f:
        data = json.load(f)
    return data["header_sets"], {r["name"]: r for r in data["requests"]}


def golden(name):
    """Panko's answer body to the request called ``name``."""
    request = _golden()[1][name]
    assert request["status"] == 200, request
    return request["body"]


def identity(header_set):
    return _golden()[0][header_set]


def unordered(items):
    return collections.Counter(
        json.dumps(item, sort_keys=True) for item in items
    )


@backends.requires("events:query:simple")
class PankoClientScenarios:
    def setUp(self):
        super().setUp()
        self.assertEqual([], self.conn.record_events(dataset.panko_events()))
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 2},
        })
        server.args[:0] = ["--config-file", path]
        self.server = server.start()
        self.admin = self.client("admin")
        self.member = self.client("member")

    def client(self, header_set):
        session = ks_session.Session(
            auth=noauth.NoAuth(), additional_headers=identity(header_set)
        )
        return panko_client.Client(
            "2", session=session, endpoint_override=self.server.url
        )

    def assert_events(self, golden_name, events):
        self.assertEqual(golden(golden_name), [e.to_dict() for e in events])

    def test_event_list_with_filters_paging_and_sorts(self):
        tenants = {"all_tenants": "True"}
        self.assert_events(
            "event_type eq",
            self.admin.event.list(
                filters={**tenants, "event_type": "volume.create.end"}),
        )
        self.assert_events(
            "accented string eq",
            self.admin.event.list(
                filters={**tenants, "display_name": "Café crème"}),
        )
        self.assert_events(
            "string trait filter, admin without all_tenants",
            self.admin.event.list(filters={"state": "active"}),
        )
        self.assert_events(
            "sort message_id desc",
            self.admin.event.list(filters=tenants, limit=25,
                                  sorts=["message_id:desc"]),
        )
        # Walk every page with the marker, as `openstack event list
        # --limit --marker` does.
        pages, marker = 0, None
        while True:
            page = self.admin.event.list(filters=tenants, limit=80,
                                         marker=marker)
            if not page:
                break
            pages += 1
            name = f"all tenants, limit 80, page {pages}"
            self.assert_events(name, page)
            marker = page[-1].message_id
        self.assertEqual(3, pages)
        self.assertEqual([], golden("all tenants, limit 80, page 4"))

    def test_member_sees_own_events_only(self):
        self.assert_events("events, member (own user and project)",
                           self.member.event.list())
        self.assert_events(
            "member walk newest first, page 1",
            self.member.event.list(
                limit=6, sorts=["generated:desc", "message_id:desc"]),
        )
        with self.assertRaises(panko_exc.Unauthorized):
            self.member.event_type.list()
        with self.assertRaises(panko_exc.NotFound):
            self.member.event.get("0eee8ca1-1024-4775-b5ef-ee3238af37f2")

    def test_show_types_traits_and_capabilities(self):
        event = self.admin.event.get("248e6295-dc09-47a9-9e2f-aff40631ad13")
        self.assertEqual(golden("show own-project event, admin"),
                         event.to_dict())
        emoji = self.admin.event.get("ed37e7d0-91ee-4913-adeb-187c791fed8b")
        self.assertEqual(golden("show event with a 4-byte character"),
                         emoji.to_dict())
        with self.assertRaises(panko_exc.NotFound):
            self.admin.event.get("00000000-0000-4000-8000-000000000000")

        self.assertEqual(golden("event types, admin"),
                         list(self.admin.event_type.list()))
        for event_type, name in (
            ("compute.instance.create.end",
             "trait types of compute.instance.create.end"),
            ("sensor.reading",
             "trait types of sensor.reading (incl. dtype 0)"),
        ):
            described = self.admin.event_trait_description.list(event_type)
            self.assertEqual(unordered(golden(name)),
                             unordered(d.to_dict() for d in described))
        for event_type, trait, name in (
            ("sensor.reading", "temperature", "float trait values"),
            ("image.upload", "size", "big integer trait values"),
            ("compute.instance.delete.end", "launched_at",
             "datetime trait values"),
            ("volume.create.end", "display_name",
             "unicode text trait values"),
        ):
            values = self.admin.event_trait.list(event_type, trait)
            self.assertEqual(unordered(golden(name)),
                             unordered(v.to_dict() for v in values))

        capabilities = self.admin.capabilities.list().to_dict()
        self.assertEqual(golden("capabilities"),
                         dataset.panko_capabilities(capabilities))
        self.assertEqual(document(type(self.conn)), capabilities)


globals().update(backends.make_test_cases(PankoClientScenarios))


@backends.requires("events:query:simple")
class TokenClientScenarios:
    """pankoclient with ``auth_mode = token`` and no Keystone anywhere:
    tokens made by the real ``panko-like-token``, sent with keystoneauth's
    ``admin_token`` plugin by the library and by ``openstack event ...``
    (pankoclient's plugin of the OpenStack CLI; its own ``panko``
    command lists no command with today's cliff)."""

    def setUp(self):
        super().setUp()
        self.assertEqual([], self.conn.record_events(dataset.panko_events()))
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        self.config = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "token", "workers": 2,
                    "token_file": f"{server.home}/tokens.json"},
        })
        self.tokens = {name: self.create(identity(name))
                       for name in ("admin", "member")}
        server.args[:0] = ["--config-file", self.config]
        self.server = server.start()

    def create(self, headers):
        result = run("panko-like-token", "--config-file", self.config,
                     "create", "--user", headers["X-User-Id"], "--project",
                     headers["X-Project-Id"], "--role", headers["X-Roles"])
        (token,) = result.stdout.split()
        return token

    def client(self, name):
        session = ks_session.Session(auth=token_endpoint.Token(
            self.server.url, self.tokens[name]))
        return panko_client.Client("2", session=session,
                                   endpoint_override=self.server.url)

    def test_library_answers_as_panko_did(self):
        self.assertEqual(golden("events, member (own user and project)"),
                         [e.to_dict() for e in self.client(
                             "member").event.list()])
        admin = self.client("admin")
        self.assertEqual(golden("event types, admin"),
                         list(admin.event_type.list()))
        with self.assertRaises(panko_exc.Unauthorized):
            self.client("member").event_type.list()

    def test_cli_with_a_token_and_no_keystone(self):
        def openstack(token, *args, check=True):
            return run("openstack", "--os-auth-type", "admin_token",
                       "--os-endpoint", self.server.url, "--os-token",
                       token, "event", *args, "-f", "json", check=check)

        types = openstack(self.tokens["admin"], "type", "list")
        self.assertEqual(golden("event types, admin"),
                         [row["Event Type"] for row in json.loads(
                             types.stdout)])
        events = openstack(self.tokens["member"], "list", "--limit", "200")
        self.assertEqual(
            sorted(e["message_id"] for e in golden(
                "events, member (own user and project)")),
            sorted(row["message_id"] for row in json.loads(events.stdout)))
        refused = openstack(self.tokens["admin"] + "x", "type", "list",
                            check=False)
        self.assertNotEqual(0, refused.returncode)
        self.assertIn("HTTP 401", refused.stderr)


globals().update(backends.make_test_cases(
    TokenClientScenarios, names=("sqlite", "postgresql")))
