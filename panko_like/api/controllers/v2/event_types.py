"""``/v2/event_types``: names, trait types and trait values (admin)."""

from panko_like.api import rbac
from panko_like.api.controllers.v2.events import trait_body
from panko_like.storage import models


def index(request, response):
    rbac.require_admin(request)
    return request.storage_holder.get().get_event_types()


#: Panko's order of an event type's trait types: by type (text, then
#: integer, float and datetime: the order in which it read its four
#: trait tables), then by name.
TYPE_RANK = {models.NONE_TYPE: 0, models.TEXT_TYPE: 0, models.INT_TYPE: 1,
             models.FLOAT_TYPE: 2, models.DATETIME_TYPE: 3}


def _panko_order(item):
    return TYPE_RANK.get(item["data_type"], len(TYPE_RANK)), item["name"]


def trait_types(request, response, event_type):
    rbac.require_admin(request)
    conn = request.storage_holder.get()
    return [
        {"name": item["name"],
         "type": models.Trait(item["name"], item["data_type"], None)
         .type_name}
        for item in sorted(conn.get_trait_types(event_type),
                           key=_panko_order)
    ]


def traits(request, response, event_type, trait_name):
    rbac.require_admin(request)
    conn = request.storage_holder.get()
    return [trait_body(t) for t in conn.get_traits(event_type, trait_name)]
