"""The standby read benchmark: the API's read throughput with reads on
the primary only, then on the primary and a standby.

Run as root (or as postgres) from a checkout with PostgreSQL's server
binaries installed: ``python -m tools.bench_standby --help``. It starts
a throwaway PostgreSQL primary and a streaming standby on free loopback
ports (tests.functional.pgcluster), stores ``-n`` events, then starts
the real ``panko-like-api`` (``--workers`` processes, noauth) over the
host list twice, without and with ``[database] read_from_standby``. Each
time ``--clients`` client processes ask for ``--seconds``, after a
warm-up, for an admin's pages of 100 events (all tenants, each page
from another start time), and each answer is checked. It prints the
pages/s of both runs and how many transactions each server ran
meanwhile, which shows where the reads went. The servers share this
machine's cores: the figures say what the routing costs or gains here,
not what separate hosts give.
"""

import argparse
import datetime
import json
import os
import shutil
import statistics
import tempfile

from panko_like import storage
from panko_like.storage import models
from tests.functional import pgcluster
from tools.benchlib import cli
from tools.benchlib.api_http import Server, run_clients, spread
from tools.benchlib.cli import say
from tools.benchlib.scratch import bench_conf
from tools.benchlib.workload import BASE, PAGE

PROG = "python -m tools.bench_standby"
ADMIN = {"X-User-Id": "bench-admin", "X-Project-Id": "bench-admin-project",
         "X-Roles": "admin"}
ALL_TENANTS = "q.field=all_tenants&q.op=eq&q.value=True"
#: The runs: [database] read_from_standby of each.
SETTINGS = {"primary_only": "false", "primary_and_standby": "true"}
#: Events stored per batch.
BATCH = 1000


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__.split("\n\n")[1])
    parser.add_argument("-n", "--events", type=cli.positive,
                        default=20_000, help="events stored (20000)")
    parser.add_argument("--workers", type=cli.positive, default=2,
                        help="API worker processes (2)")
    parser.add_argument("--clients", type=cli.positive, default=4,
                        help="concurrent client processes (4)")
    parser.add_argument("--seconds", type=cli.positive, default=20,
                        help="seconds each run lasts (20)")
    parser.add_argument("--rounds", type=cli.positive, default=1,
                        help="runs of each setting, alternated; the "
                        "median pages/s is reported (1)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the figures to FILE")
    args = parser.parse_args(argv)
    if args.events < 2 * PAGE:
        parser.error(f"--events must be at least {2 * PAGE}")
    return args


def bench_event(index):
    return models.Event(
        f"b{index:07d}", "bench.read",
        BASE + datetime.timedelta(seconds=index),
        [models.Trait("n", models.INT_TYPE, index)])


def store(url, count):
    conn = storage.get_connection(url, bench_conf(url))
    try:
        conn.upgrade()
        for start in range(0, count, BATCH):
            rejected = conn.record_events(
                [bench_event(i) for i in range(start,
                                               min(count, start + BATCH))])
            if rejected:
                raise SystemExit(f"events refused: {rejected[:3]}")
    finally:
        conn.close()


def page_requests(count):
    """A page of PAGE events from each PAGE-th start time."""
    requests = []
    for first in range(0, count - PAGE + 1, PAGE):
        since = (BASE + datetime.timedelta(seconds=first)).isoformat()
        path = (f"/v2/events?{ALL_TENANTS}&limit={PAGE}"
                f"&q.field=start_timestamp&q.op=ge&q.value={since}")
        requests.append(("GET", path, ADMIN, None, _page_check(first)))
    return requests


def _page_check(first):
    want = [f"b{i:07d}" for i in range(first, first + PAGE)]

    def check(status, data):
        if status != 200:
            return f"status {status}: {data[:300]!r}"
        got = [event["message_id"] for event in json.loads(data)]
        return None if got == want else f"page from {first}: {got[:3]}..."
    return check


def transactions(server):
    return int(server.psql(
        "SELECT xact_commit FROM pg_stat_database "
        "WHERE datname = 'events'"))


def run(pair, args, directory, read_from_standby):
    server = Server(pair.url(pair.primary, pair.standby), args.workers,
                    PAGE, directory,
                    database={"read_from_standby": read_from_standby})
    requests = spread(page_requests(args.events), args.clients)
    server.start()
    try:
        # Unmeasured: the workers' connections and the servers' caches.
        run_clients(server, requests, seconds=max(1, args.seconds // 4))
        before = {s.name: transactions(s)
                  for s in (pair.primary, pair.standby)}
        figures, failures, _ = run_clients(
            server, requests, seconds=args.seconds)
    finally:
        server.stop()
    # Counted once the workers' connections have ended: a server
    # publishes a connection's statistics when it ends, if not before.
    for s in (pair.primary, pair.standby):
        pair.wait(lambda s=s: not int(s.psql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = "
            "'events' AND pid <> pg_backend_pid()")),
            f"the API's connections to the {s.name} did not end")
    for s in (pair.primary, pair.standby):
        figures[f"{s.name}_transactions"] = (
            transactions(s) - before[s.name])
    if failures:
        raise SystemExit("wrong answers:\n" + "\n".join(failures[:10]))
    return figures


def main(argv=None):
    args = parse_args(argv)
    reason = pgcluster.unavailable()
    if reason:
        raise SystemExit(reason)
    root = tempfile.mkdtemp(prefix="panko_like_bench_standby_")
    os.chmod(root, 0o777)
    stops = []
    try:
        pair = pgcluster.Pair(root)
        pair.start(stops.append)
        say(f"storing {args.events} events")
        store(pair.url(pair.primary), args.events)
        pair.wait_replicated(args.events)
        results = {name: [] for name in SETTINGS}
        for round_ in range(1, args.rounds + 1):
            for name, flag in SETTINGS.items():
                say(f"round {round_}: reading pages for {args.seconds} s, "
                    f"{name}")
                results[name].append(run(pair, args, root, flag))
                say(f"  {results[name][-1]}")
        medians = {name: statistics.median(r["req_per_s"] for r in runs)
                   for name, runs in results.items()}
        say("pages/s (median of {}): primary only {} / primary + standby "
            "{}".format(args.rounds, medians["primary_only"],
                        medians["primary_and_standby"]))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"runs": results, "median_req_per_s": medians},
                          f, indent=2)
    finally:
        for stop in reversed(stops):
            stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
