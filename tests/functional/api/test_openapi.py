"""The OpenAPI document: served without credentials, valid OpenAPI 3.1
by openapi-spec-validator, made from the code it describes; and
schemathesis run against a live ``panko-like-api`` with it, with and
without credentials: no 5xx, no answer that breaks the document, and
never another project's event, read or deleted."""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import openapi_spec_validator
import webtest

from panko_like import storage
from panko_like.api import app, openapi
from panko_like.api.controllers.v2 import query
from panko_like.api.controllers.v2 import root as v2_root
from panko_like.storage import models
from tests.functional import apiserver, backends
from tests.functional.api.test_tokens import make_token
from tests.functional.api_base import fixture_events

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..",
                                    ".."))
CHECKS = ("not_a_server_error,status_code_conformance,"
          "content_type_conformance,response_schema_conformance,"
          "no_foreign_event")
#: Cases per operation and phase: a run stays within a minute or so.
MAX_EXAMPLES = 25


class DocumentScenarios:
    def setUp(self):
        super().setUp()
        self.conf.set_override("auth_mode", "token", group="api")
        directory = tempfile.mkdtemp(prefix="panko_like_openapi_")
        self.addCleanup(shutil.rmtree, directory)
        path = os.path.join(directory, "tokens.json")
        make_token(path, "u", "p", ["admin"])
        self.conf.set_override("token_file", path, group="api")
        application = app.setup_app(self.conf)
        self.addCleanup(application.storage_holder.close)
        self.app = webtest.TestApp(application)

    def test_served_without_credentials_and_valid(self):
        served = self.app.get(openapi.PATH).json
        self.assertEqual(json.loads(json.dumps(
            openapi.document(self.conf))), served)
        openapi_spec_validator.validate(served)
        self.app.post(openapi.PATH, status=405)
        self.app.get("/v2/events", status=401)

    def test_made_from_the_code(self):
        document = openapi.document(self.conf)
        routed = {(openapi._template(pattern), method.lower())
                  for pattern, methods in v2_root.ROUTES
                  for method in methods}
        documented = {(path, method)
                      for path, operations in document["paths"].items()
                      for method in operations}
        self.assertEqual(routed | {("/", "get"), ("/healthcheck", "get"),
                                   (openapi.PATH, "get")}, documented)
        listing = document["paths"]["/v2/events"]["get"]
        names = {p["name"]: p for p in listing["parameters"]}
        self.assertEqual({f"q.{p}" for p in query.Q_PARTS}
                         | {"limit", "marker", "sort", "show"}, set(names))
        self.assertEqual(list(query.SHOW_FIELDS),
                         names["show"]["schema"]["items"]["enum"])
        for field in query.EVENT_FIELDS:
            self.assertIn(field, names["q.field"]["description"])
        self.assertEqual(list(query.OPERATORS),
                         names["q.op"]["schema"]["items"]["enum"])
        self.assertEqual(sorted(query.TYPES),
                         sorted(names["q.type"]["schema"]["items"]["enum"]))
        trait = document["components"]["schemas"]["Trait"]
        self.assertEqual(sorted(set(models.API_TYPE_NAMES.values())),
                         trait["properties"]["type"]["enum"])
        body = document["components"]["schemas"]["ListBody"]
        self.assertEqual(set(query.LIST_ARGS), set(body["properties"]))
        self.assertEqual("#/components/schemas/Filter",
                         body["properties"]["q"]["items"]["$ref"])
        self.assertEqual(
            set(query.Q_PARTS),
            set(document["components"]["schemas"]["Filter"]["properties"]))
        self.assertEqual(
            self.conf.api.max_traits_per_event,
            document["components"]["schemas"]["NewEvent"]["properties"][
                "traits"]["maxItems"])
        # A route without its operation cannot be served a document.
        v2_root.ROUTES.append((("events", "*", "extra"), {"GET": None}))
        try:
            self.assertRaises(RuntimeError, openapi.document, self.conf)
        finally:
            v2_root.ROUTES.pop()


class SchemathesisScenarios:
    """``st run`` against a live server in token mode."""

    def setUp(self):
        super().setUp()
        self.assertEqual([], self.conn.record_events(fixture_events()))
        self.foreign = [e.message_id for e in fixture_events()
                        if any(t.name == "project_id" and t.value != "proj-a"
                               for t in e.traits)]
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        tokens = os.path.join(server.home, "tokens.json")
        self.member = make_token(tokens, "u-a1", "proj-a", ["member"])
        self.admin = make_token(tokens, "admin-a", "proj-a", ["admin"])
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "token", "workers": 2,
                    "token_file": tokens},
        })
        server.args[:0] = ["--config-file", path]
        self.server = server.start()
        self.home = server.home

    def schemathesis(self, label, *headers, foreign_forbidden=True):
        config = os.path.join(self.home, "schemathesis.toml")
        ids = ", ".join(json.dumps(m) for m in self.foreign)
        with open(config, "w") as f:
            # Half of the message ids tried are the other project's.
            f.write(f"[dictionaries.foreign]\nvalues = [{ids}]\n"
                    "[parameters]\n\"path.message_id\" = "
                    "{ dictionary = \"foreign\", probability = 0.5 }\n")
        args = [os.path.join(os.path.dirname(sys.executable), "st"),
                "--config-file", config, "run",
                f"{self.server.url}{openapi.PATH}", "--checks", CHECKS,
                "--max-examples", str(MAX_EXAMPLES), "--seed", "1",
                # One worker: CPython 3.11's parser is not thread-safe
                # (concurrent ast.parse, which hypothesis uses to
                # describe its strategies, raises SystemError).
                "--no-color", "--workers", "1",
                "--report-dir", os.path.join(self.home, "report"),
                # An event stream answers until its timeout, which the
                # checks would wait out case by case; its answers and
                # refusals are tested by api/test_stream*.
                "--exclude-path", "/v2/events/stream"]
        for header in headers:
            args += ["-H", header]
        env = dict(os.environ, SCHEMATHESIS_HOOKS="tests.functional.api."
                   "st_hooks", PYTHONPATH=ROOT, PANKO_LIKE_FOREIGN_IDS=(
                       ",".join(self.foreign) if foreign_forbidden else ""))
        result = subprocess.run(args, capture_output=True, text=True,
                                cwd=ROOT, env=env, timeout=900,
                                stdin=subprocess.DEVNULL)
        summary = re.search(r"(\d+) generated, .*", result.stdout)
        tail = result.stdout[-6000:]
        self.assertEqual(0, result.returncode, tail + result.stderr)
        self.assertIsNotNone(summary, tail)
        self.assertGreater(int(summary[1]), 100, tail)
        timing = re.search(r"in ([\d.]+)s =+", result.stdout)
        # The figures of the run, for the record (stestr shows them).
        print(f"{self.backend_name}, {label}: {summary[0]}"
              f"{', ' + timing[1] + ' s' if timing else ''}")
        return result.stdout

    def test_no_credentials(self):
        self.schemathesis("no credentials")

    def test_member_sees_and_deletes_only_its_own(self):
        self.schemathesis("member token", f"X-Auth-Token: {self.member}")
        kept = {e.message_id for e in self.conn.get_events(
            storage.EventFilter())}
        self.assertTrue(set(self.foreign) <= kept,
                        "an event of another project was deleted")

    def test_admin(self):
        # An admin sees other projects' events with all_tenants.
        self.schemathesis("admin token",
                          f"Authorization: Bearer {self.admin}",
                          foreign_forbidden=False)


globals().update(backends.make_test_cases(
    DocumentScenarios, base=backends.BackendTestCase, names=("sqlite",)))
globals().update(backends.make_test_cases(
    SchemathesisScenarios, names=("sqlite", "postgresql")))
