"""The JSON array encoder of streamed answers."""

import json

import testtools

from panko_like.api import streaming


class TestBuffers(testtools.TestCase):
    def pairs(self, items, size):
        pieces = streaming._pieces(items, streaming.encode_json)
        return list(streaming._buffers(pieces, size))

    def test_joined_buffers_are_the_json_array(self):
        for count in (0, 1, 2, 7, 50):
            items = [{"n": n, "text": "é" * n} for n in range(count)]
            for size in (1, 10, 100, 10_000):
                pairs = self.pairs(items, size)
                body = b"".join(data for data, _ in pairs)
                self.assertEqual(items, json.loads(body))
                self.assertEqual([False] * (len(pairs) - 1) + [True],
                                 [last for _, last in pairs])
                # Every buffer but the last is full.
                for data, _last in pairs[:-1]:
                    self.assertGreaterEqual(len(data), size)

    def test_small_answer_is_one_buffer(self):
        self.assertEqual([(b"[]", True)], self.pairs([], 10))
        self.assertEqual([(b'[{"a":1},{"a":2}]', True)],
                         self.pairs([{"a": 1}, {"a": 2}], 1000))

    def test_response_kinds(self):
        whole = streaming.json_list(iter([1, 2]), streaming.encode_json)
        self.assertEqual(b"[1,2]", whole.body)
        self.assertEqual(5, whole.content_length)
        # Several buffers, under the whole-answer limit: still whole.
        items = ["x" * 1000] * (3 * streaming.BUFFER_SIZE // 1000)
        page = streaming.json_list(iter(items), streaming.encode_json)
        self.assertGreater(page.content_length, 2 * streaming.BUFFER_SIZE)
        self.assertEqual(items, json.loads(page.body))
        items = ["x" * 1000] * (streaming.WHOLE_ANSWER_SIZE // 500)
        streamed = streaming.json_list(iter(items), streaming.encode_json)
        self.assertIsNone(streamed.content_length)
        pieces = list(streamed.app_iter)
        self.assertLess(max(map(len, pieces)), 2 * streaming.BUFFER_SIZE)
        self.assertEqual(items, json.loads(b"".join(pieces)))

    def test_first_read_error_is_raised_at_once(self):
        def failing():
            raise LookupError("storage said no")
            yield

        self.assertRaises(LookupError, streaming.json_list, failing(),
                          streaming.encode_json)


class EncodeJsonTest(testtools.TestCase):
    def test_integers_beyond_64_bits_are_kept(self):
        # orjson refuses them; a raw payload may hold one.
        value = {"raw": {"n": 2**70, "m": -(2**65)}, "t": "ü"}
        self.assertEqual(value, json.loads(streaming.encode_json(value)))

    def test_text_and_floats_are_exact(self):
        value = [0.30000000000000004, 1e-300, 2**63 - 1, "\u2028 🚀", None]
        self.assertEqual(value, json.loads(streaming.encode_json(value)))

    def test_nan_from_an_adopted_payload_is_null(self):
        # Panko may have stored NaN inside a raw payload; the answer
        # stays valid JSON.
        self.assertEqual(b'{"x":null}',
                         streaming.encode_json({"x": float("nan")}))
