"""MongoDB documents: events to and from the layout, and filters to
queries (see impl_mongodb for the layout)."""

import datetime
import re
import urllib.parse

import bson

from panko_like import storage
from panko_like.storage import models

#: MongoDB refuses documents over 16 MiB; leave room for the command.
MAX_DOCUMENT_SIZE = 16 * 1024 * 1024 - 16 * 1024
#: Below this many traits a document cannot reach MAX_DOCUMENT_SIZE
#: (1 MiB of raw + traits of at most 4,096 characters each), so its
#: size is not measured.
SIZE_CHECK_TRAITS = 500
_EPOCH = datetime.datetime(1970, 1, 1)
_ONE_US = datetime.timedelta(microseconds=1)
_TEXT_TYPES = [models.NONE_TYPE, models.TEXT_TYPE]
_OPERATORS = {"lt": "$lt", "le": "$lte", "gt": "$gt", "ge": "$gte"}
SORT_FIELDS = {"generated": "generated_us", "message_id": "_id"}
_USERINFO = re.compile(r"(?<=://)([^@/?#]*)@")


def redact(text: str) -> str:
    """Hide the user information of any URI in ``text``."""
    return _USERINFO.sub("***@", text)


def with_database(url: str, name: str) -> str:
    """``url`` naming database ``name``; its credentials stay valid.

    Where the URL named a database and no ``authSource``, the user
    authenticated there, so that becomes the ``authSource``.
    """
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    if "@" in parts.netloc and not any(
            key.lower() == "authsource" for key, _ in query):
        query.append(("authSource", parts.path.strip("/") or "admin"))
    return parts._replace(
        path=f"/{name}", query=urllib.parse.urlencode(query)
    ).geturl()


def to_us(value: datetime.datetime) -> int:
    """Naive UTC datetime -> integer microseconds since the epoch."""
    return (models.to_naive_utc(value) - _EPOCH) // _ONE_US


def from_us(value: int) -> datetime.datetime:
    return _EPOCH + datetime.timedelta(microseconds=value)


def _trait_document(trait: models.Trait) -> dict:
    doc = {
        "trait_name": trait.name,
        "trait_type": trait.dtype,
        "trait_value": trait.value,
    }
    if trait.dtype == models.DATETIME_TYPE and trait.value is not None:
        doc["trait_us"] = to_us(trait.value)
    return doc


def event_document(event: models.Event, raw: str | None) -> dict:
    """The document of a validated event; ``raw`` is its JSON text."""
    return {
        "_id": event.message_id,
        "event_type": event.event_type,
        "timestamp": event.generated,
        "generated_us": to_us(event.generated),
        "traits": [_trait_document(trait) for trait in event.traits],
        "raw": raw,
    }


def _check_size(doc: dict, trait_count: int) -> None:
    if trait_count < SIZE_CHECK_TRAITS:
        return
    size = len(bson.encode(doc))
    if size > MAX_DOCUMENT_SIZE:
        raise models.InvalidEvent(
            models.Problem.TOO_LARGE,
            f"event of {size} bytes is larger than MongoDB's document "
            f"limit ({MAX_DOCUMENT_SIZE})",
        )


def trait_from_document(doc: dict) -> models.Trait:
    dtype = int(doc.get("trait_type") or models.NONE_TYPE)
    value = doc.get("trait_value")
    if dtype == models.NONE_TYPE:
        # Kept with the text traits and read back as text, as on SQL.
        dtype = models.TEXT_TYPE
    if value is not None:
        if dtype == models.DATETIME_TYPE:
            us = doc.get("trait_us")
            value = from_us(us) if us is not None else value
        elif dtype == models.INT_TYPE:
            value = int(value)
        elif dtype == models.FLOAT_TYPE:
            value = float(value)
    return models.Trait(doc["trait_name"], dtype, value)


def _sorted_traits(docs) -> list[models.Trait]:
    traits = [trait_from_document(doc) for doc in docs or []]
    traits.sort(key=lambda trait: (trait.name, trait.dtype))
    return traits


def event_from_document(doc: dict) -> models.Event:
    traits = _sorted_traits(doc.get("traits"))
    if "generated_us" in doc:
        # raw is kept as JSON text, decoded when first read.
        return models.Event.from_stored(
            doc["_id"], doc["event_type"], from_us(doc["generated_us"]),
            traits=traits, raw_text=doc.get("raw"),
            stored_at=_optional_time(doc.get("stored_us")),
            updated_at=_optional_time(doc.get("updated_us")))
    # Written by Panko, not migrated yet: raw is a document.
    return models.Event(doc["_id"], doc["event_type"], doc["timestamp"],
                        traits, doc.get("raw"))


def _optional_time(value: int | None) -> datetime.datetime | None:
    return None if value is None else from_us(value)


def _trait_condition(trait_filter: storage.TraitFilter) -> dict:
    match = {"trait_name": trait_filter.key}
    field, value = "trait_value", trait_filter.value
    if trait_filter.type == "string":
        match["trait_type"] = {"$in": _TEXT_TYPES}
    else:
        match["trait_type"] = trait_filter.dtype
        if trait_filter.type == "datetime":
            field, value = "trait_us", to_us(value)
    if trait_filter.op == "eq":
        match[field] = value
    elif trait_filter.op == "ne":
        # $ne alone would also match a null value; SQL's <> does not.
        match[field] = {"$nin": [value, None]}
    else:
        match[field] = {_OPERATORS[trait_filter.op]: value}
    return {"traits": {"$elemMatch": match}}


def _project_condition(project: str) -> dict:
    has_project = {"trait_name": "project_id",
                   "trait_type": {"$in": _TEXT_TYPES}}
    return {"$or": [
        {"traits": {"$elemMatch": {**has_project, "trait_value": project}}},
        {"$nor": [{"traits": {"$elemMatch": has_project}}]},
    ]}


def filter_query(event_filter: storage.EventFilter) -> dict:
    """The MongoDB query selecting what ``event_filter`` selects."""
    f = event_filter
    clauses = []
    for field, bounds in (
            ("generated_us", (("$gte", f.start_timestamp),
                              ("$lte", f.end_timestamp))),
            ("stored_us", (("$gte", f.stored_since),
                           ("$lt", f.stored_before)))):
        within = {op: to_us(time) for op, time in bounds
                  if time is not None}
        if within:
            clauses.append({field: within})
    if f.event_type is not None:
        clauses.append({"event_type": f.event_type})
    if f.message_id is not None:
        clauses.append({"_id": f.message_id})
    clauses.extend(_trait_condition(tf) for tf in f.traits_filter)
    if f.admin_proj is not None:
        clauses.append(_project_condition(f.admin_proj))
    return {"$and": clauses} if clauses else {}


def after(sort, position) -> dict:
    """Keyset condition: documents strictly after ``position``."""
    alternatives = []
    for index, (key, direction) in enumerate(sort):
        clause = {
            SORT_FIELDS[k]: position[SORT_FIELDS[k]]
            for k, _ in sort[:index]
        }
        field = SORT_FIELDS[key]
        clause[field] = {
            "$gt" if direction == "asc" else "$lt": position[field]
        }
        alternatives.append(clause)
    return {"$or": alternatives}


def and_(*queries) -> dict:
    clauses = [query for query in queries if query]
    if len(clauses) == 1:
        return clauses[0]
    return {"$and": clauses} if clauses else {}


def updated_fields(doc: dict, traits: list[models.Trait]) -> dict:
    """The fields of ``doc`` that update_traits sets to give it
    ``traits`` (validated), its ``updated_us`` included: the storing
    process's clock (MongoDB has none to stamp with), but always later
    than the value it replaces, which update_traits compares as a
    version. Raise InvalidEvent when the document would be too large."""
    previous = doc.get("updated_us")
    stamp = to_us(models.utc_now())
    if previous is not None and stamp <= previous:
        stamp = previous + 1
    fields = {"traits": [_trait_document(trait) for trait in traits],
              "updated_us": stamp}
    _check_size({**doc, **fields}, len(traits))
    return fields


def checked_document(event, raw):
    """The document of a checked event; raise InvalidEvent when it is
    too large for MongoDB."""
    doc = event_document(event, raw)
    _check_size(doc, len(event.traits))
    return doc


def _text_trait_value(name: str) -> dict:
    """The expression of an event's text trait ``name``'s value, or
    null."""
    matching = {"$filter": {"input": {"$ifNull": ["$traits", []]},
                            "cond": {"$and": [
                                {"$eq": ["$$this.trait_name", name]},
                                {"$in": ["$$this.trait_type", _TEXT_TYPES]},
                            ]}}}
    return {"$ifNull": [{"$arrayElemAt": [
        {"$map": {"input": matching, "in": "$$this.trait_value"}}, 0]},
        None]}


def group_key(group_by: str | None, period: int | None) -> dict:
    """The $group _id of event_statistics."""
    key = {}
    if group_by == "event_type":
        key["group"] = "$event_type"
    elif group_by is not None:
        key["group"] = _text_trait_value(group_by)
    if period is not None:
        key["bucket"] = {"$floor": {"$divide": [
            "$generated_us", period * 1_000_000]}}
    return key


def statistics_lines(rows, group_by, period) -> list[storage.GroupCount]:
    """GroupCount items of $group results, sorted as the SQL driver's."""
    lines = []
    for row in rows:
        key = row["_id"] or {}
        start = None
        if period is not None:
            start = _EPOCH + datetime.timedelta(
                seconds=int(key["bucket"]) * period)
        lines.append(storage.GroupCount(key.get("group"), start, row["n"]))
    return storage.sorted_groups(lines)
