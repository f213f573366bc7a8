"""oslo.middleware healthcheck backend: is the storage answering?"""

from oslo_log import log
from oslo_middleware.healthcheck import pluginbase

from panko_like import storage

LOG = log.getLogger(__name__)

#: Key of the app's StorageHolder in the healthcheck middleware's conf.
HOLDER_KEY = "panko_like_storage_holder"


class StorageCheck(pluginbase.HealthcheckBaseExtension):
    """Healthy while the storage driver answers a small query."""

    def healthcheck(self, server_port):
        holder = self.conf.get(HOLDER_KEY)
        if holder is None:
            return pluginbase.HealthcheckResult(
                available=True, reason="storage check not configured"
            )
        try:
            holder.get().health()
        except storage.StorageResourceError as exc:
            LOG.warning("Healthcheck: storage cannot write: %s", exc)
            return pluginbase.HealthcheckResult(
                available=False, reason="storage out of resources"
            )
        except Exception as exc:  # noqa: BLE001 - any failure is unhealthy
            LOG.warning("Healthcheck: storage unavailable: %s", exc)
            return pluginbase.HealthcheckResult(
                available=False, reason="storage unavailable"
            )
        return pluginbase.HealthcheckResult(available=True, reason="OK")
