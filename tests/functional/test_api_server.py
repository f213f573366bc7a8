"""``panko-like-api`` as a real process, spoken to over HTTP."""

import os
import subprocess
import unittest

from tests.functional import apiserver

NO_SYSTEM_CONFIG = not any(
    os.path.exists(path) for path in (
        "/etc/panko_like/panko_like.conf", "/etc/panko_like.conf",
        "/etc/panko_like/panko-like-api.conf", "/etc/panko-like-api.conf",
    )
)



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
