"""``panko-like-listener``: store the events of the message bus."""

import sys

import cotyledon
from oslo_log import log

from panko_like import cmd, storage
from panko_like.listener import definitions, endpoint

LOG = log.getLogger(__name__)

LISTENER_HELP = (
    "Consume event notifications from the message bus ([DEFAULT] "
    "transport_url, or [oslo_messaging_notifications] transport_url) on "
    "[listener] topics, and store their events in [database] connection, "
    "in batches, with [listener] workers processes. A notification is "
    "acknowledged once its event is stored; a batch the storage fails is "
    "requeued."
)


class Worker(cotyledon.Service):
    """One process consuming the bus; cotyledon starts ``workers``."""

    name = "panko-like-listener worker"

    def __init__(self, worker_id, conf, converter):
        super().__init__(worker_id)
        self.conf = conf
        self.converter = converter
        self.server = None
        self.handler = None

    def run(self):
        transport = endpoint.transport(self.conf)
        self.server, self.handler = endpoint.build(
            self.conf, transport, self.converter)
        self.server.start()
        LOG.info("Worker %d consuming %s", self.worker_id,
                 ", ".join(self.conf.listener.topics))

    def terminate(self):
        # Stop taking messages, finish (and acknowledge) the batches in
        # hand, then leave; what was not acknowledged is redelivered.
        if self.server is not None:
            self.server.stop()
            self.server.wait()
            self.handler.close()


def main(argv=None):
    conf = cmd.prepare(sys.argv[1:] if argv is None else argv,
                       description=LISTENER_HELP)
    options = conf.listener
    try:
        converter = definitions.load(
            options.definitions_file, drop_unmatched=options.drop_unmatched,
            raw_priorities=options.store_raw)
        # The bus URL is read (and its driver loaded) before any worker
        # starts, so that a typo is one line here, not a crash per worker.
        endpoint.transport(conf).cleanup()
    except (definitions.DefinitionError, *endpoint.BUS_CONFIG_ERRORS) as exc:
        sys.exit(f"configuration error: {storage.one_line(exc)}")
    # The storage too: an unknown driver or a refused login stops here.
    cmd.connect(conf).close()
    manager = cotyledon.ServiceManager()
    manager.add(Worker, workers=options.workers, args=(conf, converter))
    manager.run()
