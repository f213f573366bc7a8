"""MongoDB storage driver (pymongo 4.x, MongoDB 4.4 or newer).

URLs are MongoDB connection strings, passed to pymongo as they are::

    mongodb://user:password@host1:27017,host2:27017/panko?replicaSet=rs0
    mongodb+srv://user:password@cluster.example.org/panko?authSource=admin

The database is the one the URI names (``panko_like`` when it names
none); every URI option (``replicaSet``, ``authSource``, ``tls``...) goes
to pymongo unchanged. ``pip install panko_like[mongodb]``.

Layout: Panko's, one document per event in the ``event`` collection::

    {_id: message_id, event_type, timestamp: <BSON date>,
     traits: [{trait_name, trait_type, trait_value}], raw}

plus what Panko's lacked. MongoDB dates keep milliseconds, so the exact
``generated`` is kept as integer microseconds since the epoch in
``generated_us`` (the sort, range and marker key), and each datetime
trait carries ``trait_us`` beside its ``trait_value`` date. ``raw`` is
kept as its JSON text, so any payload the SQL driver takes round-trips
the same (BSON refuses integers over 64 bits and some key names). The
``timestamp`` date stays for MongoDB's native TTL index. ``upgrade()``
migrates documents Panko wrote to this layout in place.
"""

import datetime
import json
import random
import time

import pymongo
from oslo_log import log
from pymongo import errors as mongo_errors
from pymongo import uri_parser

from panko_like import storage
from panko_like.storage import base, models, trait_updates
from panko_like.storage.mongodb import documents as codec

LOG = log.getLogger(__name__)

#: Version of the document layout that ``upgrade()`` brings data to.
#: 1: Panko's documents rewritten (generated_us, raw as JSON text);
#: 2: ``stored_us``, when each event was stored.
LAYOUT_VERSION = 2
DEFAULT_DATABASE = "panko_like"
EVENTS = "event"
#: Holds one document, ``{_id: "layout", version}``.
SCHEMA = "panko_like_schema"
#: Panko's name for the native TTL index, kept so adopted databases match.
TTL_INDEX = "event_ttl"
#: Panko's only index, replaced by the ones below.
PANKO_INDEX = "event_type_idx"
INDEXES = {
    # Default sort and time ranges; the expirer's oldest-first scan.
    "event_generated_idx": [("generated_us", 1), ("_id", 1)],
    # event_type filters sorted by time; get_event_types.
    "event_type_generated_idx": [
        ("event_type", 1), ("generated_us", 1), ("_id", 1),
    ],
    # stored_since/stored_before, counts and streams in stored order.
    "event_stored_idx": [("stored_us", 1), ("_id", 1)],
    # Trait filters: {trait_name, trait_value} inside $elemMatch.
    "event_trait_idx": [("traits.trait_name", 1), ("traits.trait_value", 1)],
}
#: Stored order, on event_stored_idx.
STORED_ORDER = [("stored_us", 1), ("_id", 1)]
#: Documents streamed per round trip.
CHUNK_SIZE = 1000
#: Documents rewritten per round trip when migrating Panko's.
MIGRATE_CHUNK = 1000
DUPLICATE_KEY = 11000
#: MongoDB's codes for Unauthorized and AuthenticationFailed.
_REFUSED_CODES = (13, 18)
#: ... for ExceededMemoryLimit and OutOfDiskSpace.
_RESOURCE_CODES = (146, 14031)
SERVER_SELECTION_TIMEOUT_MS = 5000
#: Times update_traits reads and writes an event that other updates
#: keep changing before it gives up.
UPDATE_ATTEMPTS = 100


class Connection(base.Connection):
    """Events as documents in a MongoDB database."""

    CAPABILITIES = {"events": {
        "query": {"simple": True, "count": True, "statistics": True},
        "delete": True,
        "update": True,
        "stream": True,
    }}
    STORAGE_CAPABILITIES = {
        "storage": {"production_ready": True, "expiry": True}
    }

    def __init__(self, url, conf=None):
        super().__init__(url, conf)
        try:
            parsed = uri_parser.parse_uri(url)
        except (mongo_errors.PyMongoError, ValueError) as exc:
            raise ValueError(
                f"invalid MongoDB URI {codec.redact(url)!r}: "
                f"{codec.redact(str(exc))}"
            ) from None
        options = {"appname": "panko_like"}
        given = {name.lower() for name in parsed["options"]}
        if "serverselectiontimeoutms" not in given:
            # [database] connect_timeout, which the API lowers to its
            # storage_timeout: a lost server is waited for that long.
            options["serverSelectionTimeoutMS"] = (
                SERVER_SELECTION_TIMEOUT_MS if conf is None
                else 1000 * conf.database.connect_timeout)
        if "appname" in given:
            del options["appname"]
        self.client = pymongo.MongoClient(url, **options)
        self.db = self.client[parsed["database"] or DEFAULT_DATABASE]
        self.events = self.db[EVENTS]
        LOG.debug("Connecting to MongoDB %s, database %s",
                  ",".join(f"{h}:{p}" for h, p in parsed["nodelist"]),
                  self.db.name)
        self._check_reachable(
            lambda: self.client.admin.command("ping"), self.client.close)

    def close(self):
        self.client.close()

    STORAGE_NAME = "MongoDB"

    def _is_unreachable(self, exc):
        return isinstance(exc, mongo_errors.AutoReconnect)

    def _misconfiguration(self, exc):
        # Unauthorized, AuthenticationFailed; a host name that does not
        # resolve (known once server selection gives up).
        if isinstance(exc, mongo_errors.OperationFailure) and (
                exc.code in _REFUSED_CODES):
            return codec.redact(storage.one_line(exc))
        if isinstance(exc, mongo_errors.ServerSelectionTimeoutError) and (
                "Name or service not known" in str(exc)):
            return codec.redact(str(exc).split(",")[0])
        return None

    def _resource_problem(self, exc):
        if isinstance(exc, mongo_errors.OperationFailure) and (
                exc.code in _RESOURCE_CODES):
            return codec.redact(storage.one_line(exc))
        return None

    def _describe(self, exc):
        return codec.redact(super()._describe(exc))

    def _configured_ttl(self) -> int:
        if self.conf is None:
            return -1
        return self.conf.database.event_time_to_live

    # Schema

    def _layout_version(self) -> int | None:
        """The stored layout version, 0 for Panko's, None when empty."""
        doc = self.db[SCHEMA].find_one({"_id": "layout"})
        if doc is not None:
            return doc["version"]
        if EVENTS in self.db.list_collection_names():
            return 0
        return None

    def schema_version(self):
        version = self._layout_version()
        return None if version is None else f"layout {version}"

    def upgrade(self):
        version = self._layout_version()
        migrated = 0
        if version is None:
            self.db.create_collection(EVENTS)
        elif version < 1:
            migrated = self._migrate_panko_documents()
        if version is not None and version < 2:
            self._stamp_stored()
        created = self._ensure_indexes()
        ttl = self._sync_ttl_index(self._configured_ttl())
        self.db[SCHEMA].replace_one(
            {"_id": "layout"},
            {"_id": "layout", "version": LAYOUT_VERSION},
            upsert=True,
        )
        if version is None:
            done = f"created the schema at layout {LAYOUT_VERSION}"
        elif version < 1:
            done = (f"adopted a Panko database: {migrated} events "
                    f"migrated to layout {LAYOUT_VERSION}")
        elif version < LAYOUT_VERSION:
            done = f"migrated from layout {version} to {LAYOUT_VERSION}"
        elif created:
            done = f"created the indexes {', '.join(created)}"
        else:
            done = f"schema already at layout {LAYOUT_VERSION}"
            if ttl is None:
                done += "; nothing to do"
        return done if ttl is None else f"{done}; {ttl}"

    def _ensure_indexes(self) -> list[str]:
        existing = self.events.index_information()
        if PANKO_INDEX in existing:
            self.events.drop_index(PANKO_INDEX)
        created = []
        for name, keys in INDEXES.items():
            if name not in existing:
                self.events.create_index(keys, name=name)
                created.append(name)
        return created

    def _sync_ttl_index(self, ttl: int) -> str | None:
        """Make the native TTL index match ``ttl`` seconds (off if <= 0).

        Returns what changed, or None.
        """
        index = self.events.index_information().get(TTL_INDEX)
        if ttl <= 0:
            if index is None:
                return None
            self.events.drop_index(TTL_INDEX)
            return f"dropped the TTL index {TTL_INDEX}"
        if index is None:
            self.events.create_index(
                [("timestamp", 1)], name=TTL_INDEX, expireAfterSeconds=ttl
            )
            return f"created the TTL index {TTL_INDEX} ({ttl} s)"
        if index.get("expireAfterSeconds") == ttl:
            return None
        self.db.command(
            "collMod", EVENTS,
            index={"keyPattern": {"timestamp": 1},
                   "expireAfterSeconds": ttl},
        )
        return f"set the TTL index {TTL_INDEX} to {ttl} s"

    def _stamp_stored(self) -> None:
        """Give the events stored before layout 2 the time of this
        upgrade as their stored time (when they were stored is not
        known; see the SQL revision 0009)."""
        self.events.update_many(
            {"stored_us": {"$exists": False}},
            {"$set": {"stored_us": codec.to_us(models.utc_now())}})

    def _migrate_panko_documents(self) -> int:
        """Rewrite the documents Panko wrote into the current layout."""
        migrated = 0
        batch = []
        old = self.events.find({"generated_us": {"$exists": False}})
        for doc in old.batch_size(MIGRATE_CHUNK):
            batch.append(pymongo.UpdateOne(
                {"_id": doc["_id"]}, {"$set": _migrated_fields(doc)}
            ))
            if len(batch) == MIGRATE_CHUNK:
                migrated += self.events.bulk_write(batch).modified_count
                batch = []
        if batch:
            migrated += self.events.bulk_write(batch).modified_count
        return migrated

    def clear(self):
        self.client.drop_database(self.db.name)

    # Writes

    def record_events(self, events):
        rejected, documents = base.checked_batch(
            events, codec.checked_document, self.max_raw_depth)
        # MongoDB has no clock to default to on insert: the writing
        # process's stamps the batch.
        stored_us = codec.to_us(models.utc_now())
        for document in documents:
            document["stored_us"] = stored_us
        if documents:
            rejected.extend(self._insert(documents))
        return rejected

    def _insert(self, documents):
        try:
            self.events.insert_many(documents, ordered=False)
        except mongo_errors.BulkWriteError as exc:
            details = exc.details
        else:
            return []
        # Outside the except block: oslo.log would attach the exception,
        # whose text holds every refused document, raw payload included.
        return self._rejected_by_server(documents, details)

    @staticmethod
    def _rejected_by_server(documents, details):
        if details.get("writeConcernErrors"):
            raise storage.StorageError(
                "MongoDB did not confirm the write: "
                f"{details['writeConcernErrors'][0].get('errmsg')}"
            )
        rejected = []
        for error in details.get("writeErrors", []):
            message_id = documents[error["index"]]["_id"]
            if error.get("code") == DUPLICATE_KEY:
                rejected.append(base.duplicate(message_id, "already stored"))
                continue
            LOG.warning("Event %s refused: %s",
                        message_id, error.get("errmsg"))
            rejected.append(models.Rejected(
                message_id, models.Problem.UNKNOWN,
                str(error.get("errmsg") or "refused by MongoDB"),
            ))
        return rejected

    # Reads

    def _find_marker(self, query, marker):
        doc = self.events.find_one(
            codec.and_(query, {"_id": marker}), {"generated_us": 1}
        )
        if doc is None:
            raise storage.InvalidMarker(f"marker {marker!r} not found")
        return {"_id": doc["_id"], "generated_us": doc["generated_us"]}

    def get_events(self, event_filter, pagination=None):
        pagination = pagination or storage.Pagination()
        query = codec.filter_query(event_filter)
        if pagination.marker is not None:
            position = self._find_marker(query, pagination.marker)
            query = codec.and_(
                query, codec.after(pagination.sort, position))
        cursor = self.events.find(
            query,
            sort=[
                (codec.SORT_FIELDS[key], 1 if direction == "asc" else -1)
                for key, direction in pagination.sort
            ],
            limit=pagination.limit or 0,
            batch_size=CHUNK_SIZE,
            # A mixed-direction sort has no index to walk.
            allow_disk_use=True,
        )
        return (codec.event_from_document(doc) for doc in cursor)

    def storage_now(self):
        # MongoDB stamps no time on insert: each writing process's clock
        # stamps its batches (see record_events), so this one's is as
        # good as any.
        return models.utc_now()

    def _stored_query(self, event_filter, until, extra=None):
        return codec.and_(codec.filter_query(event_filter),
                          {"stored_us": {"$lte": codec.to_us(until)}},
                          extra or {})

    def get_events_stored_after(self, event_filter, after, until, limit):
        extra = None
        if after is not None:
            stored_us, message_id = codec.to_us(after[0]), after[1]
            extra = {"$or": [{"stored_us": {"$gt": stored_us}},
                             {"stored_us": stored_us,
                              "_id": {"$gt": message_id}}]}
        cursor = self.events.find(
            self._stored_query(event_filter, until, extra),
            sort=STORED_ORDER, limit=limit or 0, batch_size=CHUNK_SIZE)
        return [codec.event_from_document(doc) for doc in cursor]

    def get_stored_keys(self, event_filter, since, until, limit=None):
        cursor = self.events.find(
            self._stored_query(event_filter, until, {
                "stored_us": {"$gte": codec.to_us(since)}}),
            {"stored_us": 1}, sort=STORED_ORDER, limit=limit or 0,
            batch_size=CHUNK_SIZE)
        return [(codec.from_us(doc["stored_us"]), doc["_id"])
                for doc in cursor]

    def get_event_types(self):
        return sorted(
            name for name in self.events.distinct("event_type")
            if name is not None
        )

    def _type_traits(self, event_type, trait_name=None):
        """Aggregation stages unwinding the traits of ``event_type``."""
        match = {"event_type": event_type}
        stages = [{"$match": match}, {"$unwind": "$traits"}]
        if trait_name is not None:
            match["traits.trait_name"] = trait_name
            stages.append({"$match": {"traits.trait_name": trait_name}})
        return stages

    def get_trait_types(self, event_type):
        # An aggregation, not distinct(): distinct over a field of an
        # array of sub-documents is not served by every server.
        pipeline = self._type_traits(event_type) + [
            {"$group": {"_id": {"name": "$traits.trait_name",
                                "type": "$traits.trait_type"}}},
        ]
        found = set()
        for doc in self.events.aggregate(pipeline):
            dtype = int(doc["_id"]["type"] or models.NONE_TYPE)
            found.add((doc["_id"]["name"], dtype or models.TEXT_TYPE))
        return [{"name": name, "data_type": dtype}
                for name, dtype in sorted(found)]

    def get_traits(self, event_type, trait_name=None):
        pipeline = self._type_traits(event_type, trait_name) + [
            {"$replaceRoot": {"newRoot": "$traits"}},
        ]
        return [codec.trait_from_document(doc)
                for doc in self.events.aggregate(pipeline)]

    # Deletes

    def clear_expired_data(self, ttl, max_count):
        if max_count < 1:
            raise ValueError("max_count must be a positive integer")
        cutoff = codec.to_us(
            datetime.datetime.now(datetime.UTC)
            - datetime.timedelta(seconds=ttl)
        )
        expired = {"generated_us": {"$lt": cutoff}}
        while ids := self._oldest_ids(expired, max_count):
            deleted = self.events.delete_many(
                {"_id": {"$in": ids}, **expired}
            ).deleted_count
            # 0: the TTL monitor took them all meanwhile; look again.
            if deleted:
                LOG.debug("Deleted %d events generated before %s",
                          deleted, codec.from_us(cutoff))
                return deleted
        # The expirer is done: leave what expires next to MongoDB's own
        # TTL monitor, as the option says. Syncing only now keeps the
        # monitor from racing with the batches counted above.
        change = self._sync_ttl_index(self._configured_ttl())
        if change:
            LOG.info("MongoDB: %s", change)
        return 0

    def _oldest_ids(self, query, count):
        cursor = self.events.find(
            query, {"_id": 1},
            sort=[("generated_us", 1), ("_id", 1)],
            limit=count,
        )
        return [doc["_id"] for doc in cursor]

    def delete_events(self, event_filter, max_count=None):
        query = codec.filter_query(event_filter)
        if max_count is not None:
            ids = [doc["_id"] for doc in self.events.find(
                query, {"_id": 1}, sort=[("_id", 1)], limit=max_count)]
            query = codec.and_(query, {"_id": {"$in": ids}})
        return self.events.delete_many(query).deleted_count

    # Updates

    def update_traits(self, event_filter, set_traits, remove,
                      max_traits=None):
        """Read the event, change its traits here and write them back if
        no other update wrote meanwhile: the write is conditioned on the
        ``updated_us`` read, which every update makes later (see
        documents.updated_fields). A lost race reads again, so each
        update applies to what the one before it left."""
        if event_filter.message_id is None:
            raise ValueError("update_traits needs a message_id")
        set_traits, remove = trait_updates.checked_update(set_traits, remove)
        query = codec.filter_query(event_filter)
        for _ in range(UPDATE_ATTEMPTS):
            doc = self.events.find_one(query)
            if doc is None:
                return None
            traits = trait_updates.updated_traits(
                codec.event_from_document(doc).traits, set_traits, remove,
                max_traits)
            updated = self.events.find_one_and_update(
                {"_id": doc["_id"], "updated_us": doc.get("updated_us")},
                {"$set": codec.updated_fields(doc, traits)},
                return_document=pymongo.ReturnDocument.AFTER)
            if updated is not None:
                return codec.event_from_document(updated)
            # Spread the racers out, so that one of them wins the next
            # round.
            time.sleep(random.uniform(0, 0.005))
        raise storage.StorageError(
            f"event {event_filter.message_id} kept changing: not updated "
            f"after {UPDATE_ATTEMPTS} attempts")

    def count_events(self, event_filter):
        return self.events.count_documents(codec.filter_query(event_filter))

    def event_statistics(self, event_filter, group_by=None, period=None,
                         max_groups=None):
        pipeline = [{"$match": codec.filter_query(event_filter)},
                    {"$group": {"_id": codec.group_key(group_by, period),
                                "n": {"$sum": 1}}}]
        if max_groups is not None:
            pipeline.append({"$limit": max_groups + 1})
        rows = list(self.events.aggregate(pipeline))
        if max_groups is not None and len(rows) > max_groups:
            raise storage.TooManyGroups(f"more than {max_groups} groups")
        return codec.statistics_lines(rows, group_by, period)


def _migrated_fields(doc: dict) -> dict:
    """The fields of a Panko document in the current layout."""
    traits = []
    for trait in doc.get("traits") or []:
        trait = dict(trait)
        value = trait.get("trait_value")
        if isinstance(value, datetime.datetime):
            trait["trait_us"] = codec.to_us(value)
        traits.append(trait)
    raw = doc.get("raw")
    return {
        "generated_us": codec.to_us(doc["timestamp"]),
        "traits": traits,
        "raw": None if raw is None else json.dumps(
            raw, ensure_ascii=False, default=str
        ),
    }
