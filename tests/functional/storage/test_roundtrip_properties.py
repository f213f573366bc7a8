"""Property test: any valid event stored reads back equal, on every
backend.

Events within the model's limits (see tests/strategies.py: edge 64-bit
integers, -0.0, datetimes of years 1 and 9999 to the microsecond, text
with astral characters, None values, a raw JSON payload) are stored and
read back by message_id, then deleted. SQLite runs the most examples;
the servers, each a round trip per query, a few.
"""

import json

from hypothesis import given

from panko_like import storage
from tests import strategies
from tests.functional import backends
from tests.unit import test_codec_properties

#: Examples per backend: SQLite always runs, and is the quickest.
EXAMPLES = {"sqlite": 60}
FEW = 12

@backends.requires("events:query:simple", "events:delete")
class RoundTripScenarios:
    def round_trip(self, event):
        only = storage.EventFilter(message_id=event.message_id)
        try:
            self.assertEqual([], self.conn.record_events([event]))
            found = list(self.conn.get_events(only))
        finally:
            self.conn.delete_events(only)
        self.assertEqual(1, len(found), [e.message_id for e in found])
        test_codec_properties.assert_same(self, event, found[0])
        # As the API writes it, too: no driver's type leaks through.
        self.assertEqual(
            test_codec_properties.sorted_traits(
                test_codec_properties.api_json(event)),
            test_codec_properties.sorted_traits(
                test_codec_properties.api_json(found[0])))
        self.assertEqual(json.dumps(event.raw, sort_keys=True),
                         json.dumps(found[0].raw, sort_keys=True))

    def test_any_valid_event_reads_back_equal(self):
        count = EXAMPLES.get(self.backend_name, FEW)

        @strategies.examples(count, deadline=None)
        @given(strategies.events())
        def check(event):
            self.round_trip(event)

        check()


globals().update(backends.make_test_cases(RoundTripScenarios))
