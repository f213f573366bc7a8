"""The migration benchmark: ``panko-like-migrate`` between two backends.

Run from a checkout (``python -m tools.bench_migrate --help``, or ``tox
-e bench-migrate -- ARGS``). It stores ``-n`` events of the storage
benchmark's workload in a scratch database at ``--from`` (an
administrative PostgreSQL or MySQL URL, a ``mongodb://`` URI or
``sqlite://``), makes an empty scratch database at ``--to``, runs the
real ``panko-like-migrate`` between them as a process, and reports its
wall time, events/s (the counts on both sides included) and peak RSS.
The target's events are counted afterwards; both databases are dropped.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

from panko_like import storage
from tools.benchlib import cli, scratch
from tools.benchlib.cli import say
from tools.benchlib.workload import Workload

PROG = "python -m tools.bench_migrate"


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--from", dest="source", default="sqlite://",
                        help="administrative URL of the source's server "
                        "(default sqlite://)")
    parser.add_argument("--to", dest="target", default="sqlite://",
                        help="administrative URL of the target's server "
                        "(default sqlite://)")
    parser.add_argument("-n", "--events", type=cli.positive,
                        default=100_000, help="events to migrate "
                        "(default 100,000)")
    parser.add_argument("--batch-size", type=cli.positive, default=1000,
                        help="panko-like-migrate's --batch-size "
                        "(default 1000)")
    parser.add_argument("--seed", type=int, default=1,
                        help="workload seed (default 1)")
    return parser.parse_args(argv)


def _migrate_command():
    beside = os.path.join(os.path.dirname(sys.executable),
                          "panko-like-migrate")
    return shutil.which("panko-like-migrate") or beside


def load(url, count, seed):
    """Store ``count`` workload events at ``url``; seconds taken."""
    conn = storage.get_connection(url, scratch.bench_conf(url))
    try:
        conn.upgrade()
        started = time.monotonic()
        for batch in Workload(seed).events(count, 1000):
            rejected = conn.record_events(batch)
            if rejected:
                raise SystemExit(f"the source refused events: {rejected[0]}")
        return time.monotonic() - started
    finally:
        conn.close()


def run(args, source_url, target_url):
    directory = tempfile.mkdtemp(prefix="bench_migrate_")
    try:
        config = os.path.join(directory, "panko_like.conf")
        with open(config, "w") as f:
            f.write(f"[database]\nconnection = {source_url}\n"
                    f"event_time_to_live = {scratch.time_to_live()}\n"
                    f"partition_days = {scratch.PARTITION_DAYS}\n")
        started = time.monotonic()
        result = subprocess.run(
            [_migrate_command(), "--config-file", config,
             "--from", source_url, "--to", target_url,
             "--batch-size", str(args.batch_size),
             "--state-file", os.path.join(directory, "state")],
            capture_output=True, text=True, stdin=subprocess.DEVNULL)
        seconds = time.monotonic() - started
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    if result.returncode:
        raise SystemExit(f"panko-like-migrate exited {result.returncode}:\n"
                         f"{result.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024, result.stderr


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    source = scratch.make_scratch(args.source)
    target = scratch.make_scratch(args.target)
    # The servers' settings; an unreachable one ends the run here.
    scratch.describe_server(source)
    scratch.describe_server(target)
    try:
        source_url = source.create()
        target_url = target.create()
        say(f"{source.backend} -> {target.backend}, {args.events} events")
        loaded = load(source_url, args.events, args.seed)
        say(f"source loaded in {loaded:.1f} s")
        seconds, peak_mb, output = run(args, source_url, target_url)
        stored = scratch.count_events(target_url)
        if stored != args.events:
            raise SystemExit(f"the target holds {stored} events, not "
                             f"{args.events}:\n{output}")
        say(f"panko-like-migrate: {args.events} events in {seconds:.1f} s "
            f"({args.events / seconds:,.0f} events/s, counts on both "
            f"sides included); peak RSS {peak_mb:.1f} MB")
    finally:
        source.cleanup()
        target.cleanup()


if __name__ == "__main__":
    main()
