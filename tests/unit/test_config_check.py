"""What a configuration file holds that the service would not read."""

import os
import shutil
import tempfile
import unittest

from panko_like import config_check, service

ETC = os.path.join(os.path.dirname(__file__), "..", "..", "etc",
                   "panko_like")

DATABASE = "[database]\nconnection = sqlite://\n"

#: Every group a library reads, as an operator writes them.
LIBRARIES = """
[DEFAULT]
debug = true
log_date_format = %%Y-%%m-%%d %%H:%%M:%%S
use_stderr = false

[oslo_policy]
policy_file = policy.yaml
enforce_new_defaults = true

[keystone_authtoken]
auth_type = password
auth_url = http://keystone:5000/v3
www_authenticate_uri = http://keystone:5000/v3
username = panko
password = secret
project_name = service
user_domain_name = Default
project_domain_name = Default
memcached_servers = memcache:11211

[cors]
allowed_origin = https://dashboard.example.org

[healthcheck]
detailed = false

[oslo_middleware]
enable_proxy_headers_parsing = true
"""


class TestCheck(unittest.TestCase):
    def check(self, *texts, directory=False):
        """check() of a fresh configuration of the files ``texts``."""
        where = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, where)
        paths = []
        for i, text in enumerate(texts):
            paths.append(os.path.join(where, f"{i}.conf"))
            with open(paths[-1], "w") as f:
                f.write(text)
        args = (["--config-dir", where] if directory else
                [arg for path in paths for arg in ("--config-file", path)])
        conf = service.prepare_service(args, config_files=[])
        return config_check.check(conf)

    def test_no_configuration_file_is_the_embedded_database(self):
        conf = service.prepare_service([], config_files=[])
        self.assertFalse(config_check.has_config_file(conf))
        self.assertEqual(config_check.Findings(),
                         config_check.check(conf))

    def test_connection_required_with_a_file(self):
        (error,) = self.check("[api]\nworkers = 2\n").errors
        self.assertIn("[database] connection is not set in ", error)

    def test_connection_required_with_an_empty_directory(self):
        where = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, where)
        conf = service.prepare_service(["--config-dir", where],
                                       config_files=[])
        (error,) = config_check.check(conf).errors
        self.assertIn("[database] connection is not set", error)

    def test_connection_in_any_file_of_a_directory(self):
        found = self.check("[api]\nworkers = 2\n", DATABASE, directory=True)
        self.assertEqual(config_check.Findings(), found)

    def test_misspelt_connection(self):
        found = self.check("[database]\nconection = sqlite://\n")
        self.assertEqual(2, len(found.errors), found)
        self.assertIn("[database] conection in ", found.errors[1])
        self.assertIn("did you mean connection?", found.errors[1])

    def test_misspelt_option_beside_the_connection_is_a_warning(self):
        found = self.check(DATABASE + "max_retriez = 2\n")
        self.assertEqual([], found.errors)
        (warning,) = found.warnings
        self.assertIn("[database] max_retriez", warning)
        self.assertIn("did you mean max_retries?", warning)

    def test_misspelt_database_section_is_an_error(self):
        for section in ("databse", "Databases", "datbase"):
            with self.subTest(section=section):
                found = self.check(DATABASE, f"[{section}]\nx = 1\n")
                (error,) = found.errors
                self.assertIn(f"[{section.lower()}] in ", error)
                self.assertIn("did you mean [database]?", error)

    def test_connection_in_another_section_is_an_error(self):
        (error,) = self.check(
            DATABASE + "[storage]\nconnection = sqlite://\n").errors
        self.assertIn("[storage] in ", error)
        self.assertIn("[database] connection", error)

    def test_unknown_section_is_a_warning(self):
        found = self.check(DATABASE + "[apii]\nworkers = 2\n"
                           "[service_credentials]\nx = 1\n")
        self.assertEqual([], found.errors)
        self.assertEqual(2, len(found.warnings), found)
        self.assertIn("did you mean [api]?", found.warnings[0])
        self.assertIn("[service_credentials] in ", found.warnings[1])

    def test_the_bus_options_are_known(self):
        # oslo.messaging's, which panko-like-listener reads.
        found = self.check(DATABASE + "[DEFAULT]\ntransport_url = "
                           "rabbit://u:p@h:5672/\n[oslo_messaging_rabbit]\n"
                           "heartbeat_timeout_threshold = 30\n"
                           "rabbit_quorum_queu = true\n[listener]\n"
                           "topics = event\n")
        (warning,) = found.warnings
        self.assertIn("[oslo_messaging_rabbit] rabbit_quorum_queu", warning)
        self.assertIn("did you mean rabbit_quorum_queue?", warning)

    def test_libraries_groups_are_known(self):
        self.assertEqual(config_check.Findings(),
                         self.check(DATABASE + LIBRARIES))

    def test_auth_plugin_options_are_checked(self):
        found = self.check(DATABASE + LIBRARIES.replace(
            "password = secret", "passwrod = secret"))
        (warning,) = found.warnings
        self.assertIn("[keystone_authtoken] passwrod", warning)
        self.assertIn("did you mean password?", warning)

    def test_auth_section_is_known(self):
        found = self.check(DATABASE + "[keystone_authtoken]\n"
                           "auth_section = service_user\n"
                           "[service_user]\nauth_type = password\n"
                           "username = panko\nuser_domain_nam = x\n")
        (warning,) = found.warnings
        self.assertIn("[service_user] user_domain_nam", warning)

    def test_namespaces_are_the_sample_configuration_file(self):
        with open(os.path.join(ETC, "panko_like-config-generator.conf")) as f:
            lines = f.read().splitlines()
        namespaces = [line.split("=", 1)[1].strip() for line in lines
                      if line.split("=", 1)[0].strip() == "namespace"]
        self.assertEqual(sorted(config_check.NAMESPACES), sorted(namespaces))
