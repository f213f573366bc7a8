"""The worker's side of oslo.messaging: a batch endpoint storing the
events of the notifications it is given (see :mod:`panko_like.listener`).
"""

import time

from oslo_log import log

from panko_like import listener, storage
from panko_like.api.controllers.v2 import events as event_json
from panko_like.listener.bus import oslo_messaging
from panko_like.storage import models

LOG = log.getLogger(__name__)


class Endpoint:
    """oslo.messaging's batch endpoint: one method per priority, each
    given a list of notifications.

    :param conf: the service's configuration.
    :param converter: a :class:`definitions.Converter`.
    """

    def __init__(self, conf, converter):
        self.conf = conf
        self.converter = converter
        # Connected on the first batch, in the worker process; the
        # executor's threads share it.
        self._storage = storage.LazyConnection(conf)
        for priority in listener.PRIORITIES:
            setattr(self, priority, self._handler(priority))

    def _handler(self, priority):
        def handle(notifications):
            return self.store(priority, notifications)
        handle.__name__ = priority
        return handle

    def store(self, priority, notifications):
        """Store the events of ``notifications``; requeue them all when
        the storage fails."""
        batch = []
        for notification in notifications:
            batch.extend(self._events(priority, notification))
        if not batch:
            return oslo_messaging.NotificationResult.HANDLED
        try:
            rejected = self._storage.get().record_events(batch)
        except storage.StorageError as exc:
            LOG.warning("Storage failed, %d notifications requeued: %s",
                        len(notifications), storage.one_line(exc))
            time.sleep(self.conf.listener.requeue_delay)
            return oslo_messaging.NotificationResult.REQUEUE
        storage.log_rejected(LOG, rejected)
        return oslo_messaging.NotificationResult.HANDLED

    def _events(self, priority, notification):
        """The events of one notification; none (logged) when it cannot
        give any."""
        payload = notification.get("payload")
        message_id = (notification.get("metadata") or {}).get("message_id")
        if isinstance(payload, list):
            return list(self._published(message_id, payload))
        try:
            event = self.converter.event(priority, notification)
        except (ValueError, TypeError, OverflowError) as exc:
            LOG.error("Notification %s (%s) dropped: %s", message_id,
                      notification.get("event_type"), exc)
            return []
        if event is None:
            LOG.debug("Notification %s (%s) dropped: no definition covers "
                      "it", message_id, notification.get("event_type"))
            return []
        return [event]

    @staticmethod
    def _published(message_id, items):
        """Events that Ceilometer's notifier:// publisher made."""
        for item in items:
            try:
                yield event_json.event_from_json(item)
            except models.InvalidEvent as exc:
                LOG.error("Event %s of notification %s dropped (%s): %s",
                          event_json.message_id_of(item), message_id,
                          exc.problem, exc)

    def close(self):
        self._storage.close()


#: What a bad ``transport_url`` raises.
BUS_CONFIG_ERRORS = (oslo_messaging.InvalidTransportURL,
                     oslo_messaging.DriverLoadFailure)


def transport(conf):
    """oslo.messaging's notification transport of ``conf``."""
    return oslo_messaging.get_notification_transport(conf)


def targets(conf):
    """The oslo.messaging targets of ``[listener] topics``."""
    return [oslo_messaging.Target(topic=topic)
            for topic in conf.listener.topics]


def build(conf, transport, converter):
    """A batch notification listener of ``conf`` on ``transport``; start
    it with ``start()``, end it with ``stop()`` and ``wait()``."""
    endpoint = Endpoint(conf, converter)
    server = oslo_messaging.get_batch_notification_listener(
        transport, targets(conf), [endpoint], executor="threading",
        allow_requeue=True, pool=conf.listener.pool,
        batch_size=conf.listener.batch_size,
        batch_timeout=conf.listener.batch_timeout)
    return server, endpoint
