"""Trait types, limits, and the conversion of values into them.

What every driver and the API accept as an event's values, and why an
event is refused (Problem, InvalidEvent). Nothing in here knows about a
database.
"""

import dataclasses
import datetime
import enum
import math
import re
from typing import Any

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


def utc_now() -> datetime.datetime:
    """This process's clock, as the drivers keep times: naive UTC."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


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
