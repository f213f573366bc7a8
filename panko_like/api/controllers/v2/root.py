"""Routing of ``/v2/...`` to the handlers, by path and method."""

import pecan

from panko_like.api import errors
from panko_like.api.controllers.v2 import (
    capabilities,
    event_types,
    event_updates,
    events,
    matching,
    stream,
)


class MethodNotAllowed(errors.APIError):
    status = 405

    def __init__(self, method, allowed):
        super().__init__(
            f"Method {method} is not allowed here; allowed: "
            f"{', '.join(allowed)}",
            headers={"Allow": ", ".join(allowed)},
        )


# (path pattern, {method: handler}); "*" matches one path segment.
ROUTES = [
    (("capabilities",), {"GET": capabilities.get}),
    (("events",), {"GET": events.index, "POST": events.create,
                   "DELETE": matching.delete}),
    # Before ("events", "*"): these names are no message_ids here.
    (("events", "count"), {"GET": matching.count}),
    (("events", "statistics"), {"GET": matching.statistics}),
    (("events", "stream"), {"GET": stream.index}),
    (("events", "*"), {"GET": events.show, "HEAD": events.show,
                       "DELETE": events.delete,
                       "PATCH": event_updates.update}),
    (("event_types",), {"GET": event_types.index}),
    (("event_types", "*", "traits"), {"GET": event_types.trait_types}),
    (("event_types", "*", "traits", "*"), {"GET": event_types.traits}),
]


def _match(pattern, parts):
    if len(pattern) != len(parts):
        return None
    args = []
    for expected, part in zip(pattern, parts, strict=True):
        if expected == "*":
            args.append(part)
        elif expected != part:
            return None
    return args


class V2Controller:
    @pecan.expose()
    def _route(self, args, request):
        parts = list(args)
        if parts and parts[-1] == "":
            parts.pop()
        for pattern, methods in ROUTES:
            found = _match(pattern, parts)
            if found is None:
                continue
            handler = methods.get(request.method)
            if handler is None and request.method == "HEAD":
                handler = methods.get("GET")
            if handler is None:
                raise MethodNotAllowed(request.method, sorted(methods))
            return _Call(handler, found).call, []
        raise errors.NotFound("The resource could not be found.")


class _Call:
    """An exposed callable binding a handler to its path arguments."""

    def __init__(self, handler, path_args):
        self.handler = handler
        self.path_args = path_args

    @pecan.expose("json")
    def call(self, *_args, **_kwargs):
        # Query parameters are read by the handler itself from the
        # request, with their repetitions; pecan's kwargs are ignored.
        return self.handler(pecan.request, pecan.response, *self.path_args)
