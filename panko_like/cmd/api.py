"""``panko-like-api``: the REST API under gunicorn, one process per worker.

gunicorn is used as a library: its arbiter pre-forks ``[api] workers``
processes that each build their own application (and so their own
storage connection pool, which must never cross a fork), restarts a
worker that dies, and on SIGTERM stops accepting connections, lets the
requests in flight finish within ``[api] graceful_shutdown_timeout``
seconds and exits 0.
"""

import ipaddress
import logging
import os
import sys

from gunicorn import glogging
from gunicorn.app import base as gunicorn_base
from oslo_config import cfg
from oslo_log import log

from panko_like import cmd

LOG = log.getLogger(__name__)

#: What the command does, at the top of its --help.
HELP = (
    "Serve the panko_like REST API with gunicorn on [api] host and port "
    "(with no configuration file at all: the embedded SQLite database in "
    "data_dir, on 127.0.0.1, with auth_mode noauth)."
)

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
        help="Number of API worker processes. Each serves one request at "
        "a time with its own storage connection pool, so the database "
        "sees up to workers * (max_pool_size + max_overflow) "
        "connections.",
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
        "killed and replaced; 0 disables the limit.",
    ),
]

# Named --host/--port on the command line, but stored apart from any
# [DEFAULT] host a Panko or oslo.service configuration file may set, and
# checked against the [api] options' bounds when applied.
CLI_OPTS = [
    cfg.StrOpt(
        "host",
        dest="cli_host",
        metavar="HOST",
        help="Address to listen on, overriding [api] host.",
    ),
    cfg.StrOpt(
        "port",
        dest="cli_port",
        metavar="PORT",
        help="TCP port to listen on, overriding [api] port.",
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


def _apply_command_line(conf: cfg.ConfigOpts) -> None:
    for name in ("host", "port"):
        value = conf[f"cli_{name}"]
        if value is None:
            continue
        try:
            conf.set_override(name, value, group="api")
        except ValueError as exc:
            sys.exit(f"configuration error: --{name} {value}: {exc}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _local_defaults(conf: cfg.ConfigOpts) -> None:
    """No configuration file at all: a local, single-user service.

    There is no Keystone to ask, so requests are trusted with the
    identity their X-User-Id, X-Project-Id and X-Roles headers claim,
    which is only acceptable on a loopback address.
    """
    if not _is_loopback(conf.api.host):
        sys.exit(
            f"refusing to listen on {conf.api.host} without a "
            "configuration file: requests would not be authenticated. "
            "Set [api] auth_mode (and [keystone_authtoken]) in a "
            "configuration file, or listen on 127.0.0.1."
        )
    conf.set_default("auth_mode", "noauth", group="api")
    LOG.warning(
        "No configuration file: serving the embedded database in %s on "
        "%s with auth_mode noauth (identity taken from the request "
        "headers)", conf.data_dir, conf.api.host,
    )


def _embedded(conf: cfg.ConfigOpts) -> bool:
    """True when the storage is the SQLite database in ``data_dir``."""
    return not conf.database.connection


def _check_storage(conf: cfg.ConfigOpts) -> None:
    """Reach the storage once before forking, and create the embedded
    database's schema, so that a bad URL is one line at start."""
    conn = cmd.connect(conf)
    try:
        if _embedded(conf):
            LOG.info("Embedded database in %s: %s",
                     conf.data_dir, conn.upgrade())
    finally:
        conn.close()


def _build_app(conf: cfg.ConfigOpts):
    """The WSGI application, built once in the arbiter.

    Safe to fork: the application opens its storage connections on
    first use, so each worker gets its own pool.
    """
    # Not at module level: panko_like.opts imports this module for its
    # options, and every other command would load the API with it.
    from panko_like.api import app

    try:
        return app.setup_app(conf)
    except Exception as exc:  # one line for the operator, details logged
        LOG.debug("Building the application failed", exc_info=True)
        sys.exit(f"cannot build the API application: {exc}")


def _check_keystone(conf: cfg.ConfigOpts) -> None:
    """auth_token without credentials can validate no token: every
    request would fail, so say it at start. Its options are registered
    by the time the application is built."""
    if conf.api.auth_mode != "keystone":
        return
    group = conf.keystone_authtoken
    if not (group.auth_type or group.auth_section):
        sys.exit(
            "configuration error: [api] auth_mode is keystone, but "
            "[keystone_authtoken] has no auth_type (or auth_section): set "
            "it with auth_url and the service user's credentials, or set "
            "[api] auth_mode = noauth"
        )
    if not group.www_authenticate_uri:
        # auth_token would then ask Keystone for it while rejecting a
        # request, and answer 500 whenever Keystone does not say.
        sys.exit(
            "configuration error: [api] auth_mode is keystone, but "
            "[keystone_authtoken] has no www_authenticate_uri: set it to "
            "Keystone's public endpoint, which 401 answers name"
        )


def main(argv=None):
    """Serve the API until SIGTERM or SIGINT."""
    conf = cmd.prepare(
        sys.argv[1:] if argv is None else argv, cli_opts=CLI_OPTS,
        description=HELP,
    )
    _apply_command_line(conf)
    if not conf.config_file and not conf.config_dir:
        _local_defaults(conf)
    _check_storage(conf)
    application = _build_app(conf)
    _check_keystone(conf)
    LOG.info("Serving the API on %s:%d with %d workers",
             conf.api.host, conf.api.port, conf.api.workers)
    Server(conf, application).run()
