"""The API's configurable limits: each is answered with a 4xx that names
it, an event over a limit is refused alone (the others of its batch are
stored), and a limit above max_limit is lowered and said so."""

import json

from tests.functional import backends
from tests.functional.api.test_hardening import api_event
from tests.functional.api_base import ADMIN_A, APITestCase


def text_trait(name, value):
    return {"name": name, "type": "string", "value": value}


class LimitScenarios:
    overrides = {
        ("api", "max_traits_per_event"): 5,
        ("api", "max_trait_name_length"): 20,
        ("api", "max_text_length"): 50,
        ("api", "max_raw_size"): 100,
        ("api", "max_query_filters"): 3,
        ("api", "max_limit"): 2,
    }

    def post(self, events, status):
        return self.app.post_json("/v2/events", events, headers=ADMIN_A,
                                  status=status)

    def test_events_over_a_limit_are_refused_alone(self):
        cases = {
            # With project_id, which api_event adds: 6 traits.
            "many-traits": ([text_trait(f"t{i}", "v") for i in range(5)],
                            None, "6 traits; at most 5 ([api] "
                            "max_traits_per_event)"),
            "long-name": ([text_trait("n" * 21, "v")], None,
                          "longer than 20 characters ([api] "
                          "max_trait_name_length)"),
            "long-text": ([text_trait("t", "x" * 51)], None,
                          "text value longer than 50 characters ([api] "
                          "max_text_length)"),
            "big-raw": ([], {"k": "x" * 100},
                        "raw payload of 108 bytes; at most 100 ([api] "
                        "max_raw_size)"),
        }
        batch = [api_event("ok-1")]
        for message_id, (traits, raw, _) in cases.items():
            batch.append(api_event(message_id, raw=raw, traits=traits))
        batch.append(api_event("ok-2", raw={"k": "x" * 80},
                               traits=[text_trait("t" * 20, "y" * 50)]))
        answer = self.post(batch, 400).json
        self.assertEqual(2, answer["stored"])
        reasons = {r["message_id"]: (r["problem"], r["reason"])
                   for r in answer["rejected"]}
        self.assertEqual(set(cases), set(reasons))
        for message_id, (_, _, reason) in cases.items():
            problem, got = reasons[message_id]
            self.assertEqual("too_large", problem)
            self.assertTrue(got.endswith(reason), got)
        stored = self.app.get("/v2/events?q.field=all_tenants"
                              "&q.value=True&limit=2",
                              headers=ADMIN_A).json
        self.assertEqual(["ok-1", "ok-2"],
                         sorted(e["message_id"] for e in stored))

    def test_at_each_limit_is_accepted(self):
        self.post([api_event("edge", raw={"k": "x" * 90}, traits=[
            text_trait("n" * 20, "x" * 50),
            *(text_trait(f"t{i}", "v") for i in range(3))])], 201)

    def test_too_many_filters_is_400(self):
        four = "&".join(f"q.field=f{i}&q.value=v" for i in range(4))
        answer = self.app.get(f"/v2/events?{four}", headers=ADMIN_A,
                              status=400).json
        self.assertIn("4 filters; at most 3 are accepted ([api] "
                      "max_query_filters)",
                      answer["error_message"]["faultstring"])
        # Given in the body (as pankoclient sends them), the same.
        body = {"q": [{"field": f"f{i}", "value": "v"} for i in range(4)]}
        answer = self.app.request(
            "/v2/events", method="GET", headers=ADMIN_A,
            body=json.dumps(body).encode(),
            content_type="application/json", status=400).json
        self.assertIn("4 filters", answer["error_message"]["faultstring"])
        three = "&".join(f"q.field=f{i}&q.value=v" for i in range(3))
        self.assertEqual([], self.app.get(f"/v2/events?{three}",
                                          headers=ADMIN_A).json)

    def test_limit_above_max_limit_is_lowered_and_said(self):
        self.post([api_event(f"e{i}") for i in range(3)], 201)
        lowered = self.app.get("/v2/events?limit=50", headers=ADMIN_A)
        self.assertEqual(2, len(lowered.json))
        self.assertEqual("2", lowered.headers["X-Limit-Lowered-To"])
        for query in ("?limit=2", "?limit=1", ""):
            with self.subTest(query=query):
                answer = self.app.get(f"/v2/events{query}",
                                      headers=ADMIN_A)
                self.assertNotIn("X-Limit-Lowered-To", answer.headers)


    def test_multipart_bodies_are_415(self):
        # A lower layer would parse them as forms, failing (500) on one
        # without a boundary.
        for method, path in (("POST", "/v2/events"),
                             ("DELETE", "/v2/events/e1"),
                             ("GET", "/v2/events")):
            for kind in ("multipart/form-data",
                         "multipart/form-data; boundary=x"):
                with self.subTest(method=method, kind=kind):
                    answer = self.app.request(
                        path, method=method, headers=ADMIN_A,
                        body=b"--x\r\n", content_type=kind, status=415)
                    self.assertIn("send JSON", answer.json[
                        "error_message"]["faultstring"])


globals().update(backends.make_test_cases(
    LimitScenarios, base=APITestCase, names=("sqlite", "postgresql")))
