"""``panko-like-api`` as a real process on a free loopback port."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN = os.path.join(os.path.dirname(sys.executable), "panko-like-api")

#: noauth identity of an admin of project "p-admin".
ADMIN = {"X-User-Id": "u-admin", "X-Project-Id": "p-admin",
         "X-Roles": "admin"}
#: A Keystone nobody answers at, closed loopback port.
UNREACHABLE_KEYSTONE = "http://127.0.0.1:9/v3"
#: keystone mode's [keystone_authtoken], pointing at that Keystone: a
#: request without a token is refused without it being asked.
KEYSTONE_AUTHTOKEN = {
    "auth_type": "password",
    "auth_url": UNREACHABLE_KEYSTONE,
    "www_authenticate_uri": UNREACHABLE_KEYSTONE,
    "username": "panko", "password": "secret",
    "project_name": "service",
    "user_domain_name": "Default",
    "project_domain_name": "Default",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(directory, sections) -> str:
    """``sections`` maps a group name to ``{option: value}``."""
    path = os.path.join(directory, "panko_like.conf")
    with open(path, "w") as f:
        for group, options in sections.items():
            f.write(f"[{group}]\n")
            for name, value in options.items():
                f.write(f"{name} = {value}\n")
    return path


def _server_inode(port, client_port) -> int:
    """The inode of the server's end of the loopback TCP connection
    from ``client_port`` to ``port`` (0 while not accepted)."""
    with open("/proc/net/tcp") as f:
        next(f)  # the header
        for line in f:
            fields = line.split()
            local, remote, inode = fields[1], fields[2], fields[9]
            if (int(local.split(":")[1], 16) == port
                    and int(remote.split(":")[1], 16) == client_port):
                return int(inode)
    return 0


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)


class APIServer:
    """Starts ``panko-like-api`` with ``args``; HOME is a fresh directory.

    The process gets its own HOME (and working directory), so the
    embedded database of a run without a configuration file lands in
    ``self.home`` and never in the real one.
    """

    def __init__(self, *args, home=None, port=None):
        self.home = home or tempfile.mkdtemp(prefix="panko_like_home_")
        self.port = port or free_port()
        self.args = [*args, "--port", str(self.port)]
        self.process = None
        self.stdout_path = os.path.join(self.home, "stdout.log")
        self.stderr_path = os.path.join(self.home, "stderr.log")

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=60):
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("OS_", "PANKO_LIKE_"))}
        env["HOME"] = self.home
        with open(self.stdout_path, "ab") as out, \
                open(self.stderr_path, "ab") as err:
            self.process = subprocess.Popen(
                [BIN, *self.args], stdout=out, stderr=err,
                stdin=subprocess.DEVNULL, cwd=self.home, env=env,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"panko-like-api exited {self.process.returncode}:\n"
                    f"{self.logs()}")
            try:
                # Answered by a worker, not only accepted by the arbiter.
                if self.request("GET", "/", timeout=5).status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"panko-like-api did not answer:\n{self.logs()}")

    def stop(self, sig=signal.SIGTERM, timeout=60) -> int:
        """Send ``sig`` and wait; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"panko-like-api ignored signal {sig}:\n{self.logs()}"
            ) from None

    def cleanup(self):
        """Stop the process if running, and remove HOME."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)

    def logs(self):
        parts = []
        for path in (self.stdout_path, self.stderr_path):
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    parts.append(f.read())
        return "\n".join(parts)

    def wait_for_workers(self, count, timeout=30) -> list[int]:
        """Pids of the arbiter's children, once there are ``count``."""
        deadline = time.monotonic() + timeout
        while len(workers := self.workers()) < count:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
        return workers

    def workers(self) -> list[int]:
        """Pids of the arbiter's child processes."""
        children = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            # The fields after the parenthesised command: state, ppid.
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == self.process.pid:
                children.append(int(entry))
        return children

    def wait_until(self, condition, what, timeout=60):
        """Poll ``condition()`` until true, failing after ``timeout``
        seconds (or once the process has exited) with ``what``."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"{what}:\n{self.logs()}")
            time.sleep(0.05)

    def accepted(self, sock) -> bool:
        """Whether a worker has accepted the connection of the client
        socket ``sock`` (not merely the kernel, in the listen backlog).

        The server's end of a connection still in the backlog has no
        file yet (inode 0 in /proc/net/tcp); once accepted, it is one
        of the worker's file descriptors.
        """
        inode = _server_inode(self.port, sock.getsockname()[1])
        if not inode:
            return False
        target = f"socket:[{inode}]"
        for pid in self.workers():
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
                if any(os.readlink(f"/proc/{pid}/fd/{fd}") == target
                       for fd in fds):
                    return True
            except OSError:
                continue  # the worker is gone, or the fd closed
        return False

    def request(self, method, path, body=None, headers=None, timeout=60):
        data = None
        headers = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return Response(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as exc:
            return Response(exc.code, exc.headers, exc.read())


def start_servers(test, count, sections_of_home):
    """``count`` ``panko-like-api`` processes on one configuration file,
    whose sections ``sections_of_home(home)`` gives (it may write files
    of its own in that HOME, which they share); each is stopped, and the
    HOME removed, when ``test`` ends."""
    servers, home, path = [], None, None
    for _ in range(count):
        server = APIServer(home=home)
        if home is None:
            home = server.home
            test.addCleanup(server.cleanup)
            path = write_config(home, sections_of_home(home))
        else:
            test.addCleanup(_stop_if_running, server)
        server.args[:0] = ["--config-file", path]
        servers.append(server.start())
    return servers


def _stop_if_running(server):
    if server.process.poll() is None:
        server.stop()
