"""Long listings stream; errors found before the first byte stay errors."""

import datetime
import json
from unittest import mock

import webob

from panko_like.api import streaming
from tests.functional import api_base, backends

#: Enough ~5 KB events to exceed the whole-answer limit.
COUNT = 300
#: The raw payload's padding of each event.
PADDING = "x" * 5000


def many_events():
    second = datetime.timedelta(seconds=1)
    return [
        api_base.event(
            f"ev-{index:04d}",
            api_base.owned("proj-a", "u-a1")
            + [api_base.trait("index", index, 2)],
            generated=api_base.T0 + index * second,
            raw={"index": index, "payload": PADDING},
        )
        for index in range(COUNT)
    ]


@backends.requires("events:query:simple")
class StreamingScenarios:
    def raw_get(self, path, headers=api_base.ADMIN_A):
        """Headers and the body's pieces, as the WSGI server gets them."""
        request = webob.Request.blank(path, headers=headers)
        status, headerlist, app_iter = request.call_application(
            self.app.app)
        self.assertEqual("200 OK", status)
        try:
            pieces = list(app_iter)
        finally:
            getattr(app_iter, "close", lambda: None)()
        return {k.lower(): v for k, v in headerlist}, pieces

    def test_long_listing_streams_in_order(self):
        self.load(many_events())
        headers, pieces = self.raw_get(f"/v2/events?limit={COUNT + 10}")
        # No length announced: the body was not built before sending;
        # it came in buffers.
        self.assertNotIn("content-length", headers)
        self.assertEqual("application/json", headers["content-type"])
        self.assertGreater(len(pieces), 3)
        self.assertLess(max(len(p) for p in pieces),
                        2 * streaming.BUFFER_SIZE)
        body = b"".join(pieces)
        self.assertGreater(len(body), streaming.WHOLE_ANSWER_SIZE)
        events = json.loads(body)
        self.assertEqual([f"ev-{i:04d}" for i in range(COUNT)],
                         [e["message_id"] for e in events])
        self.assertEqual({"index": 7, "payload": PADDING},
                         events[7]["raw"])
        self.assertIn({"name": "index", "type": "integer", "value": "7"},
                      events[7]["traits"])

    def test_member_stream_holds_own_project_only(self):
        self.load(many_events() + api_base.fixture_events())
        ids = self.ids(f"/v2/events?limit={COUNT + 10}",
                       headers=api_base.USER_B)
        self.assertEqual(["b1"], ids)
        ids = self.ids(f"/v2/events?limit={COUNT + 10}",
                       headers=api_base.USER_A1)
        # A member sees their own events: none of u-a2's nor proj-b's.
        self.assertEqual(COUNT + 1, len(ids))
        self.assertEqual("a1", ids[0])

    def test_short_listing_has_length(self):
        self.load()
        headers, pieces = self.raw_get("/v2/events?limit=2")
        self.assertEqual([str(len(pieces[0]))], [headers["content-length"]])
        self.assertEqual(["a1", "a2"],
                         [e["message_id"] for e in json.loads(pieces[0])])
        empty = self.get("/v2/events?q.field=event_type&q.op=eq"
                         "&q.value=nothing")
        self.assertEqual(b"[]", empty.body)

    def test_unknown_marker_is_400_before_streaming(self):
        self.load(many_events())
        self.assertError(
            self.get("/v2/events?marker=nope", status=400), 400,
            "Marker nope not found.")

    def test_storage_failure_on_first_read_is_a_json_error(self):
        # Found before the first byte is sent: still a JSON error. (A
        # real database failing so: sql/test_storage.)
        self.load()

        def failing(conn, event_filter, pagination=None):
            raise RuntimeError("the storage failed on its first read")
            yield

        with mock.patch.object(type(self.conn), "get_events", failing):
            self.assertError(
                self.get("/v2/events", status=500), 500, faultcode="Server")


globals().update(backends.make_test_cases(
    StreamingScenarios, base=api_base.APITestCase))
