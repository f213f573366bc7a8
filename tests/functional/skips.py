"""Fail on a skip that no declared capability explains.

Reads a subunit v2 stream (``stestr last --subunit``) on stdin, prints
each skipped test whose reason :func:`backends.explains` does not
accept, and exits 1 if there is one. ``.ci/run`` runs it after the
suite: a backend URL left unset, a missing tool or a driver that
declares a capability it lost must not pass as a green run.
"""

import sys

import subunit
import testtools

from tests.functional import backends


def skips(stream) -> list[tuple[str, str]]:
    """``(test id, reason)`` of each test skipped in the subunit
    ``stream`` (bytes)."""
    found = []

    def on_test(test):
        if test["status"] == "skip":
            reason = test["details"].get("reason")
            found.append((test["id"], reason.as_text() if reason else ""))

    result = testtools.StreamToDict(on_test)
    result.startTestRun()
    try:
        subunit.ByteStreamToStreamResult(
            stream, non_subunit_name="stdout").run(result)
    finally:
        result.stopTestRun()
    return found


def main(stream=None, out=None) -> int:
    stream = stream or sys.stdin.buffer
    out = out or sys.stdout
    found = skips(stream)
    unexplained = [(test_id, reason) for test_id, reason in found
                   if not backends.explains(reason)]
    for test_id, reason in unexplained:
        print(f"unexplained skip: {test_id}: {reason or '(no reason)'}",
              file=out)
    print(f"{len(found)} skipped, {len(unexplained)} of them not explained "
          "by a capability the driver declares false", file=out)
    return 1 if unexplained else 0


if __name__ == "__main__":
    sys.exit(main())
