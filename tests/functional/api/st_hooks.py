"""Schemathesis hooks of the functional tests (loaded by ``st run``
through SCHEMATHESIS_HOOKS): a check that no answer holds an event of
another project, whose message ids PANKO_LIKE_FOREIGN_IDS lists."""

import os

import schemathesis

FOREIGN = [m for m in os.environ.get("PANKO_LIKE_FOREIGN_IDS", "").split(",")
           if m]


@schemathesis.check
def no_foreign_event(ctx, response, case):
    text = response.text or ""
    for message_id in FOREIGN:
        if f'"{message_id}"' in text:
            raise AssertionError(
                f"the answer holds {message_id}, an event of another "
                "project")
