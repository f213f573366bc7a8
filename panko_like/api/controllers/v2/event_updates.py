"""``PATCH /v2/events/{message_id}``: set and remove an event's traits.

The body is ``{"traits": [{"name", "type", "value"}], "remove":
[name]}``, either part optional but not both. A trait set replaces every
trait of its name; the message_id, event type, time and raw payload
never change. The event is found as ``GET`` and ``DELETE`` find it (see
events.one_event_filter), and the storage changes it in one atomic
step (Connection.update_traits), so that concurrent updates of one
event are all kept.
"""

import webob
from oslo_log import log

from panko_like.api import errors, rbac, streaming
from panko_like.api.controllers.v2 import events, query
from panko_like.storage import models, trait_updates

BODY_KEYS = {"traits", "remove"}
BODY_SHAPE = ('The body must be a JSON object {"traits": [{"name": ..., '
              '"type": ..., "value": ...}], "remove": [name, ...]}')

LOG = log.getLogger(__name__)


def update(request, response, message_id):
    """Set and remove traits of an event the caller sees; answer the
    event as ``GET`` shows it.

    Changing ``project_id`` or ``user_id`` moves the event between
    tenants: only an admin asking with ``all_tenants=True`` may. An
    event outside the caller's own scope is changed only so as well,
    and such a change is logged with who made it.
    """
    identity = rbac.enforce(request, "telemetry:events:update")
    unknown = set(request.GET.keys()) - {"all_tenants", "show"}
    if unknown:
        raise query.unknown_arguments(unknown)
    shown = query.shown_fields(request)
    widened = (events.all_tenants_param(request)
               and rbac.is_admin(request, identity))
    set_traits, remove = _read_update(request)
    moved = sorted({trait.name for trait in set_traits}.union(remove)
                   & {"project_id", "user_id"})
    if moved and not widened:
        raise errors.BadRequest(
            f"Changing {' and '.join(moved)} moves the event between "
            "tenants: only an admin may, with all_tenants=True.")
    conn = request.storage_holder.get()
    limit = request.conf.api.max_traits_per_event

    def apply(event_filter):
        try:
            return conn.update_traits(event_filter, set_traits, remove,
                                      limit)
        except models.InvalidEvent as exc:
            raise errors.BadRequest(_refusal(exc))

    updated = apply(events.one_event_filter(
        request, identity, message_id, False))
    if updated is None and widened:
        updated = apply(events.one_event_filter(
            request, identity, message_id, True))
        if updated is not None:
            LOG.info("Event %(message_id)s, outside the scope of project "
                     "%(project)s, updated with all_tenants by user "
                     "%(user)s of project %(project)s.",
                     {"message_id": message_id, "user": identity.user_id,
                      "project": identity.project_id})
    if updated is None:
        raise errors.NotFound(f"Event {message_id} Not Found")
    return webob.Response(body=events.encode_event(updated, shown),
                          content_type=streaming.CONTENT_TYPE, charset=None)


def _refusal(exc):
    if exc.problem == models.Problem.TOO_LARGE:
        return f"{exc.reason} ([api] max_traits_per_event)"
    return exc.reason


def _read_update(request):
    """The checked traits to set and names to remove of the body."""
    query.require_json(request)
    body = query.parse_json(query.read_body(request))
    errors.check_text(body)
    if not isinstance(body, dict):
        raise errors.BadRequest(BODY_SHAPE + ".")
    unknown = set(body) - BODY_KEYS
    if unknown:
        raise errors.BadRequest(
            f"{BODY_SHAPE}; unknown keys: {', '.join(sorted(unknown))}.")
    items, remove = body.get("traits", []), body.get("remove", [])
    if not isinstance(items, list) or not isinstance(remove, list):
        raise errors.BadRequest(
            BODY_SHAPE + ": traits and remove are lists.")
    api = request.conf.api
    if len(items) > api.max_traits_per_event:
        raise errors.BadRequest(
            f"{len(items)} traits; at most {api.max_traits_per_event} "
            "([api] max_traits_per_event).")
    try:
        set_traits, remove = trait_updates.checked_update(
            [_trait(item) for item in items], remove)
        holder = models.Event(None, None, None, set_traits)
        # The limits of POST: trait names and text values.
        events.check_limits(holder, {}, api)
    except models.InvalidEvent as exc:
        raise errors.BadRequest(exc.reason)
    return set_traits, remove


def _trait(item):
    """A trait of the body, in the API's shape only, with a value (a
    trait is removed by name, not set to null)."""
    if not isinstance(item, dict) or item.get("value") is None:
        raise models.InvalidEvent(
            models.Problem.INVALID,
            f"a trait is {{name, type, value}} with a value: {item!r}")
    return events.trait_from_json(item)
