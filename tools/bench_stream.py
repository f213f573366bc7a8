"""The live stream benchmark: GET /v2/events/stream under ingestion.

Run from a checkout (``python -m tools.bench_stream --help``, or ``tox
-e bench-stream -- ARGS``). On a scratch database (``--url``, an
administrative PostgreSQL or MySQL URL, a MongoDB URI, or ``sqlite://``;
dropped afterwards) it starts the real ``panko-like-api`` (``--workers``
processes, noauth) and:

1. opens ``--subscribers`` streams as members, each of its own project
   (``--projects`` of them, the subscribers spread over them), plus
   ``--admins`` admin streams with all_tenants, every one on its own
   connection of this process;
2. posts ``--rate`` events per second for ``--seconds`` seconds
   through ``POST /v2/events`` in batches of ``--batch-size``, the
   events spread over the projects;
3. waits until every stream has what it should have (or ``--drain``
   seconds), then closes the streams.

It prints the delivery latency (from the POST being sent to the event
being read from a stream) p50/p99/max, and the deliveries expected,
made, lost and duplicated. An event delivered to a stream that should
not see it, a lost or duplicated delivery, an error answer or a stream
that did not open is a failure (exit status 1). ``--json`` writes the
figures too.
"""

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import threading
import time

from panko_like import storage
from tools.benchlib import cli, scratch, sse
from tools.benchlib.api_http import Server
from tools.benchlib.queries import percentile

PROG = "python -m tools.bench_stream"
say = cli.say
ADMIN = {"X-User-Id": "bench-admin", "X-Project-Id": "bench-admin-project",
         "X-Roles": "admin"}
#: Seconds the stream options below let an event wait at most, twice.
STREAM_OPTIONS = {"stream_poll_interval": 0.2, "stream_settle_delay": 0.3}


def member(project):
    return {"X-User-Id": f"user-{project}", "X-Project-Id": project,
            "X-Roles": "member"}


def event(message_id, project):
    return {"message_id": message_id, "event_type": "bench.stream",
            "generated": "2026-01-01T00:00:00.000001", "raw": {},
            "traits": [
                {"name": "project_id", "type": "string", "value": project},
                {"name": "user_id", "type": "string",
                 "value": f"user-{project}"}]}


class Ingest:
    """Posts batches at a steady pace from ``posters`` threads; ``sent``
    maps each message_id to when its POST was sent."""

    def __init__(self, port, projects, args):
        self.port = port
        self.projects = projects
        self.args = args
        self.sent = {}
        self.failures = []
        self.posts = 0
        self._lock = threading.Lock()
        self._next = 0

    def run(self):
        batches = int(self.args.rate * self.args.seconds
                      / self.args.batch_size)
        interval = self.args.batch_size / self.args.rate
        start = time.monotonic() + 0.1
        threads = [threading.Thread(target=self._post_loop,
                                    args=(batches, interval, start))
                   for _ in range(self.args.posters)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return time.monotonic() - start

    def _take(self, batches):
        with self._lock:
            if self._next >= batches:
                return None
            self._next += 1
            return self._next - 1

    def _post_loop(self, batches, interval, start):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=60)
        while (number := self._take(batches)) is not None:
            delay = start + number * interval - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            size = self.args.batch_size
            ids = [f"e{number * size + i:09d}" for i in range(size)]
            body = json.dumps([
                event(m, self.projects[(number * size + i)
                                       % len(self.projects)])
                for i, m in enumerate(ids)]).encode()
            now = time.time()
            with self._lock:
                self.sent.update((m, now) for m in ids)
            try:
                conn.request("POST", "/v2/events", body=body, headers={
                    **ADMIN, "Content-Type": "application/json"})
                response = conn.getresponse()
                answer = response.read()
                if response.getheader("Connection", "") == "close":
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                self.failures.append(f"POST batch {number}: {exc}")
                conn.close()
                continue
            with self._lock:
                self.posts += 1
            if response.status != 201:
                self.failures.append(
                    f"POST batch {number}: {response.status} "
                    f"{answer[:200]!r}")
        conn.close()


def open_streams(port, projects, args):
    """(subscriber, the project it sees or None for all) pairs."""
    streams = []
    path = f"/v2/events/stream?timeout={args.seconds + args.drain + 60}"
    for index in range(args.subscribers):
        project = projects[index % len(projects)]
        streams.append((sse.Subscriber(port, path, member(project)),
                        project))
    for _ in range(args.admins):
        streams.append((sse.Subscriber(
            port, path + "&q.field=all_tenants&q.value=true", ADMIN), None))
    for subscriber, _ in streams:
        subscriber.start()
    for subscriber, _ in streams:
        subscriber.ready.wait(60)
    return streams


def expected_of(project, sent, projects):
    if project is None:
        return set(sent)
    return {m for m in sent
            if projects[int(m[1:]) % len(projects)] == project}


def drain(streams, sent, projects, seconds):
    expected = [expected_of(p, sent, projects) for _, p in streams]
    deadline = time.monotonic() + seconds
    for (subscriber, _), wanted in zip(streams, expected, strict=True):
        subscriber.wait_for(len(wanted),
                            max(0.0, deadline - time.monotonic()))
    return expected


def tally(streams, expected, sent):
    latencies, failures = [], []
    counts = {"expected": 0, "delivered": 0, "lost": 0, "duplicated": 0,
              "foreign": 0}
    for (subscriber, project), wanted in zip(streams, expected,
                                             strict=True):
        seen = set()
        for received, body in subscriber.events():
            message_id = body["message_id"]
            if message_id not in wanted:
                counts["foreign"] += 1
                continue
            if message_id in seen:
                counts["duplicated"] += 1
                continue
            seen.add(message_id)
            latencies.append(received - sent[message_id])
        counts["expected"] += len(wanted)
        counts["delivered"] += len(seen)
        counts["lost"] += len(wanted - seen)
        if subscriber.status != 200:
            failures.append(f"a stream of {project or 'all projects'} "
                            f"answered {subscriber.status} "
                            f"{subscriber.body[:200]!r}")
    for name in ("lost", "duplicated", "foreign"):
        if counts[name]:
            failures.append(f"{counts[name]} deliveries {name}")
    return counts, latencies, failures


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="sqlite://",
                        help="administrative URL of the server to make a "
                        "scratch database on (default: a temporary "
                        "SQLite file)")
    parser.add_argument("--subscribers", type=cli.positive, default=100,
                        help="member streams (default 100)")
    parser.add_argument("--projects", type=cli.positive, default=None,
                        help="projects the events and members spread "
                        "over (default: one per subscriber)")
    parser.add_argument("--admins", type=cli.not_negative, default=1,
                        help="admin all_tenants streams, each receiving "
                        "every event (default 1)")
    parser.add_argument("--rate", type=cli.positive, default=1000,
                        help="events posted per second (default 1000)")
    parser.add_argument("--seconds", type=float, default=20.0,
                        help="seconds of ingestion (default 20)")
    parser.add_argument("-b", "--batch-size", type=cli.positive,
                        default=50, help="events per POST (default 50)")
    parser.add_argument("--posters", type=cli.positive, default=4,
                        help="posting threads (default 4)")
    parser.add_argument("--workers", type=cli.positive, default=2,
                        help="API worker processes (default 2)")
    parser.add_argument("--drain", type=float, default=15.0,
                        help="seconds to wait after the last POST for "
                        "the streams to catch up (default 15)")
    parser.add_argument("--json", metavar="PATH",
                        help="also write the figures as JSON to PATH")
    return parser.parse_args(argv)


def _ms(seconds):
    return round(1000 * seconds, 1)


def _run(args, url, directory, result):
    conf = scratch.bench_conf(url)
    conn = storage.get_connection(url, conf)
    conn.upgrade()
    conn.close()
    projects = [f"project-{i:03d}"
                for i in range(args.projects or args.subscribers)]
    options = dict(STREAM_OPTIONS, max_stream_subscribers=(
        args.subscribers + args.admins))
    server = Server(url, args.workers, 1000, directory,
                    api_options=options)
    server.start()
    try:
        streams = open_streams(server.port, projects, args)
        opened = sum(1 for s, _ in streams if s.status == 200)
        say(f"panko-like-api on port {server.port}, {args.workers} "
            f"workers; {opened} of {len(streams)} streams open "
            f"({args.subscribers} members over {len(projects)} projects, "
            f"{args.admins} admins)")
        cpu_before = server.cpu_seconds()
        ingest = Ingest(server.port, projects, args)
        took = ingest.run()
        cpu = server.cpu_seconds() - cpu_before
        posted = len(ingest.sent)
        say(f"posted {posted} events in {took:.1f} s "
            f"({posted / took:.0f} events/s, {ingest.posts} POSTs)")
        expected = drain(streams, ingest.sent, projects, args.drain)
        for subscriber, _ in streams:
            subscriber.close()
        for subscriber, _ in streams:
            subscriber.join(10)
    finally:
        server.stop()
    counts, latencies, failures = tally(streams, expected, ingest.sent)
    failures = ingest.failures + failures
    figures = {**counts, "events_posted": posted,
               "events_per_s": round(posted / took),
               "worker_cpu_s_per_s": round(cpu / took, 2)}
    if latencies:
        figures.update(
            latency_p50_ms=_ms(percentile(latencies, 50)),
            latency_p99_ms=_ms(percentile(latencies, 99)),
            latency_max_ms=_ms(max(latencies)))
        say(f"delivery latency: p50 {figures['latency_p50_ms']} ms, p99 "
            f"{figures['latency_p99_ms']} ms, max "
            f"{figures['latency_max_ms']} ms")
    say(f"deliveries: {counts['expected']} expected, "
        f"{counts['delivered']} delivered, {counts['lost']} lost, "
        f"{counts['duplicated']} duplicated, {counts['foreign']} foreign; "
        f"API workers used {figures['worker_cpu_s_per_s']} CPU s/s")
    result["stream"] = figures
    return failures


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    place = scratch.make_scratch(args.url)
    result = {"backend": place.backend, "subscribers": args.subscribers,
              "admins": args.admins, "rate": args.rate,
              "seconds": args.seconds, "batch_size": args.batch_size,
              "workers": args.workers, "stream_options": STREAM_OPTIONS,
              "command": " ".join([PROG, *argv])}
    result["server"] = scratch.describe_server(place)
    directory = tempfile.mkdtemp(prefix="panko_like_bench_stream_")
    failures = []
    try:
        failures = _run(args, place.create(), directory, result)
    finally:
        place.cleanup()
        shutil.rmtree(directory, ignore_errors=True)
    return cli.finish(result, failures, args.json,
                      "every delivery checked: OK")


if __name__ == "__main__":
    sys.exit(main())
