"""``panko-like-api`` as a real process, spoken to over HTTP."""

import json
import os
import re
import signal
import socket
import subprocess
import unittest

from panko_like import storage
from tests.functional import apiserver, backends
from tests.functional.scripts import NO_SYSTEM_CONFIG


def api_event(message_id, event_type="compute.instance.create.end",
              generated="2026-01-01T12:00:00.000001", **traits):
    return {
        "message_id": message_id,
        "event_type": event_type,
        "generated": generated,
        "traits": [{"name": name, "type": "string", "value": value}
                   for name, value in traits.items()],
        "raw": {"payload": {"id": message_id}},
    }


class ServerChecks:
    """Assertions shared by the configured and unconfigured servers."""

    def start(self, *args, **kwargs):
        server = apiserver.APIServer(*args, **kwargs)
        self.addCleanup(server.cleanup)
        return server.start()

    def post_and_list(self, server, headers=apiserver.ADMIN):
        batch = [api_event("m-1", project_id="p-admin"),
                 api_event("m-2", generated="2026-01-01T12:00:01")]
        answer = server.request("POST", "/v2/events", batch, headers)
        self.assertEqual(201, answer.status, answer.body)
        listed = server.request("GET", "/v2/events", headers=headers)
        self.assertEqual(200, listed.status, listed.body)
        self.assertEqual(["m-1", "m-2"],
                         [e["message_id"] for e in listed.json()])
        one = server.request("GET", "/v2/events/m-1", headers=headers)
        self.assertEqual(200, one.status, one.body)
        self.assertEqual("2026-01-01T12:00:00.000001",
                         one.json()["generated"])

    def assert_identity_required(self, server):
        """noauth still needs a user and a project."""
        answer = server.request("GET", "/v2/events")
        self.assertEqual(403, answer.status, answer.body)
        self.assertEqual("Client",
                         answer.json()["error_message"]["faultcode"])

    def assert_graceful_exit(self, server):
        self.assertEqual(0, server.stop(signal.SIGTERM), server.logs())
        self.assertNotIn("Traceback", server.logs())


class ConfiguredServer(ServerChecks):
    """A server with a configuration file for the test's database."""

    def config(self, extra=None, **api):
        home = self.make_home()
        sections = {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 2, **api},
            **(extra or {}),
        }
        return home, apiserver.write_config(home, sections)

    def make_home(self):
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        return server.home



@backends.requires("events:query:simple")
class ServerScenarios(ConfiguredServer):
    """A configured server on each backend."""

    def test_serves_with_workers_and_stops_on_sigterm(self):
        home, path = self.config()
        server = self.start("--config-file", path, home=home)
        self.assertEqual(2, len(server.wait_for_workers(2)), server.logs())
        self.assert_identity_required(server)
        self.post_and_list(server)
        # Every worker answers from the same storage.
        for _ in range(6):
            answer = server.request("GET", "/v2/events/m-2",
                                    headers=apiserver.ADMIN)
            self.assertEqual(200, answer.status, answer.body)
        self.assert_graceful_exit(server)
        self.assertIn(f"Listening at: http://127.0.0.1:{server.port}",
                      server.logs())


globals().update(backends.make_test_cases(ServerScenarios))


class TestServerLog(ConfiguredServer, backends.BackendTestCase):
    """gunicorn's messages go where oslo.log sends the service's own."""

    def test_gunicorn_messages_in_the_log_file(self):
        home = self.make_home()
        log_file = os.path.join(home, "api.log")
        home, path = self.config({"DEFAULT": {"log_file": log_file}})
        server = self.start("--config-file", path, home=home)
        self.assertEqual(2, len(server.wait_for_workers(2)), server.logs())
        self.assert_graceful_exit(server)
        with open(log_file) as f:
            logged = f.read()
        # oslo.log's format: time, pid, level, logger name, context.
        line = r"^\S+ \S+ \d+ INFO {} \[-\] {}"
        for name, message in [
            ("panko_like.cmd.api", "Serving the API on 127.0.0.1:"),
            ("gunicorn.error",
             f"Listening at: http://127.0.0.1:{server.port}"),
            ("gunicorn.error", "Booting worker with pid"),
            ("gunicorn.error", "Shutting down: Master"),
        ]:
            self.assertRegex(logged, re.compile(
                line.format(re.escape(name), re.escape(message)), re.M))
        self.assertNotIn("Listening at", server.logs())


class TestConfigurationWarnings(ConfiguredServer, backends.BackendTestCase):
    """Options the service does not read are named in its log; those
    of the libraries it uses are not (some register them late)."""

    def test_unknown_options_are_named(self):
        home, path = self.config({
            # transport_url is oslo.messaging's (the listener's bus);
            # api_paste_config was Panko's own.
            "DEFAULT": {"debug": "false", "transport_url": "rabbit://h/",
                        "api_paste_config": "/etc/panko/api_paste.ini"},
            "oslo_policy": {"enforce_new_defaults": "true"},
            "keystone_authtoken": {"auth_type": "password",
                                   "username": "panko",
                                   "memcached_servers": "m:11211"},
            "cors": {"allowed_origin": "https://dashboard.example.org"},
            "healthcheck": {"detailed": "false"},
            "oslo_middleware": {"enable_proxy_headers_parsing": "true"},
        }, workers=1, wrokers=2)
        server = self.start("--config-file", path, home=home)
        self.assert_graceful_exit(server)
        warnings = [line for line in server.logs().splitlines()
                    if " WARNING panko_like.cmd " in line]
        self.assertEqual(2, len(warnings), server.logs())
        self.assertIn("[api] wrokers in", warnings[0])
        self.assertIn("did you mean workers?", warnings[0])
        self.assertIn("[DEFAULT] api_paste_config in", warnings[1])


class TestNoauthBeyondLoopback(ConfiguredServer, backends.BackendTestCase):
    """noauth on an address others reach is warned of at start, whether
    the file or the command line chose the address."""

    WARNING = "[api] auth_mode is noauth and the API listens on 0.0.0.0"

    def started_logs(self, *args, **api):
        home, path = self.config(workers=1, **api)
        server = self.start("--config-file", path, *args, home=home)
        self.assert_graceful_exit(server)
        return server.logs()

    def test_warned_from_the_file_and_the_command_line(self):
        for logs in (self.started_logs(host="0.0.0.0"),
                     self.started_logs("--host", "0.0.0.0")):
            warnings = [line for line in logs.splitlines()
                        if " WARNING " in line and self.WARNING in line]
            self.assertEqual(1, len(warnings), logs)

    def test_not_on_loopback(self):
        logs = self.started_logs(host="127.0.0.1")
        self.assertNotIn("auth_mode is noauth", logs)


class TestGracefulShutdown(ConfiguredServer, backends.BackendTestCase):
    """SIGTERM lets the request in flight finish (SQLite suffices)."""

    def test_request_in_flight_finishes(self):
        home, path = self.config(workers=1)
        server = self.start("--config-file", path, home=home)
        body = json.dumps([api_event("slow")]).encode()
        head = "".join([
            "POST /v2/events HTTP/1.1\r\n",
            f"Host: 127.0.0.1:{server.port}\r\n",
            "Content-Type: application/json\r\n",
            f"Content-Length: {len(body)}\r\n",
            *(f"{name}: {value}\r\n"
              for name, value in apiserver.ADMIN.items()),
            "\r\n",
        ]).encode()
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            # Half a request: the worker has accepted it and waits for
            # the rest of the body when the SIGTERM comes.
            sock.sendall(head + body[:10])
            server.wait_until(lambda: server.accepted(sock),
                              "no worker accepted the connection")
            server.process.send_signal(signal.SIGTERM)
            server.wait_until(
                lambda: "Handling signal: term" in server.logs(),
                "the arbiter did not handle the SIGTERM")
            # The arbiter is stopping; it waits for the worker, which
            # waits for the rest of the body.
            self.assertIsNone(server.process.poll(), server.logs())
            sock.sendall(body[10:])
            answer = sock.makefile("rb").readline()
        self.assertEqual(b"HTTP/1.1 201 Created", answer.strip(),
                         server.logs())
        self.assert_graceful_exit(server)
        stored = [e.message_id
                  for e in self.conn.get_events(storage.EventFilter())]
        self.assertEqual(["slow"], stored)


README = os.path.join(os.path.dirname(__file__), "..", "..", "..",
                      "README.rst")


class TestKeystoneProcess(ConfiguredServer, backends.BackendTestCase):
    """keystone mode as a process: tokens are required before anything.

    The Keystone named here is a closed loopback port; no request that
    reaches it is made, since none of these carries a token.
    """

    def test_requests_without_a_token_are_refused(self):
        home, path = self.config(
            {"keystone_authtoken": apiserver.KEYSTONE_AUTHTOKEN},
            auth_mode="keystone", workers=1,
        )
        server = self.start("--config-file", path, home=home)
        for headers in ({}, apiserver.ADMIN):
            answer = server.request("GET", "/v2/events", headers=headers)
            self.assertEqual(401, answer.status, answer.body)
            self.assertIn(apiserver.UNREACHABLE_KEYSTONE,
                          answer.headers["WWW-Authenticate"])
            self.assertEqual("Client",
                             answer.json()["error_message"]["faultcode"])
        self.assertEqual(200, server.request("GET", "/").status)
        self.assert_graceful_exit(server)


def readme_example():
    """The quick start's curl post: its headers and its JSON body."""
    with open(README, encoding="utf-8") as f:
        text = f.read()
    start = text.index("    curl -i http://127.0.0.1:8977/v2/events")
    command = text[start:text.index("]'", start) + 2]
    headers = dict(re.findall(r"-H '([^:']+): ([^']*)'", command))
    body = json.loads(re.search(r"-d '(.*)'", command, re.S).group(1))
    return headers, body


@unittest.skipUnless(NO_SYSTEM_CONFIG,
                     "a configuration file in /etc would be read")
class TestWithoutConfiguration(ServerChecks, unittest.TestCase):
    """No configuration file at all: README's quick start."""

    def check_readme_example(self, server):
        headers, body = readme_example()
        answer = server.request("POST", "/v2/events", body, headers)
        self.assertEqual(201, answer.status, answer.body)
        (event,) = body
        listed = server.request(
            "GET", f"/v2/events?q.field=event_type&q.value="
            f"{event['event_type']}", headers=headers)
        # Traits come back sorted by name.
        event["traits"].sort(key=lambda trait: trait["name"])
        self.assertIn(event, listed.json())

    def test_embedded_database_created_then_kept(self):
        server = self.start()
        database = os.path.join(server.home, ".local", "share",
                                "panko_like", "panko_like.sqlite")
        self.assertTrue(os.path.exists(database), server.logs())
        self.assert_identity_required(server)
        self.post_and_list(server)
        self.check_readme_example(server)
        self.assert_graceful_exit(server)
        self.assertIn(f"Listening at: http://127.0.0.1:{server.port}",
                      server.logs())

        # A second start finds the schema and the events in place.
        again = self.start(home=server.home, port=server.port)
        listed = again.request("GET", "/v2/events",
                               headers=apiserver.ADMIN)
        self.assertEqual(["m-1", "m-2"],
                         [e["message_id"] for e in listed.json()])
        self.assert_graceful_exit(again)


class TestServerErrors(unittest.TestCase):
    """Bad starts end at once with one clear line, never a traceback."""

    def run_api(self, *args, config=None):
        """Run to its end; ``config`` is written to a file it reads."""
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        if config is not None:
            path = apiserver.write_config(server.home, config)
            args = ("--config-file", path, *args)
        env = dict(os.environ, HOME=server.home)
        return subprocess.run(
            [apiserver.BIN, *args], capture_output=True, text=True,
            timeout=120, stdin=subprocess.DEVNULL, cwd=server.home, env=env,
        )

    def assert_clear_error(self, result, *fragments):
        self.assertNotEqual(0, result.returncode, result.stderr)
        for fragment in fragments:
            self.assertIn(fragment, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        self.assertEqual(1, len(result.stderr.strip().splitlines()),
                         result.stderr)

    def test_bad_port(self):
        for port, reason in (("abc", "invalid literal"),
                             ("0", "greater than or equal to 1"),
                             ("70000", "less than or equal to 65535")):
            with self.subTest(port=port):
                result = self.run_api("--port", port)
                self.assert_clear_error(
                    result, f"configuration error: --port {port}", reason)

    def test_bad_host(self):
        result = self.run_api("--host", "not..an..address")
        self.assert_clear_error(result, "configuration error: --host")

    def test_bad_workers(self):
        result = self.run_api(config={"api": {"workers": 0}})
        self.assert_clear_error(result, "configuration error", "workers")

    def test_keystone_mode_without_credentials(self):
        # auth_mode defaults to keystone once there is a config file.
        database = {"connection": "sqlite://"}
        result = self.run_api(config={"database": database})
        self.assert_clear_error(result, "configuration error",
                                "[keystone_authtoken] has no auth_type")
        result = self.run_api(config={"database": database,
                                      "keystone_authtoken": {
            "auth_type": "password", "auth_url": "http://127.0.0.1:9/v3",
            "username": "panko", "password": "secret",
            "project_name": "service"}})
        self.assert_clear_error(
            result, "configuration error",
            "[keystone_authtoken] has no www_authenticate_uri")

    def test_configuration_file_without_connection(self):
        """Never the embedded database once there is a file."""
        for config, fragment in (
                ({"api": {"auth_mode": "noauth"}}, "is not set in"),
                ({"database": {"conection": "sqlite://"}},
                 "did you mean connection?"),
                ({"databse": {"connection": "sqlite://"}},
                 "[databse] in")):
            with self.subTest(config=config):
                result = self.run_api(config=config)
                self.assert_clear_error(
                    result, "configuration error",
                    "[database] connection", fragment)

    def test_unreachable_database(self):
        result = self.run_api(config={"database": {
            "connection": "postgresql+psycopg://u@127.0.0.1:9/db",
            "max_retries": 0,
        }})
        self.assert_clear_error(result, "cannot connect to the storage")

    @unittest.skipUnless(NO_SYSTEM_CONFIG,
                         "a configuration file in /etc would be read")
    def test_no_configuration_stays_on_loopback(self):
        result = self.run_api("--host", "0.0.0.0")
        self.assert_clear_error(result, "refusing to listen on 0.0.0.0")
