"""The ``event.traits`` column: every trait of an event in one JSON text.

A page of events is read from the event table alone (revision 0004);
the trait tables stay, for the filters. Encoding and decoding give back
exactly what the trait tables would.
"""

import datetime
import json
import math
import operator

import orjson

from panko_like.storage.sqlalchemy import schema

_NAME_AND_DTYPE = operator.itemgetter(0, 1)


def encode_traits(traits) -> str:
    """The ``event.traits`` text of validated traits.

    A JSON list of ``[name, dtype, value]`` in (name, dtype) order, the
    dtype as it reads back (see schema.STORAGE_DTYPES) and datetimes in
    ISO 8601 as ``datetime.isoformat`` writes them (orjson writes naive
    datetimes the same way): :func:`load_trait_items` and
    models.traits_from_items give back exactly what the trait tables
    would.
    """
    items = [[trait.name, schema.STORAGE_DTYPES[trait.dtype], trait.value]
             for trait in traits]
    items.sort(key=_NAME_AND_DTYPE)
    try:
        data = orjson.dumps(items)
    except TypeError:
        data = None  # a value orjson cannot write: see below
    # orjson writes NaN and the infinities as null: a text with a null
    # in it (a None value, mostly) is looked at closer.
    if data is not None and (b"null" not in data or all(
            not isinstance(value, float) or math.isfinite(value)
            for _, _, value in items)):
        return data.decode()
    # New events never have a non-finite float, but a float trait
    # adopted from Panko may; the standard library keeps it.
    for item in items:
        if isinstance(item[2], datetime.datetime):
            item[2] = item[2].isoformat()
    return json.dumps(items, ensure_ascii=False)


def load_trait_items(text: str) -> list:
    """The stored items (see models.traits_from_items) of an
    ``event.traits`` text."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        # NaN, which a float trait of a Panko database may hold, is
        # JSON only to the standard library.
        return json.loads(text)
