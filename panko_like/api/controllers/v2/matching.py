"""Requests about every event a filter matches: ``GET
/v2/events/count``, ``GET /v2/events/statistics`` and ``DELETE
/v2/events``.

Their filters are a listing's (``q.field``/``q.op``/``q.value``/
``q.type``, or a JSON body), read and scoped exactly as ``GET
/v2/events`` reads and scopes them: a caller counts, and an admin
deletes, only what it could list.
"""

from oslo_log import log

from panko_like import storage
from panko_like.api import errors, rbac
from panko_like.api.controllers.v2 import events, query
from panko_like.storage import models

LOG = log.getLogger(__name__)

#: What statistics group by besides a text trait's name.
EVENT_TYPE = "event_type"
#: Longest statistics period: a year, in seconds.
MAX_PERIOD = 366 * 86400


def _scoped_filter(request, rule, plain=()):
    identity = rbac.enforce(request, rule)
    args = query.filter_arguments(request, plain)
    return identity, events.visible_filter(request, identity, args["q"])


def count(request, response):
    _, event_filter = _scoped_filter(request, "telemetry:events:count")
    conn = request.storage_holder.get()
    return {"count": conn.count_events(event_filter)}


def statistics(request, response):
    _, event_filter = _scoped_filter(
        request, "telemetry:events:statistics", ("group_by", "period"))
    group_by = _group_by(request.GET)
    period = query.positive_int(request.GET, "period", MAX_PERIOD)
    most = request.conf.api.max_statistics_groups
    conn = request.storage_holder.get()
    try:
        lines = conn.event_statistics(event_filter, group_by, period, most)
    except storage.TooManyGroups:
        raise errors.BadRequest(
            f"More than {most} groups ([api] max_statistics_groups): "
            "narrow the filters, or ask for longer periods.")
    return {
        "group_by": group_by,
        "period": period,
        "statistics": [
            {"group": line.group,
             "period_start": None if line.start is None
             else models.format_datetime(line.start),
             "count": line.count}
            for line in lines
        ],
    }


def _group_by(params):
    """``event_type`` or a trait name; None for no grouping."""
    value = query.single(params, "group_by")
    if value is None:
        return None
    errors.check_text(value, "group_by")
    if not value or len(value) > models.MAX_TRAIT_NAME_LENGTH:
        raise errors.invalid_input(
            "group_by", value,
            "expected event_type or the name of a text trait.")
    return value


def delete(request, response):
    """Delete what the filters match, batch by batch.

    An empty filter would delete everything the caller sees: it is
    refused unless ``all=True`` says so. ``dry_run=True`` answers how
    many would be deleted, and deletes nothing. ``all_tenants=True``, as
    a query parameter or as a filter, reaches every project.
    """
    params = request.GET
    identity = rbac.enforce(request, "telemetry:events:delete_matching")
    args = query.filter_arguments(
        request, ("all", "dry_run", "all_tenants"))
    filters = list(args["q"])
    if query.flag(params, "all_tenants"):
        filters.append({"field": "all_tenants", "value": "True"})
    if not [f for f in filters if f["field"] != "all_tenants"] \
            and not query.flag(params, "all"):
        raise errors.BadRequest(
            "DELETE /v2/events without a filter would delete every event "
            "you can see: give filters, or all=True.")
    event_filter = events.visible_filter(request, identity, filters)
    conn = request.storage_holder.get()
    if query.flag(params, "dry_run"):
        return {"count": conn.count_events(event_filter)}
    deleted = _delete_in_batches(conn, event_filter,
                                 request.conf.api.delete_batch_size)
    LOG.info("%(deleted)d events deleted by filter %(filters)s by user "
             "%(user)s of project %(project)s.",
             {"deleted": deleted, "filters": filters,
              "user": identity.user_id, "project": identity.project_id})
    return {"deleted": deleted}


def _delete_in_batches(conn, event_filter, size):
    deleted = 0
    while done := conn.delete_events(event_filter, max_count=size):
        deleted += done
    return deleted
