"""A real Keystone for the tests: the ``keystone`` package on SQLite,
bootstrapped with ``keystone-manage`` in a directory of its own and
served by waitress on a free loopback port.

Run as ``python -m tests.functional.keystone PORT`` (with
OS_KEYSTONE_CONFIG_FILES set), it serves Keystone's WSGI application;
:class:`Keystone` does all of that and removes it afterwards.
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

from tests.functional.apiserver import free_port

BIN = os.path.dirname(sys.executable)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ADMIN_PASSWORD = "keystone-admin-secret"


class Keystone:
    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="panko_like_keystone_")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.config = os.path.join(self.dir, "keystone.conf")
        with open(self.config, "w") as f:
            f.write(f"[database]\nconnection = sqlite:///{self.dir}/ks.db\n"
                    "[token]\nprovider = fernet\n")
            for group, name in (("fernet_tokens", "fernet-keys"),
                                ("fernet_receipts", "fernet-receipts"),
                                ("credential", "credential-keys")):
                f.write(f"[{group}]\nkey_repository = {self.dir}/{name}\n")
        self.process = None
        self.log_path = os.path.join(self.dir, "keystone.log")

    def manage(self, *args):
        subprocess.run(
            [os.path.join(BIN, "keystone-manage"), "--config-file",
             self.config, *args], check=True, capture_output=True,
            stdin=subprocess.DEVNULL, timeout=300)

    def start(self):
        """Bootstrap and serve; returns self once Keystone answers."""
        user = os.getuid()
        group = os.getgid()
        self.manage("db_sync")
        for keys in ("fernet_setup", "credential_setup"):
            self.manage(keys, "--keystone-user", str(user),
                        "--keystone-group", str(group))
        self.manage("bootstrap", "--bootstrap-password", ADMIN_PASSWORD,
                    "--bootstrap-admin-url", self.url,
                    "--bootstrap-public-url", self.url,
                    "--bootstrap-internal-url", self.url,
                    "--bootstrap-region-id", "RegionOne")
        env = dict(os.environ, OS_KEYSTONE_CONFIG_FILES=self.config,
                   PYTHONPATH=ROOT)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.functional.keystone",
                 str(self.port)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, env=env, cwd=ROOT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"Keystone exited:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url, timeout=5):
                    return self
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"Keystone did not answer:\n{self.log()}")

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()[-5000:]

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def _serve(port):
    import warnings

    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
    # Keystone's application reads the command line as its own.
    sys.argv = sys.argv[:1]
    import waitress
    from keystone.wsgi.api import application

    waitress.serve(application, host="127.0.0.1", port=port, threads=4)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
