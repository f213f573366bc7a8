"""The API benchmark's HTTP side: the real ``panko-like-api`` server in
a subprocess, and client processes that time and check its answers."""

import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

from tools.benchlib.queries import percentile
from tools.benchlib.scratch import PARTITION_DAYS, time_to_live

#: Cap on the requests of one client in one timed phase.
MAX_REQUESTS = 1_000_000


def _api_command():
    """``panko-like-api`` beside this Python (a venv), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "panko-like-api")
    if os.path.exists(beside):
        return beside
    return shutil.which("panko-like-api") or beside


class Server:
    """``panko-like-api`` in a subprocess, with its own config file."""

    def __init__(self, url, workers, max_limit, directory, threads=None,
                 token_file=None, database=None, api_options=None):
        """``database``, ``api_options``: more ``[database]`` and
        ``[api]`` options, by name."""
        self.port = _free_port()
        auth = (f"auth_mode = token\ntoken_file = {token_file}\n"
                if token_file else "auth_mode = noauth\n")
        self.directory = directory
        self.config = os.path.join(directory, "panko_like.conf")
        with open(self.config, "w") as f:
            f.write(f"[database]\nconnection = {url}\n"
                    f"partition_days = {PARTITION_DAYS}\n"
                    f"event_time_to_live = {time_to_live()}\n"
                    + "".join(f"{name} = {value}\n"
                              for name, value in (database or {}).items())
                    + f"[api]\n{auth}workers = {workers}\n"
                    f"max_limit = {max_limit}\n"
                    # A sync worker is killed when one request outlasts
                    # this, and a long stream on a busy machine may.
                    "worker_timeout = 1800\n"
                    + (f"threads = {threads}\n" if threads else "")
                    + "".join(f"{name} = {value}\n" for name, value
                              in (api_options or {}).items()))
        self.process = None

    def start(self, timeout=60):
        log = open(os.path.join(self.directory, "api.log"), "ab")
        with log:
            self.process = subprocess.Popen(
                [_api_command(), "--config-file", self.config, "--port",
                 str(self.port)], stdout=log, stderr=log,
                stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("panko-like-api exited; see "
                                 f"{self.directory}/api.log")
            try:
                status, _ = Client(self.port).request("GET", "/")
                if status == 200 and len(self.workers()) >= 1:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise SystemExit("panko-like-api did not answer in time")

    def workers(self):
        path = f"/proc/{self.process.pid}/task/{self.process.pid}/children"
        try:
            with open(path) as f:
                return [int(pid) for pid in f.read().split()]
        except OSError:
            return []

    def cpu_seconds(self):
        """CPU time (user + system) its workers have used so far."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.workers():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid, field="VmRSS"):
    """``field`` of /proc/PID/status in MB (VmHWM: the peak), or 0."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


# The clients

class Client:
    """One keep-alive HTTP connection (reopened if the server closes it)."""

    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port,
                                                     timeout=300)

    def request(self, method, path, headers=None, body=None):
        headers = dict(headers or {})
        if body is not None:
            headers["Content-Type"] = "application/json"
        for attempt in (1, 2):
            try:
                self.connection.request(method, path, body=body,
                                        headers=headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (http.client.RemoteDisconnected, BrokenPipeError,
                    ConnectionResetError):
                # An idle keep-alive connection the server closed.
                self.connection.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def _client_loop(port, requests, start, stop, deadline, results):
    """Send ``requests`` round-robin until ``stop`` or ``deadline``."""
    client = Client(port)
    served, failures, latencies = 0, [], []
    start.wait()
    index = 0
    while not stop.is_set() and served < MAX_REQUESTS:
        if deadline is not None and time.monotonic() >= deadline.value:
            break
        if deadline is None and index >= len(requests):
            break
        method, path, headers, body, check = requests[index % len(requests)]
        index += 1
        began = time.perf_counter()
        try:
            status, data = client.request(method, path, headers, body)
            problem = check(status, data)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            problem = f"{type(exc).__name__}: {exc}"
        latencies.append(time.perf_counter() - began)
        served += 1
        if problem:
            failures.append(f"{method} {path}: {problem}")
    results.put((served, failures[:20], len(failures), latencies))


def run_clients(server, shares, seconds=None, until=None):
    """Run one client process per share; return figures and failures.

    With ``seconds``, each client cycles through its share for that long;
    without, it sends its share once. ``until``, if given, is a callable
    run meanwhile in this process: the clients stop when it returns.
    """
    context = multiprocessing.get_context("fork")
    start, stop = context.Event(), context.Event()
    results = context.Queue()
    deadline = None
    if seconds is not None or until is not None:
        deadline = context.Value("d", float("inf"))
    processes = [
        context.Process(target=_client_loop, args=(
            server.port, share, start, stop, deadline, results))
        for share in shares
    ]
    cpu = server.cpu_seconds()
    for process in processes:
        process.start()
    began = time.perf_counter()
    if deadline is not None and seconds is not None:
        deadline.value = time.monotonic() + seconds
    start.set()
    outcome = None
    if until is not None:
        outcome = until()
        stop.set()
    collected = [results.get() for _ in processes]
    elapsed = time.perf_counter() - began
    cpu = server.cpu_seconds() - cpu
    for process in processes:
        process.join()
    served = sum(c[0] for c in collected)
    latencies = sorted(x for c in collected for x in c[3])
    failures = [f for c in collected for f in c[1]]
    figures = {
        "requests": served,
        "seconds": round(elapsed, 2),
        "req_per_s": round(served / elapsed, 1),
        "p50_ms": round(1000 * percentile(latencies, 50), 2)
        if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 95), 2)
        if latencies else None,
        "errors": sum(c[2] for c in collected),
        # Independent of what else runs on the machine: the workers'
        # own CPU time per request (the database's is not counted).
        "server_cpu_ms_per_request": round(1000 * cpu / served, 2)
        if served else None,
    }
    return figures, failures, outcome


def spread(requests, clients):
    """Give each client the requests, each starting at another place."""
    return [requests[i * len(requests) // clients:]
            + requests[:i * len(requests) // clients]
            for i in range(clients)]


def iter_json_array(response, size=256 * 1024):
    """Decode the objects of a JSON array as its bytes arrive."""
    decoder = json.JSONDecoder()
    text, position, opened = "", 0, False
    while True:
        data = response.read(size)
        text = text[position:] + data.decode()
        position = 0
        while True:
            while position < len(text) and text[position] in " \n,":
                position += 1
            if not opened and position < len(text):
                if text[position] != "[":
                    raise ValueError("not a JSON array")
                opened, position = True, position + 1
                continue
            if position < len(text) and text[position] == "]":
                return
            try:
                item, position = decoder.raw_decode(text, position)
            except json.JSONDecodeError:
                if not data:
                    raise
                break
            yield item
        if not data:
            raise ValueError("the array was cut short")


class Counted:
    """A response that counts the bytes read from it."""

    def __init__(self, response):
        self.response = response
        self.size = 0

    def read(self, size):
        data = self.response.read(size)
        self.size += len(data)
        return data

