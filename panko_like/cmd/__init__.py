"""Console scripts. Each is a thin wrapper over one storage or API call."""

import sys

from oslo_config import cfg

from panko_like import opts, service
from panko_like import storage as storage_api  # cmd.storage shadows it


def prepare(argv, **kwargs) -> cfg.ConfigOpts:
    """prepare_service(), with bad configuration a one-line exit."""
    try:
        conf = service.prepare_service(argv, **kwargs)
        # Parse every option now, so a bad value is reported at start
        # rather than as a traceback halfway through the work.
        for group, options in opts.list_opts():
            section = conf if group == "DEFAULT" else conf[group]
            for opt in options:
                getattr(section, opt.dest)
    except (cfg.Error, ValueError) as exc:
        sys.exit(f"configuration error: {exc}")
    return conf


def connect(conf: cfg.ConfigOpts):
    """The configured storage connection, or a one-line exit."""
    try:
        return storage_api.get_connection_from_config(conf)
    except Exception as exc:  # a clear one-line error, not a traceback
        reason = str(exc).strip().splitlines()[0] if str(exc) else repr(exc)
        sys.exit(f"cannot connect to the storage: {reason}")
