"""``/v2/events``: list, show, ingest and delete events."""

import functools

import orjson
import webob
from oslo_log import log

from panko_like import storage
from panko_like.api import errors, rbac, streaming
from panko_like.api.controllers.v2 import query
from panko_like.storage import base, models

EVENT_KEYS = {"message_id", "event_type", "generated", "traits", "raw",
              # Ceilometer's http:// publisher signs each event.
              "message_signature"}
TRAIT_KEYS = {"name", "type", "value"}

LOG = log.getLogger(__name__)


def trait_body(trait):
    return {"name": trait.name,
            "type": models.API_TYPE_NAMES[trait.dtype],
            "value": models.value_text(trait.value)}


def _trait_bodies(event):
    items = event.stored_traits
    if items is None:
        return [trait_body(t) for t in event.traits]
    # Stored items hold the dtype the trait reads back as and a datetime
    # as the ISO text the API prints: the same bodies, without building
    # a Trait for each.
    names, value_text = models.API_TYPE_NAMES, models.value_text
    return [{"name": name, "type": names[dtype],
             "value": value if value.__class__ is str else value_text(value)}
            for name, dtype, value in items]


def _body(event, raw, shown):
    body = {
        "message_id": event.message_id,
        "event_type": event.event_type,
        "generated": models.format_datetime(event.generated),
        "traits": _trait_bodies(event),
        "raw": raw,
    }
    for name in shown:
        value = getattr(event, name)
        body[name] = None if value is None else models.format_datetime(value)
    return body


def event_body(event, shown=()):
    """The API's body of ``event``, with the fields ``shown`` (see
    query.SHOW_FIELDS) beside Panko's."""
    return _body(event, event.raw, shown)


def encode_event(event, shown=()):
    """``event_body(event, shown)`` as JSON bytes.

    A raw payload the driver kept as JSON text is written out as it is
    stored, not decoded and encoded again. Stored text is JSON as
    ``json.dumps`` wrote it (ours refuses NaN; Panko's may hold NaN or
    Infinity, which are not JSON): such a payload takes the long way.
    """
    text = event.raw_text
    if text is not None and "NaN" not in text and "Infinity" not in text:
        try:
            return orjson.dumps(_body(event, orjson.Fragment(text), shown))
        except TypeError:
            pass  # not orjson's to write: the general way below
    return streaming.encode_json(event_body(event, shown))


def visible_filter(request, identity, filters):
    admin = rbac.is_admin(request, identity)
    return query.event_filter(filters, identity, admin)


def index(request, response):
    identity = rbac.enforce(request, "telemetry:events:index")
    args = query.list_arguments(request)
    shown = query.shown_fields(request)
    event_filter = visible_filter(request, identity, args["q"])
    pagination = query.pagination(args, request.conf)
    conn = request.storage_holder.get()
    try:
        # Streamed: an answer of 100,000 events is never held whole.
        answer = streaming.json_list(
            conn.get_events(event_filter, pagination),
            functools.partial(encode_event, shown=shown)
            if shown else encode_event,
        )
    except storage.InvalidMarker:
        raise errors.BadRequest(f"Marker {pagination.marker} not found.")
    lowered = query.lowered_limit(args, request.conf)
    if lowered is not None:
        answer.headers["X-Limit-Lowered-To"] = str(lowered)
    return answer


def all_tenants_param(request):
    """The ``all_tenants`` query parameter of a one-event request."""
    return query.flag(request.GET, "all_tenants")


def one_event_filter(request, identity, message_id, all_tenants):
    """The filter of event ``message_id`` within what the caller sees.

    ``GET`` and ``DELETE /v2/events/{message_id}`` share it, so a caller
    never deletes an event it could not read. ``all_tenants`` widens it
    for an admin only, as in a list.
    """
    filters = ([{"field": "all_tenants", "value": "True"}]
               if all_tenants and rbac.is_admin(request, identity) else [])
    event_filter = visible_filter(request, identity, filters)
    event_filter.message_id = message_id
    return event_filter


def _find_one(conn, event_filter):
    """The event ``event_filter`` (one message id) finds, or None."""
    found = list(conn.get_events(event_filter, storage.Pagination(limit=1)))
    return found[0] if found else None


def show(request, response, message_id):
    identity = rbac.enforce(request, "telemetry:events:show")
    event_filter = one_event_filter(request, identity, message_id,
                                     all_tenants_param(request))
    shown = query.shown_fields(request)
    conn = request.storage_holder.get()
    found = _find_one(conn, event_filter)
    if found is None:
        raise errors.NotFound(f"Event {message_id} Not Found")
    return webob.Response(body=encode_event(found, shown),
                          content_type=streaming.CONTENT_TYPE, charset=None)


def delete(request, response, message_id):
    """Delete an event the caller sees, as ``show`` would find it.

    An event outside the caller's own scope (another project's) is
    deleted only by an admin asking with ``all_tenants=True``; such a
    delete is logged with who made it.

    The event is looked for first, then deleted: an event the caller
    sees is answered 204 once it is gone, even when the delete finds
    nothing (its first attempt lost the connection after deleting, and
    the storage policy ran it again; or another client deleted it in
    between).
    """
    identity = rbac.enforce(request, "telemetry:events:delete")
    unknown = set(request.GET.keys()) - {"all_tenants"}
    if unknown:
        raise query.unknown_arguments(unknown)
    all_tenants = all_tenants_param(request)
    conn = request.storage_holder.get()
    own = one_event_filter(request, identity, message_id, False)
    if _find_one(conn, own) is not None:
        conn.delete_events(own)
        return webob.Response(status=204)
    wide = one_event_filter(request, identity, message_id, all_tenants)
    if wide.admin_proj is None and not wide.traits_filter \
            and _find_one(conn, wide) is not None:
        conn.delete_events(wide)
        LOG.info("Event %(message_id)s, outside the scope of project "
                 "%(project)s, deleted with all_tenants by user %(user)s "
                 "of project %(project)s.",
                 {"message_id": message_id, "user": identity.user_id,
                  "project": identity.project_id})
        return webob.Response(status=204)
    raise errors.NotFound(f"Event {message_id} Not Found")


def create(request, response):
    rbac.enforce(request, "telemetry:events:create", anonymous=True)
    # The collector is held off while the body's objects are made (see
    # base.collector_paused, which record_events uses as well).
    data = query.read_body(request)
    with base.collector_paused():
        total, events, rejected = _read_events(request.conf.api, data)
    conn = request.storage_holder.get()
    rejected.extend(conn.record_events(events) if events else [])
    return _ingest_answer(response, total, rejected)


def _read_events(api, data):
    """How many events the body ``data`` holds, the events read, and the
    rejections of those that could not be read."""
    body = query.parse_json(data)
    if isinstance(body, dict):
        # Ceilometer's publisher with batch=False posts one event alone.
        body = [body]
    if not isinstance(body, list):
        raise errors.BadRequest(
            "The body must be a JSON list of events (or one event).")
    if len(body) > api.max_events_per_request:
        raise errors.TooLarge(
            f"{len(body)} events in one request; at most "
            f"{api.max_events_per_request} are accepted "
            "([api] max_events_per_request)."
        )
    events, rejected = [], []
    for item in body:
        try:
            event = event_from_json(item)
            check_limits(event, item, api)
            events.append(event)
        except models.InvalidEvent as exc:
            rejected.append(models.Rejected(
                message_id_of(item), exc.problem, exc.reason))
    return len(body), events, rejected


def _too_large(reason, option):
    return models.InvalidEvent(models.Problem.TOO_LARGE,
                               f"{reason} ([api] {option})")


def check_limits(event, item, api):
    """Refuse ``event`` (read from ``item``) over the API's limits, the
    limit named in the reason."""
    if len(event.traits) > api.max_traits_per_event:
        raise _too_large(f"{len(event.traits)} traits; at most "
                         f"{api.max_traits_per_event}",
                         "max_traits_per_event")
    for trait in event.traits:
        if len(trait.name) > api.max_trait_name_length:
            shown = trait.name if len(trait.name) <= 40 else (
                trait.name[:40] + "...")
            raise _too_large(f"trait name {shown!r} longer than "
                             f"{api.max_trait_name_length} characters",
                             "max_trait_name_length")
        if (trait.value.__class__ is str
                and len(trait.value) > api.max_text_length):
            raise _too_large(f"trait {trait.name!r}: text value longer "
                             f"than {api.max_text_length} characters",
                             "max_text_length")
    raw = item.get("raw")
    if raw:
        try:
            size = len(orjson.dumps(raw))
        except TypeError:
            return  # not orjson's to write: the storage's checks decide
        if size > api.max_raw_size:
            raise _too_large(f"raw payload of {size} bytes; at most "
                             f"{api.max_raw_size}", "max_raw_size")


def _ingest_answer(response, total, rejected):
    duplicates = [r.message_id for r in rejected
                  if r.problem == models.Problem.DUPLICATE]
    failed = [r for r in rejected if r.problem != models.Problem.DUPLICATE]
    stored = total - len(rejected)
    if not failed:
        response.status = 201
        return {"stored": stored, "duplicates": duplicates}
    error = errors.BadRequest
    if all(r.problem == models.Problem.UNKNOWN for r in failed):
        error = errors.ServerError
    raise error(
        f"{len(failed)} of {total} events were not stored; see "
        "\"rejected\".",
        extra={
            "stored": stored,
            "duplicates": duplicates,
            "rejected": [
                {"message_id": r.message_id, "problem": str(r.problem),
                 "reason": r.reason}
                for r in failed
            ],
        },
    )


def message_id_of(item):
    if isinstance(item, dict) and isinstance(item.get("message_id"), str):
        return item["message_id"]
    return None


def _invalid(reason):
    return models.InvalidEvent(models.Problem.INVALID, reason)


def event_from_json(item):
    """An Event from the API's shape or Ceilometer's; raise InvalidEvent.

    Each value is stored so that it reads back as it was sent, or the
    event is refused with the reason: numbers are written with ASCII
    digits (no ``_``), datetimes to the microsecond at most, and a
    string trait given another JSON scalar keeps its JSON text (``true``,
    ``42``), never an object or an array (see models.scalar_text). A
    trait whose value is ``null`` has no value: it is checked like the
    others and then left out of the event.
    """
    if not isinstance(item, dict):
        raise _invalid("an event must be a JSON object")
    unknown = set(item) - EVENT_KEYS
    if unknown:
        raise _invalid(f"unknown keys: {', '.join(sorted(unknown))}")
    if "generated" not in item:
        raise _invalid("generated is missing")
    try:
        generated = models.parse_datetime(item["generated"])
    except (ValueError, OverflowError) as exc:
        raise _invalid(f"generated: {exc}")
    traits = item.get("traits") or []
    if not isinstance(traits, list):
        raise _invalid("traits must be a list")
    event = models.Event(
        message_id=item.get("message_id"),
        event_type=item.get("event_type"),
        generated=generated,
        traits=[trait_from_json(t) for t in traits],
        raw=item.get("raw"),
    )
    event.validate()
    if any(t.value is None for t in event.traits):
        event.traits = [t for t in event.traits if t.value is not None]
    for name, text in [("message_id", event.message_id),
                       ("event_type", event.event_type)] + [
                           ("trait name", t.name) for t in event.traits]:
        _check_text(name, text)
    return event


def _check_text(name, text):
    try:
        errors.check_text(text, name)
    except errors.BadRequest as exc:
        raise _invalid(exc.message)


def trait_from_json(item):
    # The API's {"name", "type", "value"}, or Ceilometer's
    # [name, dtype, value] with Panko's numbers.
    if isinstance(item, dict):
        if set(item) - TRAIT_KEYS or "name" not in item:
            raise _invalid(f"a trait is {{name, type, value}}: {item!r}")
        name, dtype, value = item["name"], item.get("type", "string"), \
            item.get("value")
    elif isinstance(item, list) and len(item) == 3:
        name, dtype, value = item
    else:
        raise _invalid(f"a trait is {{name, type, value}} or "
                       f"[name, dtype, value]: {item!r}")
    # Checked and converted with the rest of the event by validate().
    return models.Trait(name, _dtype(dtype), value)


def _dtype(value):
    if isinstance(value, str) and value in models.TYPE_BY_NAME:
        return models.TYPE_BY_NAME[value]
    if isinstance(value, int) and not isinstance(value, bool) \
            and value in models.TYPE_NAMES:
        return value
    raise models.InvalidEvent(
        models.Problem.INCOMPATIBLE_TRAIT, f"unknown trait type {value!r}")
