"""Ceilometer's own ``http://`` event publisher posting to panko_like.

The real publisher (from the ``ceilometer`` package) sends events to a
real ``panko-like-api`` process, which stores them: what an operator gets
by adding ``http://host:8977/v2/events`` to Ceilometer's event pipeline.
"""

import contextlib
import datetime
import os
import urllib.parse
import warnings

from oslo_config import cfg

from tests.functional import apiserver, backends

T0 = datetime.datetime(2026, 3, 1, 8, 30, 0, 250000)


@contextlib.contextmanager
def importing_ceilometer():
    # Ceilometer imports oslo.privsep, which imports eventlet: its
    # deprecation notice is not this project's.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")
        yield


def ceilometer_conf():
    """Ceilometer's options, without its process-wide logging set-up."""
    with importing_ceilometer():
        from ceilometer import opts

    conf = cfg.ConfigOpts()
    for group, options in opts.list_opts():
        conf.register_opts(list(options),
                           group=None if group == "DEFAULT" else group)
    conf([], project="ceilometer", default_config_files=[])
    return conf


def ceilometer_events(prefix, count):
    with importing_ceilometer():
        from ceilometer.event import models

    Trait = models.Trait
    return [
        models.Event(
            f"{prefix}-{i}", "compute.instance.create.end",
            T0 + datetime.timedelta(seconds=i),
            [Trait("project_id", Trait.TEXT_TYPE, "p-1"),
             Trait("memory_mb", Trait.INT_TYPE, 512 * (i + 1)),
             Trait("progress", Trait.FLOAT_TYPE, 99.5),
             Trait("launched_at", Trait.DATETIME_TYPE, T0),
             Trait("note", Trait.NONE_TYPE, "untyped")],
            {"payload": {"instance_id": f"i-{i}", "name": "vm ü"}},
        )
        for i in range(count)
    ]


class CeilometerScenarios:
    def setUp(self):
        super().setUp()
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        policy = os.path.join(server.home, "policy.yaml")
        with open(policy, "w") as f:
            # The publisher sends no credentials: let anyone post.
            f.write('"telemetry:events:create": "@"\n')
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 1},
            "oslo_policy": {"policy_file": policy},
        })
        server.args[:0] = ["--config-file", path]
        self.server = server.start()

    def publisher(self, query=""):
        with importing_ceilometer():
            from ceilometer.publisher import http

        url = f"{self.server.url}/v2/events{query}"
        return http.HttpPublisher(ceilometer_conf(),
                                  urllib.parse.urlparse(url))

    def stored(self):
        response = self.server.request(
            "GET", "/v2/events?q.field=all_tenants&q.value=True",
            headers=apiserver.ADMIN)
        self.assertEqual(200, response.status)
        return response.json()

    def test_batched_and_unbatched_posts_are_stored(self):
        self.publisher().publish_events(ceilometer_events("batch", 3))
        self.publisher("?batch=False").publish_events(
            ceilometer_events("single", 2))
        # Resending (after a timeout, say) stores nothing twice.
        self.publisher().publish_events(ceilometer_events("batch", 3))
        events = self.stored()
        self.assertEqual(
            ["batch-0", "single-0", "batch-1", "single-1", "batch-2"],
            [e["message_id"] for e in events])
        self.assertEqual({
            "message_id": "batch-1",
            "event_type": "compute.instance.create.end",
            "generated": "2026-03-01T08:30:01.250000",
            "traits": [
                {"name": "launched_at", "type": "datetime",
                 "value": "2026-03-01T08:30:00.250000"},
                {"name": "memory_mb", "type": "integer", "value": "1024"},
                {"name": "note", "type": "string", "value": "untyped"},
                {"name": "progress", "type": "float", "value": "99.5"},
                {"name": "project_id", "type": "string", "value": "p-1"},
            ],
            "raw": {"payload": {"instance_id": "i-1", "name": "vm ü"}},
        }, events[2])

    def test_default_policy_refuses_the_anonymous_publisher(self):
        path = os.path.join(self.server.home, "policy.yaml")
        with open(path, "w") as f:
            f.write("{}\n")
        # A modification time of its own, however soon after the first
        # write: the server reads the file again when it changes.
        mtime = os.stat(path).st_mtime_ns + 10**9
        os.utime(path, ns=(mtime, mtime))
        # The server looks for policy file changes once a second: wait
        # until an anonymous post (of nothing) is refused.
        self.server.wait_until(
            lambda: self.server.request("POST", "/v2/events", []).status
            == 403, "the server kept the old policy")
        self.publisher().publish_events(ceilometer_events("refused", 1))
        self.assertEqual([], self.stored())


class CeilometerTest(CeilometerScenarios, backends.BackendTestCase):
    """What is checked is the publisher's exchange with the API server,
    the same on any backend: SQLite's is enough."""

    backend_name = "sqlite"

