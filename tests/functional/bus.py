"""The machine's RabbitMQ, for the listener's tests: a topic of the
test's own, senders as the services and Ceilometer send, a
``panko-like-listener`` run as a real process group, and the queues
removed afterwards.

The broker is ``PANKO_LIKE_TEST_RABBIT_URL`` (an oslo.messaging URL,
``rabbit://guest:guest@127.0.0.1:5672/`` when unset). A test using it
fails when the broker is unreachable and ``PANKO_LIKE_TEST_REQUIRE``
names ``rabbit`` or ``all``; otherwise it is skipped, and ``.ci/run``
fails on that skip.
"""

import os
import signal
import socket
import subprocess
import time
import urllib.parse
import uuid

import kombu
from oslo_config import cfg

from panko_like.listener import PRIORITIES
from panko_like.listener.bus import oslo_messaging
from tests.functional.scripts import BIN

ENV = "PANKO_LIKE_TEST_RABBIT_URL"
DEFAULT_URL = "rabbit://guest:guest@127.0.0.1:5672/"
#: oslo.messaging's default exchange, where notifications are sent.
EXCHANGE = "openstack"


def url():
    return os.environ.get(ENV) or DEFAULT_URL


def required():
    names = os.environ.get("PANKO_LIKE_TEST_REQUIRE", "").split(",")
    return bool({"all", "rabbit"} & {n.strip() for n in names})


def amqp_url(rabbit_url):
    """kombu's URL of oslo.messaging's ``rabbit://`` URL."""
    parts = urllib.parse.urlsplit(rabbit_url)
    vhost = parts.path[1:] or "/"
    return urllib.parse.urlunsplit(
        ("amqp", parts.netloc, "/" + vhost, "", ""))


def unreachable():
    """Why the broker cannot be used, or None."""
    parts = urllib.parse.urlsplit(url())
    try:
        socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 5672), 2).close()
    except OSError as exc:
        return f"RabbitMQ at {parts.hostname}:{parts.port}: {exc}"
    return None


def wait_until(predicate, timeout, interval=0.1, what="the condition"):
    """Poll ``predicate`` until it is true; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not reached in {timeout} s")
        time.sleep(interval)


class Bus:
    """A topic of one test on the broker, removed at the test's end."""

    def __init__(self, test):
        reason = unreachable()
        if reason:
            if required():
                test.fail(f"RabbitMQ required: {reason}")
            test.skipTest(reason)
        self.url = url()
        self.topic = f"panko_like_test_{uuid.uuid4().hex[:12]}"
        conf = cfg.ConfigOpts()
        conf([], default_config_files=[])
        self.transport = oslo_messaging.get_notification_transport(
            conf, url=self.url)
        test.addCleanup(self.delete_queues)
        test.addCleanup(self.transport.cleanup)

    def notifier(self, publisher_id="compute.host-1"):
        """A sender as the services have (the messagingv2 envelope)."""
        return oslo_messaging.Notifier(
            self.transport, publisher_id, driver="messagingv2",
            topics=[self.topic])

    def queues(self):
        return [f"{self.topic}.{priority}" for priority in PRIORITIES]

    def _channel_do(self, action):
        with kombu.Connection(amqp_url(self.url)) as connection:
            return action(connection)

    def depth(self):
        """Messages waiting in the topic's queues (None: not all of the
        queues exist yet)."""
        def count(connection):
            total = 0
            for name in self.queues():
                try:
                    _, messages, _ = connection.channel().queue_declare(
                        name, passive=True)
                except connection.channel_errors:
                    return None
                total += messages
            return total
        return self._channel_do(count)

    def wait_for_queues(self, timeout=30):
        """Until the listener has declared its queues: a notification
        sent before would be routed nowhere."""
        wait_until(lambda: self.depth() is not None, timeout,
                   what=f"the queues of {self.topic}")

    def publish_raw(self, body, priority="info"):
        """A message as it is on the wire, whatever its shape."""
        def publish(connection):
            producer = connection.Producer(
                exchange=kombu.Exchange(EXCHANGE, type="topic",
                                        durable=False),
                routing_key=f"{self.topic}.{priority}", auto_declare=False)
            if isinstance(body, bytes):
                producer.publish(body, content_type="application/json",
                                 content_encoding="utf-8")
            else:
                producer.publish(body)
        self._channel_do(publish)

    def delete_queues(self):
        def delete(connection):
            for name in self.queues():
                channel = connection.channel()
                try:
                    channel.queue_delete(name)
                except connection.channel_errors:
                    pass
        self._channel_do(delete)


class Listener:
    """``panko-like-listener`` as a process group of its own, its output
    in ``log_path``."""

    def __init__(self, test, config_path, log_path):
        self.test = test
        self.args = [os.path.join(BIN, "panko-like-listener"),
                     "--config-file", config_path]
        self.log_path = log_path
        self.process = None
        test.addCleanup(self.kill)

    def start(self):
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.args, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True)

    def _signal(self, number):
        try:
            os.killpg(self.process.pid, number)
        except ProcessLookupError:
            pass

    def kill(self):
        """SIGKILL to the master and its workers at once."""
        if self.process is not None and self.process.poll() is None:
            self._signal(signal.SIGKILL)
            self.process.wait(30)
        self._reap()

    def stop(self):
        """SIGTERM: a graceful stop; returns the exit status."""
        self._signal(signal.SIGTERM)
        status = self.process.wait(60)
        self._reap()
        return status

    def _reap(self):
        # A worker may outlive its master for a moment: wait for the
        # whole group to be gone.
        if self.process is None:
            return
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)
        self._signal(signal.SIGKILL)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()
