"""The console scripts, run as real subprocesses."""

import os
import subprocess
import sys

#: Where this interpreter's console scripts are installed.
BIN = os.path.dirname(sys.executable)


def run(command, *args, check=True, timeout=120):
    """Run console script ``command``; fail the test on a non-zero exit
    unless ``check`` is false. Returns the CompletedProcess (text)."""
    result = subprocess.run(
        [os.path.join(BIN, command), *args],
        capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} exited {result.returncode}:\n{result.stdout}\n"
            f"{result.stderr}"
        )
    return result
