"""``panko-like-bench-api``: the REST API's figures, through real HTTP.

On a scratch database (created at ``--url``, an administrative
PostgreSQL or MySQL URL, or ``sqlite://``; dropped afterwards) it starts
the real ``panko-like-api`` (gunicorn, ``--workers`` processes, noauth)
on a free loopback port, then, with ``--clients`` concurrent client
processes on ``http.client`` connections (reopened whenever the server
closes one, as gunicorn's sync workers do after each answer):

1. posts the workload of ``panko_like.bench`` (``-n`` events) to
   ``POST /v2/events`` in batches of ``--batch-size``: events/s;
2. times an admin's all_tenants page of 100 events, a non-admin's page
   of their own events, and one event by id: req/s, p50/p95 ms;
3. on a freshly started server, streams ``--stream-events`` events in
   one ``GET /v2/events`` answer and reports the workers' peak RSS;
4. expires the older half through the driver while the clients keep
   asking for the newer half: requests served and errors meanwhile.

Every answer is checked against the generated data; a wrong answer,
an error status or a refused connection is a failure (exit status 1).
``--json`` writes the figures too.
"""

import argparse
import datetime
import http.client
import json
import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

from panko_like import bench, storage
from panko_like.storage import models

ADMIN = {"X-User-Id": "bench-admin", "X-Project-Id": "bench-admin-project",
         "X-Roles": "admin"}
ALL_TENANTS = "q.field=all_tenants&q.op=eq&q.value=True"
#: Non-admin identities whose pages are checked.
MEMBERS = 20
#: Cap on the requests of one client in one timed phase.
MAX_REQUESTS = 1_000_000


def _api_command():
    """``panko-like-api`` beside this Python (a venv), else on PATH."""
    beside = os.path.join(os.path.dirname(sys.executable), "panko-like-api")
    if os.path.exists(beside):
        return beside
    return shutil.which("panko-like-api") or beside


def _say(text):
    print(text, flush=True)


# What the answers must be

class Expected(bench.Expected):
    """bench's expectations, plus what the API's identities see."""

    def __init__(self, workload, samples):
        super().__init__(workload, samples)
        users = workload.users[:MEMBERS]
        self.members = {
            user: (workload.projects[index % len(workload.projects)],
                   bench._TopK())
            for index, user in enumerate(users)
        }
        self.newest = bench._TopK()

    def add(self, batch):
        super().add(batch)
        for event in batch:
            values = {t.name: t.value for t in event.traits}
            member = self.members.get(values["user_id"])
            key = (event.generated, event.message_id)
            if member is not None and member[0] == values["project_id"]:
                member[1].add(key)
            # generated descending, then message_id ascending.
            self.newest.add((-_micros(event.generated), event.message_id))

    def newer_samples(self):
        cutoff = bench.BASE + bench.HALF
        return [e for e in self.events.values() if e.generated > cutoff]


def _micros(value):
    return (value - bench.BASE) // datetime.timedelta(microseconds=1)


def event_json(event):
    """The API's shape, with native JSON numbers as a sender posts them."""
    return {
        "message_id": event.message_id,
        "event_type": event.event_type,
        "generated": models.format_datetime(event.generated),
        "traits": [{"name": t.name, "type": t.type_name,
                    "value": (t.value_as_text()
                              if t.dtype == models.DATETIME_TYPE
                              else t.value)}
                   for t in event.traits],
        "raw": event.raw,
    }


def check_event(body, event):
    """None if ``body`` is ``event`` as the API shows it, else why not."""
    if body.get("message_id") != event.message_id:
        return f"message_id {body.get('message_id')!r}"
    if body.get("event_type") != event.event_type:
        return f"event_type {body.get('event_type')!r}"
    if body.get("generated") != models.format_datetime(event.generated):
        return f"generated {body.get('generated')!r}"
    got = {(t["name"], t["type"], t["value"]) for t in body["traits"]}
    want = {(t.name, t.type_name, t.value_as_text()) for t in event.traits}
    if got != want:
        return f"traits differ: {sorted(got ^ want)[:4]}"
    if body.get("raw") != event.raw:
        return "raw differs"
    return None


# Requests: (method, path, headers, body, check); check(status, data)
# returns None when the answer is right, else what is wrong.

def _ids_check(ids):
    def check(status, data):
        if status != 200:
            return f"status {status}: {data[:200]!r}"
        got = [e["message_id"] for e in json.loads(data)]
        if got != ids:
            return f"{len(got)} ids, expected {len(ids)} (or other ids)"
        return None
    return check


def _event_check(event):
    def check(status, data):
        if status != 200:
            return f"status {status}: {data[:200]!r}"
        return check_event(json.loads(data), event)
    return check


def _post_check(count):
    def check(status, data):
        if status != 201:
            return f"status {status}: {data[:300]!r}"
        answer = json.loads(data)
        if answer != {"stored": count, "duplicates": []}:
            return f"answer {answer!r}"
        return None
    return check


def admin_pages(expected):
    return [("GET", f"/v2/events?{ALL_TENANTS}&limit={bench.PAGE}", ADMIN,
             None, _ids_check(expected.first.ids()))]


def _member(user, project):
    return {"X-User-Id": user, "X-Project-Id": project,
            "X-Roles": "member"}


def member_pages(expected):
    return [("GET", f"/v2/events?limit={bench.PAGE}", _member(user, project),
             None, _ids_check(top.ids()))
            for user, (project, top) in expected.members.items()]


def show_requests(events):
    requests = []
    for event in events:
        values = {t.name: t.value for t in event.traits}
        path = "/v2/events/" + urllib.parse.quote(event.message_id)
        requests.append(("GET", path, _member(values["user_id"],
                                              values["project_id"]),
                         None, _event_check(event)))
    return requests


def newest_pages(expected):
    return [("GET", f"/v2/events?{ALL_TENANTS}&limit={bench.PAGE}"
             "&sort=generated:desc", ADMIN, None,
             _ids_check(expected.newest.ids()))]


# The server

class Server:
    """``panko-like-api`` in a subprocess, with its own config file."""

    def __init__(self, url, workers, max_limit, directory):
        self.port = _free_port()
        self.directory = directory
        self.config = os.path.join(directory, "panko_like.conf")
        with open(self.config, "w") as f:
            f.write(f"[database]\nconnection = {url}\n"
                    f"partition_days = {bench.PARTITION_DAYS}\n"
                    f"[api]\nauth_mode = noauth\nworkers = {workers}\n"
                    f"max_limit = {max_limit}\n"
                    # A sync worker is killed when one request outlasts
                    # this, and a long stream on a busy machine may.
                    "worker_timeout = 1800\n")
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
        "p50_ms": round(1000 * bench._percentile(latencies, 50), 2)
        if latencies else None,
        "p95_ms": round(1000 * bench._percentile(latencies, 95), 2)
        if latencies else None,
        "errors": sum(c[2] for c in collected),
        # Independent of what else runs on the machine: the workers'
        # own CPU time per request (the database's is not counted).
        "server_cpu_ms_per_request": round(1000 * cpu / served, 2)
        if served else None,
    }
    return figures, failures, outcome


def _spread(requests, clients):
    """Give each client the requests, each starting at another place."""
    return [requests[i * len(requests) // clients:]
            + requests[:i * len(requests) // clients]
            for i in range(clients)]


# Phases

def ingest(server, workload, expected, args):
    _say(f"encoding {args.events} events in batches of {args.batch_size}")
    batches = []
    for batch in workload.events(args.events, args.batch_size):
        expected.add(batch)
        body = json.dumps([event_json(e) for e in batch]).encode()
        batches.append(("POST", "/v2/events", ADMIN, body,
                        _post_check(len(batch))))
    shares = [batches[i::args.clients] for i in range(args.clients)]
    figures, failures, _ = run_clients(server, shares)
    figures["events_per_s"] = round(args.events / figures["seconds"])
    _say(f"POST /v2/events: {figures['events_per_s']:,} events/s "
         f"({args.events} events in {figures['seconds']} s, "
         f"p50 {figures['p50_ms']} ms per batch; server CPU "
         f"{figures['server_cpu_ms_per_request']} ms per batch)")
    return figures, failures


def timed_queries(server, expected, args):
    """Each query for ``args.seconds``, ``args.rounds`` times.

    The rounds take turns (every query once, then every query again), so
    that a slow spell of the machine falls on all of them alike; each
    query's figures are those of its median round, with the range.
    """
    phases = {
        "admin_all_tenants_page": admin_pages(expected),
        "member_own_page": member_pages(expected),
        "event_by_id": show_requests(list(expected.events.values())),
    }
    runs, failures = {name: [] for name in phases}, []
    for number in range(1, args.rounds + 1):
        if args.rounds > 1:
            _say(f" round {number} of {args.rounds}:")
        for name, requests in phases.items():
            figures, failed, _ = run_clients(
                server, _spread(requests, args.clients),
                seconds=args.seconds)
            runs[name].append(figures)
            failures.extend(f"{name}: {f}" for f in failed)
            _say(f"  {name:24} {figures['req_per_s']:9,.1f} req/s  p50 "
                 f"{figures['p50_ms']:7.2f} ms  p95 "
                 f"{figures['p95_ms']:7.2f} ms  ({figures['requests']} "
                 f"requests, {figures['errors']} errors; server CPU "
                 f"{figures['server_cpu_ms_per_request']} ms/request)")
    results = {name: median_round(rounds) for name, rounds in runs.items()}
    if args.rounds > 1:
        _say(f" median of {args.rounds} rounds (range):")
        for name, figures in results.items():
            _say(f"  {name:24} {figures['req_per_s']:9,.1f} req/s  "
                 f"({figures['req_per_s_min']:,.1f}-"
                 f"{figures['req_per_s_max']:,.1f}); server CPU "
                 f"{figures['server_cpu_ms_per_request']} ms/request")
    return results, failures


def median_round(rounds):
    """The figures of the round with the median rate, with the range
    of rates over all rounds and every round's figures."""
    ordered = sorted(rounds, key=lambda figures: figures["req_per_s"])
    figures = dict(ordered[(len(ordered) - 1) // 2])
    figures.update({
        "req_per_s_min": ordered[0]["req_per_s"],
        "req_per_s_max": ordered[-1]["req_per_s"],
        "errors": sum(r["errors"] for r in rounds),
        "rounds": rounds,
    })
    return figures


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


def stream(server, expected, args):
    """One long answer, the serving worker's memory watched meanwhile."""
    limit = min(args.stream_events, expected.count)
    samples = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            samples.append(max(rss_mb(pid) for pid in server.workers()))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    before = max(rss_mb(pid) for pid in server.workers())
    watcher.start()
    began = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", server.port,
                                            timeout=300)
    failures, count, size, previous = [], 0, 0, None
    first_page = expected.first.ids()
    try:
        connection.request("GET", f"/v2/events?{ALL_TENANTS}&limit={limit}",
                           headers=ADMIN)
        response = connection.getresponse()
        if response.status != 200:
            failures.append(f"stream: status {response.status}")
        else:
            counted = _Counted(response)
            for event in iter_json_array(counted):
                key = (event["generated"], event["message_id"])
                if count < len(first_page) and \
                        event["message_id"] != first_page[count]:
                    failures.append(f"stream: event {count} is "
                                    f"{event['message_id']}")
                if previous is not None and key < previous:
                    failures.append(f"stream: out of order at {count}")
                previous = key
                count += 1
            size = counted.size
    except (OSError, ValueError) as exc:
        failures.append(f"stream: {type(exc).__name__}: {exc}")
    finally:
        connection.close()
        done.set()
        watcher.join()
    elapsed = time.perf_counter() - began
    if count != limit:
        failures.append(f"stream: {count} events, expected {limit}")
    figures = {
        "events": count,
        "mb": round(size / 2**20, 1),
        "seconds": round(elapsed, 2),
        "events_per_s": round(count / elapsed),
        "worker_rss_before_mb": before,
        "worker_rss_peak_mb": max(samples, default=before),
        "worker_peak_rss_mb": max(rss_mb(pid, "VmHWM")
                                  for pid in server.workers()),
        "master_peak_rss_mb": rss_mb(server.process.pid, "VmHWM"),
    }
    _say(f"streamed {count} events ({figures['mb']} MB) in "
         f"{figures['seconds']} s; worker RSS {before} MB before, peak "
         f"{figures['worker_peak_rss_mb']} MB (lifetime high-water mark)")
    return figures, failures


class _Counted:
    def __init__(self, response):
        self.response = response
        self.size = 0

    def read(self, size):
        data = self.response.read(size)
        self.size += len(data)
        return data


def expire_while_serving(server, url, expected, args):
    conn = storage.get_connection(url, bench.bench_conf(url))
    requests = newest_pages(expected) + show_requests(
        expected.newer_samples())
    try:
        figures, failures, (seconds, deleted) = run_clients(
            server, _spread(requests, args.clients),
            until=lambda: bench.expire_older_half(conn, expected))
    finally:
        conn.close()
    figures.update({"events": deleted, "expiry_seconds": round(seconds, 2)})
    if deleted != expected.older:
        failures.append(f"expiry deleted {deleted} events, expected "
                        f"{expected.older}")
    _say(f"expiry of the older half: {deleted} events in {seconds:.1f} s; "
         f"meanwhile {figures['requests']} requests answered "
         f"({figures['req_per_s']} req/s), {figures['errors']} errors")
    return figures, [f"during expiry: {f}" for f in failures]


# The run

def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="panko-like-bench-api",
        description="Start panko-like-api on a scratch database and "
        "measure ingestion, pages, show, a 100,000-event stream and "
        "expiry through HTTP with concurrent clients.")
    parser.add_argument("--url", default="sqlite://",
                        help="administrative PostgreSQL/MySQL URL (a "
                        "scratch database is created there), or "
                        "sqlite:// (default)")
    parser.add_argument("-n", "--events", type=bench._positive,
                        default=20_000, help="events to post (default "
                        "20,000)")
    parser.add_argument("-b", "--batch-size", type=bench._positive,
                        default=1000, help="events per POST (default 1000)")
    parser.add_argument("--workers", type=bench._positive, default=2,
                        help="API worker processes (default 2)")
    parser.add_argument("--clients", type=bench._positive, default=4,
                        help="concurrent client processes (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="duration of each timed query (default 10)")
    parser.add_argument("--rounds", type=bench._positive, default=3,
                        help="times each timed query is run, taking "
                        "turns; the median round is reported with the "
                        "range (default 3)")
    parser.add_argument("--stream-events", type=bench._positive,
                        default=100_000, help="events in the streamed "
                        "answer, at most --events (default 100,000)")
    parser.add_argument("--seed", type=int, default=1,
                        help="workload seed (default 1)")
    bench.add_order_argument(parser)
    parser.add_argument("--json", metavar="PATH",
                        help="also write the figures as JSON here")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    workload = bench.Workload(args.seed, args.order)
    expected = Expected(workload, samples=max(1, args.events // 200))
    scratch = bench.Scratch(args.url)
    result = {"backend": scratch.backend, "events": args.events,
              "batch_size": args.batch_size, "workers": args.workers,
              "clients": args.clients, "seed": args.seed,
              "order": args.order,
              "command": " ".join(["panko-like-bench-api", *argv])}
    result["server"] = bench.describe_server(scratch)
    directory = tempfile.mkdtemp(prefix="panko_like_bench_api_")
    failures = []
    try:
        failures = _run(args, workload, expected, scratch, directory,
                        result)
    finally:
        scratch.cleanup()
        shutil.rmtree(directory, ignore_errors=True)
    result["failures"] = failures
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    for failure in failures[:50]:
        _say(f"FAILED {failure}")
    if failures:
        return 1
    _say("every answer checked: OK")
    return 0


def _run(args, workload, expected, scratch, directory, result):
    url = scratch.create("")
    conf = bench.bench_conf(url)
    conn = storage.get_connection(url, conf)
    conn.upgrade()
    conn.close()
    max_limit = max(args.stream_events, bench.PAGE)
    failures = []
    server = Server(url, args.workers, max_limit, directory)
    server.start()
    try:
        _say(f"panko-like-api on port {server.port}, {args.workers} "
             f"workers, {args.clients} clients, {scratch.backend}")
        result["ingest"], failed = ingest(server, workload, expected, args)
        failures.extend(failed)
        conn = storage.get_connection(url, conf)
        _say(f"statistics refreshed in {bench.analyze(conn):.1f} s; "
             f"queries for {args.seconds:g} s each, {args.rounds} "
             f"round(s):")
        conn.close()
        result["queries"], failed = timed_queries(server, expected, args)
        failures.extend(failed)
    finally:
        server.stop()
    # A fresh server: the workers' high-water mark is the stream's own.
    server = Server(url, args.workers, max_limit, directory)
    server.start()
    try:
        result["stream"], failed = stream(server, expected, args)
        failures.extend(failed)
        result["expiry"], failed = expire_while_serving(
            server, url, expected, args)
        failures.extend(failed)
    finally:
        server.stop()
    return failures


if __name__ == "__main__":
    sys.exit(main())
