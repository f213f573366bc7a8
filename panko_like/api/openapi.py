"""The OpenAPI 3.1 document of the API, served at ``/v2/openapi.json``.

It is built from the code it describes: the paths and methods from the
v2 router's own table (:data:`root.ROUTES`, every route needing an
operation here and nothing else), the listing's parameters from the
query reader's names, and the trait types, operators and limits from
the modules and options that enforce them. What only prose can say
(which status each operation answers, and why) is written here, and the
functional tests run schemathesis against a live server with it.
"""

import json

import webob

import panko_like
from panko_like.api import errors
from panko_like.api.controllers.v2 import matching, query
from panko_like.api.controllers.v2 import root as v2_root
from panko_like.storage import models

PATH = "/v2/openapi.json"

_TEXT = {"type": "string"}
_ANY = {}


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema):
    return {"application/json": {"schema": schema}}


def _error(description):
    return {"description": description, "content": _json(_ref("Error"))}


#: The answers every authenticated v2 operation may give.
_COMMON = {
    "401": _error("No identity, or (token and keystone modes) a missing, "
                  "invalid or revoked token; or, for an admin-only "
                  "operation, a caller who is not an admin."),
    "403": _error("The policy refuses the caller."),
    "415": _error("A multipart body (the API takes JSON)."),
    "503": _error("The storage did not answer within [api] "
                  "storage_timeout (with a Retry-After header)."),
}


#: The 415 of an operation that reads a JSON body.
_NOT_JSON = _error("A body not declared as JSON, or multipart.")


def _operation(summary, responses, parameters=(), body=None,
               policy=None):
    answers = dict(_COMMON)
    answers.update(responses)
    operation = {"summary": summary, "responses": answers}
    if policy:
        operation["description"] = f"Policy: ``{policy}``."
    if parameters:
        operation["parameters"] = list(parameters)
    if body:
        operation["requestBody"] = body
    return operation


def _path_parameter(name, description):
    return {"name": name, "in": "path", "required": True,
            "description": description, "schema": _TEXT}


def _query_parameter(name, schema, description):
    return {"name": name, "in": "query", "required": False,
            "description": description, "schema": schema}


_STRINGS = {"type": "array", "items": _TEXT}


def _filter_described():
    fields = ", ".join(query.EVENT_FIELDS)
    return {
        "q.field": (_STRINGS, f"Filter fields: {fields}, all_tenants "
                    "(admins) or a trait name; one per filter."),
        "q.op": ({"type": "array", "items": {
            "type": "string", "enum": list(query.OPERATORS)}},
            "Operators, given for every filter or none (eq)."),
        "q.value": (_STRINGS, "Values, one per filter."),
        "q.type": ({"type": "array", "items": {
            "type": "string", "enum": list(query.TYPES)}},
            "Value types, given for every filter or none."),
    }


def _parameters(described, names):
    parameters = []
    for name in names:
        schema, description = described[name]
        parameter = _query_parameter(name, schema, description)
        if schema.get("type") == "array":
            parameter.update(style="form", explode=True)
        parameters.append(parameter)
    return parameters


def _filter_parameters():
    return _parameters(_filter_described(),
                       [f"q.{part}" for part in query.Q_PARTS])


def _show_parameter():
    return _parameters({"show": (
        {"type": "array", "items": {"type": "string",
                                    "enum": list(query.SHOW_FIELDS)}},
        "Fields added to each event: when it was stored, when its "
        "traits were last updated.")}, ["show"])[0]


def _list_parameters(conf):
    described = {
        "limit": ({"type": "integer", "minimum": 1},
                  f"Page size (default {conf.api.default_api_return_limit}"
                  f"); above {conf.api.max_limit} it is lowered, and the "
                  "answer says so in X-Limit-Lowered-To."),
        "marker": (_TEXT, "The message_id of the last event of the "
                   "previous page."),
        "sort": ({"type": "array", "items": {
            "type": "string",
            "pattern": "^(generated|message_id)(:(asc|desc))?$"}},
            "Sort keys, key[:asc|desc]."),
    }
    return (_filter_parameters()
            + _parameters(described,
                          [a for a in query.LIST_ARGS if a != "q"])
            + [_show_parameter()])


def _boolean(name, description):
    return _query_parameter(name, {"type": "boolean"}, description)


def _all_tenants():
    return _query_parameter(
        "all_tenants", {"type": "boolean"},
        "An admin's look beyond its own project (ignored for others).")


def _matching_operations(conf):
    """The operations on every event a filter matches (see matching)."""
    filter_body = {"required": False, "content": _json(_ref("FilterBody"))}
    bad_filter = _error("A bad filter or parameter, or more than [api] "
                        "max_query_filters filters.")
    return {
        (("events", "count"), "GET"): _operation(
            "How many events the caller may see match every filter.",
            {"200": {"description": "The count.",
                     "content": _json(_ref("Count"))},
             "400": bad_filter,
             "415": _NOT_JSON},
            parameters=_filter_parameters(), body=filter_body,
            policy="telemetry:events:count"),
        (("events", "statistics"), "GET"): _operation(
            "Counts of the matching events per group and per period of "
            "their generated time.",
            {"200": {"description": "One line per group and period "
                     "holding events, by group (null first), then period.",
                     "content": _json(_ref("Statistics"))},
             "400": _error("A bad filter, group_by or period, or more "
                           "than [api] max_statistics_groups lines."),
             "415": _NOT_JSON},
            parameters=_filter_parameters() + [
                _query_parameter("group_by", {"type": "string"},
                                 "event_type, or the name of a text "
                                 "trait (events without it count under "
                                 "null)."),
                _query_parameter("period", {
                    "type": "integer", "minimum": 1,
                    "maximum": matching.MAX_PERIOD},
                    "Seconds per period, counted from the epoch.")],
            body=filter_body, policy="telemetry:events:statistics"),
        (("events",), "DELETE"): _operation(
            "Delete every event the caller may see that matches the "
            "filters, in transactions of [api] delete_batch_size events.",
            {"200": {"description": "How many were deleted ({\"deleted\"}"
                     "), or with dry_run how many match ({\"count\"}).",
                     "content": _json(_ref("DeleteAnswer"))},
             "400": _error("A bad filter or parameter, or no filter "
                           "without all=True."),
             "415": _NOT_JSON},
            parameters=_filter_parameters() + [
                _boolean("all", "Delete without a filter: every event "
                         "the caller sees."),
                _boolean("dry_run", "Count what would be deleted, "
                         "delete nothing."),
                _all_tenants()],
            body=filter_body, policy="telemetry:events:delete_matching"),
    }


def _operations(conf):
    """Each route of :data:`root.ROUTES`, by (pattern, method)."""
    message_id = _path_parameter("message_id", "The event's message_id.")
    event_type = _path_parameter("event_type", "An event type.")
    trait_name = _path_parameter("trait_name", "A trait name.")
    event_list = {"type": "array", "items": _ref("Event")}
    return {
        **_matching_operations(conf),
        (("capabilities",), "GET"): _operation(
            "What the storage driver can do.",
            {"200": {"description": "The capabilities, flattened.",
                     "content": _json(_ref("Capabilities"))}}),
        (("events",), "GET"): _operation(
            "The events the caller may see that match every filter. "
            "Filters may also come as a JSON body {\"q\": [...]} "
            "(Content-Type: application/json).",
            {"200": {"description": "A page of events.",
                     "content": _json(event_list)},
             "400": _error("A bad filter, limit, marker or sort, or more "
                           "than [api] max_query_filters filters."),
             "415": _NOT_JSON},
            parameters=_list_parameters(conf),
            body={"required": False, "content": _json(_ref("ListBody"))},
            policy="telemetry:events:index"),
        (("events",), "POST"): _operation(
            "Store events (a list, or one event).",
            {"201": {"description": "Every event stored, or already "
                     "stored (a duplicate).",
                     "content": _json(_ref("IngestAnswer"))},
             "400": _error("Some events were not stored (see "
                           "\"rejected\"), or the body is not a list of "
                           "events."),
             "413": _error("A body over [api] max_request_body_size, or "
                           "more than [api] max_events_per_request "
                           "events.")},
            body={"required": True, "content": _json({
                "oneOf": [{"type": "array", "items": _ref("NewEvent")},
                          _ref("NewEvent")]})},
            policy="telemetry:events:create"),
        (("events", "*"), "GET"): _operation(
            "One event the caller may see.",
            {"200": {"description": "The event.",
                     "content": _json(_ref("Event"))},
             "400": _error("A bad all_tenants or show."),
             "404": _error("No such event the caller may see.")},
            parameters=[message_id, _all_tenants(), _show_parameter()],
            policy="telemetry:events:show"),
        (("events", "*"), "HEAD"): {
            "summary": "Whether an event the caller may see exists; "
            "no body.",
            "description": "Policy: ``telemetry:events:show``.",
            "parameters": [message_id, _all_tenants()],
            "responses": {code: {"description": description}
                          for code, description in (
                              ("200", "It exists."),
                              ("400", "A bad all_tenants."),
                              ("401", "No identity or no valid token."),
                              ("403", "The policy refuses the caller."),
                              ("404", "No such event the caller may see."),
                              ("415", "A multipart body."),
                              ("503", "The storage did not answer."))}},
        (("events", "*"), "DELETE"): _operation(
            "Delete an event the caller may see.",
            {"204": {"description": "Deleted (or already gone)."},
             "400": _error("A bad or unknown query parameter."),
             "404": _error("No such event the caller may see.")},
            parameters=[message_id, _all_tenants()],
            policy="telemetry:events:delete"),
        (("events", "*"), "PATCH"): _operation(
            "Set and remove traits of an event the caller may see "
            "(admins); the message_id, event type, time and raw payload "
            "never change.",
            {"200": {"description": "The event, updated.",
                     "content": _json(_ref("Event"))},
             "400": _error("A body that is not a TraitUpdate, an invalid "
                           "trait, a name both set and removed, nothing "
                           "to set or remove, more traits than [api] "
                           "max_traits_per_event (given, or afterwards), "
                           "a name or text over the [api] limits, a "
                           "change of project_id or user_id without "
                           "all_tenants=True, or a bad query parameter."),
             "404": _error("No such event the caller may see."),
             "413": _error("A body over [api] max_request_body_size."),
             "415": _NOT_JSON},
            parameters=[message_id, _all_tenants(), _show_parameter()],
            body={"required": True, "content": _json(_ref("TraitUpdate"))},
            policy="telemetry:events:update"),
        (("event_types",), "GET"): _operation(
            "The event types (admins).",
            {"200": {"description": "Event type names.",
                     "content": _json({"type": "array", "items": _TEXT})}}),
        (("event_types", "*", "traits"), "GET"): _operation(
            "The trait types of an event type, by type then name "
            "(admins).",
            {"200": {"description": "Trait names and types.",
                     "content": _json({"type": "array",
                                       "items": _ref("TraitType")})}},
            parameters=[event_type]),
        (("event_types", "*", "traits", "*"), "GET"): _operation(
            "The values of one trait of an event type (admins).",
            {"200": {"description": "The trait's values.",
                     "content": _json({"type": "array",
                                       "items": _ref("Trait")})}},
            parameters=[event_type, trait_name]),
    }


def _stream_operation(conf):
    """GET /v2/events/stream: Server-Sent Events, ended after a bounded
    time (``timeout``, ``[api] stream_max_duration``)."""
    filters = [p for p in _list_parameters(conf)
               if p["name"].startswith("q.")]
    most = conf.api.stream_max_duration
    timeout = _query_parameter(
        "timeout", {"type": "number", "exclusiveMinimum": 0},
        f"Seconds after which the stream ends (at most and by default "
        f"{most}, [api] stream_max_duration).")
    last_id = {"name": "Last-Event-ID", "in": "header", "required": False,
               "description": "The id of the last message received: the "
               "stream resumes strictly after it.", "schema": _TEXT}
    return _operation(
        "Events stored from now on (or after Last-Event-ID) that the "
        "caller may see and that match every filter, as Server-Sent "
        "Events in stored order: one message per event, its data the "
        "event as in a listing, its id the stream's position.",
        {"200": {"description": "The stream, until timeout.",
                 "content": {"text/event-stream": {"schema": _TEXT}}},
         "400": _error("A bad filter or timeout, a limit, marker or sort "
                       "(which a stream has not), or a malformed "
                       "Last-Event-ID."),
         "501": _error("The storage driver cannot stream (the "
                       "events:stream capability)."),
         "503": _error("[api] max_stream_subscribers streams are open on "
                       "this worker, or the storage did not answer (with "
                       "a Retry-After header).")},
        parameters=[*filters, timeout, last_id],
        policy="telemetry:events:stream")


def _template(pattern):
    names = iter(("{message_id}",) if pattern[0] == "events"
                 else ("{event_type}", "{trait_name}"))
    return "/v2/" + "/".join(next(names) if part == "*" else part
                             for part in pattern)


def _schemas(conf):
    type_names = sorted(set(models.API_TYPE_NAMES.values()))
    trait = {"type": "object", "required": ["name", "type", "value"],
             "properties": {"name": _TEXT,
                            "type": {"type": "string", "enum": type_names},
                            "value": _TEXT}}
    new_trait = {"oneOf": [
        {"type": "object", "required": ["name"],
         "properties": {"name": _TEXT,
                        "type": {"type": "string", "enum": type_names},
                        "value": _ANY}},
        {"type": "array", "minItems": 3, "maxItems": 3,
         "description": "Ceilometer's [name, dtype, value]"}]}
    return {
        "Error": {
            "type": "object", "required": ["error_message"],
            "properties": {"error_message": {
                "type": "object",
                "required": ["faultcode", "faultstring", "debuginfo"],
                "properties": {"faultcode": _TEXT, "faultstring": _TEXT,
                               "debuginfo": {"type": ["string", "null"]}}},
                "stored": {"type": "integer"},
                "duplicates": {"type": "array", "items": _TEXT},
                "rejected": {"type": "array", "items": {
                    "type": "object",
                    "properties": {
                        "message_id": {"type": ["string", "null"]},
                        "problem": {"type": "string", "enum": [
                            str(p) for p in models.Problem]},
                        "reason": _TEXT}}}}},
        "FilterBody": {
            "type": "object",
            "description": "The filters in a body, as a listing takes "
            "them, instead of the query string.",
            "properties": {"q": {"type": "array",
                                 "maxItems": conf.api.max_query_filters,
                                 "items": _ref("Filter")}}},
        "Filter": {
            "type": "object", "required": ["field", "value"],
            "properties": {
                "field": _TEXT,
                "op": {"type": "string", "enum": list(query.OPERATORS)},
                "value": {"type": ["string", "number"]},
                "type": {"type": "string", "enum": list(query.TYPES)}}},
        "Count": {"type": "object", "required": ["count"],
                  "properties": {"count": {"type": "integer"}}},
        "Statistics": {
            "type": "object", "required": ["group_by", "period",
                                           "statistics"],
            "properties": {
                "group_by": {"type": ["string", "null"]},
                "period": {"type": ["integer", "null"]},
                "statistics": {"type": "array", "items": {
                    "type": "object",
                    "required": ["group", "period_start", "count"],
                    "properties": {
                        "group": {"type": ["string", "null"]},
                        "period_start": {"type": ["string", "null"]},
                        "count": {"type": "integer"}}}}}},
        "DeleteAnswer": {"type": "object", "properties": {
            "deleted": {"type": "integer"}, "count": {"type": "integer"}}},
        "ListBody": {
            "type": "object",
            "description": "The listing's arguments in a body (as "
            "pankoclient sends them), each given here or in the query "
            "string, not both.",
            "properties": {
                "q": {"type": "array",
                      "maxItems": conf.api.max_query_filters,
                      "items": _ref("Filter")},
                "limit": {"type": ["integer", "string"]},
                "marker": _TEXT,
                "sort": {"oneOf": [_TEXT, {"type": "array",
                                           "items": _TEXT}]}}},
        "Trait": trait,
        "TraitType": {"type": "object", "required": ["name", "type"],
                      "properties": {"name": _TEXT, "type": {
                          "type": "string", "enum": type_names}}},
        "Event": {
            "type": "object",
            "required": ["message_id", "event_type", "generated", "traits",
                         "raw"],
            "properties": {
                "message_id": _TEXT, "event_type": _TEXT,
                "generated": {"type": "string",
                              "description": "ISO 8601, UTC, no zone."},
                "traits": {"type": "array", "items": _ref("Trait")},
                "raw": _ANY,
                "stored_at": {"type": ["string", "null"], "description":
                              "When it was stored (with show=stored_at)."},
                "updated_at": {"type": ["string", "null"], "description":
                               "When its traits were last updated (with "
                               "show=updated_at); null if never."}}},
        "NewEvent": {
            "type": "object",
            "required": ["message_id", "event_type", "generated"],
            "properties": {
                "message_id": _TEXT, "event_type": _TEXT,
                "generated": _TEXT,
                "traits": {"type": "array", "items": new_trait,
                           "maxItems": conf.api.max_traits_per_event},
                "raw": _ANY, "message_signature": _TEXT}},
        "TraitUpdate": {
            "type": "object", "additionalProperties": False,
            "description": "Traits to set (each replaces every trait of "
            "its name) and names to remove; at least one of either.",
            "properties": {
                "traits": {"type": "array",
                           "maxItems": conf.api.max_traits_per_event,
                           "items": {
                               "type": "object",
                               "required": ["name", "value"],
                               "additionalProperties": False,
                               "properties": {
                                   "name": _TEXT,
                                   "type": {"type": "string",
                                            "enum": type_names},
                                   "value": {"type": [
                                       "string", "number", "boolean"]}}}},
                "remove": {"type": "array", "items": _TEXT}}},
        "IngestAnswer": {
            "type": "object", "required": ["stored", "duplicates"],
            "properties": {"stored": {"type": "integer"},
                           "duplicates": {"type": "array",
                                          "items": _TEXT}}},
        "Capabilities": {
            "type": "object", "required": ["api", "event_storage"],
            "properties": {
                name: {"type": "object",
                       "additionalProperties": {"type": "boolean"}}
                for name in ("api", "event_storage")}},
    }


def _open_paths():
    """The paths served without identity."""
    return {
        "/": {"get": {"summary": "The versions document.", "security": [],
                      "responses": {"200": {
                          "description": "The API versions.",
                          "content": _json({"type": "object",
                                            "required": ["versions"]})}}}},
        "/healthcheck": {"get": {
            "summary": "Whether the storage answers.", "security": [],
            "responses": {
                code: {"description": description, "content": {
                    kind: {"schema": _ANY} for kind in (
                        "text/plain", "application/json", "text/html")}}
                for code, description in (
                    ("200", "The storage answers."),
                    ("503", "The storage does not answer, or the "
                     "service is disabled by file."))}}},
        PATH: {"get": {"summary": "This document.", "security": [],
                       "responses": {"200": {
                           "description": "The OpenAPI document.",
                           "content": _json({"type": "object"})}}}},
    }


def document(conf):
    """The OpenAPI 3.1 document of the API as ``conf`` configures it."""
    operations = _operations(conf)
    operations[("events", "stream"), "GET"] = _stream_operation(conf)
    routes = {(pattern, method) for pattern, methods in v2_root.ROUTES
              for method in methods}
    if routes != set(operations):
        raise RuntimeError(
            "the OpenAPI operations and the v2 routes differ: "
            f"{sorted(routes ^ set(operations))}")
    paths = _open_paths()
    for pattern, methods in v2_root.ROUTES:
        paths[_template(pattern)] = {
            method.lower(): operations[pattern, method]
            for method in methods}
    return {
        "openapi": "3.1.0",
        "info": {"title": "panko_like", "version": panko_like.__version__,
                 "description": "Panko's v2 events API, with ingestion. "
                 "With auth_mode noauth, identity comes from the "
                 "X-User-Id, X-Project-Id and X-Roles headers instead of "
                 "a token."},
        "security": [{"token": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _schemas(conf),
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header",
                          "name": "X-Auth-Token",
                          "description": "A Keystone token "
                          "(auth_mode keystone) or a panko-like-token "
                          "token (auth_mode token)."},
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "A panko-like-token token."}},
        },
    }


class Document:
    """WSGI app answering the document, built once per application."""

    def __init__(self, conf):
        self.body = json.dumps(document(conf)).encode()

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            response = errors.error_response(405, "Method not allowed here; "
                                             "allowed: GET")
            response.headers["Allow"] = "GET"
        else:
            response = webob.Response(body=self.body,
                                      content_type="application/json",
                                      charset=None)
        return response(environ, start_response)
