"""The console scripts, run as real subprocesses."""

import os
import subprocess
import sys

#: Where this interpreter's console scripts are installed.
BIN = os.path.dirname(sys.executable)

#: Whether a process with its own HOME reads no configuration file at
#: all (oslo.config also looks in /etc).
NO_SYSTEM_CONFIG = not any(
    os.path.exists(path) for path in (
        "/etc/panko_like/panko_like.conf", "/etc/panko_like.conf",
        "/etc/panko_like/panko_like.conf.d",
        *(f"/etc/{name}.conf" for name in (
            "panko-like-api", "panko-like-dbsync", "panko-like-expirer")),
        *(f"/etc/panko_like/{name}.conf" for name in (
            "panko-like-api", "panko-like-dbsync", "panko-like-expirer")),
    )
)


def run(command, *args, check=True, timeout=120, home=None):
    """Run console script ``command``; fail the test on a non-zero exit
    unless ``check`` is false. Returns the CompletedProcess (text).

    With ``home``, the process runs there with HOME set to it, and none
    of the environment's OS_* or PANKO_LIKE_* settings, so that only
    the files it is given (or none) configure it.
    """
    env = cwd = None
    if home is not None:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("OS_", "PANKO_LIKE_"))}
        env["HOME"] = cwd = home
    result = subprocess.run(
        [os.path.join(BIN, command), *args],
        capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL, env=env, cwd=cwd,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{command} exited {result.returncode}:\n{result.stdout}\n"
            f"{result.stderr}"
        )
    return result
