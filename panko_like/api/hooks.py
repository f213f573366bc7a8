"""Per-request access to the app's config, storage and policy.

Built once per application by :func:`panko_like.api.app.setup_app`;
nothing here is a module global, so two apps in one process (tests)
never share a connection or a policy.
"""

import math

from pecan import hooks

from panko_like import storage


class StorageHolder(storage.LazyConnection):
    """Connects to the storage on first use, once per process, within
    ``[api] storage_timeout``.

    Lazy, so that a server forking workers after building the app opens
    its connections in each worker, not in the parent.
    """

    def __init__(self, conf):
        self.timeout = conf.api.storage_timeout
        super().__init__(conf, deadline=self.timeout)
        # No wait of the storage's own may outlast the request's.
        bound = max(1, math.ceil(self.timeout))
        for name in ("pool_timeout", "connect_timeout"):
            if conf.database[name] > bound:
                conf.set_override(name, bound, group="database")

    def _connect(self):
        conn = super()._connect()
        conn.retry_deadline = self.timeout
        return conn

    def driver(self):
        """The driver's class, connected or not: what it declares needs
        no storage (/v2/capabilities answers during an outage)."""
        if self._conn is not None:
            return type(self._conn)
        return storage.driver_class(
            self.conf.database.connection or storage.default_url(self.conf))


class ContextHook(hooks.PecanHook):
    """Attach ``conf``, ``storage`` and ``enforcer`` to each request."""

    def __init__(self, conf, holder, enforcer):
        self.conf = conf
        self.holder = holder
        self.enforcer = enforcer

    def on_route(self, state):
        state.request.conf = self.conf
        state.request.storage_holder = self.holder
        state.request.enforcer = self.enforcer
        # Set on every request: the worker's thread keeps the value of
        # the one before.
        storage.want_primary_reads(wants_fresh(state.request))


def wants_fresh(request) -> bool:
    """Whether the client asks for an answer that has every write
    acknowledged so far (``Cache-Control: no-cache``): its reads then
    go to the primary, not to a standby that may lag behind it."""
    directives = request.headers.get("Cache-Control", "")
    return "no-cache" in (d.strip().lower() for d in directives.split(","))
