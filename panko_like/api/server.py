"""Serving the API: gunicorn's arbiter, configured from ``[api]``.

gunicorn is used as a library: its arbiter pre-forks ``[api] workers``
processes that each build their own application (and so their own
storage connection pool, which must never cross a fork), restarts a
worker that dies or hangs, and on SIGTERM stops accepting connections,
lets the requests in flight finish within ``[api]
graceful_shutdown_timeout`` seconds and exits 0. Each worker serves HTTP
with waitress (:mod:`panko_like.api.worker`): requests are read by an
event loop and run by threads, so slow clients hold no thread.
"""

import logging
import os

from gunicorn import glogging
from gunicorn.app import base as gunicorn_base
from oslo_config import cfg

OPTS = [
    cfg.HostAddressOpt(
        "host",
        default="127.0.0.1",
        help="Address the API listens on (an IP address or a host name; "
        "0.0.0.0 or :: for every interface). The --host command line "
        "argument overrides it.",
    ),
    cfg.IntOpt(
        "port",
        default=8977,
        min=1,
        max=65535,
        help="TCP port the API listens on. The --port command line "
        "argument overrides it.",
    ),
    cfg.IntOpt(
        "workers",
        default=min(os.cpu_count() or 1, 4),
        sample_default="<number of CPUs, at most 4>",
        min=1,
        max=256,
        help="Number of API worker processes. Each runs up to [api] "
        "threads requests at a time with its own storage connection "
        "pool, so the database sees up to workers * (max_pool_size + "
        "max_overflow) connections.",
    ),
    cfg.IntOpt(
        "graceful_shutdown_timeout",
        default=30,
        min=0,
        max=3600,
        help="Seconds the requests in flight get to finish after a "
        "SIGTERM before their workers are killed.",
    ),
    cfg.IntOpt(
        "worker_timeout",
        default=120,
        min=0,
        max=86400,
        help="Seconds a worker may spend on one request before it is "
        "killed and replaced (with the other requests it is running, "
        "which are answered 503 if their answer has not begun); 0 "
        "disables the limit.",
    ),
]


class OsloLogger(glogging.Logger):
    """gunicorn's own messages (listening, workers booted, killed or
    timed out) through the handlers oslo.log set up: in the service's
    log file or syslog and format, at its level, as ``gunicorn.error``,
    instead of on stderr in gunicorn's format."""

    def setup(self, cfg):
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            logger.propagate = True
        # The level oslo.log gave the root logger ([DEFAULT] debug).
        self.error_log.setLevel(logging.NOTSET)


class Server(gunicorn_base.BaseApplication):
    """gunicorn's arbiter, configured from a ConfigOpts."""

    def __init__(self, conf: cfg.ConfigOpts, application):
        self.conf = conf
        self.application = application
        super().__init__(prog="panko-like-api")

    def load_config(self):
        api = self.conf.api
        host = f"[{api.host}]" if ":" in api.host else api.host
        settings = {
            "bind": [f"{host}:{api.port}"],
            "workers": api.workers,
            "graceful_timeout": api.graceful_shutdown_timeout,
            "timeout": api.worker_timeout,
            "proc_name": "panko-like-api",
            "worker_class": "panko_like.api.worker.Worker",
            "logger_class": OsloLogger,
        }
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 25 opens a management socket in $HOME; the
            # service is managed by signals, as any OpenStack service.
            settings["control_socket_disable"] = True
        for key, value in settings.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application
