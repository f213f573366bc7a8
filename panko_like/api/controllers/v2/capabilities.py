"""``/v2/capabilities``: what the storage driver can do, flattened."""

from panko_like.storage import base


def get(request, response):
    conn = request.storage_holder.get()
    return {
        "api": base.flatten(conn.get_capabilities()),
        "event_storage": base.flatten(conn.get_storage_capabilities()),
    }
