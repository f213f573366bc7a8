"""JSON arrays written while they are read from the storage.

A listing of 100,000 events is ~150 MB of JSON: built whole in memory it
would cost a worker several times that. The storage drivers already
return iterators that fetch in chunks; here each item is encoded as it
comes and the bytes are handed to the WSGI server in buffers of
:data:`BUFFER_SIZE`, so a worker holds one storage chunk and one buffer.
An answer of up to :data:`WHOLE_ANSWER_SIZE` (a page of a few hundred
events) is gathered and sent whole instead: with its length announced,
the client's connection stays open for its next request, where the
server closes it after a streamed answer.
"""

import json

import orjson
import webob

#: Bytes gathered before they are handed to the server.
BUFFER_SIZE = 64 * 1024
#: Bytes an answer may have to be sent whole, with its length.
WHOLE_ANSWER_SIZE = 1024 * 1024
CONTENT_TYPE = "application/json"


def json_list(items, encode):
    """A response whose body is the JSON array of ``encode(item)``.

    Up to :data:`WHOLE_ANSWER_SIZE` bytes are read before this
    returns: an error the storage finds on its first reads (a lost
    database, a query it refuses) is raised here, while a proper error
    answer can still be sent. An answer of that size at most goes out
    whole, with its length; a longer one streams (chunked transfer
    encoding).
    """
    buffers = _buffers(_pieces(items, encode), BUFFER_SIZE)
    head, length = [], 0
    for data, last in buffers:
        head.append(data)
        length += len(data)
        if last:
            return webob.Response(body=b"".join(head),
                                  content_type=CONTENT_TYPE, charset=None)
        if length >= WHOLE_ANSWER_SIZE:
            break
    return webob.Response(app_iter=_stream(head, buffers),
                          content_type=CONTENT_TYPE, charset=None)


def encode_json(value):
    """``value`` as JSON, by orjson (several times faster than json).

    The standard library takes what orjson refuses: integers beyond 64
    bits, which a raw payload may hold.
    """
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def _pieces(items, encode):
    yield b"["
    separator = b""
    for item in items:
        yield separator
        yield encode(item)
        separator = b","
    yield b"]"


def _buffers(pieces, size):
    """``(bytes, is_last)`` pairs, each at least ``size`` bytes but the last.

    A full buffer is only handed on once the next piece exists, so
    ``is_last`` is known without reading further.
    """
    buffer, length = [], 0
    for piece in pieces:
        if length >= size:
            yield b"".join(buffer), False
            buffer, length = [], 0
        buffer.append(piece)
        length += len(piece)
    yield b"".join(buffer), True


def _stream(head, buffers):
    # A generator, which pecan peeks at rather than reading it whole.
    yield from head
    for data, _last in buffers:
        yield data
