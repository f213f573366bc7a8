"""oslo.middleware healthcheck backend: is the storage answering?

The storage is asked in a thread of its own and waited for at most
``[api] healthcheck_timeout`` seconds, so that ``/healthcheck`` answers
in time, with a 503, when the storage hangs.
"""

import concurrent.futures
import os
import threading

from oslo_config import cfg
from oslo_log import log
from oslo_middleware.healthcheck import pluginbase

from panko_like import storage

LOG = log.getLogger(__name__)

OPTS = [
    cfg.FloatOpt(
        "healthcheck_timeout",
        default=0.5,
        min=0.05,
        max=60,
        help="Seconds GET /healthcheck waits for the storage to answer "
        "before it reports the storage unavailable (503). A check still "
        "running is waited for again by the next request, never "
        "started twice.",
    ),
]

#: Key of the app's StorageHolder in the healthcheck middleware's conf.
HOLDER_KEY = "panko_like_storage_holder"


def _storage_answers(holder):
    """Ask the storage whether it can serve (see base.Connection.health);
    raise if it cannot."""
    holder.get().health()


class _Bounded:
    """Runs a check in a thread of this process, one at a time."""

    def __init__(self):
        self._lock = threading.Lock()
        self._pid = None
        self._executor = None
        self._future = None

    def run(self, check, timeout):
        """The check's result; TimeoutError after ``timeout`` seconds."""
        with self._lock:
            if self._pid != os.getpid():  # a forked worker: new thread
                self._pid = os.getpid()
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    1, thread_name_prefix="healthcheck")
                self._future = None
            if self._future is None or self._future.done():
                self._future = self._executor.submit(check)
            future = self._future
        return future.result(timeout)


class StorageCheck(pluginbase.HealthcheckBaseExtension):
    """Healthy while the storage driver answers a small query in time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._bounded = _Bounded()

    def healthcheck(self, server_port):
        holder = self.conf.get(HOLDER_KEY)
        if holder is None:
            return pluginbase.HealthcheckResult(
                available=True, reason="storage check not configured"
            )
        timeout = holder.conf.api.healthcheck_timeout
        try:
            self._bounded.run(lambda: _storage_answers(holder), timeout)
        except storage.StorageResourceError as exc:
            LOG.warning("Healthcheck: storage cannot write: %s", exc)
            return pluginbase.HealthcheckResult(
                available=False, reason="storage out of resources"
            )
        except concurrent.futures.TimeoutError:
            LOG.warning("Healthcheck: the storage did not answer within "
                        "%s s", timeout)
            return pluginbase.HealthcheckResult(
                available=False, reason="storage unavailable"
            )
        except Exception as exc:  # noqa: BLE001 - any failure is unhealthy
            LOG.warning("Healthcheck: storage unavailable: %s", exc)
            return pluginbase.HealthcheckResult(
                available=False, reason="storage unavailable"
            )
        return pluginbase.HealthcheckResult(available=True, reason="OK")
