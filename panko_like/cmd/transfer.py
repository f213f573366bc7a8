"""Moving events: ``panko-like-export`` and ``panko-like-import`` (JSON
Lines) and ``panko-like-migrate`` (from one storage to another).

One event a line, in the shape ``GET /v2/events/{message_id}`` answers
and ``POST /v2/events`` takes: an export is imported by this command or
posted to any panko_like API as it is.
"""

import contextlib
import datetime
import os
import sys

import orjson
import tqdm
from oslo_config import cfg
from oslo_log import log

from panko_like import cmd, storage
from panko_like.api.controllers.v2 import events as event_json
from panko_like.storage import models

LOG = log.getLogger(__name__)

EXPORT_HELP = (
    "Write the stored events (all of them, or those the options select) "
    "to a file as JSON Lines, one event a line, oldest first."
)
IMPORT_HELP = (
    "Store the events of a JSON Lines file (as panko-like-export writes "
    "it). Events already stored are skipped, so a file may be imported "
    "again; each line that cannot be stored is reported with its number, "
    "and every other line is stored."
)

MIGRATE_HELP = (
    "Copy every event from one storage to another (any two backends), "
    "in batches, oldest first; then compare the number of events of each "
    "type on both sides. Events the target already holds are skipped, "
    "so a migration may be run again, or resumed from --state-file."
)

EXPORT_OPTS = [
    cfg.StrOpt("output", short="o", default="-", metavar="PATH",
               help="File to write (replaced only once the export is "
               "complete); - for standard output."),
    cfg.StrOpt("event-type", dest="export_event_type", metavar="TYPE",
               help="Only events of this type."),
    cfg.StrOpt("project-id", dest="export_project", metavar="PROJECT_ID",
               help="Only events whose project_id trait is this."),
    cfg.StrOpt("since", metavar="ISO_TIME",
               help="Only events generated at this time or later (UTC)."),
    cfg.StrOpt("until", metavar="ISO_TIME",
               help="Only events generated at this time or earlier (UTC)."),
]
IMPORT_OPTS = [
    cfg.IntOpt("batch-size", dest="import_batch_size", default=1000, min=1,
               max=100000, help="Events stored per transaction."),
    cfg.StrOpt("input", positional=True, required=False, metavar="FILE",
               help="JSON Lines file to read; - for standard input."),
]

MIGRATE_OPTS = [
    cfg.StrOpt("from", dest="migrate_from", metavar="URL", required=True,
               help="Storage URL to copy from (as [database] connection)."),
    cfg.StrOpt("to", dest="migrate_to", metavar="URL", required=True,
               help="Storage URL to copy to; its schema is created or "
               "upgraded first."),
    cfg.IntOpt("batch-size", dest="migrate_batch_size", default=1000,
               min=1, max=100000, help="Events stored per transaction."),
    cfg.StrOpt("state-file", metavar="PATH",
               help="Where the last event copied is noted after each "
               "batch; a run finding it there continues after that "
               "event. Removed once the migration is verified."),
]

#: Events between two log lines when no progress bar is shown.
LOG_EVERY = 10000


def _progress(**kwargs):
    """tqdm's bar on a terminal (standard error); nothing otherwise."""
    return tqdm.tqdm(file=sys.stderr, disable=not sys.stderr.isatty(),
                     dynamic_ncols=True, **kwargs)


def _time(conf, name):
    value = conf[name]
    if value is None:
        return None
    try:
        return models.parse_datetime(value)
    except (ValueError, OverflowError) as exc:
        sys.exit(f"--{name} {value}: {exc}")


def _export_filter(conf):
    traits = []
    if conf.export_project is not None:
        traits.append({"key": "project_id", "string": conf.export_project})
    return storage.EventFilter(
        start_timestamp=_time(conf, "since"),
        end_timestamp=_time(conf, "until"),
        event_type=conf.export_event_type,
        traits_filter=traits,
    )


@contextlib.contextmanager
def _output(path):
    """A binary file to write; a named one appears only once complete."""
    if path == "-":
        yield sys.stdout.buffer
        sys.stdout.flush()
        return
    partial = f"{path}.partial"
    try:
        with open(partial, "wb") as out:
            yield out
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(partial)
        raise
    os.replace(partial, path)


def export(argv=None):
    """Write the selected events as JSON Lines."""
    conf = cmd.prepare(sys.argv[1:] if argv is None else argv,
                       cli_opts=EXPORT_OPTS, description=EXPORT_HELP)
    event_filter = _export_filter(conf)
    conn = cmd.connect(conf)
    pagination = storage.Pagination(sort=[("generated", "asc")])
    count = 0
    try:
        with _output(conf.output) as out, \
                _progress(unit=" events", desc="exported") as bar:
            for event in conn.get_events(event_filter, pagination):
                out.write(event_json.encode_event(event) + b"\n")
                count += 1
                bar.update()
                if bar.disable and not count % LOG_EVERY:
                    LOG.info("Exported %d events so far", count)
    except OSError as exc:
        sys.exit(f"cannot write {conf.output}: {exc}")
    except storage.StorageError as exc:
        kept = "" if conf.output == "-" else ", file not kept"
        sys.exit(f"cannot export events ({count} written{kept}): "
                 f"{storage.one_line(exc)}")
    conn.close()
    where = "standard output" if conf.output == "-" else conf.output
    print(f"exported {count} events to {where}", file=sys.stderr)


class _Importer:
    """Batches of events read from numbered lines, stored, counted."""

    def __init__(self, conn, batch_size):
        self.conn = conn
        self.batch_size = batch_size
        self.batch = []  # (line number, event)
        self.stored = self.duplicates = self.refused = 0

    def refuse(self, number, reason):
        self.refused += 1
        print(f"line {number}: {reason}", file=sys.stderr)

    def add(self, number, line):
        try:
            item = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            self.refuse(number, f"not JSON: {exc}")
            return
        try:
            event = event_json.event_from_json(item)
        except models.InvalidEvent as exc:
            self.refuse(number, exc.reason)
            return
        self.batch.append((number, event))
        if len(self.batch) >= self.batch_size:
            self.flush()

    def flush(self):
        if not self.batch:
            return
        lines = {}
        for number, event in self.batch:
            lines.setdefault(event.message_id, number)
        rejected = self.conn.record_events([e for _, e in self.batch])
        for item in rejected:
            number = lines.get(item.message_id, "?")
            if item.problem == models.Problem.DUPLICATE:
                self.duplicates += 1
            else:
                self.refuse(number, item.reason)
        self.stored += len(self.batch) - len(rejected)
        self.batch = []


def import_(argv=None):
    """Store the events of a JSON Lines file."""
    conf = cmd.prepare(sys.argv[1:] if argv is None else argv,
                       cli_opts=IMPORT_OPTS, description=IMPORT_HELP)
    if not conf.input:
        sys.exit("give the file to import (- for standard input)")
    try:
        source = (sys.stdin.buffer if conf.input == "-"
                  else open(conf.input, "rb"))
    except OSError as exc:
        sys.exit(f"cannot read {conf.input}: {exc}")
    conn = cmd.connect(conf)
    importer = _Importer(conn, conf.import_batch_size)
    size = None if conf.input == "-" else os.fstat(source.fileno()).st_size
    started = datetime.datetime.now()
    try:
        with source, _progress(total=size, unit="B", unit_scale=True,
                               desc="imported") as bar:
            for number, line in enumerate(source, 1):
                bar.update(len(line))
                if line.strip():
                    importer.add(number, line)
                if bar.disable and not number % LOG_EVERY:
                    LOG.info("Read %d lines so far", number)
            importer.flush()
    except storage.StorageError as exc:
        sys.exit(f"cannot import events ({importer.stored} stored before; "
                 f"importing the file again skips them): "
                 f"{storage.one_line(exc)}")
    conn.close()
    seconds = (datetime.datetime.now() - started).total_seconds()
    print(f"imported {importer.stored} events, {importer.duplicates} "
          f"already stored, {importer.refused} refused, in "
          f"{seconds:.1f} s", file=sys.stderr)
    if importer.refused:
        sys.exit(1)


def _counts(conn):
    """The number of events of each type (read through, one type at a
    time: bounded memory)."""
    return {event_type: sum(1 for _ in conn.get_events(
                storage.EventFilter(event_type=event_type)))
            for event_type in conn.get_event_types()}


def _connect_to(conf, url, role):
    conf.set_override("connection", url, group="database")
    return cmd.connect(conf, role)


def _read_state(path):
    if path is None:
        return None
    directory = os.path.dirname(os.path.abspath(path))
    if not os.access(directory, os.W_OK):
        sys.exit(f"cannot write the state file {path}: {directory} is not "
                 "a writable directory")
    if not os.path.exists(path):
        return None
    try:
        with open(path, "rb") as f:
            after = orjson.loads(f.read())["after"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        sys.exit(f"cannot read the state file {path}: {exc}")
    if not isinstance(after, str):
        sys.exit(f"cannot read the state file {path}: \"after\" is not "
                 "a message_id")
    return after


def _write_state(path, message_id):
    partial = f"{path}.partial"
    with open(partial, "wb") as f:
        f.write(orjson.dumps({"after": message_id}))
    os.replace(partial, path)


def migrate(argv=None):
    """Copy every event from --from to --to, then verify."""
    conf = cmd.prepare(sys.argv[1:] if argv is None else argv,
                       cli_opts=MIGRATE_OPTS, description=MIGRATE_HELP)
    after = _read_state(conf.state_file)
    source = _connect_to(conf, conf.migrate_from, "source")
    target = _connect_to(conf, conf.migrate_to, "target")
    copied = skipped = 0
    try:
        print(f"target: {target.upgrade()}", file=sys.stderr)
        expected = _counts(source)
        pagination = storage.Pagination(
            sort=[("generated", "asc"), ("message_id", "asc")],
            marker=after)
        with _progress(total=sum(expected.values()), unit=" events",
                       desc="copied") as bar:
            batch = []
            for event in source.get_events(storage.EventFilter(),
                                           pagination):
                batch.append(event)
                if len(batch) >= conf.migrate_batch_size:
                    stored, duplicates = _copy(target, batch, conf)
                    copied, skipped = copied + stored, skipped + duplicates
                    bar.update(len(batch))
                    batch = []
            stored, duplicates = _copy(target, batch, conf)
            copied, skipped = copied + stored, skipped + duplicates
            bar.update(len(batch))
        found = _counts(target)
    except storage.InvalidMarker:
        sys.exit(f"the state file {conf.state_file} names an event the "
                 f"source does not hold ({after}); remove it to start over")
    except storage.StorageError as exc:
        sys.exit(f"cannot migrate ({copied} events copied before; running "
                 f"again skips them): {storage.one_line(exc)}")
    except OSError as exc:
        sys.exit(f"cannot write the state file {conf.state_file}: {exc}")
    print(f"copied {copied} events, {skipped} already in the target",
          file=sys.stderr)
    differ = {event_type: (count, found.get(event_type, 0))
              for event_type, count in expected.items()
              if found.get(event_type, 0) < count}
    for event_type, (count, there) in sorted(differ.items()):
        print(f"{event_type}: {count} in the source, {there} in the target",
              file=sys.stderr)
    if differ:
        sys.exit(f"verification failed: {len(differ)} event type(s) have "
                 "fewer events in the target")
    print(f"verified: every one of {len(expected)} event types has as many "
          "events in the target as in the source", file=sys.stderr)
    if conf.state_file and os.path.exists(conf.state_file):
        os.remove(conf.state_file)
    source.close()
    target.close()


def _copy(target, batch, conf):
    """Store ``batch``: (stored, already there); note the last event."""
    if not batch:
        return 0, 0
    rejected = target.record_events(batch)
    refused = [r for r in rejected
               if r.problem != models.Problem.DUPLICATE]
    if refused:
        first = refused[0]
        sys.exit(f"the target refused {len(refused)} event(s), for "
                 f"example {first.message_id}: {first.reason}")
    if conf.state_file:
        _write_state(conf.state_file, batch[-1].message_id)
    return len(batch) - len(rejected), len(rejected)
