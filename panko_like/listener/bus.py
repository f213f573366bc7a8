"""oslo.messaging, as the listener runs it: on threads.

oslo.messaging's server loads oslo.service, whose default backend is
eventlet (deprecated, and no part of panko_like runs on it); the
threading backend is chosen before oslo.messaging is imported. futurist
still imports eventlet where it is installed, which warns on import:
that warning is silenced.
"""

import warnings

warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated")

from oslo_service import backend  # noqa: E402 - after the filter

if backend.get_backend_type() is None:
    backend.init_backend(backend.BackendType.THREADING)

import oslo_messaging  # noqa: E402 - after the backend is chosen

__all__ = ["oslo_messaging"]
