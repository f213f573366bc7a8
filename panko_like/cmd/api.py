"""``panko-like-api``: the REST API under gunicorn, one process per worker
(see panko_like.api.server)."""

import ipaddress
import sys

from oslo_config import cfg
from oslo_log import log

from panko_like import cmd, config_check
from panko_like.api import app, server

LOG = log.getLogger(__name__)

#: What the command does, at the top of its --help.
HELP = (
    "Serve the panko_like REST API with gunicorn on [api] host and port "
    "(with no configuration file at all: the embedded SQLite database in "
    "data_dir, on 127.0.0.1, with auth_mode noauth)."
)

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


def _warn_unauthenticated(conf: cfg.ConfigOpts) -> None:
    """noauth beyond loopback trusts whoever reaches the port: say so,
    whichever file or argument chose the address."""
    if conf.api.auth_mode == "noauth" and not _is_loopback(conf.api.host):
        LOG.warning(
            "[api] auth_mode is noauth and the API listens on %s: every "
            "request is trusted with the identity its X-User-Id, "
            "X-Project-Id and X-Roles headers claim, so anyone who "
            "reaches this address can read and delete every project's "
            "events. Listen on a loopback address, behind a proxy that "
            "sets those headers itself, or use auth_mode keystone or "
            "token.",
            conf.api.host)


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
    if not config_check.has_config_file(conf):
        _local_defaults(conf)
    _warn_unauthenticated(conf)
    _check_storage(conf)
    application = _build_app(conf)
    _check_keystone(conf)
    LOG.info("Serving the API on %s:%d with %d workers",
             conf.api.host, conf.api.port, conf.api.workers)
    server.Server(conf, application).run()
