"""``/``: the versions document; ``/v2``: the v2 API."""

import pecan

from panko_like.api.controllers.v2 import root as v2_root

MEDIA_TYPE = "application/vnd.openstack.telemetry-{}+json"


def version_descriptor(base_url, version, released_on):
    return {
        "id": version,
        "status": "stable",
        "updated": released_on,
        "links": [
            {"href": f"{base_url}/{version}", "rel": "self"},
            {
                "href": "https://docs.openstack.org/",
                "rel": "describedby",
                "type": "text/html",
            },
        ],
        "media-types": [
            {"base": "application/json", "type": MEDIA_TYPE.format(version)}
        ],
    }


class RootController:
    v2 = v2_root.V2Controller()

    @pecan.expose("json")
    def index(self):
        # application_url carries SCRIPT_NAME, so links keep a mount
        # prefix (set by the server or by http_proxy_to_wsgi).
        base_url = pecan.request.application_url.rstrip("/")
        return {
            "versions": {
                "values": [
                    version_descriptor(base_url, "v2",
                                       "2013-02-13T00:00:00Z")
                ]
            }
        }
