"""Plain data objects exchanged with the storage drivers.

Nothing in here knows about a database: drivers turn rows into these
objects, the API turns these objects into JSON. The trait types, limits
and value rules (``values``) and the raw payload's JSON (``rawjson``)
are part of this module's names too.
"""

import dataclasses
import datetime
from typing import Any

from panko_like.storage.rawjson import (
    dump_raw,
    load_json,
)
from panko_like.storage.values import (
    API_TYPE_NAMES,
    DATETIME_TYPE,
    FLOAT_TYPE,
    INT_MAX,
    INT_MIN,
    INT_TYPE,
    MAX_EVENT_TYPE_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    MAX_RAW_DEPTH,
    MAX_RAW_DEPTH_LIMIT,
    MAX_RAW_SIZE,
    MAX_TEXT_LENGTH,
    MAX_TRAIT_NAME_LENGTH,
    NONE_TYPE,
    TEXT_TYPE,
    TYPE_BY_NAME,
    TYPE_NAMES,
    InvalidEvent,
    Problem,
    Rejected,
    _needs_no_conversion,
    check_name,
    convert_value,
    format_datetime,
    parse_datetime,
    scalar_text,
    to_naive_utc,
    utc_now,
    value_text,
)

#: What this module offers besides its own classes.
__all__ = [
    "NONE_TYPE",
    "TEXT_TYPE",
    "INT_TYPE",
    "FLOAT_TYPE",
    "DATETIME_TYPE",
    "TYPE_NAMES",
    "TYPE_BY_NAME",
    "API_TYPE_NAMES",
    "MAX_MESSAGE_ID_LENGTH",
    "MAX_EVENT_TYPE_LENGTH",
    "MAX_TRAIT_NAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_RAW_SIZE",
    "MAX_RAW_DEPTH",
    "MAX_RAW_DEPTH_LIMIT",
    "INT_MIN",
    "INT_MAX",
    "Problem",
    "Rejected",
    "InvalidEvent",
    "to_naive_utc",
    "utc_now",
    "check_name",
    "parse_datetime",
    "format_datetime",
    "value_text",
    "scalar_text",
    "convert_value",
    "dump_raw",
    "load_json",
    "Event",
    "Trait",
    "traits_from_items",
]


@dataclasses.dataclass(slots=True)
class Trait:
    """A typed name/value pair attached to an event."""

    name: str
    dtype: int
    value: Any

    NONE_TYPE = NONE_TYPE
    TEXT_TYPE = TEXT_TYPE
    INT_TYPE = INT_TYPE
    FLOAT_TYPE = FLOAT_TYPE
    DATETIME_TYPE = DATETIME_TYPE

    @classmethod
    def checked(cls, name: Any, dtype: Any, value: Any) -> "Trait":
        """Build a trait, converting ``value``; raise InvalidEvent."""
        if name.__class__ is not str or name not in _TRAIT_NAMES:
            check_name(name, "trait name", MAX_TRAIT_NAME_LENGTH)
            if len(_TRAIT_NAMES) >= _TRAIT_NAMES_KEPT:
                _TRAIT_NAMES.clear()
            _TRAIT_NAMES.add(name)
        if _needs_no_conversion(dtype, value):
            return cls(name, dtype, value)
        try:
            return cls(name, dtype, convert_value(dtype, value))
        except InvalidEvent as exc:
            raise InvalidEvent(
                exc.problem, f"trait {name!r}: {exc.reason}"
            ) from None

    @property
    def type_name(self) -> str:
        """The API's name for the type; "none" reads back as string."""
        return API_TYPE_NAMES[self.dtype]

    def value_as_text(self) -> str:
        """The value as the v2 API prints it (Panko's rules)."""
        return value_text(self.value)


#: Trait names that passed check_name: a deployment's events share a
#: few hundred at most, checked again only when this many are kept.
_TRAIT_NAMES: set[str] = set()
_TRAIT_NAMES_KEPT = 4096

#: ``Event.raw`` of an event built from stored JSON text not read yet.
_UNREAD = object()


class Event:
    """One stored notification.

    Built from objects, or by a driver with :meth:`from_stored` from what
    it keeps: the traits as *stored items* (see :func:`traits_from_items`)
    and the raw payload as JSON text. Those are decoded the first time
    ``traits`` or ``raw`` is read; the API writes an event out from them
    without decoding it (``stored_traits`` and ``raw_text``). Once
    decoded (and so perhaps changed by the reader), or once set, the
    stored form is dropped: it never disagrees with the objects.
    """

    __slots__ = ("message_id", "event_type", "generated", "_traits", "_raw",
                 "stored_traits", "raw_text", "stored_at", "updated_at")

    def __init__(self, message_id: str, event_type: str,
                 generated: datetime.datetime, traits: list[Trait],
                 raw: Any = None):
        self.message_id = message_id
        self.event_type = event_type
        self.generated = generated
        self._traits = traits
        self._raw = raw
        #: The traits as stored items, or None.
        self.stored_traits = None
        #: The raw payload as stored JSON text, or None.
        self.raw_text = None
        #: When the storage stored the event (naive UTC), set by the
        #: driver that read it; None for an event not read back.
        self.stored_at = None
        #: When its traits were last changed (update_traits), or None.
        self.updated_at = None

    @classmethod
    def from_stored(cls, message_id: str, event_type: str,
                    generated: datetime.datetime, *,
                    traits: list[Trait] | None = None,
                    stored_traits: list | None = None,
                    raw_text: str | None = None,
                    stored_at: datetime.datetime | None = None,
                    updated_at: datetime.datetime | None = None) -> "Event":
        """An event as a driver read it: its traits as objects or as
        stored items, its raw payload as JSON text (None for none), and
        when it was stored and last updated."""
        event = cls(message_id, event_type, generated, traits,
                    None if raw_text is None else _UNREAD)
        event.stored_traits = stored_traits
        event.raw_text = raw_text
        event.stored_at = stored_at
        event.updated_at = updated_at
        return event

    @property
    def traits(self) -> list[Trait]:
        if self._traits is None and self.stored_traits is not None:
            self._traits = traits_from_items(self.stored_traits)
            self.stored_traits = None
        return self._traits

    @traits.setter
    def traits(self, traits: list[Trait]) -> None:
        self._traits = traits
        self.stored_traits = None

    @property
    def raw(self) -> Any:
        if self._raw is _UNREAD:
            self._raw = load_json(self.raw_text)
            self.raw_text = None
        return self._raw

    @raw.setter
    def raw(self, raw: Any) -> None:
        self._raw = raw
        self.raw_text = None

    def _fields(self):
        return (self.message_id, self.event_type, self.generated,
                self.traits, self.raw)

    def __eq__(self, other):
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None

    def __repr__(self):
        return (f"Event(message_id={self.message_id!r}, "
                f"event_type={self.event_type!r}, "
                f"generated={self.generated!r}, traits={self.traits!r}, "
                f"raw={self.raw!r})")

    def dumped_raw(self, max_depth: int = MAX_RAW_DEPTH) -> str | None:
        """The raw payload as the JSON text drivers store (see
        dump_raw), or None for none; raise InvalidEvent."""
        return None if self.raw is None else dump_raw(self.raw, max_depth)

    def validate(self) -> None:
        """Check what every driver needs; raise InvalidEvent."""
        self.validate_head()
        self.validate_traits()

    def validate_head(self) -> None:
        """Check (and normalize) the message_id, event type and time:
        the first half of :meth:`validate`."""
        check_name(self.message_id, "message_id", MAX_MESSAGE_ID_LENGTH)
        check_name(self.event_type, "event_type", MAX_EVENT_TYPE_LENGTH)
        if not isinstance(self.generated, datetime.datetime):
            raise InvalidEvent(Problem.INVALID, "generated must be a datetime")
        try:
            self.generated = to_naive_utc(self.generated)
        except ValueError as exc:
            raise InvalidEvent(Problem.INVALID, f"generated: {exc}") from None

    def validate_traits(self) -> None:
        """Check (and convert) the traits: the second half of
        :meth:`validate`. Running it again changes nothing."""
        if not isinstance(self.traits, list):
            raise InvalidEvent(Problem.INVALID, "traits must be a list")
        checked = []
        seen = set()
        for trait in self.traits:
            # A trait whose name was seen before and whose value needs no
            # conversion is kept as it is.
            if not (trait.__class__ is Trait
                    and trait.name.__class__ is str
                    and trait.name in _TRAIT_NAMES
                    and _needs_no_conversion(trait.dtype, trait.value)):
                trait = Trait.checked(trait.name, trait.dtype, trait.value)
            # dtype 0 is kept with the text traits, as Panko did.
            key = (trait.name,
                   TEXT_TYPE if trait.dtype == NONE_TYPE else trait.dtype)
            if key in seen:
                raise InvalidEvent(
                    Problem.INCOMPATIBLE_TRAIT,
                    f"trait {trait.name!r} given twice with the same type",
                )
            seen.add(key)
            checked.append(trait)
        self.traits = checked


def traits_from_items(items: list) -> list[Trait]:
    """Traits of *stored items*: ``[name, dtype, value]`` lists, the
    dtype as it reads back and a datetime value as ISO 8601 text (the
    form of ``event.traits`` on SQL backends)."""
    fromisoformat = datetime.datetime.fromisoformat
    return [
        Trait(name, dtype, fromisoformat(value)
              if dtype == DATETIME_TYPE and value is not None else value)
        for name, dtype, value in items
    ]
