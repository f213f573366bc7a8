"""``panko-like-export`` and ``panko-like-import``, run as real
processes: a round trip between two databases of each backend keeps
every event as it was, an import is idempotent, and a bad line is
reported with its number while the others are stored.
"""

import datetime
import json
import os
import shutil
import tempfile

from panko_like import storage
from tests.functional import backends, dataset
from tests.functional.scripts import run


@backends.requires("events:query:simple")
class TransferScenarios:
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="panko_like_transfer_")
        self.addCleanup(shutil.rmtree, self.dir)
        self.source = self.config("source", self.url)

    def config(self, name, url):
        path = os.path.join(self.dir, f"{name}.conf")
        with open(path, "w") as f:
            f.write(f"[database]\nconnection = {url}\nmax_retries = 0\n")
        return path

    def target(self):
        """A second, migrated database of the same backend: its config
        file and connection."""
        backend = backends.BACKENDS[self.backend_name]
        url = backend.create()
        self.addCleanup(backend.drop, url)
        conn = storage.get_connection(url, backends.make_conf(url))
        self.addCleanup(conn.close)
        conn.upgrade()
        return self.config("target", url), conn

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_round_trip_keeps_every_event_and_is_idempotent(self):
        events = dataset.panko_events()
        self.assertEqual([], self.conn.record_events(events))
        out = self.path("events.jsonl")
        result = run("panko-like-export", "--config-file", self.source,
                     "--output", out)
        self.assertIn(f"exported {len(events)} events", result.stderr)
        self.assertFalse(os.path.exists(out + ".partial"))
        with open(out, "rb") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(events), len(lines))
        generated = [json.loads(line)["generated"] for line in lines]
        self.assertEqual(sorted(generated), generated)

        config, target = self.target()
        result = run("panko-like-import", "--config-file", config, out)
        self.assertIn(f"imported {len(events)} events, 0 already stored, "
                      "0 refused", result.stderr)
        got = {e.message_id: dataset.normalized(e)
               for e in target.get_events(storage.EventFilter())}
        self.assertEqual({e.message_id: dataset.normalized(e)
                          for e in events}, got)
        # Again: nothing new, nothing refused, exit 0.
        result = run("panko-like-import", "--config-file", config, out,
                     "--batch-size", "7")
        self.assertIn(f"imported 0 events, {len(events)} already stored, "
                      "0 refused", result.stderr)

    def test_filters_select_as_the_storage_does(self):
        events = dataset.panko_events()
        self.assertEqual([], self.conn.record_events(events))
        project = next(t.value for e in events for t in e.traits
                       if t.name == "project_id" and t.value)
        middle = sorted(e.generated for e in events)[len(events) // 2]
        cases = [
            (["--event-type", "compute.instance.create.end"],
             storage.EventFilter(event_type="compute.instance.create.end")),
            (["--project-id", project], storage.EventFilter(
                traits_filter=[{"key": "project_id", "string": project}])),
            (["--since", middle.isoformat(), "--until",
              (middle + datetime.timedelta(days=30)).isoformat()],
             storage.EventFilter(
                 start_timestamp=middle,
                 end_timestamp=middle + datetime.timedelta(days=30))),
        ]
        for args, event_filter in cases:
            with self.subTest(args=args):
                result = run("panko-like-export", "--config-file",
                             self.source, *args)
                got = sorted(json.loads(line)["message_id"]
                             for line in result.stdout.splitlines())
                want = sorted(dataset.expected(events, event_filter))
                self.assertTrue(want)
                self.assertEqual(want, got)

    def test_bad_lines_are_reported_and_the_others_stored(self):
        good = {"message_id": "good-1", "event_type": "x.y",
                "generated": "2026-01-01T00:00:00.000001",
                "traits": [{"name": "n", "type": "integer", "value": "7"}],
                "raw": {"k": "ü"}}
        lines = [
            json.dumps(good),
            "not json at all",
            "",
            json.dumps({"message_id": "no-time", "event_type": "x.y"}),
            json.dumps(dict(good, message_id="bad-int", traits=[
                {"name": "n", "type": "integer", "value": "seven"}])),
            json.dumps([1, 2]),
            "\u00ff\u00fe",
            json.dumps(dict(good, message_id="good-2")),
            json.dumps(good),  # a repeat: already stored, not an error
        ]
        path = self.path("mixed.jsonl")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        result = run("panko-like-import", "--config-file", self.source,
                     path, check=False)
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertNotIn("Traceback", result.stderr)
        reported = [line.split(":", 1)[0]
                    for line in result.stderr.splitlines()
                    if line.startswith("line ")]
        self.assertEqual(["line 2", "line 4", "line 5", "line 6",
                          "line 7"], reported)
        self.assertIn("imported 2 events, 1 already stored, 5 refused",
                      result.stderr)
        self.assertEqual(
            ["good-1", "good-2"],
            sorted(e.message_id for e in self.conn.get_events(
                storage.EventFilter())))

    def test_mistakes_are_one_line(self):
        missing = self.path("no-such-dir/out.jsonl")
        cases = [
            (("panko-like-export", "--output", missing), "cannot write"),
            (("panko-like-export", "--since", "yesterday"),
             "--since yesterday"),
            (("panko-like-import", self.path("missing.jsonl")),
             "cannot read"),
            (("panko-like-import",), "give the file to import"),
        ]
        for (command, *args), words in cases:
            with self.subTest(command=command, args=args):
                result = run(command, "--config-file", self.source, *args,
                             check=False)
                self.assertNotEqual(0, result.returncode)
                self.assertNotIn("Traceback", result.stderr)
                self.assertEqual(1, len(result.stderr.strip().splitlines()),
                                 result.stderr)
                self.assertIn(words, result.stderr)
        self.assertFalse(os.path.exists(self.path("no-such-dir")))


globals().update(backends.make_test_cases(TransferScenarios))
