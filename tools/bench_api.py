"""The API benchmark: the REST API's figures, through real HTTP.

Run from a checkout (``python -m tools.bench_api --help``, or ``tox -e
bench-api -- ARGS``). On a scratch database (created at ``--url``, an
administrative PostgreSQL or MySQL URL, or ``sqlite://``; dropped
afterwards) it starts
the real ``panko-like-api`` (gunicorn, ``--workers`` processes, noauth)
on a free loopback port, then, with ``--clients`` concurrent client
processes on ``http.client`` connections (reopened whenever the server
closes one, as gunicorn's sync workers do after each answer):

1. posts the storage benchmark's workload (``-n`` events) to
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
import hashlib
import http.client
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
import urllib.parse

from panko_like import storage
from panko_like.storage import models
from tools.benchlib import cli, scratch
from tools.benchlib.api_http import (
    Counted,
    Server,
    iter_json_array,
    rss_mb,
    run_clients,
    spread,
)
from tools.benchlib.cli import say
from tools.benchlib.workload import (
    BASE,
    HALF,
    PAGE,
    TopK,
    Workload,
    expire_older_half,
)
from tools.benchlib.workload import Expected as StorageExpected

PROG = "python -m tools.bench_api"
ADMIN = {"X-User-Id": "bench-admin", "X-Project-Id": "bench-admin-project",
         "X-Roles": "admin"}
ALL_TENANTS = "q.field=all_tenants&q.op=eq&q.value=True"
#: Non-admin identities whose pages are checked.
MEMBERS = 20


class Credentials:
    """What a request sends to say who it is: the identity headers
    (noauth), or with ``--auth token`` a bearer token of that identity,
    from a token file written in the format ``panko-like-token`` writes
    (its id, the SHA-256 of the whole token, the identity)."""

    def __init__(self):
        self.tokens = None
        self.path = None

    def use_tokens(self, directory, identities):
        self.tokens = {}
        entries = []
        for headers in identities:
            key = (headers["X-User-Id"], headers["X-Project-Id"],
                   headers["X-Roles"])
            token = f"{secrets.token_hex(6)}.{secrets.token_urlsafe(32)}"
            self.tokens[key] = token
            entries.append({
                "id": token.partition(".")[0],
                "sha256": hashlib.sha256(token.encode()).hexdigest(),
                "user_id": key[0], "project_id": key[1],
                "roles": key[2].split(",")})
        self.path = os.path.join(directory, "tokens.json")
        with open(self.path, "w") as f:
            json.dump({"tokens": entries}, f)

    def __call__(self, headers):
        if self.tokens is None:
            return headers
        return {"X-Auth-Token": self.tokens[(
            headers["X-User-Id"], headers["X-Project-Id"],
            headers["X-Roles"])]}


CREDENTIALS = Credentials()


# What the answers must be

class Expected(StorageExpected):
    """The storage benchmark's expectations, plus what the API's
    identities see."""

    def __init__(self, workload, samples):
        super().__init__(workload, samples)
        users = workload.users[:MEMBERS]
        self.members = {
            user: (workload.projects[index % len(workload.projects)],
                   TopK())
            for index, user in enumerate(users)
        }
        self.newest = TopK()

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
        cutoff = BASE + HALF
        return [e for e in self.events.values() if e.generated > cutoff]


def _micros(value):
    return (value - BASE) // datetime.timedelta(microseconds=1)


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
    return [("GET", f"/v2/events?{ALL_TENANTS}&limit={PAGE}",
             CREDENTIALS(ADMIN), None, _ids_check(expected.first.ids()))]


def _member(user, project):
    return CREDENTIALS(_member_headers(user, project))


def _member_headers(user, project):
    return {"X-User-Id": user, "X-Project-Id": project,
            "X-Roles": "member"}


def member_pages(expected):
    return [("GET", f"/v2/events?limit={PAGE}", _member(user, project),
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
    return [("GET", f"/v2/events?{ALL_TENANTS}&limit={PAGE}"
             "&sort=generated:desc", CREDENTIALS(ADMIN), None,
             _ids_check(expected.newest.ids()))]



# Phases

def ingest(server, workload, expected, args):
    say(f"encoding {args.events} events in batches of {args.batch_size}")
    batches = []
    for batch in workload.events(args.events, args.batch_size):
        expected.add(batch)
        body = json.dumps([event_json(e) for e in batch]).encode()
        batches.append(("POST", "/v2/events", CREDENTIALS(ADMIN), body,
                        _post_check(len(batch))))
    shares = [batches[i::args.clients] for i in range(args.clients)]
    figures, failures, _ = run_clients(server, shares)
    figures["events_per_s"] = round(args.events / figures["seconds"])
    say(f"POST /v2/events: {figures['events_per_s']:,} events/s "
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
            say(f" round {number} of {args.rounds}:")
        for name, requests in phases.items():
            figures, failed, _ = run_clients(
                server, spread(requests, args.clients),
                seconds=args.seconds)
            runs[name].append(figures)
            failures.extend(f"{name}: {f}" for f in failed)
            say(f"  {name:24} {figures['req_per_s']:9,.1f} req/s  p50 "
                f"{figures['p50_ms']:7.2f} ms  p95 "
                f"{figures['p95_ms']:7.2f} ms  ({figures['requests']} "
                f"requests, {figures['errors']} errors; server CPU "
                f"{figures['server_cpu_ms_per_request']} ms/request)")
    results = {name: median_round(rounds) for name, rounds in runs.items()}
    if args.rounds > 1:
        say(f" median of {args.rounds} rounds (range):")
        for name, figures in results.items():
            say(f"  {name:24} {figures['req_per_s']:9,.1f} req/s  "
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
                           headers=CREDENTIALS(ADMIN))
        response = connection.getresponse()
        if response.status != 200:
            failures.append(f"stream: status {response.status}")
        else:
            counted = Counted(response)
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
    say(f"streamed {count} events ({figures['mb']} MB) in "
        f"{figures['seconds']} s; worker RSS {before} MB before, peak "
        f"{figures['worker_peak_rss_mb']} MB (lifetime high-water mark)")
    return figures, failures


def expire_while_serving(server, url, expected, args):
    conn = storage.get_connection(url, scratch.bench_conf(url))
    requests = newest_pages(expected) + show_requests(
        expected.newer_samples())
    try:
        figures, failures, (seconds, deleted) = run_clients(
            server, spread(requests, args.clients),
            until=lambda: expire_older_half(conn))
    finally:
        conn.close()
    figures.update({"events": deleted, "expiry_seconds": round(seconds, 2)})
    if deleted != expected.older:
        failures.append(f"expiry deleted {deleted} events, expected "
                        f"{expected.older}")
    say(f"expiry of the older half: {deleted} events in {seconds:.1f} s; "
        f"meanwhile {figures['requests']} requests answered "
        f"({figures['req_per_s']} req/s), {figures['errors']} errors")
    return figures, [f"during expiry: {f}" for f in failures]


# The run

def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Start panko-like-api on a scratch database and "
        "measure ingestion, pages, show, a 100,000-event stream and "
        "expiry through HTTP with concurrent clients.")
    parser.add_argument("--url", default="sqlite://",
                        help="administrative PostgreSQL/MySQL URL (a "
                        "scratch database is created there), or "
                        "sqlite:// (default)")
    parser.add_argument("-n", "--events", type=cli.positive,
                        default=20_000, help="events to post (default "
                        "20,000)")
    parser.add_argument("-b", "--batch-size", type=cli.positive,
                        default=1000, help="events per POST (default 1000)")
    parser.add_argument("--threads", type=cli.positive, default=None,
                        help="request threads per API worker ([api] "
                        "threads; default: the service's)")
    parser.add_argument("--workers", type=cli.positive, default=2,
                        help="API worker processes (default 2)")
    parser.add_argument("--clients", type=cli.positive, default=4,
                        help="concurrent client processes (default 4)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="duration of each timed query (default 10)")
    parser.add_argument("--rounds", type=cli.positive, default=3,
                        help="times each timed query is run, taking "
                        "turns; the median round is reported with the "
                        "range (default 3)")
    parser.add_argument("--stream-events", type=cli.positive,
                        default=100_000, help="events in the streamed "
                        "answer, at most --events (default 100,000)")
    parser.add_argument("--seed", type=int, default=1,
                        help="workload seed (default 1)")
    cli.add_order_argument(parser)
    parser.add_argument("--auth", choices=("noauth", "token"),
                        default="noauth",
                        help="noauth (default): identity headers; token: "
                        "the server in auth_mode token, each identity "
                        "sending a bearer token of its own")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the figures as JSON here")
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    workload = Workload(args.seed, args.order)
    expected = Expected(workload, samples=max(1, args.events // 200))
    place = scratch.make_scratch(args.url)
    result = {"backend": place.backend, "auth": args.auth,
              "events": args.events,
              "batch_size": args.batch_size, "workers": args.workers,
              "clients": args.clients, "seed": args.seed,
              "order": args.order,
              "command": " ".join([PROG, *argv])}
    result["server"] = scratch.describe_server(place)
    directory = tempfile.mkdtemp(prefix="panko_like_bench_api_")
    failures = []
    try:
        failures = _run(args, workload, expected, place, directory, result)
    finally:
        place.cleanup()
        shutil.rmtree(directory, ignore_errors=True)
    return cli.finish(result, failures, args.json, "every answer checked: OK")


def _run(args, workload, expected, place, directory, result):
    url = place.create()
    conf = scratch.bench_conf(url)
    conn = storage.get_connection(url, conf)
    conn.upgrade()
    conn.close()
    max_limit = max(args.stream_events, PAGE)
    failures = []
    token_file = None
    if args.auth == "token":
        # Every identity the requests use: the admin, and each user of
        # the workload in the project the workload gives it.
        users = workload.users
        CREDENTIALS.use_tokens(directory, [ADMIN] + [
            _member_headers(user, workload.projects[i % len(
                workload.projects)]) for i, user in enumerate(users)])
        token_file = CREDENTIALS.path
    server = Server(url, args.workers, max_limit, directory, args.threads,
                    token_file)
    server.start()
    try:
        say(f"panko-like-api on port {server.port}, {args.workers} "
            f"workers, {args.clients} clients, {place.backend}")
        result["ingest"], failed = ingest(server, workload, expected, args)
        failures.extend(failed)
        say(f"statistics refreshed in {scratch.analyze(url):.1f} s; "
            f"queries for {args.seconds:g} s each, {args.rounds} "
            f"round(s):")
        result["queries"], failed = timed_queries(server, expected, args)
        failures.extend(failed)
    finally:
        server.stop()
    # A fresh server: the workers' high-water mark is the stream's own.
    server = Server(url, args.workers, max_limit, directory, args.threads,
                    token_file)
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
