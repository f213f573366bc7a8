"""An event's raw payload as JSON text: written, measured, read back.

The payload is kept as the JSON text the sender gave (or as close to it
as JSON allows), so that every driver stores and returns the same.
"""

import json
from typing import Any

import orjson

from panko_like.storage.values import (
    MAX_RAW_DEPTH,
    MAX_RAW_SIZE,
    InvalidEvent,
    Problem,
)

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
