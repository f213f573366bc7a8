"""Log driver: writes each event to the service log, stores nothing.

URL: ``log://``. Useful to see what a publisher sends, or to accept
events while no database is wanted. Every query raises
:class:`panko_like.NotImplementedError` (HTTP 501 through the API), and
the driver says it is not production ready.

Each event is one INFO line of ``key=value`` fields (message id, event
type, generated time, trait count and names); the ``raw`` payload is
added only when debug logging is on.
"""

import json

from oslo_log import log

from panko_like.storage import base, models

LOG = log.getLogger(__name__)


def describe(event: models.Event, with_raw: bool = False) -> str:
    """One line naming the event; values are JSON-quoted."""
    fields = [
        ("message_id", event.message_id),
        ("event_type", event.event_type),
        ("generated", models.format_datetime(event.generated)),
        ("traits", [
            f"{trait.name}:{trait.type_name}" for trait in event.traits
        ]),
    ]
    if with_raw:
        fields.append(("raw", event.raw))
    return " ".join(
        f"{key}={json.dumps(value, ensure_ascii=False, default=str)}"
        for key, value in fields
    )


class Connection(base.Connection):
    """Logs events instead of storing them."""

    CAPABILITIES = {"events": {"query": {"simple": False}, "delete": False}}
    STORAGE_CAPABILITIES = {
        "storage": {"production_ready": False, "expiry": False}
    }

    def upgrade(self):
        return "the log driver has no schema; nothing to do"

    def schema_version(self):
        return None

    def clear(self):
        """Nothing is stored, so there is nothing to drop."""

    def record_events(self, events):
        # The same batch rules as every driver's: invalid events and
        # message_ids repeated in the batch are reported, not logged.
        rejected, accepted = base.checked_batch(
            events, lambda event, raw: event, self.max_raw_depth)
        with_raw = LOG.isEnabledFor(log.DEBUG)
        for event in accepted:
            LOG.info("event %s", describe(event, with_raw))
        return rejected
