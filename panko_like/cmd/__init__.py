"""Console scripts. Each is a thin wrapper over one storage or API call."""

import sys

from oslo_config import cfg
from oslo_log import log

from panko_like import service
from panko_like import storage as storage_api  # cmd.storage shadows it

LOG = log.getLogger(__name__)


def prepare(argv, **kwargs) -> cfg.ConfigOpts:
    """prepare_service(), with bad configuration a one-line exit.

    With a configuration file, ``[database] connection`` must be set,
    and a section or an option the service does not read is reported:
    an error if it may have been meant for the storage URL, else a
    warning.
    """
    try:
        conf = service.prepare_service(argv, **kwargs)
    except (cfg.Error, ValueError) as exc:
        sys.exit(f"configuration error: {exc}")
    findings = service.check_config(conf)
    if findings.errors:
        sys.exit(f"configuration error: {'; '.join(findings.errors)}")
    for warning in findings.warnings:
        LOG.warning("Configuration: %s", warning)
    return conf


def connect(conf: cfg.ConfigOpts, role: str = ""):
    """The configured storage connection, or a one-line exit naming the
    storage's ``role`` (``source``, ``target``) where there are two."""
    try:
        return storage_api.get_connection_from_config(conf)
    except Exception as exc:  # a clear one-line error, not a traceback
        sys.exit(f"cannot connect to the {role + ' ' if role else ''}"
                 f"storage: {storage_api.one_line(exc)}")
