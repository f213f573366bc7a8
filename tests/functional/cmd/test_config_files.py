"""Which database a command uses, and what it says of a configuration
file it does not entirely read."""

import os
import shutil
import tempfile
import unittest

from tests.functional.scripts import NO_SYSTEM_CONFIG, run

COMMANDS = ("panko-like-dbsync", "panko-like-expirer")


class TestConfigFiles(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.home = tempfile.mkdtemp(prefix="panko_like_home_")
        self.addCleanup(shutil.rmtree, self.home)
        self.embedded = os.path.join(self.home, ".local", "share",
                                     "panko_like", "panko_like.sqlite")
        self.url = "sqlite:///" + os.path.join(self.home, "events.sqlite")

    def write(self, text):
        path = os.path.join(self.home, "etc", "panko_like.conf")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def assert_refused(self, text, *fragments):
        """Every command exits non-zero with one line naming
        ``fragments``, and touches no database."""
        path = self.write(text)
        for command in COMMANDS:
            with self.subTest(command=command):
                result = run(command, "--config-file", path, check=False,
                             home=self.home)
                self.assertNotEqual(0, result.returncode, result.stdout)
                self.assertEqual(1, len(result.stderr.splitlines()),
                                 result.stderr)
                for fragment in ("configuration error", *fragments):
                    self.assertIn(fragment, result.stderr)
        self.assertFalse(os.path.exists(os.path.dirname(self.embedded)))
        self.assertFalse(os.path.exists(self.url[len("sqlite:///"):]))

    def test_misspelt_connection(self):
        self.assert_refused(
            f"[database]\nconection = {self.url}\n",
            "[database] connection is not set in",
            "[database] conection", "did you mean connection?")

    def test_misspelt_database_section(self):
        self.assert_refused(
            f"[databse]\nconnection = {self.url}\n",
            "[databse] in", "did you mean [database]?")

    def test_misspelt_section_beside_the_right_one(self):
        # Which of the two was meant cannot be known.
        self.assert_refused(
            f"[database]\nconnection = {self.url}\n"
            "[databse]\nevent_time_to_live = 60\n",
            "[databse] in", "did you mean [database]?")

    def test_no_database_section(self):
        self.assert_refused("[api]\nworkers = 2\n",
                            "[database] connection is not set in")

    def test_unknown_options_are_warned_of(self):
        path = self.write(
            f"[database]\nconnection = {self.url}\n"
            "event_time_to_life = 60\n"
            "[DEFAULT]\ndebug = false\ntransport_url = rabbit://h/\n"
            "api_paste_config = /etc/panko/api_paste.ini\n"
            "[apii]\nworkers = 2\n"
            "[oslo_policy]\nenforce_new_defaults = true\n"
            "[keystone_authtoken]\nauth_type = password\n"
            "username = panko\nwww_authenticate_uri = http://k/v3\n")
        result = run("panko-like-dbsync", "--config-file", path,
                     home=self.home)
        self.assertIn("created the schema", result.stdout)
        warnings = [line for line in result.stdout.splitlines()
                    if " WARNING " in line]
        self.assertEqual(3, len(warnings), result.stdout)
        for warning, fragment in zip(warnings, (
                "[database] event_time_to_life in "
                f"{path} is not an option (did you mean "
                "event_time_to_live?): ignored",
                "[DEFAULT] api_paste_config in",
                "[apii] in "), strict=True):
            self.assertIn(fragment, warning)
        self.assertTrue(os.path.exists(self.url[len("sqlite:///"):]))
        self.assertFalse(os.path.exists(self.embedded))

    @unittest.skipUnless(NO_SYSTEM_CONFIG,
                         "a configuration file in /etc would be read")
    def test_no_configuration_file_uses_the_embedded_database(self):
        result = run("panko-like-dbsync", home=self.home)
        self.assertIn("created the schema", result.stdout)
        self.assertTrue(os.path.exists(self.embedded), result.stdout)
        result = run("panko-like-expirer", home=self.home)
        self.assertIn("nothing to expire", result.stdout)

    @unittest.skipUnless(NO_SYSTEM_CONFIG,
                         "a configuration file in /etc would be read")
    def test_a_default_configuration_file_counts(self):
        # oslo.config finds ~/panko_like.conf without --config-file.
        with open(os.path.join(self.home, "panko_like.conf"), "w") as f:
            f.write("[database]\nconection = sqlite://\n")
        result = run("panko-like-dbsync", check=False, home=self.home)
        self.assertNotEqual(0, result.returncode)
        self.assertIn("[database] connection is not set in "
                      f"{os.path.join(self.home, 'panko_like.conf')}",
                      result.stderr)
        self.assertFalse(os.path.exists(self.embedded))
