"""Reading the arguments of GET /v2/events, with Panko's rules.

Filters come as repeated ``q.field``/``q.op``/``q.value``/``q.type``
query parameters, or as a JSON body ``{"q": [{field, op, value, type}]}``.
"""

from oslo_utils import strutils

from panko_like import storage
from panko_like.api import errors
from panko_like.storage import models

LIST_ARGS = ("q", "limit", "marker", "sort")
Q_PARTS = ("field", "op", "value", "type")
#: Panko's order, which its error messages print.
OPERATORS = ("lt", "le", "eq", "ne", "ge", "gt")
TYPES = ["integer", "float", "string", "datetime"]
#: Fields that are event attributes, with the only operator each takes.
EVENT_FIELDS = {
    "event_type": "eq",
    "message_id": "eq",
    "start_timestamp": "ge",
    "end_timestamp": "le",
    "stored_since": "ge",
    "stored_before": "lt",
}
#: Event fields whose value is a time.
TIME_FIELDS = ("start_timestamp", "end_timestamp", "stored_since",
               "stored_before")
#: What ``show`` adds to each event of an answer.
SHOW_FIELDS = ("stored_at", "updated_at")
SORT_HELP = (
    "the sort parameter should be a pair of sort key and sort dir "
    "combined with ':', or only sort key specified and sort dir will be "
    "default 'asc', the supported sort keys are: ('message_id', "
    "'generated')"
)
BODY_SHAPE = (
    'The JSON body must be an object {"q": [{"field": ..., "op": ..., '
    '"value": ..., "type": ...}, ...]} (limit, marker and sort may be '
    "given there too)"
)


def read_body(request):
    """The request body, read within its size limit by the boundary."""
    return request.environ.get(errors.BODY, b"")


def parse_json(data):
    try:
        return models.load_json(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise errors.BadRequest("The request body is not valid UTF-8.")
    except ValueError as exc:
        raise errors.BadRequest(f"The request body is not valid JSON: {exc}")
    except RecursionError:
        raise errors.BadRequest("The request body is nested too deeply.")


def unknown_arguments(names):
    names = sorted(names)
    if len(names) == 1:
        return errors.BadRequest(f'Unknown argument: "{names[0]}"')
    return errors.BadRequest(
        "Unknown arguments: " + ", ".join(f'"{n}"' for n in names)
    )


def list_arguments(request):
    """``{"q": [dict], "limit": str|None, "marker": ..., "sort": [str]}``."""
    params = request.GET
    args = filter_arguments(request, ("limit", "marker", "sort", "show"),
                            LIST_ARGS)
    args.update(limit=single(params, "limit"),
                marker=single(params, "marker"), sort=params.getall("sort"))
    body = read_body(request)
    if body.strip():
        _merge_body(args, _json_body(request, body), LIST_ARGS)
    _check_filter_count(request, args)
    return args


def filter_arguments(request, plain, body_args=("q",)):
    """``{"q": [dict]}``: the filters of a request that takes them as a
    listing does, in its query string or in a JSON body whose keys are
    among ``body_args``; ``plain``: the other query parameters it
    takes. The body's other keys are the caller's to read."""
    params = request.GET
    allowed = set(plain) | {f"q.{p}" for p in Q_PARTS}
    unknown = set(params.keys()) - allowed
    if unknown:
        raise unknown_arguments(unknown)
    args = {"q": _query_string_filters(params)}
    if body_args == ("q",):
        body = read_body(request)
        if body.strip():
            _merge_body(args, _json_body(request, body), body_args)
        _check_filter_count(request, args)
    return args


def _json_body(request, body):
    require_json(request)
    parsed = parse_json(body)
    errors.check_text(parsed)
    return parsed


def shown_fields(request):
    """What ``show`` asks each event of the answer to add (repeated, or
    separated by commas)."""
    fields = []
    for value in request.GET.getall("show"):
        for name in value.split(","):
            name = name.strip()
            if name not in SHOW_FIELDS:
                raise errors.invalid_input(
                    "show", value,
                    f"expected some of {', '.join(SHOW_FIELDS)}.")
            if name not in fields:
                fields.append(name)
    return fields


def flag(params, name):
    """The boolean query parameter ``name`` (false when absent)."""
    value = single(params, name)
    if value is None:
        return False
    try:
        return strutils.bool_from_string(value, strict=True)
    except ValueError:
        raise errors.invalid_input(name, value, "expected true or false.")


def positive_int(params, name, most=None):
    """The integer query parameter ``name`` (None when absent), at least
    1 and at most ``most``."""
    value = single(params, name)
    if value is None:
        return None
    try:
        number = int(value.strip())
    except ValueError:
        number = 0
    if number < 1 or (most is not None and number > most):
        bound = f" and at most {most}" if most is not None else ""
        raise errors.invalid_input(
            name, value, f"expected an integer of at least 1{bound}.")
    return number


def _check_filter_count(request, args):
    most = request.conf.api.max_query_filters
    if len(args["q"]) > most:
        raise errors.BadRequest(
            f"{len(args['q'])} filters; at most {most} are accepted "
            "([api] max_query_filters).")
    return args


def require_json(request):
    """A listing's body is read only when declared as JSON (as Panko's
    WSME did: any other type, or none, is 415)."""
    declared = (request.content_type or "").lower()
    if declared != "application/json" and not declared.endswith("+json"):
        raise errors.UnsupportedMediaType(
            "The request body must be JSON, declared with Content-Type: "
            f"application/json; got {declared or 'no Content-Type'}.")


def single(params, name):
    """The one value of query parameter ``name``, or None."""
    values = params.getall(name)
    if len(values) > 1:
        raise errors.BadRequest(f"{name} may be given only once.")
    return values[0] if values else None


def _query_string_filters(params):
    fields = params.getall("q.field")
    parts = {part: params.getall(f"q.{part}") for part in Q_PARTS}
    if len(parts["value"]) != len(fields):
        raise errors.BadRequest(
            f"Each filter needs one q.field and one q.value; got "
            f"{len(fields)} q.field and {len(parts['value'])} q.value."
        )
    for part in ("op", "type"):
        if parts[part] and len(parts[part]) != len(fields):
            raise errors.BadRequest(
                f"q.{part} was given for {len(parts[part])} of "
                f"{len(fields)} filters: give it for every filter or for "
                "none."
            )
    return [
        {part: parts[part][i] for part in Q_PARTS if parts[part]}
        for i in range(len(fields))
    ]


def _merge_body(args, body, allowed):
    if not isinstance(body, dict):
        raise errors.BadRequest(BODY_SHAPE)
    unknown = set(body) - set(allowed)
    if unknown:
        raise unknown_arguments(unknown)
    for name, value in body.items():
        if args[name]:
            raise errors.BadRequest(
                f"{name} is given both in the query string and in the body."
            )
        args[name] = _body_value(name, value)


def _body_value(name, value):
    if name == "q":
        if not isinstance(value, list):
            raise errors.BadRequest(BODY_SHAPE)
        return [_body_filter(item) for item in value]
    if name == "sort":
        value = value if isinstance(value, list) else [value]
        if not all(isinstance(item, str) for item in value):
            raise errors.BadRequest("sort must be a string or a list of "
                                    "strings key:dir.")
        return value
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise errors.invalid_input(name, value, "expected a string")
    return str(value)


def _body_filter(item):
    if not isinstance(item, dict) or "field" not in item \
            or "value" not in item or set(item) - set(Q_PARTS):
        raise errors.BadRequest(BODY_SHAPE)
    for part in ("field", "op", "type"):
        if part in item and not isinstance(item[part], str):
            raise errors.BadRequest(f"q {part} must be a string.")
    value = item["value"]
    if isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str | int | float):
        raise errors.BadRequest(
            "q value must be a string or a number."
        )
    return {k: v for k, v in item.items() if v is not None}


def pagination(args, conf):
    return storage.Pagination(
        limit=_limit(args["limit"], conf),
        marker=args["marker"],
        sort=[_sort_item(item) for item in args["sort"]],
    )


def lowered_limit(args, conf):
    """``[api] max_limit`` when the request asked for more, else None."""
    try:
        asked = int((args["limit"] or "").strip())
    except ValueError:
        return None
    return conf.api.max_limit if asked > conf.api.max_limit else None


def _limit(value, conf):
    max_limit = conf.api.max_limit
    if value is None:
        return min(conf.api.default_api_return_limit, max_limit)
    try:
        limit = int(value.strip())
    except ValueError:
        limit = 0
    if limit < 1:
        raise errors.invalid_input(
            "limit", value, "the limit should be a positive integer."
        )
    return min(limit, max_limit)


def _sort_item(item):
    key, _, direction = item.partition(":")
    direction = direction or "asc"
    if key not in storage.SORT_KEYS or direction not in ("asc", "desc"):
        raise errors.invalid_input("sort", item, SORT_HELP)
    return key, direction


def event_filter(filters, identity, admin):
    """The EventFilter for ``filters``, restricted to what the caller sees.

    An admin sees its project and events without a project_id trait, or
    everything with all_tenants; anyone else only events whose
    project_id and user_id traits are their own.
    """
    attrs = {}
    traits = []
    all_tenants = False
    for item in filters:
        field, value = item["field"], item["value"]
        op = item.get("op") or "eq"
        if op not in OPERATORS:
            raise errors.BadRequest(
                f"Operator {op} is not supported. The supported operators "
                f"are: {OPERATORS}"
            )
        if field in EVENT_FIELDS:
            _check_event_op(field, op)
            if field in attrs:
                raise errors.BadRequest(f"{field} may be given only once.")
            attrs[field] = _event_value(field, value)
        elif field == "all_tenants" and admin:
            all_tenants = strutils.bool_from_string(str(value))
        else:
            # As in Panko, a non-admin's all_tenants is a plain trait
            # filter: it can never widen what they see.
            traits.append(_trait_filter(field, op, item.get("type"), value))
    if not admin:
        traits.append(storage.TraitFilter(
            "project_id", "string", identity.project_id))
        traits.append(storage.TraitFilter(
            "user_id", "string", identity.user_id))
    admin_proj = identity.project_id if admin and not all_tenants else None
    return storage.EventFilter(
        traits_filter=traits, admin_proj=admin_proj, **attrs
    )


def _check_event_op(field, op):
    expected = EVENT_FIELDS[field]
    if op != expected:
        raise errors.BadRequest(
            f"Operator {op} is not supported. Only `{expected}' operator "
            f"is available for field {field}"
        )


def _event_value(field, value):
    if field in TIME_FIELDS:
        try:
            return models.parse_datetime(str(value))
        except (ValueError, OverflowError):
            raise _unconvertible(value, "datetime")
    return str(value)


def _trait_filter(field, op, type_name, value):
    type_name = type_name or "string"
    if type_name not in TYPES:
        raise errors.BadRequest(
            f"The data type {type_name} is not supported. The supported "
            f"data type list is: {TYPES}"
        )
    try:
        return storage.TraitFilter(field, type_name, value, op)
    except ValueError:
        raise _unconvertible(value, type_name)


def _unconvertible(value, type_name):
    return errors.BadRequest(
        f"Unable to convert the value {value} to the expected data type "
        f"{type_name}."
    )
