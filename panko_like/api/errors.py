"""API errors and the one place that turns them into JSON bodies.

Controllers raise :class:`APIError` subclasses; anything else that
escapes becomes a 500 (or 501 for a driver's NotImplementedError). Error
responses made by other layers (pecan's 404/405, keystonemiddleware's
401) are rewritten into the same shape, and the HTTP server's own (an
unparsable request, a worker timeout) are built by :func:`error_json`,
so a client sees one format:
``{"error_message": {"faultcode", "faultstring", "debuginfo"}}``.
"""

import io
import json
import urllib.parse

import webob
import webob.exc
from keystoneauth1 import exceptions as ks_exceptions
from oslo_log import log

import panko_like
from panko_like import storage

LOG = log.getLogger(__name__)

#: Set in the environ by a response already in our error format.
RENDERED = "panko_like.error_rendered"
#: The request body, read (within the size limit) before routing.
BODY = "panko_like.body"


class APIError(Exception):
    status = 400
    faultcode = "Client"

    def __init__(self, message, extra=None, headers=None):
        super().__init__(message)
        self.message = message
        #: More top-level keys for the error body (ingestion reports).
        self.extra = extra or {}
        self.headers = headers or {}


class BadRequest(APIError):
    status = 400


class Unauthorized(APIError):
    status = 401


class Forbidden(APIError):
    status = 403


class NotFound(APIError):
    status = 404


class TooLarge(APIError):
    status = 413


class UnsupportedMediaType(APIError):
    status = 415


class ServerError(APIError):
    status = 500
    faultcode = "Server"


def invalid_input(field, value, why):
    """The message Panko (WSME) gave for a bad argument."""
    return BadRequest(
        f"Invalid input for field/attribute {field}. "
        f"Value: '{value}'. {why}"
    )


def error_document(status, message, faultcode=None, extra=None):
    """The error body, as a dict."""
    body = {
        "error_message": {
            "faultcode": faultcode or ("Client" if status < 500
                                        else "Server"),
            "faultstring": message,
            "debuginfo": None,
        }
    }
    body.update(extra or {})
    return body


def error_json(status, message, faultcode=None):
    """The error body as UTF-8 JSON, for the HTTP server's own answers
    (see panko_like.api.worker)."""
    return json.dumps(error_document(status, message, faultcode)).encode()


def error_response(status, message, faultcode=None, extra=None):
    return webob.Response(
        status=status,
        json_body=error_document(status, message, faultcode, extra),
        content_type="application/json",
        charset="UTF-8",
    )


def response_for(exc):
    """The JSON error response for an exception raised by the app."""
    if isinstance(exc, APIError):
        response = error_response(exc.status, exc.message, exc.faultcode,
                                  exc.extra)
        response.headers.update(exc.headers)
        return response
    if isinstance(exc, storage.StorageUnavailable):
        LOG.error("Storage unavailable: %s", exc)
        return _retry_later(exc, "The storage is not available.")
    if isinstance(exc, storage.StorageResourceError):
        LOG.error("Storage out of resources: %s", exc)
        return _retry_later(
            exc, "The storage is out of resources (disk space, memory or "
            "connections); try again later.")
    if isinstance(exc, storage.StorageMisconfigured):
        LOG.error("Storage misconfigured: %s", exc)
        return _retry_later(
            exc, "The storage refused the service's configuration; see "
            "the service log.")
    if isinstance(exc, ks_exceptions.ClientException):
        # keystonemiddleware could not use Keystone to check the token
        # (no endpoint of the configured interface in the catalog, a
        # refused service user...): the deployment's to mend.
        LOG.error("The identity service could not check the token: %s "
                  "(see [keystone_authtoken])", exc)
        response = error_response(
            503, "The identity service could not check the token; see "
            "the service log.", "Server")
        response.headers["Retry-After"] = "5"
        return response
    if isinstance(exc, panko_like.NotImplementedError):
        return error_response(501, str(exc), "Server")
    if isinstance(exc, UnicodeDecodeError):
        return error_response(400, "The request is not valid UTF-8.")
    if isinstance(exc, webob.exc.HTTPException):
        return error_response(exc.code, _http_message(exc))
    LOG.exception("Unexpected error while serving the request")
    return error_response(500, "Internal error: the request failed; "
                               "see the service log.", "Server")


def _retry_later(exc, message):
    """503 with a Retry-After header: the service may serve it later."""
    response = error_response(503, message, "Server")
    response.headers["Retry-After"] = str(int(exc.retry_after))
    return response


def _http_message(exc):
    detail = getattr(exc, "detail", None)
    return str(detail or getattr(exc, "explanation", None) or exc.title)


class ErrorMiddleware:
    """Wrap an app so every error answer has the JSON error shape.

    It is also the boundary that refuses what the app should never see:
    a URL that is not UTF-8, a body over ``[api] max_request_body_size``.
    The body is read here and kept in ``environ[BODY]``, so that no
    layer below reads (or parses) an unbounded body.
    """

    def __init__(self, app, conf):
        self.app = app
        self.conf = conf

    def __call__(self, environ, start_response):
        request = webob.Request(environ)
        try:
            _check_url(environ)
            _refuse_forms(environ)
            _take_body(request, self.conf.api.max_request_body_size)
            response = request.get_response(self.app)
        except Exception as exc:  # noqa: BLE001 - the one catch-all
            response = response_for(exc)
            environ[RENDERED] = True
        if response.status_int >= 400 and not environ.get(RENDERED):
            response = self._rewrite(environ, response)
        return response(environ, start_response)

    @staticmethod
    def _rewrite(environ, response):
        original = environ.get("pecan.original_exception")
        if isinstance(original, webob.exc.HTTPException):
            message = _http_message(original)
        else:
            message = _message_of(response)
        rewritten = error_response(response.status_int, message)
        for name in ("WWW-Authenticate", "Allow"):
            if name in response.headers:
                rewritten.headers[name] = response.headers[name]
        return rewritten


def _message_of(response):
    """Find a human message in another layer's error body."""
    try:
        body = json.loads(response.body)
    except ValueError:
        body = None
    if isinstance(body, dict):
        inner = body.get("error") or body.get("error_message") or body
        if isinstance(inner, dict):
            for key in ("message", "faultstring", "description", "title"):
                if isinstance(inner.get(key), str):
                    return inner[key]
    return response.status.split(" ", 1)[-1]


def _check_url(environ):
    # WSGI gives both as bytes decoded as latin-1: the raw bytes are
    # checked as well as the %-escaped ones.
    try:
        path = environ.get("PATH_INFO", "").encode("latin-1").decode("utf-8")
        query = urllib.parse.parse_qsl(
            environ.get("QUERY_STRING", "").encode("latin-1").decode("utf-8"),
            keep_blank_values=True, errors="strict")
    except UnicodeError:
        raise BadRequest("The request URL is not valid UTF-8.")
    if "\x00" in path or any("\x00" in k + v for k, v in query):
        raise BadRequest("The request URL contains a NUL character.")


def _refuse_forms(environ):
    """A multipart body is never this API's (it takes JSON), and the
    layers below would parse it as a form, failing on a malformed one:
    refused here, whatever the method."""
    if environ.get("CONTENT_TYPE", "").lower().lstrip().startswith(
            "multipart/"):
        raise UnsupportedMediaType(
            "Multipart bodies are not accepted; send JSON (Content-Type: "
            "application/json).")


def check_text(value, what="The request body"):
    """Refuse NUL characters and lone surrogates in any string of a body.

    No database stores them; let them reach one and it answers 500.
    A loop, not a recursion: a body nested however deep is checked.
    """
    todo = [value]
    while todo:
        value = todo.pop()
        if isinstance(value, str):
            _check_string(value, what)
        elif isinstance(value, dict):
            todo.extend(value.keys())
            todo.extend(value.values())
        elif isinstance(value, list):
            todo.extend(value)


def _check_string(value, what):
    if "\x00" in value:
        raise BadRequest(f"{what} contains a NUL character.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(f"{what} contains invalid Unicode.")


def _take_body(request, limit):
    length = request.content_length
    if length is not None and length > limit:
        raise _too_large(length, limit)
    body = b""
    if request.is_body_readable:
        body = request.body_file_raw.read(
            limit + 1 if length is None else length)
        if len(body) > limit:
            raise _too_large(None, limit)
    request.environ[BODY] = body
    request.environ["wsgi.input"] = io.BytesIO(b"")
    request.environ["CONTENT_LENGTH"] = "0"


def _too_large(length, limit):
    size = f"of {length} bytes " if length is not None else ""
    return TooLarge(
        f"The request body {size}is larger than the limit of {limit} "
        "bytes ([api] max_request_body_size)."
    )
