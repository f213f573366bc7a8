"""What only the MongoDB driver has: its layout, indexes, TTL index,
adoption of Panko's documents, server-side refusals and its URIs."""

import datetime
import io
import logging
import os
import shutil
import tempfile

import pymongo

from panko_like import storage
from panko_like.storage import impl_mongodb, models
from panko_like.storage.mongodb import documents as mongo_documents
from tests.functional import backends, dataset
from tests.functional.scripts import run

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, 123456)


def to_ms(value):
    """What a BSON date keeps of a datetime."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def panko_document(event):
    """``event`` as Panko's MongoDB driver wrote it."""
    return {
        "_id": event.message_id,
        "event_type": event.event_type,
        "timestamp": event.generated,
        "traits": [{"trait_name": t.name, "trait_type": t.dtype,
                    "trait_value": t.value} for t in event.traits],
        "raw": event.raw,
    }


def as_panko_kept_it(event):
    """``event`` with the millisecond datetimes Panko's documents hold."""
    traits = [
        models.Trait(t.name, t.dtype,
                     to_ms(t.value) if isinstance(t.value, datetime.datetime)
                     else t.value)
        for t in event.traits
    ]
    return models.Event(event.message_id, event.event_type,
                        to_ms(event.generated), traits, event.raw)


class MongoDBTestCase(backends.BackendTestCase):
    backend_name = "mongodb"

    def connect(self, **database):
        conf = backends.make_conf(self.url, {
            ("database", key): value for key, value in database.items()})
        conn = storage.get_connection(self.url, conf)
        self.addCleanup(conn.close)
        return conn

    def write_config(self, url=None, **database):
        path = os.path.join(tempfile.mkdtemp(), "panko_like.conf")
        self.addCleanup(shutil.rmtree, os.path.dirname(path))
        lines = ["[database]", f"connection = {url or self.url}"]
        lines += [f"{key} = {value}" for key, value in database.items()]
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def capture_logs(self, level=logging.DEBUG):
        """Everything logged from now on at ``level`` and above.

        Call it after make_conf(): oslo.log's setup replaces handlers.
        """
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        root = logging.getLogger()
        level = root.level
        root.addHandler(handler)
        root.setLevel(level)
        self.addCleanup(root.setLevel, level)
        self.addCleanup(root.removeHandler, handler)
        return stream

    def ttl_index(self):
        index = self.conn.events.index_information().get("event_ttl")
        return None if index is None else index["expireAfterSeconds"]


class TestLayout(MongoDBTestCase):
    def test_document_keeps_panko_fields_and_exact_times(self):
        at = datetime.datetime(2020, 2, 29, 23, 59, 59, 999999)
        event = models.Event("m", "t.x", T0, [
            models.Trait("at", models.DATETIME_TYPE, at),
            models.Trait("n", models.INT_TYPE, 2**63 - 1),
            models.Trait("s", models.TEXT_TYPE, None),
        ], {"k": [1, 2]})
        self.assertEqual([], self.conn.record_events([event]))
        doc = self.conn.events.find_one({"_id": "m"})
        self.assertEqual("t.x", doc["event_type"])
        self.assertEqual(to_ms(T0), doc["timestamp"])
        self.assertEqual(mongo_documents.to_us(T0), doc["generated_us"])
        self.assertEqual(
            [("at", 4, to_ms(at)), ("n", 2, 2**63 - 1), ("s", 1, None)],
            [(t["trait_name"], t["trait_type"], t["trait_value"])
             for t in doc["traits"]])
        self.assertEqual(mongo_documents.to_us(at),
                         doc["traits"][0]["trait_us"])
        (back,) = self.conn.get_events(storage.EventFilter())
        self.assertEqual(T0, back.generated)
        self.assertEqual(at, back.traits[0].value)

    def test_datetime_filters_use_microseconds(self):
        at = datetime.datetime(2020, 1, 1, 0, 0, 0, 1500)
        self.assertEqual([], self.conn.record_events([
            models.Event("a", "t", T0, [models.Trait("at", 4, at)]),
            models.Event("b", "t", T0 + datetime.timedelta(microseconds=1),
                         [models.Trait("at", 4, at + datetime.timedelta(
                             microseconds=1))]),
        ]))
        for op, value, want in (
                ("eq", at, ["a"]), ("gt", at, ["b"]), ("ne", at, ["b"]),
                ("lt", at + datetime.timedelta(microseconds=1), ["a"])):
            f = storage.EventFilter(
                traits_filter=[{"key": "at", "op": op, "datetime": value}])
            self.assertEqual(
                want, [e.message_id for e in self.conn.get_events(f)], op)
        window = storage.EventFilter(start_timestamp=T0, end_timestamp=T0)
        self.assertEqual(
            ["a"], [e.message_id for e in self.conn.get_events(window)])

    def test_raw_bson_could_not_hold_round_trips(self):
        raw = {"$where": 1, "a.b": 2, "big": 2**70, "list": [None, 1.5],
               "": "empty key"}
        self.assertEqual([], self.conn.record_events(
            [models.Event("r", "t", T0, [], raw)]))
        (back,) = self.conn.get_events(storage.EventFilter())
        self.assertEqual(raw, back.raw)

    def test_document_over_mongodb_limit_is_too_large(self):
        value = "🚀" * models.MAX_TEXT_LENGTH  # 16 KiB of UTF-8
        traits = [models.Trait(f"t{i}", models.TEXT_TYPE, value)
                  for i in range(1100)]
        rejected = self.conn.record_events([
            models.Event("huge", "t", T0, traits),
            models.Event("ok", "t", T0, traits[:10]),
        ])
        self.assertEqual([("huge", models.Problem.TOO_LARGE)],
                         [(r.message_id, r.problem) for r in rejected])
        self.assertEqual(
            ["ok"], [e.message_id
                     for e in self.conn.get_events(storage.EventFilter())])

    def test_server_refusals_are_mapped_per_event(self):
        self.assertEqual([], self.conn.record_events(
            [models.Event("old", "t", T0, [])]))
        # A validator makes the server refuse some documents of a batch.
        self.conn.db.command("collMod", "event",
                             validator={"event_type": {"$ne": "refused"}})
        # (pymongo's own DEBUG log shows whole commands.)
        logs = self.capture_logs(logging.INFO)
        rejected = self.conn.record_events([
            models.Event("a", "t", T0, []),
            models.Event("no", "refused", T0, [], {"k": "secret-payload"}),
            models.Event("old", "t", T0, []),
            models.Event("b", "t", T0, []),
        ])
        got = {r.message_id: r for r in rejected}
        self.assertEqual({"no", "old"}, set(got))
        self.assertEqual(models.Problem.UNKNOWN, got["no"].problem)
        self.assertIn("validation", got["no"].reason)
        # The refusal is logged without the refused documents.
        self.assertNotIn("secret-payload", logs.getvalue())
        self.assertEqual(models.Problem.DUPLICATE, got["old"].problem)
        self.assertEqual(
            ["a", "b", "old"],
            sorted(e.message_id
                   for e in self.conn.get_events(storage.EventFilter())))


class TestSchema(MongoDBTestCase):
    def test_upgrade_creates_the_indexes(self):
        indexes = self.conn.events.index_information()
        for name, keys in impl_mongodb.INDEXES.items():
            self.assertEqual(keys, [tuple(k) for k in indexes[name]["key"]])
        self.assertNotIn("event_ttl", indexes)
        self.assertIn("nothing to do", self.conn.upgrade())

    def test_missing_index_is_recreated(self):
        self.conn.events.drop_index("event_trait_idx")
        self.assertIn("event_trait_idx", self.conn.upgrade())
        self.assertIn("event_trait_idx",
                      self.conn.events.index_information())

    def test_ttl_index_follows_the_option(self):
        steps = ((3600, "created the TTL index", 3600),
                 (3600, "nothing to do", 3600),
                 (7200, "set the TTL index event_ttl to 7200", 7200),
                 (0, "dropped the TTL index", None),
                 (-1, "nothing to do", None))
        for ttl, said, index in steps:
            with self.subTest(ttl=ttl):
                result = self.connect(event_time_to_live=ttl).upgrade()
                self.assertIn(said, result)
                self.assertEqual(index, self.ttl_index())

    def test_dbsync_and_expirer_keep_the_ttl_index(self):
        run("panko-like-dbsync", "--config-file",
            self.write_config(event_time_to_live=600))
        self.assertEqual(600, self.ttl_index())
        old = [models.Event(f"e{i}", "t", datetime.datetime(2000, 1, 1), [])
               for i in range(3)]
        self.assertEqual([], self.conn.record_events(old))
        result = run("panko-like-expirer", "--config-file",
                     self.write_config(event_time_to_live=86400,
                                       events_delete_batch_size=2))
        self.assertIn("expired", result.stdout)
        self.assertEqual(86400, self.ttl_index())
        self.assertEqual([], list(self.conn.get_events(storage.EventFilter())))
        run("panko-like-dbsync", "--config-file",
            self.write_config(event_time_to_live=-1))
        self.assertIsNone(self.ttl_index())


class TestPankoAdoption(MongoDBTestCase):
    auto_upgrade = False

    def load_panko_documents(self):
        self.events = dataset.panko_events()
        self.conn.events.insert_many(
            [panko_document(e) for e in self.events])
        # Panko's upgrade() made this one index.
        self.conn.events.create_index(
            [("event_type", 1), ("timestamp", 1)], name="event_type_idx")
        self.kept = [as_panko_kept_it(e) for e in self.events]

    def stored(self):
        return {e.message_id: dataset.normalized(e)
                for e in self.conn.get_events(storage.EventFilter())}

    def test_panko_documents_read_before_migration(self):
        self.load_panko_documents()
        self.assertEqual("layout 0", self.conn.schema_version())
        self.assertEqual(
            {e.message_id: dataset.normalized(e) for e in self.kept},
            {mid: value for mid, value in self.stored().items()})

    def test_dbsync_migrates_panko_documents_in_place(self):
        self.load_panko_documents()
        conf = self.write_config()
        result = run("panko-like-dbsync", "--config-file", conf)
        self.assertIn("adopted a Panko database: 200 events migrated",
                      result.stdout)
        self.assertIn("nothing to do",
                      run("panko-like-dbsync", "--config-file", conf).stdout)
        indexes = self.conn.events.index_information()
        self.assertNotIn("event_type_idx", indexes)
        self.assertLessEqual(set(impl_mongodb.INDEXES), set(indexes))
        self.assertEqual(
            {e.message_id: dataset.normalized(e) for e in self.kept},
            self.stored())
        # Every query answers as on data written by panko_like.
        self.events = self.kept
        for type_name, key, value in (
                ("string", "flavor", "m1.medium"),
                ("integer", "memory_mb", 4096),
                ("float", "temperature", 0.1),
                ("datetime", "launched_at",
                 datetime.datetime(2020, 12, 22, 13, 21, 7, 620000))):
            for op in storage.OPERATORS:
                f = storage.EventFilter(traits_filter=[
                    {"key": key, "op": op, type_name: value}])
                self.assertEqual(
                    dataset.expected(self.kept, f),
                    [e.message_id for e in self.conn.get_events(f)],
                    (key, op))
        pagination = storage.Pagination(
            limit=30, sort=[("generated", "desc")])
        self.assertEqual(
            dataset.expected(self.kept, storage.EventFilter(), pagination),
            [e.message_id for e in self.conn.get_events(
                storage.EventFilter(), pagination)])
        self.assertEqual(
            [("counter", 2), ("humidity", 3), ("note", 1),
             ("project_id", 1), ("sampled_at", 4), ("sensor", 1),
             ("temperature", 3), ("user_id", 1)],
            [(t["name"], t["data_type"])
             for t in self.conn.get_trait_types("sensor.reading")])
        self.assertEqual(16, self.conn.delete_events(
            storage.EventFilter(event_type="heartbeat")))


class TestURIs(MongoDBTestCase):
    auto_upgrade = False

    def test_options_are_passed_through(self):
        sep = "&" if "?" in self.url else "?"
        conn = storage.get_connection(
            f"{self.url}{sep}appname=probe&serverSelectionTimeoutMS=4321"
            "&maxPoolSize=7&w=majority", self.conf)
        self.addCleanup(conn.close)
        options = conn.client.options
        self.assertEqual(7, options.pool_options.max_pool_size)
        self.assertEqual(4.321, options.server_selection_timeout)
        self.assertEqual({"w": "majority"}, options.write_concern.document)
        self.assertEqual(
            "probe", options.pool_options.metadata["application"]["name"])
        self.assertEqual([], conn.record_events(
            [models.Event("m", "t", T0, [])]))

    def test_database_defaults_to_panko_like(self):
        conn = storage.get_connection(
            backends.MongoDBBackend.with_database(self.url, ""), self.conf)
        self.addCleanup(conn.close)
        self.assertEqual("panko_like", conn.db.name)

    def test_credentials_are_never_logged(self):
        port = backends._free_port()
        url = (f"mongodb://panko:s3cr3t-pw@127.0.0.1:{port}/events"
               "?serverSelectionTimeoutMS=100")
        conf = backends.make_conf(url, {("database", "max_retries"): 1,
                                        ("database", "retry_interval"): 0})
        logs = self.capture_logs()
        with self.assertRaises(Exception) as ctx:
            storage.get_connection_from_config(conf)
        self.assertNotIn("s3cr3t-pw", str(ctx.exception))
        with self.assertRaises(ValueError) as ctx:
            storage.get_connection(
                "mongodb://panko:s3cr3t-pw@host:port/events", conf)
        self.assertNotIn("s3cr3t-pw", str(ctx.exception))
        self.assertIn("***@", str(ctx.exception))
        self.assertIn("attempt 1", logs.getvalue())
        self.assertNotIn("s3cr3t-pw", logs.getvalue())
        result = run("panko-like-dbsync", "--config-file",
                     self.write_config(url, max_retries=0), "--debug",
                     check=False)
        self.assertNotEqual(0, result.returncode)
        self.assertIn("cannot connect to the storage", result.stderr)
        self.assertNotIn("s3cr3t-pw", result.stdout + result.stderr)

    def test_lost_server_is_storage_unavailable(self):
        conn = self.connect(max_retries=1, retry_interval=0)
        calls = []

        def lost():
            calls.append(1)
            raise pymongo.errors.AutoReconnect("mongodb://u:pw@h: lost")

        with self.assertRaises(storage.StorageUnavailable) as ctx:
            conn._reconnecting(lost)
        self.assertEqual(2, len(calls))
        self.assertNotIn("pw", str(ctx.exception))

    def test_redact(self):
        self.assertEqual(
            "mongodb://***@h1,h2/db?authSource=admin",
            mongo_documents.redact("mongodb://u:p%40w@h1,h2/db?authSource=admin"),
        )
