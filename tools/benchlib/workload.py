"""The benchmarks' workload: deterministic events, and the answers the
queries over them must give.

Everything derives from a seed, so a run can be repeated and its
answers checked without keeping the events: :class:`Expected` follows
the events as they are loaded and keeps what each query must return.
"""

import collections
import datetime
import random
import time
import uuid

from panko_like import storage
from panko_like.storage import models

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
#: Queries (j) and (k): one day inside that window, [start, end).
DAY = (BASE + datetime.timedelta(days=6), BASE + datetime.timedelta(days=7))
#: Query (k): hourly periods.
HOUR = 3600


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


class TopK:
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
        self.owned = TopK()
        self.resources = rng.sample(workload.resources, 20)
        self.sample_every = samples
        self.count = 0
        self.older = 0
        self.by_type = {name: TopK() for name in EVENT_TYPES}
        self.by_resource = {r: [] for r in self.resources}
        self.in_window = {p: TopK() for p in self.projects}
        self.big_memory = {p: TopK() for p in self.projects}
        self.first = TopK()
        self.events = {}
        self.types = set()
        self.trait_types = collections.defaultdict(set)
        self.states = collections.defaultdict(collections.Counter)
        #: (j): events of each sampled project generated in DAY.
        self.day_counts = collections.Counter()
        #: (k): events of each type generated in DAY, by hour.
        self.hours = collections.defaultdict(collections.Counter)

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
            if DAY[0] <= event.generated < DAY[1]:
                if project in self.in_window:
                    self.day_counts[project] += 1
                hour = event.generated.replace(minute=0, second=0,
                                               microsecond=0)
                self.hours[event.event_type][hour] += 1



def expire_older_half(conn):
    """Expire the older half through the driver, in batches as the
    expirer does; return (seconds, events deleted)."""
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    # The cutoff lands in the middle of the gap between the halves.
    ttl = int((now - (BASE + HALF + GAP / 2)).total_seconds())
    start = time.perf_counter()
    total = 0
    batch = storage.DEFAULT_DELETE_BATCH
    while deleted := conn.clear_expired_data(ttl, batch):
        total += deleted
    return time.perf_counter() - start, total
