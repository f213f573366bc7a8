"""``panko-like-token`` as a real process: a token is printed once and
stored only as a hash in a file of mode 0600; list never shows a secret;
mistakes are one line. And ``panko-like-api`` with ``auth_mode = token``
refuses to start on a token file it cannot use."""

import json
import os
import shutil
import socket
import stat
import tempfile
import unittest

from panko_like.api import tokens
from tests.functional.scripts import run


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class TestTokenCommand(unittest.TestCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="panko_like_token_cmd_")
        self.addCleanup(shutil.rmtree, self.dir)
        self.tokens = os.path.join(self.dir, "tokens.json")
        self.config = self.write_config(self.tokens)

    def write_config(self, token_file, name="panko_like.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(f"[database]\nconnection = sqlite:///{self.dir}/e.db\n"
                    f"max_retries = 0\n[api]\nauth_mode = token\n"
                    f"token_file = {token_file}\n")
        return path

    def token(self, *args, check=True, config=None):
        return run("panko-like-token", "--config-file",
                   config or self.config, *args, check=check)

    def test_create_list_revoke(self):
        made = self.token("create", "--user", "u-1", "--project", "p-1",
                          "--role", "admin", "--role", "member")
        (token,) = made.stdout.split()
        token_id = tokens.split_token(token)
        self.assertIsNotNone(token_id)
        self.assertGreaterEqual(len(token.partition(".")[2]), 43)
        self.assertIn("shown only this once", made.stderr)
        self.assertEqual(0o600, stat.S_IMODE(os.stat(self.tokens).st_mode))
        with open(self.tokens) as f:
            text = f.read()
        self.assertNotIn(token.partition(".")[2], text)
        (entry,) = json.loads(text)["tokens"]
        self.assertEqual(
            {"id": token_id, "sha256": tokens.digest(token),
             "user_id": "u-1", "project_id": "p-1",
             "roles": ["admin", "member"]},
            {k: v for k, v in entry.items() if k != "created_at"})

        other = self.token("create", "--user", "u-2", "--project", "p-2")
        listed = self.token("list").stdout
        self.assertIn(f"{token_id}  u-1 / p-1 / admin,member /", listed)
        self.assertIn("u-2 / p-2 / - /", listed)
        for made_token in (token, other.stdout.strip()):
            self.assertNotIn(made_token.partition(".")[2], listed)

        self.assertIn(f"token {token_id} revoked",
                      self.token("revoke", token_id).stdout)
        self.assertNotIn(token_id, self.token("list").stdout)
        self.assertEqual(1, len(tokens.read(self.tokens)))

    def test_mistakes_are_one_line(self):
        broken = os.path.join(self.dir, "broken.json")
        with open(broken, "w") as f:
            f.write('{"tokens": [{"id": "x"}]}')
        broken_config = self.write_config(broken, "broken.conf")
        missing_dir = self.write_config(
            os.path.join(self.dir, "no/such/dir/tokens.json"), "nodir.conf")
        cases = [
            # No token file yet: nothing to revoke.
            (("revoke", "0123456789ab"), None, "cannot read"),
            (("create", "--user", "u", "--project", "p", "--role", "a,b"),
             None, "a role is a name without commas"),
            (("list",), broken_config, "token file error"),
            (("create", "--user", "u", "--project", "p"), missing_dir,
             "cannot"),
        ]
        for args, config, words in cases:
            with self.subTest(args=args, words=words):
                self.assert_one_line_error(args, config, words)
        self.token("create", "--user", "u", "--project", "p")
        self.assert_one_line_error(("revoke", "0123456789ab"), None,
                                   "no token 0123456789ab")
        # argparse's own answers: a usage line and the error.
        for args, words in ((("create", "--user", "u"), "--project"),
                            (("remove", "x"), "invalid choice")):
            result = self.token(*args, check=False)
            self.assertEqual(2, result.returncode)
            self.assertIn(words, result.stderr)

    def assert_one_line_error(self, args, config, words):
        result = self.token(*args, check=False, config=config)
        self.assertNotEqual(0, result.returncode)
        self.assertNotIn("Traceback", result.stderr)
        self.assertIn(words, result.stderr)
        self.assertEqual(1, len(result.stderr.strip().splitlines()),
                         result.stderr)

    def test_api_refuses_a_token_file_it_cannot_use(self):
        broken = os.path.join(self.dir, "broken.json")
        with open(broken, "w") as f:
            f.write("not json")
        for path, words in ((self.tokens, "cannot read"),
                            (broken, "not JSON")):
            with self.subTest(words=words):
                config = self.write_config(path, "api.conf")
                result = run("panko-like-api", "--config-file", config,
                             "--port", str(free_port()), check=False,
                             timeout=60)
                self.assertNotEqual(0, result.returncode)
                self.assertNotIn("Traceback", result.stderr)
                self.assertIn(words, result.stderr)
                self.assertIn("cannot build the API application",
                              result.stderr)
