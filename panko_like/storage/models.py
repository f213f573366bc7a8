"""Plain data objects exchanged with the storage drivers.

Nothing in here knows about a database: drivers turn rows into these
objects, the API turns these objects into JSON.
"""

import dataclasses
import datetime
import enum
import json
import math
import re
from typing import Any

import orjson

# Panko's numbering, kept so that adopted data keeps its meaning.
NONE_TYPE = 0
TEXT_TYPE = 1
INT_TYPE = 2
FLOAT_TYPE = 3
DATETIME_TYPE = 4

TYPE_NAMES = {
    NONE_TYPE: "none",
    TEXT_TYPE: "string",
    INT_TYPE: "integer",
    FLOAT_TYPE: "float",
    DATETIME_TYPE: "datetime",
}
TYPE_BY_NAME = {name: dtype for dtype, name in TYPE_NAMES.items()}
#: The API's name of each dtype: "none" reads back as string.
API_TYPE_NAMES = {**TYPE_NAMES, NONE_TYPE: TYPE_NAMES[TEXT_TYPE]}

# Limits every driver enforces, so that an event is accepted or refused
# the same way whichever backend stores it.
MAX_MESSAGE_ID_LENGTH = 50
MAX_EVENT_TYPE_LENGTH = 255
MAX_TRAIT_NAME_LENGTH = 255
#: Longest text trait value, in characters. Longer values are refused,
#: never cut (Panko silently truncated at 255).
MAX_TEXT_LENGTH = 4096
#: Largest serialized ``raw`` payload, in bytes of UTF-8 JSON.
MAX_RAW_SIZE = 1024 * 1024
#: Deepest nesting of objects and arrays in a ``raw`` payload, when the
#: configuration does not say ([database] max_raw_depth).
MAX_RAW_DEPTH = 100
#: The most the configuration may allow: a payload this deep is written
#: and read by json and orjson well within Python's recursion limit.
MAX_RAW_DEPTH_LIMIT = 500

INT_MIN = -(2**63)
INT_MAX = 2**63 - 1


class Problem(enum.StrEnum):
    """Why an event was not stored."""

    DUPLICATE = "duplicate"
    INCOMPATIBLE_TRAIT = "incompatible_trait"
    TOO_LARGE = "too_large"
    INVALID = "invalid"
    UNKNOWN = "unknown"


@dataclasses.dataclass(frozen=True)
class Rejected:
    """One event that ``record_events`` did not store, and why."""

    message_id: str | None
    problem: Problem
    reason: str


class InvalidEvent(ValueError):
    """An event or trait that cannot be stored as given."""

    def __init__(self, problem: Problem, reason: str):
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


def to_naive_utc(value: datetime.datetime) -> datetime.datetime:
    """Aware datetimes become naive UTC; naive ones are taken as UTC."""
    if value.tzinfo is not None:
        try:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        except OverflowError:
            raise ValueError(
                f"{value.isoformat()} is out of range in UTC") from None
    return value


def check_name(value: Any, what: str, max_length: int) -> None:
    """A message_id, event type or trait name: non-empty storable text."""
    if not isinstance(value, str) or not value:
        raise InvalidEvent(
            Problem.INVALID, f"{what} must be a non-empty string: {value!r}")
    if len(value) > max_length:
        raise InvalidEvent(
            Problem.INVALID, f"{what} longer than {max_length} characters")
    if "\x00" in value:
        raise InvalidEvent(Problem.INVALID, f"{what} contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(
            Problem.INVALID, f"{what} is not valid Unicode") from None


#: A fraction of a second finer than microseconds, but for its zeros.
_SUB_MICROSECOND = re.compile(r"[.,][0-9]{6}0*[1-9]")


def parse_datetime(value: Any) -> datetime.datetime:
    """Read an ISO 8601 string (or a datetime) as naive UTC.

    Microseconds are the finest time kept: a 7th or later fractional
    digit of the seconds is refused unless it is 0, never dropped.
    """
    if isinstance(value, datetime.datetime):
        return to_naive_utc(value)
    if not isinstance(value, str):
        raise ValueError(f"not a datetime: {value!r}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not an ISO 8601 datetime: {value!r}") from None
    if _SUB_MICROSECOND.search(text):
        raise ValueError(
            f"more than 6 fractional digits of seconds: {value!r} "
            "(microseconds are the finest time kept)")
    return to_naive_utc(parsed)


def format_datetime(value: datetime.datetime) -> str:
    """ISO 8601 without zone; no fraction when microseconds are 0."""
    return value.isoformat()


def value_text(value: Any) -> str:
    """A trait value as the v2 API prints it (Panko's rules)."""
    if value.__class__ is str:
        return value
    if isinstance(value, datetime.datetime):
        return format_datetime(value)
    return str(value)


def _to_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        value = scalar_text(value)
    if len(value) > MAX_TEXT_LENGTH:
        raise InvalidEvent(
            Problem.TOO_LARGE,
            f"text value of {len(value)} characters is longer than "
            f"{MAX_TEXT_LENGTH}",
        )
    if "\x00" in value:
        raise ValueError("text contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("text is not valid Unicode") from None
    return value


def scalar_text(value: Any) -> str:
    """The text a string trait keeps for a value that is not a string.

    One rule for every driver and every caller: a JSON scalar is kept as
    its JSON text (``true``, ``false``, ``42``, ``1.5``), so that it
    reads back as it was sent; an object or an array (a dict, list or
    tuple) is refused: a string trait holds one value, not a document.
    (None, JSON's ``null``, is no value: never text.) Any other Python
    object a caller passes (such as a UUID) is kept as ``str(value)``.
    """
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"not a finite number: {value!r}")
        return repr(float(value))
    if isinstance(value, dict | list | tuple):
        kind = "an object" if isinstance(value, dict) else "an array"
        raise ValueError(
            f"a string trait takes a string, a number, true or false, "
            f"not {kind}")
    return str(value)


def _check_number_text(value: str, what: str) -> None:
    # int() and float() also read other scripts' digits ("٣" is 3) and
    # underscores ("1_000"): stored, they would not read back as sent.
    if not value.isascii() or "_" in value:
        raise ValueError(f"not {what} of ASCII digits: {value!r}")


def _to_int(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not an integer: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"not an integer: {value!r}")
        value = int(value)
    elif isinstance(value, str):
        _check_number_text(value, "an integer")
        value = int(value.strip())
    elif not isinstance(value, int):
        raise ValueError(f"not an integer: {value!r}")
    if not INT_MIN <= value <= INT_MAX:
        raise ValueError(f"integer out of the 64-bit range: {value}")
    return value


def _to_float(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a float: {value!r}")
    if isinstance(value, str):
        _check_number_text(value, "a float")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"not a finite float: {value!r}")
    return result


def _to_datetime(value: Any) -> datetime.datetime | None:
    if value is None:
        return None
    return parse_datetime(value)


_CONVERTERS = {
    NONE_TYPE: _to_text,
    TEXT_TYPE: _to_text,
    INT_TYPE: _to_int,
    FLOAT_TYPE: _to_float,
    DATETIME_TYPE: _to_datetime,
}


def convert_value(dtype: int, value: Any) -> Any:
    """Return ``value`` as the Python type of ``dtype``.

    Raises :class:`InvalidEvent` when it does not fit.
    """
    try:
        converter = _CONVERTERS[dtype]
    except (KeyError, TypeError):
        raise InvalidEvent(
            Problem.INCOMPATIBLE_TRAIT, f"unknown trait type {dtype!r}"
        ) from None
    try:
        return converter(value)
    except InvalidEvent:
        raise
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidEvent(
            Problem.INCOMPATIBLE_TRAIT,
            f"value does not fit type {TYPE_NAMES[dtype]}: {exc}",
        ) from None


def _needs_no_conversion(dtype: Any, value: Any) -> bool:
    """Whether ``value`` is already what convert_value would return for
    ``dtype``: the common case, checked here without its calls."""
    kind = value.__class__
    if kind is str:
        # ASCII text always encodes; anything else takes the long way.
        return ((dtype == TEXT_TYPE or dtype == NONE_TYPE)
                and len(value) <= MAX_TEXT_LENGTH and value.isascii()
                and "\x00" not in value)
    if kind is int:
        return dtype == INT_TYPE and INT_MIN <= value <= INT_MAX
    if kind is float:
        return dtype == FLOAT_TYPE and math.isfinite(value)
    if kind is datetime.datetime:
        return dtype == DATETIME_TYPE and value.tzinfo is None
    return False


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
                 "stored_traits", "raw_text")

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

    @classmethod
    def from_stored(cls, message_id: str, event_type: str,
                    generated: datetime.datetime, *,
                    traits: list[Trait] | None = None,
                    stored_traits: list | None = None,
                    raw_text: str | None = None) -> "Event":
        """An event as a driver read it: its traits as objects or as
        stored items, its raw payload as JSON text (None for none)."""
        event = cls(message_id, event_type, generated, traits,
                    None if raw_text is None else _UNREAD)
        event.stored_traits = stored_traits
        event.raw_text = raw_text
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


#: orjson writes these types itself; json.dumps refuses them (or, for
#: subclasses of str, int, dict and list, writes them its own way), so
#: orjson hands them back and dump_raw asks json.dumps.
_RAW_OPTIONS = (orjson.OPT_PASSTHROUGH_DATETIME
                | orjson.OPT_PASSTHROUGH_DATACLASS
                | orjson.OPT_PASSTHROUGH_SUBCLASS)


def dump_raw(raw: Any, max_depth: int = MAX_RAW_DEPTH) -> str:
    """Serialize a raw payload as compact JSON; raise InvalidEvent if it
    is not JSON, too large, or has objects and arrays nested more than
    ``max_depth`` deep (``{}`` is 1 deep, ``{"a": []}`` 2).

    orjson writes most payloads several times faster than json.dumps;
    what it refuses (a lone surrogate, an integer beyond 64 bits, a key
    that is not a string) and what it may have written as ``null`` (a
    NaN or an infinity, which are not JSON) goes to json.dumps, which
    writes the same text or gives its own error. A ``uuid.UUID`` or an
    ``enum.Enum``, which json.dumps refuses, is written as its value.
    """
    try:
        data = orjson.dumps(raw, option=_RAW_OPTIONS)
    except TypeError:
        # Among others, orjson refuses 255 levels or more.
        data = None
    if data is None or b"null" in data:
        _check_depth(raw, max_depth)
        return _dump_raw_slowly(raw)
    # No more brackets than max_depth: no deeper either, without a walk.
    if data.count(b"{") + data.count(b"[") > max_depth:
        _check_depth(raw, max_depth)
    if len(data) > MAX_RAW_SIZE:
        raise InvalidEvent(
            Problem.TOO_LARGE,
            f"raw payload of {len(data)} bytes is larger than {MAX_RAW_SIZE}",
        )
    return data.decode()


def _check_depth(raw: Any, max_depth: int) -> None:
    """Raise InvalidEvent if objects and arrays nest in ``raw`` more than
    ``max_depth`` deep. A loop, not a recursion: any depth is measured."""
    todo = [(raw, 1)]
    while todo:
        value, depth = todo.pop()
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list | tuple):
            children = value
        else:
            continue
        if depth > max_depth:
            raise InvalidEvent(
                Problem.INVALID,
                f"raw payload is nested more than {max_depth} levels deep "
                "([database] max_raw_depth)",
            )
        todo.extend((child, depth + 1) for child in children
                    if isinstance(child, dict | list | tuple))


def _dump_raw_slowly(raw: Any) -> str:
    try:
        text = json.dumps(raw, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise InvalidEvent(
            Problem.INVALID, f"raw payload is not JSON: {exc}"
        ) from None
    except RecursionError:
        # Within max_depth, but for a deep stack: refused all the same.
        raise InvalidEvent(
            Problem.INVALID, "raw payload is nested too deeply"
        ) from None
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_RAW_SIZE:
        raise InvalidEvent(
            Problem.TOO_LARGE,
            f"raw payload of {size} bytes is larger than {MAX_RAW_SIZE}",
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidEvent(
            Problem.INVALID, "raw payload is not valid Unicode"
        ) from None
    return text


#: Every digit as 0, so that a run of 19 (which may be an integer beyond
#: 64 bits, read by orjson as a float) is found by a substring search,
#: ten times faster than a regular expression.
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGITS = b"0" * 19


def load_json(text: str) -> Any:
    """Exactly what ``json.loads(text)`` returns (or raises), faster.

    orjson reads most documents several times faster; the standard
    library takes those it would read differently (a long integer) or
    refuses (NaN, infinity, a lone surrogate, which Panko's rows may
    hold), and gives its own error for what is not JSON.
    """
    digits = text.encode("utf-8", "surrogatepass").translate(_DIGITS_AS_ZERO)
    if _LONG_DIGITS not in digits:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
