"""The 200 events Panko wrote (tests/data/panko, see its README.md) and a
reference implementation of the query semantics to check answers
against."""

import copy
import functools
import json
import operator
import os

from panko_like import storage
from panko_like.storage import models

#: Panko's databases, events and API answers, kept in the repository.
PANKO_DATA = os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "data", "panko")


#: The /v2/capabilities keys panko_like declares that Panko never had.
ADDED_CAPABILITIES = {
    "api": ("events:delete", "events:query:count",
            "events:query:statistics", "events:update", "events:stream"),
    "event_storage": ("storage:expiry",),
}


def panko_path(*parts):
    return os.path.join(PANKO_DATA, *parts)


def panko_capabilities(document):
    """A /v2/capabilities answer without the keys Panko did not have."""
    return {
        section: {key: value for key, value in keys.items()
                  if key not in ADDED_CAPABILITIES.get(section, ())}
        for section, keys in document.items()
    }


@functools.cache
def _load():
    with open(panko_path("events.json"), encoding="utf-8") as f:
        return json.load(f)


def panko_events():
    """The dataset as models.Event objects (fresh copies)."""
    events = []
    for item in copy.deepcopy(_load()):
        traits = [
            models.Trait.checked(t["name"], t["dtype"], t["value"])
            for t in item["traits"]
        ]
        events.append(
            models.Event(
                item["message_id"],
                item["event_type"],
                models.parse_datetime(item["generated"]),
                traits,
                item["raw"],
            )
        )
    return events


def normalized(event):
    """A comparable form: dtype 0 reads back as string, traits sorted."""
    traits = sorted(
        (
            t.name,
            models.TEXT_TYPE if t.dtype == models.NONE_TYPE else t.dtype,
            t.value,
        )
        for t in event.traits
    )
    return (
        event.message_id,
        event.event_type,
        event.generated,
        traits,
        json.dumps(event.raw, sort_keys=True),
    )


_OPS = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}


def _matches_trait(event, tf):
    for trait in event.traits:
        dtype = models.TEXT_TYPE if trait.dtype == 0 else trait.dtype
        if trait.name != tf.key or dtype != tf.dtype:
            continue
        if trait.value is not None and _OPS[tf.op](trait.value, tf.value):
            return True
    return False


def matches(event, f: storage.EventFilter):
    if f.start_timestamp and event.generated < f.start_timestamp:
        return False
    if f.end_timestamp and event.generated > f.end_timestamp:
        return False
    if f.event_type and event.event_type != f.event_type:
        return False
    if f.message_id and event.message_id != f.message_id:
        return False
    if not all(_matches_trait(event, tf) for tf in f.traits_filter):
        return False
    if f.admin_proj is not None:
        projects = [
            t.value for t in event.traits
            if t.name == "project_id" and t.dtype in (0, 1)
        ]
        if projects and f.admin_proj not in projects:
            return False
    return True


def expected(events, f, pagination=None):
    """Message ids the driver must return, in order."""
    pagination = pagination or storage.Pagination()
    selected = [e for e in events if matches(e, f)]
    for key, direction in reversed(pagination.sort):
        selected.sort(
            key=operator.attrgetter(key), reverse=direction == "desc"
        )
    ids = [e.message_id for e in selected]
    if pagination.marker is not None:
        ids = ids[ids.index(pagination.marker) + 1:]
    if pagination.limit is not None:
        ids = ids[: pagination.limit]
    return ids
