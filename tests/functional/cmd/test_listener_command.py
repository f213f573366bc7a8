"""``panko-like-listener`` refuses a configuration it cannot run with in
one line, before any worker starts: no traceback, no half-started
service."""

import os
import shutil
import tempfile
import unittest

from tests.functional.scripts import run

GOOD_BUS = "rabbit://guest:guest@127.0.0.1:5672/"


class TestListenerConfiguration(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="panko_like_listener_cmd_")
        self.addCleanup(shutil.rmtree, self.dir)

    def config(self, bus=GOOD_BUS, connection=None, **listener):
        connection = connection or f"sqlite:///{self.dir}/events.db"
        # Each case has files of its own: the cases are made first.
        name = f"case{len(os.listdir(self.dir))}"
        definitions = os.path.join(self.dir, f"{name}.yaml")
        lines = ["[DEFAULT]", f"transport_url = {bus}", "[database]",
                 f"connection = {connection}", "max_retries = 0",
                 "[listener]"]
        for key, value in listener.items():
            if key == "definitions":
                with open(definitions, "w") as f:
                    f.write(value)
                key, value = "definitions_file", definitions
            lines.append(f"{key} = {value}")
        path = os.path.join(self.dir, f"{name}.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def test_bad_configuration_is_one_line(self):
        cases = [
            (self.config(definitions="- event_type: [a\n"),
             "configuration error: the event definitions"),
            (self.config(definitions="- event_type: a\n  traits:\n"
                         "    x: {fields: p.x, plugin: split}\n"),
             "uses a plugin"),
            (self.config(definitions_file="/nonexistent/defs.yaml"),
             "cannot read the event definitions /nonexistent/defs.yaml"),
            (self.config(bus="nosuchbus://h:1/"),
             "configuration error:"),
            (self.config(workers=0), "configuration error:"),
            (self.config(batch_size="many"), "configuration error:"),
            (self.config(connection="postgresql+psycopg://postgres@"
                         "127.0.0.1:1/none"),
             "cannot connect to the storage"),
            (self.config(connection="nosuchdb://x"),
             "cannot connect to the storage"),
        ]
        for path, words in cases:
            with self.subTest(words=words):
                result = run("panko-like-listener", "--config-file", path,
                             check=False, timeout=60)
                self.assertNotEqual(0, result.returncode)
                self.assertNotIn("Traceback", result.stderr)
                self.assertEqual(1, len(result.stderr.strip().splitlines()),
                                 result.stderr)
                self.assertIn(words, result.stderr)
