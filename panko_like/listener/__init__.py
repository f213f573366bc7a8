"""``panko-like-listener``: events from the message bus.

Each worker consumes notifications with oslo.messaging, in batches, and
stores their events through the storage driver. Two kinds of message are
read:

* Ceilometer's ``notifier://`` event publisher sends events already
  made (priority ``sample``, a list of serialized events as payload);
  they are stored as they are, like ``POST /v2/events`` stores them;
* any other notification (a service's, such as Nova's
  ``compute.instance.create.end``) is turned into one event by the event
  definitions (:mod:`panko_like.listener.definitions`).

A message is acknowledged only once its event is committed, or once it
is known that it never can be (a malformed notification, an event the
storage refuses: logged at error level with the reason, and dropped, as
the API answers 400). When the storage fails, the whole batch is handed
back to the bus (requeued) and consumed again after
``[listener] requeue_delay``; an event stored twice that way is skipped
as a duplicate of its message id, so each is stored once.
"""

from oslo_config import cfg

OPTS = [
    cfg.ListOpt(
        "topics",
        default=["event"],
        help="Topics the listener consumes. 'event' is where "
        "Ceilometer's notifier:// event publisher sends; add "
        "'notifications' (with a pool) to read the services' "
        "notifications directly.",
    ),
    cfg.StrOpt(
        "pool",
        help="Listener pool: with a name, the listener gets its own copy "
        "of every notification of its topics (a queue of its own), "
        "whoever else consumes them, such as Ceilometer's notification "
        "agent; without, it shares the topic's queue with every other "
        "consumer of it, each message going to one of them.",
    ),
    cfg.IntOpt(
        "workers",
        default=1,
        min=1,
        help="Worker processes consuming notifications, each with its "
        "own connections to the bus and the storage.",
    ),
    cfg.IntOpt(
        "batch_size",
        default=100,
        min=1,
        max=10000,
        help="Notifications a worker stores in one call of the storage "
        "driver, at most.",
    ),
    cfg.IntOpt(
        "batch_timeout",
        default=1,
        min=1,
        help="Seconds a worker waits for a batch to fill before storing "
        "what it has.",
    ),
    cfg.FloatOpt(
        "requeue_delay",
        default=2.0,
        min=0,
        help="Seconds a worker waits after the storage failed a batch "
        "(and the batch was requeued) before consuming again.",
    ),
    cfg.StrOpt(
        "definitions_file",
        help="Event definitions, in Ceilometer's event_definitions.yaml "
        "format, that turn a service's notification into an event's "
        "traits. Unset: each event gets only the traits service, "
        "request_id, project_id, tenant_id and user_id.",
    ),
    cfg.BoolOpt(
        "drop_unmatched",
        default=False,
        help="Drop a notification that no event definition covers, "
        "instead of storing it with the default traits only.",
    ),
    cfg.ListOpt(
        "store_raw",
        default=[],
        help="Priorities (info, error, ...) whose notifications are kept "
        "whole as the event's raw payload; the others get an empty raw "
        "payload.",
    ),
]

#: The priorities of oslo.messaging a worker consumes: it has a queue
#: ``<topic>.<priority>`` for each of them.
PRIORITIES = ("audit", "critical", "debug", "error", "info", "sample", "warn")
