"""The WSGI application: pecan app and its middleware pipeline.

Outermost first: CORS (``[cors]``), http_proxy_to_wsgi
(``[oslo_middleware] enable_proxy_headers_parsing``), request id, the
request's log line, then by path: ``/`` the versions document,
``/healthcheck`` oslo.middleware's healthcheck (storage check +
disable-by-file), anything else the authenticated v2 API.
"""

import functools
import inspect
import time

import pecan
import pecan.core
import pecan.routing
import pecan.util
from oslo_context import context
from oslo_log import log
from oslo_middleware import base as oslo_middleware_base
from oslo_middleware import cors, http_proxy_to_wsgi, request_id
from oslo_middleware.healthcheck import Healthcheck
from oslo_middleware.healthcheck import opts as healthcheck_opts
from oslo_policy import _checks as policy_checks

from panko_like.api import auth, errors, healthcheck, hooks, openapi, policies
from panko_like.api.controllers import root

LOG = log.getLogger(__name__)

CORS_DEFAULTS = {
    "allow_headers": [
        "Content-Type", "Cache-Control", "Content-Language", "Expires",
        "Last-Modified", "Pragma", "X-Auth-Token", "X-Openstack-Request-Id",
        "X-User-Id", "X-Project-Id", "X-Roles",
    ],
    "expose_headers": ["X-Openstack-Request-Id"],
    "allow_methods": ["GET", "POST", "PATCH", "DELETE", "OPTIONS", "HEAD"],
}
HEALTHCHECK_DEFAULTS = {
    "backends": ["panko_like_storage", "disable_by_file"],
    "disable_by_file_path": "/var/run/panko_like/healthcheck_disable",
}


def _set_defaults(conf, group, options, defaults):
    conf.register_opts(options, group=group)
    for name, value in defaults.items():
        conf.set_default(name, value, group=group)


def setup_app(conf):
    """Build the WSGI application for ``conf`` (a ConfigOpts).

    The storage connection is opened on the first request that needs
    it, so a server may build the app and then fork its workers.
    """
    _remember_signatures()
    holder = hooks.StorageHolder(conf)
    enforcer = policies.make_enforcer(conf)
    pecan_app = pecan.Pecan(
        root.RootController(),
        hooks=[hooks.ContextHook(conf, holder, enforcer)],
        force_canonical=False,
        guess_content_type_from_ext=False,
    )
    api = errors.ErrorMiddleware(auth.authenticate(pecan_app, conf), conf)
    app = _Dispatcher(
        versions=errors.ErrorMiddleware(pecan_app, conf),
        health=_healthcheck(conf, holder),
        api=api,
        openapi=openapi.Document(conf),
    )
    app = request_id.RequestId(_RequestLog(app))
    app = http_proxy_to_wsgi.HTTPProxyToWSGI(app, conf)
    _set_defaults(conf, "cors", cors.CORS_OPTS, CORS_DEFAULTS)
    app = cors.CORS(app, conf)
    app.storage_holder = holder
    return app


def _remember_signatures():
    """Let pecan, oslo.middleware and oslo.policy read each function's
    signature once, not on every request.

    pecan 1.x inspects the ``_route`` and the controller it routes to on
    every request (and builds a namedtuple class each time): a tenth of
    the CPU of showing one event. oslo.middleware inspects each
    middleware's ``process_response``, and oslo.policy each check's
    ``__call__``, on every request too: together another tenth. A
    signature only depends on the function, so the answer for each
    function is kept. Idempotent.
    """
    if getattr(pecan.core.getargspec, "remembers", False):
        return
    pecan_signature = _remembered(pecan.util.getargspec)
    pecan.core.getargspec = pecan_signature
    pecan.routing.getargspec = pecan_signature
    oslo_middleware_base.getfullargspec = _InspectRemembering.getfullargspec
    # oslo.policy calls inspect.getfullargspec through its module.
    policy_checks.inspect = _InspectRemembering()


def _remembered(inspect_signature):
    @functools.lru_cache(maxsize=256)
    def of_function(function):
        return inspect_signature(function)

    def signature(callable_):
        # A bound method's signature is its function's, self included.
        return of_function(getattr(callable_, "__func__", callable_))

    signature.remembers = True
    return signature


class _InspectRemembering:
    """The inspect module, but for a remembering getfullargspec."""

    getfullargspec = staticmethod(_remembered(inspect.getfullargspec))

    def __getattr__(self, name):
        return getattr(inspect, name)


def _healthcheck(conf, holder):
    _set_defaults(
        conf, "healthcheck",
        healthcheck_opts.HEALTHCHECK_OPTS
        + healthcheck_opts.DISABLE_BY_FILE_OPTS,
        HEALTHCHECK_DEFAULTS,
    )
    app = Healthcheck(None, conf)
    # The middleware hands this same dict to its backends: the storage
    # backend finds this app's connection there.
    app.conf[healthcheck.HOLDER_KEY] = holder
    return _RetryAfter(app, max(1, conf.database.retry_interval))


class _RetryAfter:
    """oslo.middleware's healthcheck, whose 503 also says when to ask
    again (``Retry-After``, as the API's own 503 answers do)."""

    def __init__(self, app, seconds):
        self.app = app
        self.header = ("Retry-After", str(seconds))

    def __call__(self, environ, start_response):
        def starting(status, headers, exc_info=None):
            if status.startswith("503 "):
                headers = [*headers, self.header]
            return start_response(status, headers, exc_info)

        return self.app(environ, starting)


class _Dispatcher:
    """Send ``/``, ``/healthcheck`` and the OpenAPI document around the
    authentication."""

    def __init__(self, versions, health, api, openapi):
        self.versions = versions
        self.health = health
        self.api = api
        self.openapi = openapi

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "").rstrip("/")
        if path == "":
            return self.versions(environ, start_response)
        if path == "/healthcheck":
            return self.health(environ, start_response)
        if path == openapi.PATH:
            return self.openapi(environ, start_response)
        return self.api(environ, start_response)


class _RequestLog:
    """One log line per request, in the request's own context.

    oslo.log takes a line's context from oslo.context's thread-local
    store, where the v2 API's authorization leaves the caller's
    RequestContext. A thread serves request after request, so each one
    starts with a context of its own (its request id, no identity): the
    line of an anonymous request never names an earlier caller.
    """

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        context.RequestContext(
            request_id=environ.get(request_id.ENV_REQUEST_ID),
            overwrite=True,
        )
        line = _LogLine(environ)

        def recording_start_response(status, headers, exc_info=None):
            line.status = status.split(" ", 1)[0]
            line.length = next((value for name, value in headers
                                if name.lower() == "content-length"), "-")
            return start_response(status, headers, exc_info)

        try:
            return _Closing(self.app(environ, recording_start_response),
                            line)
        except Exception:
            line.log()
            raise


class _LogLine:
    def __init__(self, environ):
        self.started = time.monotonic()
        query = environ.get("QUERY_STRING")
        self.request = " ".join([
            environ.get("REQUEST_METHOD", "-"),
            environ.get("PATH_INFO", "") + (f"?{query}" if query else ""),
        ])
        self.client = environ.get("REMOTE_ADDR", "-")
        self.status = "-"
        self.length = "-"

    def log(self):
        LOG.info('%s "%s" status: %s len: %s time: %.4f', self.client,
                 self.request, self.status, self.length,
                 time.monotonic() - self.started)


class _Closing:
    """An app's answer, logged once sent (or abandoned)."""

    def __init__(self, result, line):
        self.result = result
        self.line = line

    def __iter__(self):
        return iter(self.result)

    def close(self):
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.line.log()
