"""Ceilometer's ``panko-like://`` event publisher: straight to storage.

Ceilometer's notification agent finds its event publishers by URL scheme
among the ``ceilometer.event.publisher`` entry points, and this package
declares ``panko-like`` there (with a hyphen: a URL scheme cannot hold
an underscore, and Ceilometer would read no scheme at all in
``panko_like://``). A publisher line of Ceilometer's event pipeline
(``event_pipeline.yaml``) then stores each batch of events through
panko_like's storage driver, in the agent's process, without the API::

    publishers:
      - panko-like://

The storage is the one of panko_like's configuration file, found where
panko_like's commands find it (``panko_like.conf`` in ``~/.panko_like/``,
``~/``, ``/etc/panko_like/`` or ``/etc/``), or named in the URL's query:

``config_file=PATH``
    panko_like's configuration file (may be repeated);
``connection=URL``
    the storage URL itself, URL-encoded, instead of ``[database]
    connection``.

Without either, and without a configuration file, the publisher refuses
to start: it never writes to the embedded default database of whatever
account the agent runs as.

A batch is stored in one call of the driver's ``record_events``, retried
while the storage is unreachable (``[database] max_retries``); an event
the storage refuses is logged with its reason, a duplicate (a batch sent
again) at debug level. When the storage cannot be reached, the error is
raised to Ceilometer, which logs it (and requeues the notifications when
its ``[notification] ack_on_event_error`` is false).
"""

import urllib.parse

from oslo_config import cfg
from oslo_log import log

from panko_like import config_check, service, storage
from panko_like.storage import models

LOG = log.getLogger(__name__)

#: The URL's query parameters.
PARAMETERS = ("config_file", "connection")


class EventPublisher:
    """``panko-like://``: Ceilometer events stored by panko_like's
    storage driver.

    :param ceilometer_conf: Ceilometer's configuration (not read: the
        storage is panko_like's).
    :param parsed_url: the publisher's URL, split.
    """

    def __init__(self, ceilometer_conf, parsed_url):
        self.conf = _configuration(parsed_url.query)
        # Connected on the first batch, not when Ceilometer loads its
        # pipeline: the agent starts even while the database is down.
        # The agent's threads may publish at once: one connection.
        self._storage = storage.LazyConnection(self.conf)

    def publish_events(self, events):
        """Store Ceilometer's ``events``; log those not stored."""
        batch = [_event(event) for event in events]
        if not batch:
            return
        storage.log_rejected(LOG, self._storage.get().record_events(batch))

    def publish_samples(self, samples):
        """Samples are not events: panko_like stores none."""
        raise NotImplementedError(
            "panko-like:// publishes events only; it is an event "
            "publisher, not a sample publisher")


def _configuration(query):
    """panko_like's configuration for the URL's ``query``."""
    try:
        params = urllib.parse.parse_qs(query, keep_blank_values=True,
                                       strict_parsing=bool(query))
    except ValueError:
        raise ValueError(
            f"panko-like:// publisher: cannot read the query {query!r}"
        ) from None
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValueError(
            f"panko-like:// publisher: unknown parameter(s) "
            f"{', '.join(map(repr, unknown))}; known: "
            f"{', '.join(PARAMETERS)}")
    files = params.get("config_file")
    try:
        conf = service.load_config([], config_files=files)
    except cfg.Error as exc:
        raise ValueError(f"panko-like:// publisher: {exc}") from None
    connection = params.get("connection")
    if connection:
        conf.set_override("connection", connection[-1], group="database")
    elif not config_check.has_config_file(conf):
        raise ValueError(
            "panko-like:// publisher: no storage given; add "
            "?connection=<storage URL, URL-encoded> or "
            "?config_file=<path>, or write /etc/panko_like/panko_like.conf")
    findings = service.check_config(conf)
    if findings.errors:
        raise ValueError(
            f"panko-like:// publisher: {'; '.join(findings.errors)}")
    for warning in findings.warnings:
        LOG.warning("panko-like:// publisher configuration: %s", warning)
    return conf


def _event(event):
    """Ceilometer's event as panko_like's (the same fields and trait
    types: both keep Panko's), checked by the driver when stored."""
    return models.Event(
        event.message_id, event.event_type, event.generated,
        [models.Trait(trait.name, trait.dtype, trait.value)
         for trait in event.traits],
        event.raw,
    )
