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


class CommandFiles:
    """A directory of the test's files, and the source's config file."""

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


@backends.requires("events:query:simple")
class TransferScenarios(CommandFiles):
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


#: The backend each source backend is migrated to in the tests.
TARGET_OF = {"sqlite": "postgresql", "postgresql": "mysql",
             "mysql": "mongodb", "mongodb": "postgresql"}


@backends.requires("events:query:simple")
class MigrateScenarios(CommandFiles):
    def target_url(self):
        backend = backends.BACKENDS[TARGET_OF[self.backend_name]]
        reason = backend.unavailable()
        if reason:
            self.fail(f"target backend unavailable: {reason}")
        url = backend.create()
        self.addCleanup(backend.drop, url)
        return url

    def migrate(self, target, *args, check=True):
        return run("panko-like-migrate", "--config-file", self.source,
                   "--from", self.url, "--to", target, *args, check=check)

    def stored(self, url):
        conn = storage.get_connection(url, backends.make_conf(url))
        self.addCleanup(conn.close)
        return {e.message_id: dataset.normalized(e)
                for e in conn.get_events(storage.EventFilter())}

    def test_copies_verifies_and_runs_again(self):
        events = dataset.panko_events()
        self.assertEqual([], self.conn.record_events(events))
        target = self.target_url()
        result = self.migrate(target, "--batch-size", "64")
        self.assertIn(f"copied {len(events)} events, 0 already",
                      result.stderr)
        self.assertIn("verified: every one of", result.stderr)
        self.assertEqual({e.message_id: dataset.normalized(e)
                          for e in events}, self.stored(target))
        result = self.migrate(target)
        self.assertIn(f"copied 0 events, {len(events)} already",
                      result.stderr)

    def test_resumes_after_the_event_its_state_file_names(self):
        events = dataset.panko_events()
        self.assertEqual([], self.conn.record_events(events))
        order = list(self.conn.get_events(
            storage.EventFilter(),
            storage.Pagination(sort=[("generated", "asc"),
                                     ("message_id", "asc")])))
        target = self.target_url()
        # An interrupted run committed the first 120 events and noted
        # the last of them.
        conn = storage.get_connection(target, backends.make_conf(target))
        self.addCleanup(conn.close)
        conn.upgrade()
        self.assertEqual([], conn.record_events(order[:120]))
        state = self.path("migrate.state")
        with open(state, "w") as f:
            json.dump({"after": order[119].message_id}, f)
        result = self.migrate(target, "--state-file", state)
        self.assertIn(f"copied {len(events) - 120} events, 0 already",
                      result.stderr)
        self.assertIn("verified", result.stderr)
        self.assertFalse(os.path.exists(state))
        self.assertEqual(len(events), len(self.stored(target)))

    def test_a_short_target_fails_verification(self):
        # A state file from another migration: what comes before its
        # event is never copied, and the counts say so.
        events = dataset.panko_events()
        self.assertEqual([], self.conn.record_events(events))
        middle = sorted(events, key=lambda e: (e.generated,
                                               e.message_id))[100]
        state = self.path("other.state")
        with open(state, "w") as f:
            json.dump({"after": middle.message_id}, f)
        result = self.migrate(self.target_url(), "--state-file", state,
                              check=False)
        self.assertEqual(1, result.returncode, result.stderr)
        self.assertIn("verification failed", result.stderr)
        self.assertTrue(os.path.exists(state))

    def test_migrate_mistakes_are_one_line(self):
        bad_state = self.path("bad.state")
        with open(bad_state, "w") as f:
            f.write("{not json")
        number_state = self.path("number.state")
        with open(number_state, "w") as f:
            f.write('{"after": 5}')
        # An event to copy, so that a state is written.
        self.assertEqual([], self.conn.record_events(
            dataset.panko_events()[:1]))
        closed = "postgresql+psycopg://postgres@127.0.0.1:1/none"
        cases = [
            (("--to", self.url), "value required for option from"),
            (("--from", self.url, "--to", closed),
             "cannot connect to the target storage"),
            (("--from", self.url, "--to", self.url, "--state-file",
              bad_state), "cannot read the state file"),
            (("--from", self.url, "--to", self.url, "--state-file",
              number_state), "is not a message_id"),
            (("--from", self.url, "--to", self.url, "--state-file",
              self.path("no-such-dir/state")),
             "cannot write the state file"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                result = run("panko-like-migrate", "--config-file",
                             self.source, *args, check=False)
                self.assertNotEqual(0, result.returncode)
                self.assertNotIn("Traceback", result.stderr)
                self.assertEqual(1, len(result.stderr.strip().splitlines()),
                                 result.stderr)
                self.assertIn(words, result.stderr)


globals().update(backends.make_test_cases(MigrateScenarios))
