"""Each console script's --help opens with what it does, as a subprocess
of the installed script."""

import os
import subprocess
import sys
import tempfile
import unittest

from panko_like import service
from panko_like.cmd import api, listener, storage, token

BIN = os.path.dirname(sys.executable)

COMMANDS = {
    "panko-like-dbsync": storage.DBSYNC_HELP,
    "panko-like-expirer": storage.EXPIRER_HELP,
    "panko-like-api": api.HELP,
    "panko-like-listener": listener.LISTENER_HELP,
    "panko-like-token": token.HELP,
}


def words(text):
    return " ".join(text.split())


class TestCommandHelp(unittest.TestCase):
    def run_help(self, command):
        home = self.enterContext(tempfile.TemporaryDirectory())
        return subprocess.run(
            [os.path.join(BIN, command), "--help"],
            capture_output=True, text=True, timeout=60,
            stdin=subprocess.DEVNULL, cwd=home,
            env=dict(os.environ, HOME=home, COLUMNS="80"),
        )

    def test_help_starts_with_the_description(self):
        for command, description in COMMANDS.items():
            with self.subTest(command=command):
                result = self.run_help(command)
                self.assertEqual(0, result.returncode, result.stderr)
                # argparse wraps the text to the terminal's width.
                self.assertTrue(
                    words(result.stdout).startswith(
                        words(service.help_text(description))),
                    result.stdout)
                self.assertIn("--config-file", result.stdout)

    def test_descriptions_say_where_the_configuration_is_read(self):
        for description in COMMANDS.values():
            text = service.help_text(description)
            self.assertTrue(text.startswith(description))
            self.assertIn("--config-file", text)
            self.assertIn("/etc/panko_like/", text)
