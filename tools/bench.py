"""The storage benchmark: ingestion and query figures on a real database.

Run from a checkout (``python -m tools.bench --help``, or ``tox -e bench
-- ARGS``). Loads N events of a deterministic workload (from ``--seed``)
through the storage driver's public contract, measures the database's
own floor (the same rows written with COPY on PostgreSQL, multi-row
inserts on MySQL, executemany on SQLite, none of panko_like's code: see
``tools/benchlib/floor.py``), runs the queries (a)-(k) many times each,
checks every answer against the generated data, expires the older half,
and prints the figures (``--json`` writes them too). A wrong answer is
a failure: the exit status is then 1.

``--url`` is where to work: an administrative PostgreSQL or MySQL URL on
which two scratch databases are created (ours and the floor's) and
dropped afterwards, or ``sqlite://`` (temporary files) or
``sqlite:////path/events.sqlite``, or a ``mongodb://`` URI (scratch
databases on that server; the floor is ``insert_many`` of the finished
documents into a collection with the same indexes).
"""

import argparse
import json
import sys
import time

from panko_like import storage
from tools.benchlib import cli, collector, floor, scratch
from tools.benchlib.cli import say
from tools.benchlib.queries import peak_rss_mb, run_queries
from tools.benchlib.workload import Expected, Workload, expire_older_half

PROG = "python -m tools.bench"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Load a deterministic workload, measure ingestion "
        "against the database's floor, time and check queries (a)-(k), "
        "expire the older half.")
    parser.add_argument("-n", "--events", type=cli.positive,
                        default=1_000_000,
                        help="events to load (default 1,000,000)")
    parser.add_argument("-b", "--batch-size", type=cli.positive,
                        default=1000,
                        help="events per record_events call (default 1000)")
    parser.add_argument("--url", default="sqlite://",
                        help="administrative PostgreSQL/MySQL URL (scratch "
                        "databases are created there), a mongodb:// URI, "
                        "or sqlite:// (temporary files) or sqlite:////path "
                        "(default sqlite://)")
    parser.add_argument("--seed", type=int, default=1,
                        help="workload seed (default 1)")
    cli.add_order_argument(parser)
    parser.add_argument("--json", metavar="PATH",
                        help="also write the figures as JSON here")
    parser.add_argument("--repeat", type=cli.positive, default=100,
                        help="runs of each query (default 100)")
    parser.add_argument("--scan-repeat", type=cli.not_negative, default=5,
                        help="runs of the full scan (i) (default 5; 0 "
                        "skips it)")
    parser.add_argument("--checkpoint", type=cli.positive, action="append",
                        default=[], metavar="N",
                        help="also run the queries when N events are "
                        "loaded (repeatable; in time order, the table "
                        "then holds only the first days)")
    parser.add_argument("--floor-events", type=int, default=None,
                        metavar="N", help="events written for the floor "
                        "(default: as many as --events; 0 skips it)")
    parser.add_argument("--no-expiry", action="store_true",
                        help="skip the expiry of the older half")
    parser.add_argument("--keep", action="store_true",
                        help="keep our database (its URL is printed)")
    parser.add_argument("--report", nargs="+", metavar="JSON",
                        help="only print an RST table of these results")
    return parser.parse_args(argv)


def load_ours(conn, workload, expected, args, on_checkpoint, passes):
    """Load the workload; ``passes`` counts the collector's passes
    during the record_events calls."""
    elapsed, loaded = 0.0, 0
    checkpoints = sorted(set(args.checkpoint))
    for batch in workload.events(args.events, args.batch_size):
        start = time.perf_counter()
        with passes:
            rejected = conn.record_events(batch)
        elapsed += time.perf_counter() - start
        if rejected:
            raise SystemExit(f"events refused: {rejected[:3]}")
        expected.add(batch)
        loaded += len(batch)
        if loaded % (args.batch_size * 100) == 0:
            say(f"  {loaded} events, {loaded / elapsed:,.0f} events/s")
        if checkpoints and loaded >= checkpoints[0]:
            checkpoints.pop(0)
            on_checkpoint(loaded, elapsed)
    return elapsed


def report(paths):
    """An RST table: one column per run (and checkpoint), one row per
    figure."""
    columns = []
    for path in paths:
        with open(path) as f:
            run = json.load(f)
        for loaded, point in sorted(run["checkpoints"].items(),
                                    key=lambda item: int(item[0])):
            columns.append((run["backend"], int(loaded), point, {}))
        columns.append((run["backend"], run["events"], run, run))
    rows = [
        ("ingestion, events/s",
         lambda p, r: f"{(p.get('ingest') or p)['events_per_s']:,}"),
        ("floor, events/s",
         lambda p, r: f"{r['floor']['events_per_s']:,}"
         if r.get("floor") else ""),
        ("collector passes a batch",
         lambda p, r: "{:.2f}".format(
             r["ingest"]["collector"]["passes"]
             / -(-r["events"] // r["batch_size"]))
         if r and "collector" in r.get("ingest", {}) else ""),
        ("ours / floor",
         lambda p, r: f"{r['ingest']['ratio_to_floor']:.0%}"
         if r.get("floor") else ""),
    ]
    for name in ("a_event_type_page", "b_resource_all",
                 "c_project_3_days_page", "d_project_memory_page",
                 "e_message_id", "f_event_types", "g_trait_types",
                 "h_first_page", "i_state_values", "j_count_project_day",
                 "k_hourly_type_day"):
        rows.append((
            f"({name[0]}) p50 / p95 ms",
            lambda p, r, n=name: "{p50_ms:.1f} / {p95_ms:.1f}".format(
                **p["queries"][n]) if n in p["queries"] else ""))
    rows += [
        ("(i) rows/s", lambda p, r: "{:,}".format(
            p["queries"]["i_state_values"]["rows_per_s"])
         if "i_state_values" in p["queries"] else ""),
        ("expiry of half: s (events/s)",
         lambda p, r: "{seconds} ({events_per_s:,})".format(**r["expiry"])
         if r.get("expiry") else ""),
        ("peak RSS of the tool, MB",
         lambda p, r: str(r["peak_rss_mb"]) if r else ""),
    ]
    rows = [(label, fmt) for label, fmt in rows
            if any(fmt(point, run) for _, _, point, run in columns)]
    header = ["figure"] + [f"{backend} {loaded:,}"
                           for backend, loaded, _, _ in columns]
    table = [header] + [
        [label] + [fmt(point, run) for _, _, point, run in columns]
        for label, fmt in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    def line(cells):
        return "  ".join(
            cell.ljust(width)
            for cell, width in zip(cells, widths, strict=True)
        ).rstrip()

    lines = [rule, line(header), rule]
    lines += [line(row) for row in table[1:]]
    lines.append(rule)
    return "\n".join(lines)



def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.report:
        print(report(args.report))
        return 0
    workload = Workload(args.seed, args.order)
    expected = Expected(workload, samples=max(1, args.events // 200))
    place = scratch.make_scratch(args.url)
    result = {"backend": place.backend, "events": args.events,
              "batch_size": args.batch_size, "seed": args.seed,
              "order": args.order,
              "command": " ".join([PROG, *argv]),
              "checkpoints": {}}
    result["server"] = scratch.describe_server(place)
    failures = []
    try:
        failures = _run(args, workload, expected, place, result)
    finally:
        place.cleanup()
    result["peak_rss_mb"] = peak_rss_mb()
    result["failures"] = failures
    say(f"peak RSS of this process: {result['peak_rss_mb']} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    if failures:
        for failure in failures:
            say(f"FAILED {failure}")
        return 1
    say("every answer checked: OK")
    return 0


def _report_queries(figures):
    for name, fig in figures.items():
        extra = (f", {fig['rows_per_s']:,} rows/s"
                 if "rows_per_s" in fig else "")
        say(f"  {name:24} p50 {fig['p50_ms']:9.2f} ms  p95 "
            f"{fig['p95_ms']:9.2f} ms  ({fig['runs']} runs, "
            f"{fig['rows_per_run']} rows each{extra})")


def _run(args, workload, expected, place, result):
    url = place.create()
    conf = scratch.bench_conf(url)
    conn = storage.get_connection(url, conf)
    conn.upgrade()
    failures = []

    def queries_at(loaded):
        say(f"queries at {loaded} events (statistics refreshed in "
            f"{scratch.analyze(url):.1f} s):")
        figures, failed = run_queries(conn, expected, args.repeat,
                                      args.scan_repeat)
        failures.extend(failed)
        _report_queries(figures)
        return figures

    def checkpoint(loaded, elapsed):
        result["checkpoints"][loaded] = {
            "events_per_s": round(loaded / elapsed),
            "queries": queries_at(loaded)}

    say(f"loading {args.events} events into {place.backend}, batches "
        f"of {args.batch_size}")
    passes = collector.Passes()
    elapsed = load_ours(conn, workload, expected, args, checkpoint, passes)
    rate = args.events / elapsed
    result["ingest"] = {"events_per_s": round(rate),
                        "seconds": round(elapsed, 2),
                        "collector": passes.figure()}
    say(f"ingestion: {rate:,.0f} events/s ({elapsed:.1f} s)")
    batches = -(-args.events // args.batch_size)
    say(f"collector passes during record_events: {passes.total} "
        f"({passes.total / batches:.2f} a batch; by generation "
        f"{passes.by_generation})")
    stored = scratch.count_events(url)
    if stored != expected.count:
        failures.append(f"stored {stored} events, expected "
                        f"{expected.count}")
    result["queries"] = queries_at(args.events)
    if not args.no_expiry:
        failures += _expire(conn, url, expected, result)
    conn.close()
    if args.keep:
        place.keep(url)
        say(f"kept our database: {url}")
    else:
        place.drop(url)
    floor_events = (args.events if args.floor_events is None
                    else args.floor_events)
    if floor_events:
        result["floor"] = floor.measure(place, workload, floor_events,
                                        args.batch_size, conf)
        result["ingest"]["ratio_to_floor"] = round(
            rate / result["floor"]["events_per_s"], 3)
        say(f"floor ({floor_events} events, no driver logic): "
            f"{result['floor']['events_per_s']:,} events/s; ours is "
            f"{result['ingest']['ratio_to_floor']:.0%} of it")
    return failures


def _expire(conn, url, expected, result):
    seconds, deleted = expire_older_half(conn)
    result["expiry"] = {"events": deleted, "seconds": round(seconds, 2),
                        "events_per_s": round(deleted / seconds)
                        if seconds else None,
                        "peak_rss_mb": peak_rss_mb()}
    say(f"expiry of the older half: {deleted} events in {seconds:.1f} s")
    if deleted != expected.older or scratch.count_events(url) != (
            expected.count - expected.older):
        return [f"expiry deleted {deleted} events, expected "
                f"{expected.older}"]
    return []


if __name__ == "__main__":
    sys.exit(main())
