"""``panko-like-bench``: ingestion and query figures on a real database.

Loads N events of a deterministic workload (from ``--seed``) through the
storage driver, measures the database's own floor (the same rows written
with COPY on PostgreSQL, multi-row inserts elsewhere, none of our code),
runs the queries (a)-(i) of issue 5 many times each, checks every answer
against the generated data, expires the older half, and prints the
figures (``--json`` writes them too). A wrong answer is a failure: the
exit status is then 1.

``--url`` is where to work: an administrative PostgreSQL or MySQL URL on
which two scratch databases are created (ours and the floor's) and
dropped afterwards, or ``sqlite://`` (temporary files) or
``sqlite:////path/events.sqlite``, or a ``mongodb://`` URI (scratch
databases on that server; the floor is ``insert_many`` of the finished
documents into a collection with the same indexes).
"""

import argparse
import collections
import datetime
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid

import sqlalchemy as sa

from panko_like import service, storage
from panko_like.storage import base, impl_sqlalchemy, models
from panko_like.storage.sqlalchemy import multirow, tables, urls

try:
    import pymongo

    from panko_like.storage import impl_mongodb
except ImportError:  # the mongodb extra is not installed
    pymongo = impl_mongodb = None

EVENT_TYPES = (
    "compute.instance.create.start",
    "compute.instance.create.end",
    "compute.instance.update",
    "compute.instance.delete.start",
    "compute.instance.delete.end",
    "volume.create.end",
    "volume.delete.start",
    "image.upload",
)
TRAIT_TYPES = (
    ("project_id", models.TEXT_TYPE),
    ("user_id", models.TEXT_TYPE),
    ("resource_id", models.TEXT_TYPE),
    ("instance_type", models.TEXT_TYPE),
    ("state", models.TEXT_TYPE),
    ("host", models.TEXT_TYPE),
    ("memory_mb", models.INT_TYPE),
    ("vcpus", models.INT_TYPE),
    ("disk_gb", models.INT_TYPE),
    ("cpu_util", models.FLOAT_TYPE),
    ("cost_per_hour", models.FLOAT_TYPE),
    ("launched_at", models.DATETIME_TYPE),
    ("created_at", models.DATETIME_TYPE),
)
FLAVORS = ("m1.tiny", "m1.small", "m1.medium", "m1.large", "m1.xlarge",
           "c1.compute")
STATES = ("active", "building", "deleted", "error", "paused", "stopped",
          "shelved")
MEMORY = (512, 1024, 2048, 4096, 8192, 16384)
#: Events are generated over 30 days from here: the older half in the
#: first 15 days, the newer half after a one-hour gap, so that expiring
#: "the older half" has an exact answer whenever it runs.
BASE = datetime.datetime(2026, 1, 1)
HALF = datetime.timedelta(days=15)
GAP = datetime.timedelta(hours=1)
#: The orders in which the tool can send events (see --order).
ORDERS = ("time", "random")
#: In time order, how far an event may be out of place.
JITTER = datetime.timedelta(minutes=1)
_HALF_US = int(HALF.total_seconds() * 1_000_000)
_JITTER_US = int(JITTER.total_seconds() * 1_000_000)
#: Page size of the limited queries.
PAGE = 100
#: Query (c): three days inside the older half.
WINDOW = (BASE + datetime.timedelta(days=5),
          BASE + datetime.timedelta(days=8))


class Workload:
    """Events, and the facts their answers are checked against.

    Everything derives from the seed: the same seed gives the same
    events in the same order. ``order`` (one of ORDERS) decides only
    their times: see _offset.
    """

    def __init__(self, seed, order="time"):
        rng = random.Random(f"panko_like-bench-{seed}")
        self.seed = seed
        self.order = order
        self.projects = [uuid.UUID(int=rng.getrandbits(128)).hex
                         for _ in range(50)]
        self.users = [uuid.UUID(int=rng.getrandbits(128)).hex
                      for _ in range(500)]
        self.resources = [str(uuid.UUID(int=rng.getrandbits(128)))
                          for _ in range(5000)]
        self.hosts = [f"compute-{i:03d}.example.org" for i in range(40)]
        self.filler = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz ")
                              for _ in range(4096))

    def events(self, count, batch_size):
        """Yield lists of at most ``batch_size`` events, ``count`` in all."""
        rng = random.Random(f"panko_like-bench-events-{self.seed}")
        batch = []
        for index in range(count):
            batch.append(self._event(rng, index, count))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def _offset(self, rng, index, count):
        """How long after BASE event ``index`` of ``count`` happened."""
        # One draw in either order, so that the rest of the event is the
        # same whatever the order.
        draw = rng.randrange(_HALF_US)
        if self.order == "random":
            # Anywhere in its half, the halves taking turns.
            start = HALF + GAP if index % 2 else datetime.timedelta()
            return start + datetime.timedelta(microseconds=draw)
        # As events reach a deployment: in time order, give or take
        # JITTER; the first half of them in the older half.
        older = (count + 1) // 2
        if index < older:
            position, size, start = index, older, datetime.timedelta()
        else:
            position, size, start = index - older, count - older, HALF + GAP
        micros = _HALF_US * position // size + draw * _JITTER_US // _HALF_US
        return start + datetime.timedelta(
            microseconds=min(micros, _HALF_US - 1))

    def _event(self, rng, index, count):
        user = rng.randrange(len(self.users))
        # Each user belongs to one project, as in a real cloud.
        project = self.projects[user % len(self.projects)]
        generated = BASE + self._offset(rng, index, count)
        created = generated - datetime.timedelta(
            seconds=rng.randrange(86400), microseconds=rng.randrange(10**6))
        traits = [
            ("project_id", project),
            ("user_id", self.users[user]),
            ("resource_id", rng.choice(self.resources)),
            ("instance_type", rng.choice(FLAVORS)),
            ("state", rng.choice(STATES)),
            ("host", rng.choice(self.hosts)),
            ("memory_mb", rng.choice(MEMORY)),
            ("vcpus", rng.randrange(1, 33)),
            ("disk_gb", rng.randrange(1, 50) * 10),
            ("cpu_util", round(rng.random() * 100, 3)),
            ("cost_per_hour", rng.random() * 2),
            ("launched_at", created + datetime.timedelta(
                seconds=rng.randrange(600))),
            ("created_at", created),
        ]
        event_type = EVENT_TYPES[rng.randrange(len(EVENT_TYPES))]
        message_id = str(uuid.UUID(int=rng.getrandbits(128)))
        start = rng.randrange(3072)
        raw = {
            "event_type": event_type,
            "message_id": message_id,
            "publisher_id": f"{event_type.split('.')[0]}.{traits[5][1]}",
            "timestamp": generated.isoformat(),
            "priority": "INFO",
            "payload": {
                **{name: str(value) for name, value in traits},
                "metadata": {"note": self.filler[start:start + 640]},
            },
        }
        return models.Event(
            message_id, event_type, generated,
            [models.Trait(name, dtype, value)
             for (name, dtype), (_, value) in zip(TRAIT_TYPES, traits,
                                                  strict=True)],
            raw,
        )


class _TopK:
    """The first ``k`` (generated, message_id) keys seen, in order."""

    def __init__(self, k=PAGE):
        self.k = k
        self.items = []

    def add(self, key):
        self.items.append(key)
        if len(self.items) > 8 * self.k:
            self._trim()

    def _trim(self):
        self.items.sort()
        del self.items[self.k:]

    def ids(self):
        self._trim()
        return [message_id for _, message_id in self.items]


class Expected:
    """What each query must answer, kept up to date as events load."""

    def __init__(self, workload, samples):
        rng = random.Random(f"panko_like-bench-samples-{workload.seed}")
        self.projects = rng.sample(workload.projects, 5)
        # A non-admin API user: user 0 belongs to project 0.
        self.owner = (workload.projects[0], workload.users[0])
        self.owned = _TopK()
        self.resources = rng.sample(workload.resources, 20)
        self.sample_every = samples
        self.count = 0
        self.older = 0
        self.by_type = {name: _TopK() for name in EVENT_TYPES}
        self.by_resource = {r: [] for r in self.resources}
        self.in_window = {p: _TopK() for p in self.projects}
        self.big_memory = {p: _TopK() for p in self.projects}
        self.first = _TopK()
        self.events = {}
        self.types = set()
        self.trait_types = collections.defaultdict(set)
        self.states = collections.defaultdict(collections.Counter)

    def add(self, batch):
        for event in batch:
            key = (event.generated, event.message_id)
            values = {trait.name: trait.value for trait in event.traits}
            project = values["project_id"]
            self.count += 1
            if event.generated < BASE + HALF:
                self.older += 1
            self.by_type[event.event_type].add(key)
            self.first.add(key)
            if values["resource_id"] in self.by_resource:
                self.by_resource[values["resource_id"]].append(key)
            if project in self.in_window and (
                    WINDOW[0] <= event.generated <= WINDOW[1]):
                self.in_window[project].add(key)
            if (project, values["user_id"]) == self.owner:
                self.owned.add(key)
            if project in self.big_memory and values["memory_mb"] >= 4096:
                self.big_memory[project].add(key)
            if self.count % self.sample_every == 1:
                self.events[event.message_id] = event
            if event.event_type not in self.types:
                self.types.add(event.event_type)
            self.trait_types[event.event_type].update(
                (trait.name, trait.dtype) for trait in event.traits)
            self.states[event.event_type][values["state"]] += 1


# The floor: the same rows, written by the database's fastest raw method.

def _floor_rows(batch, first_id, type_ids, partitioned):
    events, traits = [], {dtype: [] for _, dtype in TRAIT_TYPES}
    for offset, event in enumerate(batch):
        event_id = first_id + offset
        if partitioned:
            event_id = tables.event_id(tables.event_day(event.generated),
                                       event_id)
        ids = {trait.name: trait.value for trait in event.traits
               if trait.name in tables.ID_TRAITS}
        events.append((event_id, event.message_id, event.generated,
                       models.dump_raw(event.raw),
                       type_ids[event.event_type], ids["project_id"],
                       ids["user_id"], tables.encode_traits(event.traits)))
        for trait in event.traits:
            traits[trait.dtype].append((event_id, trait.name, trait.value))
    return events, traits


_TRAIT_TABLE = {
    models.TEXT_TYPE: "trait_text",
    models.INT_TYPE: "trait_int",
    models.FLOAT_TYPE: "trait_float",
    models.DATETIME_TYPE: "trait_datetime",
}
_EVENT_COLUMNS = ("id", "message_id", "generated", "raw", "event_type_id",
                  "project_id", "user_id", "traits")


def _write_floor_summary(conn, type_ids):
    rows = [{"t": type_id, "k": name, "d": dtype}
            for type_id in type_ids.values() for name, dtype in TRAIT_TYPES]
    conn.execute(sa.text(
        "INSERT INTO event_type_trait (event_type_id, " + _q(conn, "key")
        + ", dtype) VALUES (:t, :k, :d)"), rows)


def _q(conn, name):
    return conn.dialect.identifier_preparer.quote(name)


def load_floor(engine, workload, count, batch_size):
    """Write ``count`` events with no driver logic; return seconds."""
    with engine.begin() as conn:
        for name in EVENT_TYPES:
            conn.execute(sa.text(
                "INSERT INTO event_type (" + _q(conn, "desc")
                + ") VALUES (:d)"), {"d": name})
        type_ids = dict(conn.execute(sa.text(
            "SELECT " + _q(conn, "desc") + ", id FROM event_type")).all())
        _write_floor_summary(conn, type_ids)
    partitioned = engine.dialect.name == "postgresql"
    if partitioned:
        write = _copy_batch
        # The workload's days, each with its partitions (see
        # tables.PARTITIONED), made before the clock starts.
        days = range(tables.event_day(BASE),
                     tables.event_day(BASE + 2 * HALF + GAP) + 1)
        with engine.begin() as conn:
            for day in days:
                tables.create_partitions(conn, day, day + 1)
    elif engine.dialect.name == "mysql":
        write = _mysql_batch
    else:
        write = _executemany_batch
    elapsed = 0.0
    next_id = 1
    with engine.connect() as conn:
        dbapi = conn.connection.driver_connection
        for batch in workload.events(count, batch_size):
            events, traits = _floor_rows(batch, next_id, type_ids,
                                         partitioned)
            next_id += len(batch)
            start = time.perf_counter()
            # As record_events does (see storage.base.collector_paused).
            with base.collector_paused():
                write(dbapi, events, traits)
            elapsed += time.perf_counter() - start
    return elapsed


def _copy_batch(dbapi, events, traits):
    value_types = {
        models.TEXT_TYPE: "varchar",
        models.INT_TYPE: "int8",
        models.FLOAT_TYPE: "float8",
        models.DATETIME_TYPE: "timestamp",
    }
    with dbapi.transaction(), dbapi.cursor() as cur:
        with cur.copy("COPY event_message (message_id, event_id) "
                      "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["varchar", "int8"])
            for row in events:
                copy.write_row((row[1], row[0]))
        with cur.copy(f"COPY event ({', '.join(_EVENT_COLUMNS)}) "
                      "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "varchar", "timestamp", "text", "int4",
                            "varchar", "varchar", "text"])
            for row in events:
                copy.write_row(row)
        for dtype, rows in traits.items():
            with cur.copy(f"COPY {_TRAIT_TABLE[dtype]} (event_id, key, "
                          "value) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["int8", "varchar", value_types[dtype]])
                for row in rows:
                    copy.write_row(row)


def _mysql_batch(dbapi, events, traits):
    # Multi-row INSERTs of about 1 MB, written as the driver writes them
    # (see storage.sqlalchemy.multirow; PyMySQL's executemany writes the
    # same statements with more of this process's CPU). Datetimes are
    # kept as DECIMAL seconds (see tables.PreciseTimestamp).
    def seconds(value):
        return (value - datetime.datetime(1970, 1, 1)).total_seconds()

    def insert(cur, head, rows):
        for statement in multirow.statements(dbapi, head, rows):
            cur.execute(statement)

    with dbapi.cursor() as cur:
        dbapi.begin()
        insert(cur, f"INSERT INTO event ({', '.join(_EVENT_COLUMNS)}) "
               "VALUES ", [(i, m, f"{seconds(g):.6f}", r, t, p, u, j)
                           for i, m, g, r, t, p, u, j in events])
        for dtype, rows in traits.items():
            if dtype == models.DATETIME_TYPE:
                rows = [(i, k, f"{seconds(v):.6f}") for i, k, v in rows]
            insert(cur, f"INSERT INTO {_TRAIT_TABLE[dtype]} (event_id, "
                   "`key`, value) VALUES ", rows)
        dbapi.commit()


def _executemany_batch(dbapi, events, traits):
    # sqlite3's executemany runs one prepared statement over every row,
    # its fastest way in.
    with dbapi:
        dbapi.executemany(
            f"INSERT INTO event ({', '.join(_EVENT_COLUMNS)}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(i, m, g.isoformat(" "), r, t, p, u, j)
             for i, m, g, r, t, p, u, j in events])
        for dtype, rows in traits.items():
            if dtype == models.DATETIME_TYPE:
                rows = [(i, k, v.isoformat(" ")) for i, k, v in rows]
            dbapi.executemany(
                f'INSERT INTO {_TRAIT_TABLE[dtype]} (event_id, "key", '
                "value) VALUES (?, ?, ?)", rows)


# Scratch databases

class Scratch:
    """Creates and drops the databases the benchmark writes into."""

    def __init__(self, url):
        # As the driver reads it (a mariadb:// URL is mysql://).
        self.url = urls.make_url(url)
        self.backend = self.url.get_backend_name()
        self.tmpdir = None
        self.created = []

    def create(self, suffix):
        if self.backend == "sqlite":
            if self.url.database:
                path = f"{self.url.database}{suffix}"
            else:
                if self.tmpdir is None:
                    self.tmpdir = tempfile.mkdtemp(prefix="panko_like_bench_")
                path = os.path.join(self.tmpdir, f"events{suffix}.sqlite")
            if os.path.exists(path):
                raise SystemExit(f"{path} exists; give a new path")
            url = self.url.set(database=path)
        else:
            name = f"panko_like_bench_{uuid.uuid4().hex[:12]}{suffix}"
            self._admin(self._create_sql(name))
            url = self.url.set(database=name)
        self.created.append(url)
        return url.render_as_string(hide_password=False)

    def drop(self, url):
        url = sa.engine.make_url(url)
        if self.backend == "sqlite":
            for extra in ("", "-wal", "-shm"):
                if os.path.exists(url.database + extra):
                    os.remove(url.database + extra)
        elif self.backend == "postgresql":
            self._admin(f'DROP DATABASE IF EXISTS "{url.database}" '
                        "WITH (FORCE)")
        else:
            self._admin(f"DROP DATABASE IF EXISTS `{url.database}`")

    def cleanup(self):
        for url in self.created:
            self.drop(url)
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)

    def forget(self, url):
        """``url`` is dropped or kept by the caller: not ours to drop."""
        self.created.remove(sa.engine.make_url(url))

    def settings(self):
        """The server's version and the settings that most decide its
        speed on this workload (memory, durability), as it reports them."""
        if self.backend == "sqlite":
            return {"version": sqlite3.sqlite_version}
        names = _SERVER_SETTINGS[self.backend]
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                if self.backend == "postgresql":
                    return {name: conn.exec_driver_sql(f"SHOW {name}")
                            .scalar() for name in names}
                row = conn.exec_driver_sql(
                    "SELECT " + ", ".join(f"@@{name}" for name in names)
                ).one()
                return dict(zip(names, (str(value) for value in row),
                                strict=True))
        finally:
            engine.dispose()

    def _create_sql(self, name):
        if self.backend == "postgresql":
            return f'CREATE DATABASE "{name}"'
        return (f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 "
                "COLLATE utf8mb4_bin")

    def _admin(self, sql):
        engine = sa.create_engine(self.url, isolation_level="AUTOCOMMIT",
                                  poolclass=sa.NullPool)
        with engine.connect() as conn:
            conn.exec_driver_sql(sql)
        engine.dispose()


class MongoScratch:
    """Scratch databases on a MongoDB server."""

    backend = "mongodb"

    def __init__(self, url):
        self.url = url
        self.created = []

    def create(self, suffix):
        name = f"panko_like_bench_{uuid.uuid4().hex[:12]}{suffix}"
        url = impl_mongodb.with_database(self.url, name)
        self.created.append(url)
        return url

    def drop(self, url):
        client = pymongo.MongoClient(url)
        try:
            client.drop_database(client.get_default_database())
        finally:
            client.close()

    def cleanup(self):
        for url in self.created:
            self.drop(url)

    def forget(self, url):
        self.created.remove(url)

    def settings(self):
        client = pymongo.MongoClient(self.url)
        try:
            return {"version": client.server_info().get("version")}
        finally:
            client.close()


#: Settings shown beside the figures (see Scratch.settings).
_SERVER_SETTINGS = {
    "postgresql": ("server_version", "shared_buffers", "max_wal_size",
                   "synchronous_commit", "autovacuum"),
    "mysql": ("version", "innodb_buffer_pool_size", "innodb_log_file_size",
              "innodb_flush_method", "innodb_flush_log_at_trx_commit"),
}


def describe_server(scratch):
    """Print and return the server settings of ``scratch``: the tools'
    first words with the server, so an unreachable one ends them here
    with a one-line error."""
    errors = (sa.exc.DBAPIError,) + (
        (pymongo.errors.PyMongoError,) if pymongo else ())
    try:
        settings = scratch.settings()
    except errors as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise SystemExit(f"cannot reach the {scratch.backend} server: "
                         f"{reason}") from None
    _say("server: " + ", ".join(f"{name}={value}"
                                for name, value in settings.items()))
    return settings


def make_scratch(url):
    if storage.scheme_of(url) == "mongodb":
        return MongoScratch(url)
    return Scratch(url)


def load_mongodb_floor(events, workload, count, batch_size):
    """insert_many of the finished documents; return seconds."""
    elapsed = 0.0
    for batch in workload.events(count, batch_size):
        documents = [
            impl_mongodb.event_document(event, models.dump_raw(event.raw))
            for event in batch
        ]
        start = time.perf_counter()
        with base.collector_paused():
            events.insert_many(documents, ordered=False)
        elapsed += time.perf_counter() - start
    return elapsed


# Queries

def _event_key(event):
    return (event.message_id, event.event_type, event.generated,
            sorted((t.name, _storage_dtype(t.dtype), _value(t.value))
                   for t in event.traits), event.raw)


def _storage_dtype(dtype):
    return models.TEXT_TYPE if dtype == models.NONE_TYPE else dtype


def _value(value):
    return round(value, 9) if isinstance(value, float) else value


def _ordered(keys):
    return [message_id for _, message_id in sorted(keys)]


def queries(expected, scan_repeat):
    """(name, [(call, expected answer) ...], repeat) per query."""
    page = storage.Pagination(limit=PAGE)
    every = storage.Pagination()

    def ids(event_filter, pagination):
        def call(conn):
            found = []
            for event in conn.get_events(event_filter, pagination):
                # Read whole, as a caller would: a driver may decode an
                # event's traits and raw payload only when they are read.
                event.traits, event.raw  # noqa: B018
                found.append(event.message_id)
            return found
        return call

    def project_filter(project, **extra):
        return {"key": "project_id", "string": project, **extra}

    shapes = [
        ("a_event_type_page", [
            (ids(storage.EventFilter(event_type=name), page),
             expected.by_type[name].ids()) for name in EVENT_TYPES]),
        ("b_resource_all", [
            (ids(storage.EventFilter(traits_filter=[
                {"key": "resource_id", "string": r}]), every),
             _ordered(keys)) for r, keys in expected.by_resource.items()]),
        ("c_project_3_days_page", [
            (ids(storage.EventFilter(start_timestamp=WINDOW[0],
                                     end_timestamp=WINDOW[1],
                                     traits_filter=[project_filter(p)]),
                 page), expected.in_window[p].ids())
            for p in expected.projects]),
        ("d_project_memory_page", [
            (ids(storage.EventFilter(traits_filter=[
                project_filter(p),
                {"key": "memory_mb", "op": "ge", "integer": 4096}]), page),
             expected.big_memory[p].ids()) for p in expected.projects]),
        ("e_message_id", [
            (lambda conn, m=m: [_event_key(e) for e in conn.get_events(
                storage.EventFilter(message_id=m))],
             [_event_key(event)])
            for m, event in expected.events.items()]),
        ("f_event_types", [
            (lambda conn: conn.get_event_types(), sorted(expected.types))]),
        ("g_trait_types", [
            (lambda conn, name=name: sorted(
                (t["name"], t["data_type"])
                for t in conn.get_trait_types(name)),
             sorted(expected.trait_types[name]))
            for name in sorted(expected.types)]),
        ("h_first_page", [(ids(storage.EventFilter(), page),
                           expected.first.ids())]),
        ("i_state_values", [
            (lambda conn, name=name: collections.Counter(
                t.value for t in conn.get_traits(name, "state")),
             expected.states[name]) for name in sorted(expected.types)]),
    ]
    return [(name, cases, scan_repeat if name.startswith("i_") else None)
            for name, cases in shapes
            if scan_repeat or not name.startswith("i_")]


def run_queries(conn, expected, repeat, scan_repeat):
    """Time each query; return (figures, failures)."""
    figures, failures = {}, []
    for name, cases, own_repeat in queries(expected, scan_repeat):
        if not cases:
            failures.append(f"{name}: no case to check at this size; "
                            "load more events")
            continue
        times, rows = [], 0
        for index in range(own_repeat or repeat):
            call, want = cases[index % len(cases)]
            start = time.perf_counter()
            got = call(conn)
            times.append(time.perf_counter() - start)
            rows += sum(got.values()) if isinstance(got, dict) else len(got)
            if got != want:
                failures.append(f"{name}: wrong answer (case "
                                f"{index % len(cases)}): got "
                                f"{_short(got)}, expected {_short(want)}")
        figures[name] = {
            "runs": len(times),
            "p50_ms": round(statistics.median(times) * 1000, 3),
            "p95_ms": round(_percentile(times, 95) * 1000, 3),
            "rows_per_run": round(rows / len(times), 1),
        }
        if name.startswith("i_"):
            figures[name]["rows_per_s"] = round(rows / sum(times))
    return figures, failures


def _percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1,
                       int(round(pct / 100 * (len(ordered) - 1))))]


def _short(value):
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 1)


# The run

def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="panko-like-bench",
        description="Load a deterministic workload, measure ingestion "
        "against the database's floor, time and check queries (a)-(i), "
        "expire the older half.")
    parser.add_argument("-n", "--events", type=_positive, default=1_000_000,
                        help="events to load (default 1,000,000)")
    parser.add_argument("-b", "--batch-size", type=_positive, default=1000,
                        help="events per record_events call (default 1000)")
    parser.add_argument("--url", default="sqlite://",
                        help="administrative PostgreSQL/MySQL URL (scratch "
                        "databases are created there), a mongodb:// URI, "
                        "or sqlite:// (temporary files) or sqlite:////path "
                        "(default sqlite://)")
    parser.add_argument("--seed", type=int, default=1,
                        help="workload seed (default 1)")
    add_order_argument(parser)
    parser.add_argument("--json", metavar="PATH",
                        help="also write the figures as JSON here")
    parser.add_argument("--repeat", type=_positive, default=100,
                        help="runs of each query (default 100)")
    parser.add_argument("--scan-repeat", type=_not_negative, default=5,
                        help="runs of the full scan (i) (default 5; 0 "
                        "skips it)")
    parser.add_argument("--checkpoint", type=_positive, action="append",
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


def add_order_argument(parser):
    parser.add_argument(
        "--order", choices=ORDERS, default="time",
        help="time (default): events come in the order they happened, "
        "give or take a minute, as a deployment sends them; random: each "
        "at a random time of its half, so that every batch writes into "
        "all 30 days")


def _not_negative(text):
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be positive: {text}")
    return value


def _say(text):
    print(text, flush=True)


def load_ours(conn, workload, expected, args, on_checkpoint):
    elapsed, loaded = 0.0, 0
    checkpoints = sorted(set(args.checkpoint))
    for batch in workload.events(args.events, args.batch_size):
        start = time.perf_counter()
        rejected = conn.record_events(batch)
        elapsed += time.perf_counter() - start
        if rejected:
            raise SystemExit(f"events refused: {rejected[:3]}")
        expected.add(batch)
        loaded += len(batch)
        if loaded % (args.batch_size * 100) == 0:
            _say(f"  {loaded} events, {loaded / elapsed:,.0f} events/s")
        if checkpoints and loaded >= checkpoints[0]:
            checkpoints.pop(0)
            on_checkpoint(loaded, elapsed)
    return elapsed


def expire_older_half(conn, expected):
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    # The cutoff lands in the middle of the gap between the halves.
    ttl = int((now - (BASE + HALF + GAP / 2)).total_seconds())
    start = time.perf_counter()
    total = 0
    batch = storage.DEFAULT_DELETE_BATCH
    while deleted := conn.clear_expired_data(ttl, batch):
        total += deleted
    return time.perf_counter() - start, total


def analyze(conn):
    """Refresh the planner's statistics, as autovacuum would after a
    bulk load (SQLite has no such daemon); return seconds."""
    if getattr(conn, "engine", None) is None:
        return 0.0  # MongoDB keeps no planner statistics to refresh
    start = time.perf_counter()
    with conn.engine.begin() as c:
        if c.dialect.name == "mysql":
            c.exec_driver_sql(
                "ANALYZE TABLE event, event_type, event_type_trait, "
                "trait_text, trait_int, trait_float, trait_datetime")
        else:
            c.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


def _count(conn):
    if getattr(conn, "engine", None) is None:
        return conn.events.count_documents({})
    with conn.engine.connect() as c:
        return c.exec_driver_sql("SELECT count(*) FROM event").scalar()


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
        ("ours / floor",
         lambda p, r: f"{r['ingest']['ratio_to_floor']:.0%}"
         if r.get("floor") else ""),
    ]
    for name in ("a_event_type_page", "b_resource_all",
                 "c_project_3_days_page", "d_project_memory_page",
                 "e_message_id", "f_event_types", "g_trait_types",
                 "h_first_page", "i_state_values"):
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
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.report:
        print(report(args.report))
        return 0
    workload = Workload(args.seed, args.order)
    expected = Expected(workload, samples=max(1, args.events // 200))
    scratch = make_scratch(args.url)
    result = {"backend": scratch.backend, "events": args.events,
              "batch_size": args.batch_size, "seed": args.seed,
              "order": args.order,
              "command": " ".join(["panko-like-bench", *(
                  sys.argv[1:] if argv is None else argv)]),
              "checkpoints": {}}
    result["server"] = describe_server(scratch)
    failures = []
    try:
        failures = _run(args, workload, expected, scratch, result)
    finally:
        if not args.keep:
            scratch.cleanup()
    result["peak_rss_mb"] = peak_rss_mb()
    result["failures"] = failures
    _say(f"peak RSS of this process: {result['peak_rss_mb']} MB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2, default=str)
    if failures:
        for failure in failures:
            _say(f"FAILED {failure}")
        return 1
    _say("every answer checked: OK")
    return 0


def _report_queries(figures):
    for name, fig in figures.items():
        extra = (f", {fig['rows_per_s']:,} rows/s"
                 if "rows_per_s" in fig else "")
        _say(f"  {name:24} p50 {fig['p50_ms']:9.2f} ms  p95 "
             f"{fig['p95_ms']:9.2f} ms  ({fig['runs']} runs, "
             f"{fig['rows_per_run']} rows each{extra})")


#: Days per PostgreSQL partition: one for each of the workload's 30
#: days, which is what a 30-day event_time_to_live gives when
#: partition_days is unset (see impl_sqlalchemy.partition_width).
PARTITION_DAYS = 1


def bench_conf(url):
    """The configuration the tools run the driver with."""
    conf = service.prepare_service([], config_files=[])
    conf.set_override("connection", url, group="database")
    conf.set_override("partition_days", PARTITION_DAYS, group="database")
    return conf


def _run(args, workload, expected, scratch, result):
    url = scratch.create("")
    conf = bench_conf(url)
    conn = storage.get_connection(url, conf)
    conn.upgrade()
    failures = []

    def checkpoint(loaded, elapsed):
        _say(f"queries at {loaded} events (statistics refreshed in "
             f"{analyze(conn):.1f} s):")
        figures, failed = run_queries(conn, expected, args.repeat,
                                      args.scan_repeat)
        failures.extend(failed)
        _report_queries(figures)
        result["checkpoints"][loaded] = {
            "events_per_s": round(loaded / elapsed), "queries": figures}

    _say(f"loading {args.events} events into {scratch.backend}, batches "
         f"of {args.batch_size}")
    elapsed = load_ours(conn, workload, expected, args, checkpoint)
    rate = args.events / elapsed
    result["ingest"] = {"events_per_s": round(rate),
                        "seconds": round(elapsed, 2)}
    _say(f"ingestion: {rate:,.0f} events/s ({elapsed:.1f} s)")
    if _count(conn) != expected.count:
        failures.append(f"stored {_count(conn)} events, "
                        f"expected {expected.count}")
    _say(f"queries at {args.events} events (statistics refreshed in "
         f"{analyze(conn):.1f} s):")
    figures, failed = run_queries(conn, expected, args.repeat,
                                  args.scan_repeat)
    failures.extend(failed)
    result["queries"] = figures
    _report_queries(figures)
    if not args.no_expiry:
        seconds, deleted = expire_older_half(conn, expected)
        result["expiry"] = {"events": deleted, "seconds": round(seconds, 2),
                            "events_per_s": round(deleted / seconds)
                            if seconds else None,
                            "peak_rss_mb": peak_rss_mb()}
        _say(f"expiry of the older half: {deleted} events in "
             f"{seconds:.1f} s")
        if deleted != expected.older or _count(conn) != (
                expected.count - expected.older):
            failures.append(f"expiry deleted {deleted} events, expected "
                            f"{expected.older}")
    conn.close()
    if args.keep:
        _say(f"kept our database: {url}")
    else:
        scratch.drop(url)
    scratch.forget(url)
    floor_events = (args.events if args.floor_events is None
                    else args.floor_events)
    if floor_events:
        result["floor"] = _floor(scratch, workload, floor_events,
                                 args.batch_size, conf)
        result["ingest"]["ratio_to_floor"] = round(
            rate / result["floor"]["events_per_s"], 3)
        _say(f"floor ({floor_events} events, no driver logic): "
             f"{result['floor']['events_per_s']:,} events/s; ours is "
             f"{result['ingest']['ratio_to_floor']:.0%} of it")
    return failures


def _floor(scratch, workload, count, batch_size, conf):
    url = scratch.create("_floor")
    conn = storage.get_connection(url, conf)
    conn.upgrade()  # the same schema as ours
    if scratch.backend == "mongodb":
        try:
            seconds = load_mongodb_floor(conn.events, workload, count,
                                         batch_size)
        finally:
            conn.close()
            scratch.drop(url)
            scratch.forget(url)
        return {"events": count, "seconds": round(seconds, 2),
                "events_per_s": round(count / seconds)}
    conn.close()
    # The driver's engine settings (WAL on SQLite), none of its logic.
    engine = impl_sqlalchemy.create_engine(url, conf)
    try:
        seconds = load_floor(engine, workload, count, batch_size)
    finally:
        engine.dispose()
        scratch.drop(url)
        scratch.forget(url)
    return {"events": count, "seconds": round(seconds, 2),
            "events_per_s": round(count / seconds)}


if __name__ == "__main__":
    sys.exit(main())
