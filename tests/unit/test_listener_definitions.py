"""Event definitions in Ceilometer's format: Ceilometer's own shipped
file read by panko_like gives the traits Ceilometer's converter gives,
and a file that cannot be used is refused with what is wrong and where.
"""

import datetime
import os
import tempfile
import unittest

import yaml
from stevedore import extension

from panko_like.listener import definitions
from panko_like.storage import models
from tests.functional.interop.test_ceilometer import (
    ceilometer_conf,
    importing_ceilometer,
)

STAMP = "2026-11-30 10:15:00.123456"


def notification(event_type, payload, publisher_id="compute.host-1",
                 ctxt=None, message_id="m-1"):
    return {"event_type": event_type, "payload": payload,
            "publisher_id": publisher_id,
            "ctxt": ctxt if ctxt is not None else {
                "request_id": "req-9", "project_id": "p-ctx",
                "user_id": "u-ctx"},
            "metadata": {"message_id": message_id, "timestamp": STAMP}}


#: Notifications as the services send them, touching what Ceilometer's
#: definitions read: quoted keys, filters, list indexes, split(), types.
SAMPLES = [
    notification("compute.instance.create.end", {
        "tenant_id": "p-1", "user_id": "u-1", "instance_id": "i-1",
        "display_name": "vm ü", "cell_name": "", "memory_mb": 2048,
        "disk_gb": "20", "root_gb": 20, "ephemeral_gb": 0, "vcpus": 2,
        "instance_type": "m1.small", "state": "active",
        "image_meta": {"org.openstack__1__architecture": "x86_64",
                       "org.openstack__1__os_distro": "debian"},
        "launched_at": "2026-11-30T10:14:59.000001+00:00",
        "deleted_at": "", "availability_zone": "nova"},
        publisher_id="compute.host-7.example"),
    notification("compute.instance.exists", {
        "tenant_id": "p-2", "instance_id": "i-2", "audit_period_beginning":
        "2026-11-30T00:00:00", "audit_period_ending": "2026-11-30T01:00:00",
        "memory_mb": "512"}),
    notification("volume.create.end", {
        "tenant_id": "p-3", "user_id": "u-3", "volume_id": "v-1",
        "size": 10, "status": "available",
        "created_at": "2026-11-30 10:00:00",
        "glance_metadata": [{"key": "image_id", "value": "img-1"},
                            {"key": "other", "value": "x"}],
        "volume_attachment": [{"server_id": "i-1"}]},
        publisher_id="volume.host-2"),
    notification("image.upload", {
        "id": "img-2", "owner": "p-4", "size": 123456, "status": "active",
        "name": "cirros", "created_at": "2026-11-30T09:00:00Z"},
        publisher_id="image.localhost"),
    notification("identity.authenticate", {
        "typeURI": "http://schemas.dmtf.org/cloud/audit/1.0/event",
        "outcome": "success", "action": "authenticate",
        "eventType": "activity", "id": "a-1",
        "initiator": {"id": "u-5", "typeURI": "service/security/account/user",
                      "host": {"address": "10.0.0.1", "agent": "curl"}},
        "target": {"id": "t-1", "typeURI": "service/security/account/user"},
        "observer": {"id": "o-1", "typeURI": "service/security"}},
        publisher_id="identity.host-3"),
    notification("network.create.end", {
        "network": {"id": "n-1", "name": "net", "tenant_id": "p-6"}},
        publisher_id="network.host-4"),
    notification("unknown.thing.happened", {"tenant_id": "p-7"},
                 ctxt={}),
]


def ceilometer_traits(converter, body):
    event = converter.to_event("info", body)
    return sorted((t.name, t.dtype, t.value) for t in event.traits)


class TestCeilometerDefinitions(unittest.TestCase):
    """The shipped file of the installed Ceilometer, read both ways."""

    @classmethod
    def setUpClass(cls):
        with importing_ceilometer():
            import ceilometer
            from ceilometer.event import converter

        cls.path = os.path.join(os.path.dirname(ceilometer.__file__),
                                "pipeline", "data", "event_definitions.yaml")
        with open(cls.path) as f:
            items = yaml.safe_load(f)
        plugins = extension.ExtensionManager("ceilometer.event.trait_plugin")
        cls.theirs = converter.NotificationEventsConverter(
            ceilometer_conf(), items, plugins)
        cls.ours = definitions.load(cls.path)

    def test_same_traits_as_ceilometer(self):
        for body in SAMPLES:
            with self.subTest(event_type=body["event_type"]):
                event = self.ours.event("info", dict(body))
                ours = sorted((t.name, t.dtype, t.value)
                              for t in event.traits)
                self.assertTrue(ours)
                self.assertEqual(ceilometer_traits(self.theirs, body), ours)
                self.assertEqual(("m-1", body["event_type"]),
                                 (event.message_id, event.event_type))
                self.assertEqual(
                    datetime.datetime(2026, 11, 30, 10, 15, 0, 123456),
                    event.generated)

    def test_the_sample_traits_read_what_the_payload_holds(self):
        # Not only equal to Ceilometer's: right.
        created = {t.name: t.value for t in self.ours.event(
            "info", SAMPLES[0]).traits}
        self.assertEqual("x86_64", created["os_architecture"])
        self.assertEqual("host-7.example", created["host"])
        self.assertEqual(2048, created["memory_mb"])
        self.assertEqual(20, created["disk_gb"])
        self.assertNotIn("deleted_at", created)
        volume = {t.name: t.value for t in self.ours.event(
            "info", SAMPLES[2]).traits}
        self.assertEqual(("img-1", "i-1"),
                         (volume["image_id"], volume["instance_id"]))


class TestConverter(unittest.TestCase):
    def converter(self, items, **kwargs):
        return definitions.Converter(items, **kwargs)

    def test_last_definition_wins_and_exclusions_apply(self):
        conv = self.converter([
            {"event_type": "a.*", "traits": {"first": "payload.x"}},
            {"event_type": ["a.b", "!a.b.c"],
             "traits": {"second": "payload.x"}},
            {"event_type": "!a.*", "traits": {"other": "payload.x"}},
        ])
        def names(event_type):
            event = conv.event("info", notification(event_type, {"x": 1}))
            return {t.name for t in event.traits} - set(
                definitions.DEFAULT_TRAITS)
        self.assertEqual({"second"}, names("a.b"))
        self.assertEqual({"first"}, names("a.b.c"))
        self.assertEqual({"other"}, names("z.z"))

    def test_unmatched_kept_with_default_traits_or_dropped(self):
        items = [{"event_type": "a.b", "traits": {}}]
        kept = self.converter(items).event(
            "info", notification("c.d", {"user_id": "u"}))
        self.assertEqual(
            {"service": "compute.host-1", "request_id": "req-9",
             "project_id": "p-ctx", "tenant_id": "p-ctx", "user_id": "u"},
            {t.name: t.value for t in kept.traits})
        self.assertIsNone(self.converter(items, drop_unmatched=True).event(
            "info", notification("c.d", {})))

    def test_raw_kept_for_the_priorities_asked(self):
        conv = self.converter(None, raw_priorities=["ERROR"])
        body = notification("a.b", {"k": [1, 2]})
        self.assertEqual({}, conv.event("info", dict(body)).raw)
        raw = conv.event("error", dict(body)).raw
        self.assertEqual(({"k": [1, 2]}, "error"),
                         (raw["payload"], raw["priority"]))

    def test_values_that_do_not_fit_leave_their_trait_out(self):
        conv = self.converter([{"event_type": "*", "traits": {
            "i": {"type": "int", "fields": "payload.i"},
            "f": {"type": "float", "fields": "payload.f"},
            "d": {"type": "datetime", "fields": "payload.d"},
            "t": {"fields": ["payload.missing", "payload.t"]},
        }}])
        cases = [
            ({"i": "2.0", "f": "1e3", "d": "2026-01-01T00:00:00+02:00",
              "t": 7},
             {"i": 2, "f": 1000.0, "t": "7",
              "d": datetime.datetime(2025, 12, 31, 22, 0)}),
            ({"i": "2.5", "f": "many", "d": "noon", "t": None}, {}),
            ({"i": "", "f": "", "d": "", "t": ""}, {"t": ""}),
            ({"i": True, "f": 2, "d": 5, "t": [1, {"a": None}]},
             {"i": 1, "f": 2.0, "t": '[1,{"a":null}]'}),
            # What the storage would refuse leaves the trait out too.
            ({"i": "99999999999999999999999", "t": "x" * 5000,
              "f": "nan"}, {}),
            ({"t": "a\x00b", "i": "12345678901234"},
             {"i": 12345678901234}),
        ]
        for payload, want in cases:
            with self.subTest(payload=payload):
                event = conv.event("info", notification("x", payload))
                got = {t.name: t.value for t in event.traits
                       if t.name in ("i", "f", "d", "t")}
                self.assertEqual(want, got)

    def test_a_path_jsonpath_cannot_read_finds_nothing(self):
        # A filter over a number raises inside jsonpath: that trait is
        # left out, never the notification (it would be requeued for
        # ever).
        conv = self.converter([{"event_type": "*", "traits": {
            "h": {"fields": ["payload.n[?k>1]", "payload.k"]},
            "ok": "payload.k"}}])
        event = conv.event("info", notification("a.b", {"n": 5, "k": "v"}))
        traits = {t.name: t.value for t in event.traits}
        self.assertEqual(("v", "v"), (traits["h"], traits["ok"]))

    def test_a_notification_that_cannot_be_an_event(self):
        conv = self.converter(None)
        good = notification("a.b", {})
        cases = [
            (dict(good, event_type=None), "no event_type"),
            (dict(good, event_type=""), "no event_type"),
            (dict(good, metadata={"timestamp": STAMP}), "no message_id"),
            (dict(good, metadata={"message_id": 5, "timestamp": STAMP}),
             "no message_id"),
            (dict(good, metadata={"message_id": "m", "timestamp": "soon"}),
             "not an ISO 8601 datetime"),
            (dict(good, metadata={"message_id": "m"}), "not a datetime"),
            (dict(good, metadata=None), "no message_id"),
        ]
        for body, words in cases:
            with self.subTest(body=body):
                with self.assertRaises(ValueError) as raised:
                    conv.event("info", body)
                self.assertIn(words, str(raised.exception))

    def test_a_context_object_is_read_as_its_dict(self):
        class Context:
            def to_dict(self):
                return {"user": "u-obj", "project_id": "p-obj"}

        event = self.converter(None).event(
            "info", notification("a.b", "text payload", ctxt=Context()))
        traits = {t.name: t.value for t in event.traits}
        self.assertEqual(("u-obj", "p-obj"),
                         (traits["user_id"], traits["project_id"]))
        self.assertEqual(models.TEXT_TYPE, event.traits[0].dtype)


class TestBadDefinitions(unittest.TestCase):
    def load(self, text):
        with tempfile.NamedTemporaryFile(
                "w", suffix=".yaml", delete=False) as f:
            f.write(text)
        self.addCleanup(os.unlink, f.name)
        return definitions.load(f.name)

    def test_refused_with_what_and_where(self):
        cases = [
            ("- event_type: [a\n", "are not YAML"),
            ("event_type: a\n", "a list of definitions is expected"),
            ("- 5\n", "definition 1: a definition is a mapping"),
            ("- event_type: a\n", "missing: traits"),
            ("- event_type: a\n  traits: {}\n  extra: 1\n", "unknown: extra"),
            ("- event_type: []\n  traits: {}\n", "event_type is a pattern"),
            ("- event_type: a\n  traits: [x]\n", "traits is a mapping"),
            ("- event_type: a\n  traits: {}\n- event_type: b\n  traits:\n"
             "    x: {fields: payload.x, type: bool}\n",
             "definition 2: trait 'x' has type 'bool'"),
            ("- event_type: a\n  traits:\n    x:\n      fields: p.x\n"
             "      plugin: split\n", "uses a plugin"),
            ("- event_type: a\n  traits:\n    x: {type: int}\n",
             "trait 'x' needs fields"),
            ("- event_type: a\n  traits:\n    x: {fields: 'payload.[[['}\n",
             "cannot read the JSONPath"),
            ("- event_type: a\n  traits:\n    x: {fields: p, size: 1}\n",
             "trait 'x' has unknown keys size"),
            ("- event_type: a\n  traits:\n    x: 5\n",
             "trait 'x' must be a mapping"),
            (f"- event_type: a\n  traits:\n    {'n' * 300}: p.x\n",
             "trait name longer than"),
        ]
        for text, words in cases:
            with self.subTest(text=text):
                with self.assertRaises(definitions.DefinitionError) as raised:
                    self.load(text)
                self.assertIn(words, str(raised.exception))
                self.assertEqual(1, len(str(raised.exception).splitlines()))

    def test_unreadable_file(self):
        with self.assertRaises(definitions.DefinitionError) as raised:
            definitions.load("/nonexistent/definitions.yaml")
        self.assertIn("cannot read the event definitions",
                      str(raised.exception))
        with self.assertRaises(definitions.DefinitionError) as raised:
            self.load_bytes(b"- event_type: \xff\xfe\n")
        self.assertIn("are not YAML", str(raised.exception))

    def load_bytes(self, data):
        with tempfile.NamedTemporaryFile(suffix=".yaml", delete=False) as f:
            f.write(data)
        self.addCleanup(os.unlink, f.name)
        return definitions.load(f.name)

    def test_empty_file_is_no_definitions(self):
        converter = self.load("")
        event = converter.event("info", notification("a.b", {}))
        self.assertEqual({"service", "request_id", "project_id", "tenant_id",
                          "user_id"}, {t.name for t in event.traits})
