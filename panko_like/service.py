"""Process set-up shared by every command and the API."""

import argparse

from oslo_config import cfg
from oslo_log import log

import panko_like
from panko_like import config_check, opts


def register_opts(conf: cfg.ConfigOpts) -> None:
    """Register every option of :func:`opts.list_opts` on ``conf``."""
    for group, options in opts.list_opts():
        conf.register_opts(
            options, group=None if group == "DEFAULT" else group
        )


#: Where a command finds its configuration, said after what it does at
#: the top of its ``--help``.
CONFIG_HELP = (
    "It reads its configuration from the files given with --config-file "
    "and --config-dir, else from panko_like.conf in ~/.panko_like/, ~/, "
    "/etc/panko_like/ or /etc/."
)


def help_text(description: str) -> str:
    """What opens a command's ``--help``: ``description``, then where
    the configuration is read."""
    return f"{description} {CONFIG_HELP}"


def prepare_service(argv=None, config_files=None, cli_opts=(),
                    description=None):
    """Build a fresh ConfigOpts from ``argv``, set up logging, return it.

    Never touches the global ``cfg.CONF``, so tests and processes do not
    leak configuration into each other. ``description``, what the
    command does, opens its ``--help`` (followed by where the
    configuration is read, and the options), in place of the usage line.
    """
    conf = load_config(argv, config_files, cli_opts, description)
    log.setup(conf, "panko_like")
    return conf


def load_config(argv=None, config_files=None, cli_opts=(),
                description=None):
    """:func:`prepare_service` without the logging set-up, for code
    running in another program's process (Ceilometer's publisher)."""
    conf = cfg.ConfigOpts()
    log.register_options(conf)
    # Per ConfigOpts, unlike log.set_defaults(), which is process-wide.
    conf.set_default(
        "default_log_levels",
        log.get_default_log_levels() + [
            "alembic=WARN",
            # waitress warns of every request that waits for a thread.
            "waitress.queue=ERROR",
            # Which backend oslo.messaging's oslo.service loaded.
            "oslo_service.backend=WARN",
        ],
    )
    register_opts(conf)
    if cli_opts:
        conf.register_cli_opts(cli_opts)
    conf(
        argv if argv is not None else [],
        project="panko_like",
        version=panko_like.__version__,
        default_config_files=config_files,
        description=help_text(description) if description else None,
        usage=argparse.SUPPRESS if description else None,
    )
    return conf


def check_config(conf: cfg.ConfigOpts) -> config_check.Findings:
    """What is wrong with ``conf``: every option's value is read now, so
    that a bad one is reported at start rather than halfway through the
    work, then :func:`config_check.check` looks at the files."""
    try:
        for group, options in opts.list_opts():
            section = conf if group == "DEFAULT" else conf[group]
            for opt in options:
                getattr(section, opt.dest)
    except (cfg.Error, ValueError) as exc:
        return config_check.Findings(errors=[str(exc)])
    return config_check.check(conf)
