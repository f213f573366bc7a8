"""``/v2/event_types``: names, trait types and trait values (admin)."""

from panko_like.api import rbac
from panko_like.api.controllers.v2.events import trait_body
from panko_like.storage import models


def index(request, response):
    rbac.require_admin(request)
    return request.storage_holder.get().get_event_types()


def trait_types(request, response, event_type):
    rbac.require_admin(request)
    conn = request.storage_holder.get()
    return [
        {"name": item["name"],
         "type": models.Trait(item["name"], item["data_type"], None)
         .type_name}
        for item in conn.get_trait_types(event_type)
    ]


def traits(request, response, event_type, trait_name):
    rbac.require_admin(request)
    conn = request.storage_holder.get()
    return [trait_body(t) for t in conn.get_traits(event_type, trait_name)]
