"""``/v2/capabilities``: what the storage driver can do, flattened."""

from panko_like.storage import base


def get(request, response):
    driver = request.storage_holder.driver()
    return {
        "api": base.flatten(driver.get_capabilities()),
        "event_storage": base.flatten(driver.get_storage_capabilities()),
    }
