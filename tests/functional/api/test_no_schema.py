"""A database whose tables were never created (``panko-like-dbsync``
not run): every endpoint that needs the storage answers 503 at once,
and the log names the command to run; nothing is retried as an outage.
"""

import time

from tests.functional import backends
from tests.functional.api_base import ADMIN_A, APITestCase

REFUSED = ("The storage refused the service's configuration; see the "
           "service log.")


class NoSchemaScenarios:
    auto_upgrade = False
    # A retry budget no request may spend: the error is final.
    conf_overrides = {("database", "max_retries"): 5,
                      ("database", "retry_interval"): 10}

    def test_every_endpoint_is_503_and_the_log_names_dbsync(self):
        body = [{"message_id": "n1", "event_type": "x.y",
                 "generated": "2026-01-01T12:00:00", "traits": [],
                 "raw": {}}]
        requests = [
            ("GET", "/v2/events", None),
            ("GET", "/v2/events/n1", None),
            ("GET", "/v2/event_types", None),
            ("GET", "/v2/event_types/x.y/traits", None),
            ("GET", "/v2/event_types/x.y/traits/flavor", None),
            ("POST", "/v2/events", body),
            ("DELETE", "/v2/events/n1", None),
        ]
        for method, path, json_body in requests:
            with self.subTest(method=method, path=path):
                started = time.monotonic()
                if json_body is None:
                    response = self.app.request(
                        path, method=method, headers=ADMIN_A, status="*")
                else:
                    response = self.app.post_json(
                        path, json_body, headers=ADMIN_A, status="*")
                self.assertLess(time.monotonic() - started, 5)
                self.assertEqual(503, response.status_int, response.body)
                self.assertEqual(
                    REFUSED, response.json["error_message"]["faultstring"])
                self.assertGreaterEqual(
                    int(response.headers["Retry-After"]), 1)
        self.app.get("/healthcheck", status=503)
        logged = [line for line in backends.LOGS.lines
                  if "panko-like-dbsync" in line]
        self.assertTrue(logged, backends.LOGS.lines)
        self.assertFalse([line for line in backends.LOGS.lines
                          if "reconnecting" in line])
        # Once the schema exists, the same app serves.
        self.conn.upgrade()
        self.assertEqual([], self.get("/v2/events").json)


globals().update(backends.make_test_cases(
    NoSchemaScenarios, base=APITestCase, names=backends.SQL_BACKENDS))
