"""The listener benchmark: notifications stored per second, end to end.

Run from a checkout (``python -m tools.bench_listener --help``, or ``tox
-e bench-listener -- ARGS``). For each ``--workers`` count it makes a
scratch database at ``--url`` (an administrative PostgreSQL or MySQL
URL, or ``sqlite://``), a topic of its own on the broker at ``--rabbit``,
and sends ``-n`` notifications shaped like Nova's (oslo.messaging's
Notifier, the messagingv2 envelope) while the real
``panko-like-listener`` is stopped, so they wait in its queues. It then
starts the listener and reports how fast the events are stored: from
the first one stored to the last, and from the start of the process;
the peak RSS of a worker; and that every notification is stored once.
The queues and the databases are removed afterwards.
"""

import argparse
import datetime
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings

import kombu
from oslo_config import cfg

from panko_like import storage
from panko_like.listener import PRIORITIES
from tools.benchlib import cli, scratch
from tools.benchlib.cli import say

PROG = "python -m tools.bench_listener"

#: Event definitions of the run: a few typed traits, as Ceilometer's.
DEFINITIONS = """\
- event_type: compute.instance.*
  traits:
    instance_id:
      fields: payload.instance_id
    display_name:
      fields: payload.display_name
    host:
      fields: publisher_id.`split(., 1, 1)`
    memory_mb:
      type: int
      fields: payload.memory_mb
    vcpus:
      type: int
      fields: payload.vcpus
    state:
      fields: payload.state
    launched_at:
      type: datetime
      fields: payload.launched_at
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split(
        "\n\n")[0])
    parser.add_argument("--url", default="sqlite://",
                        help="administrative URL of the storage's server "
                        "(default sqlite://)")
    parser.add_argument("--rabbit",
                        default="rabbit://guest:guest@127.0.0.1:5672/",
                        help="the broker, as an oslo.messaging URL")
    parser.add_argument("-n", "--notifications", type=cli.positive,
                        default=20_000, help="notifications per run "
                        "(default 20,000)")
    parser.add_argument("--workers", default="1,4",
                        help="comma-separated worker counts, one run each "
                        "(default 1,4)")
    parser.add_argument("--batch-size", type=cli.positive, default=100,
                        help="[listener] batch_size (default 100)")
    args = parser.parse_args(argv)
    try:
        args.workers = [cli.positive(w) for w in args.workers.split(",")]
    except (argparse.ArgumentTypeError, ValueError):
        parser.error(f"--workers: not a list of counts: {args.workers!r}")
    return args


def amqp_url(rabbit_url):
    return "amqp" + rabbit_url[len("rabbit"):].rstrip("/") + "//"


def listener_command():
    beside = os.path.join(os.path.dirname(sys.executable),
                          "panko-like-listener")
    return shutil.which("panko-like-listener") or beside


class Run:
    """One run: a topic, a configuration, the listener's process."""

    def __init__(self, args, url, workers, directory):
        self.args = args
        self.url = url
        self.topic = f"bench_listener_{uuid.uuid4().hex[:10]}"
        definitions = os.path.join(directory, "definitions.yaml")
        with open(definitions, "w") as f:
            f.write(DEFINITIONS)
        self.config = os.path.join(directory, f"listener-{workers}.conf")
        with open(self.config, "w") as f:
            f.write(f"[DEFAULT]\ntransport_url = {args.rabbit}\n"
                    f"[database]\nconnection = {url}\n"
                    f"event_time_to_live = {scratch.time_to_live()}\n"
                    f"partition_days = {scratch.PARTITION_DAYS}\n"
                    f"[listener]\ntopics = {self.topic}\n"
                    f"workers = {workers}\n"
                    f"batch_size = {args.batch_size}\n")
        self.log = os.path.join(directory, f"listener-{workers}.log")
        self.process = None

    def start(self):
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [listener_command(), "--config-file", self.config],
                stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)

    def stop(self):
        self.process.terminate()
        if self.process.wait(120):
            raise SystemExit(f"the listener exited {self.process.returncode}"
                             f"; its log: {self.log}")

    def queues(self):
        return [f"{self.topic}.{priority}" for priority in PRIORITIES]

    def wait_for_queues(self):
        deadline = time.monotonic() + 60
        with kombu.Connection(amqp_url(self.args.rabbit)) as connection:
            for name in self.queues():
                while True:
                    try:
                        connection.channel().queue_declare(name,
                                                           passive=True)
                        break
                    except connection.channel_errors:
                        if time.monotonic() > deadline:
                            raise SystemExit(
                                f"the listener declared no queue {name}; "
                                f"its log: {self.log}") from None
                        time.sleep(0.2)

    def delete_queues(self):
        with kombu.Connection(amqp_url(self.args.rabbit)) as connection:
            for name in self.queues():
                try:
                    connection.channel().queue_delete(name)
                except connection.channel_errors:
                    pass

    def send(self, count):
        """Send ``count`` notifications; seconds taken."""
        with warnings.catch_warnings():
            # oslo.messaging imports eventlet, which warns that it is
            # deprecated.
            warnings.filterwarnings("ignore",
                                    message=r"\s*Eventlet is deprecated")
            import oslo_messaging
        conf = cfg.ConfigOpts()
        conf([], default_config_files=[])
        transport = oslo_messaging.get_notification_transport(
            conf, url=self.args.rabbit)
        notifier = oslo_messaging.Notifier(
            transport, "compute.bench-host.example", driver="messagingv2",
            topics=[self.topic])
        launched = datetime.datetime(2026, 1, 1).isoformat()
        started = time.monotonic()
        try:
            for number in range(count):
                notifier.info({}, "compute.instance.create.end", {
                    "tenant_id": f"project-{number % 50}",
                    "user_id": f"user-{number % 200}",
                    "instance_id": str(uuid.UUID(int=number)),
                    "display_name": f"vm-{number}", "memory_mb": 2048,
                    "vcpus": 2, "state": "active",
                    "launched_at": launched})
        finally:
            transport.cleanup()
        return time.monotonic() - started


def measure(args, backend, workers, directory):
    url = backend.create()
    run = Run(args, url, workers, directory)
    try:
        conn = storage.get_connection(url, scratch.bench_conf(url))
        try:
            conn.upgrade()
        finally:
            conn.close()
        run.start()
        run.wait_for_queues()
        run.stop()
        sent_in = run.send(args.notifications)
        say(f"  sent {args.notifications} notifications in {sent_in:.1f} s "
            f"({args.notifications / sent_in:,.0f}/s)")
        started = time.monotonic()
        run.start()
        first = None
        stored = 0
        while stored < args.notifications:
            time.sleep(0.1)
            stored = scratch.count_events(url)
            if stored and first is None:
                first = (time.monotonic(), stored)
            if time.monotonic() - started > 3600:
                raise SystemExit(f"only {stored} stored after an hour; the "
                                 f"listener's log: {run.log}")
        ended = time.monotonic()
        run.stop()
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        whole = args.notifications / (ended - started)
        if first[1] < args.notifications:
            rate = (args.notifications - first[1]) / (ended - first[0])
            steady = (f"{rate:,.0f}"
                      " notifications/s stored (first to last event)")
        else:  # all stored before the first look: too few to tell
            steady = "no rate from first to last event (too few)"
        stored = scratch.count_events(url)
        if stored != args.notifications:
            raise SystemExit(f"{stored} events stored for "
                             f"{args.notifications} notifications")
        say(f"  {workers} worker(s): {whole:,.0f} notifications/s stored "
            f"from the process's start, {steady}; every notification "
            f"stored once; peak RSS of a process so far {peak_mb:.1f} MB")
    finally:
        if run.process is not None and run.process.poll() is None:
            run.process.kill()
            run.process.wait()
        run.delete_queues()
        backend.drop(url)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    backend = scratch.make_scratch(args.url)
    scratch.describe_server(backend)
    directory = tempfile.mkdtemp(prefix="bench_listener_")
    try:
        say(f"{backend.backend}: {args.notifications} notifications a run, "
            f"batches of {args.batch_size}")
        for workers in args.workers:
            measure(args, backend, workers, directory)
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        backend.cleanup()


if __name__ == "__main__":
    main()
