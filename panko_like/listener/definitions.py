"""Turning a service's notification into an event, by definitions in
Ceilometer's ``event_definitions.yaml`` format.

The file is a YAML list. Each item names the notification types it
covers in ``event_type`` (a shell-style pattern or a list of them; a
pattern starting with ``!`` excludes) and the ``traits`` to take from
the notification: for each trait name, the JSONPath ``fields`` to read
(a string, or a list tried in order; the first one holding a value that
is not null gives the trait) and an optional ``type`` (``text``, the
default, ``int``, ``float`` or ``datetime``). A definition given as a
plain string is its ``fields``. Where several definitions cover a
notification, the last one in the file wins (so YAML anchors and
merges can extend an earlier one). ``plugin`` is not supported: a file
that uses one is refused at start.

The paths are read on the notification as a whole: ``payload``,
``ctxt`` (the request context), ``publisher_id``, ``event_type``,
``priority`` and ``metadata`` (its ``message_id`` and ``timestamp``).
Whatever the definitions say, every event also gets the traits
``service`` (the publisher id), ``request_id``, ``project_id``,
``tenant_id`` and ``user_id`` where the notification has them; a
definition may redefine them.
"""

import fnmatch

import jsonpath_rw_ext
import orjson
import yaml
from oslo_log import log

from panko_like.storage import models

LOG = log.getLogger(__name__)

#: Trait type names of the format, as panko_like's trait types.
TYPES = {
    "text": models.TEXT_TYPE,
    "int": models.INT_TYPE,
    "float": models.FLOAT_TYPE,
    "datetime": models.DATETIME_TYPE,
}

#: The traits every event gets (a definition may redefine them).
DEFAULT_TRAITS = {
    "service": {"fields": "publisher_id"},
    "request_id": {"fields": "ctxt.request_id"},
    "project_id": {"fields": ["payload.tenant_id", "ctxt.project_id"]},
    "tenant_id": {"fields": ["payload.tenant_id", "ctxt.project_id"]},
    # oslo.context writes the user's id as "user".
    "user_id": {"fields": ["payload.user_id", "ctxt.user_id", "ctxt.user"]},
}


class DefinitionError(ValueError):
    """The definitions file cannot be used; the message says where."""


class TraitRule:
    """One trait: where its value is read and what type it is."""

    def __init__(self, name, spec, where):
        if isinstance(spec, (str, list)):
            spec = {"fields": spec}
        if not isinstance(spec, dict):
            raise DefinitionError(
                f"{where}: trait {name!r} must be a mapping with fields "
                f"(and type), not {spec!r}")
        unknown = set(spec) - {"fields", "type", "plugin"}
        if unknown:
            raise DefinitionError(
                f"{where}: trait {name!r} has unknown keys "
                f"{', '.join(sorted(map(str, unknown)))}")
        if "plugin" in spec:
            raise DefinitionError(
                f"{where}: trait {name!r} uses a plugin, which "
                "panko-like-listener does not support")
        type_name = spec.get("type", "text")
        if type_name not in TYPES:
            raise DefinitionError(
                f"{where}: trait {name!r} has type {type_name!r}; one of "
                f"{', '.join(TYPES)}")
        fields = spec.get("fields")
        if isinstance(fields, str):
            fields = [fields]
        if not fields or not all(isinstance(f, str) for f in fields):
            raise DefinitionError(
                f"{where}: trait {name!r} needs fields: a JSONPath or a "
                "list of them")
        try:
            models.check_name(name, "trait name",
                              models.MAX_TRAIT_NAME_LENGTH)
        except models.InvalidEvent as exc:
            raise DefinitionError(f"{where}: {exc}") from None
        self.name = name
        self.dtype = TYPES[type_name]
        self.paths = [_compile(path, f"{where}: trait {name!r}")
                      for path in fields]

    def trait(self, body):
        """The trait read from ``body``, or None where it has no value
        (or one that does not fit the type: logged)."""
        value = self._first_value(body)
        if value is None or (value == "" and self.dtype != models.TEXT_TYPE):
            return None
        try:
            # Then as the storage takes it (length, range, NUL...): a
            # value it would refuse leaves the trait out, not the event.
            value = models.convert_value(self.dtype,
                                         _convert(self.dtype, value))
            return models.Trait(self.name, self.dtype, value)
        except (ValueError, TypeError, OverflowError) as exc:
            LOG.warning("Trait %s of %s left out: %r does not fit its "
                        "type (%s)", self.name, body.get("event_type"),
                        value, exc)
            return None

    def _first_value(self, body):
        for path in self.paths:
            try:
                matches = path.find(body)
            except Exception as exc:  # noqa: BLE001 - jsonpath's own
                # An extension given what it cannot read (split() of a
                # number...): that path finds nothing; never a crash,
                # which would requeue the notification for ever.
                LOG.warning("Trait %s of %s: %s could not be read: %r",
                            self.name, body.get("event_type"), path, exc)
                continue
            for match in matches:
                if match.value is not None:
                    return match.value
        return None


class Definition:
    """The traits of the notification types that one item covers."""

    def __init__(self, item, where, defaults=True):
        if not isinstance(item, dict):
            raise DefinitionError(f"{where}: a definition is a mapping "
                                  "with event_type and traits")
        unknown = set(item) - {"event_type", "traits"}
        missing = {"event_type", "traits"} - set(item)
        if unknown or missing:
            raise DefinitionError(
                f"{where}: a definition has event_type and traits"
                + (f"; unknown: {', '.join(sorted(map(str, unknown)))}"
                   if unknown else "")
                + (f"; missing: {', '.join(sorted(missing))}"
                   if missing else ""))
        types = item["event_type"]
        if isinstance(types, str):
            types = [types]
        if not types or not all(isinstance(t, str) for t in types):
            raise DefinitionError(f"{where}: event_type is a pattern or a "
                                  "list of patterns")
        self.excluded = [t[1:] for t in types if t.startswith("!")]
        self.included = [t for t in types if not t.startswith("!")] or ["*"]
        traits = item["traits"] or {}
        if not isinstance(traits, dict):
            raise DefinitionError(f"{where}: traits is a mapping of trait "
                                  "names to their fields")
        specs = dict(DEFAULT_TRAITS) if defaults else {}
        specs.update(traits)
        self.rules = [TraitRule(str(name), spec, where)
                      for name, spec in specs.items()]

    def covers(self, event_type):
        return (any(fnmatch.fnmatchcase(event_type, t) for t in self.included)
                and not any(fnmatch.fnmatchcase(event_type, t)
                            for t in self.excluded))

    def traits(self, body):
        found = (rule.trait(body) for rule in self.rules)
        return [trait for trait in found if trait is not None]


class Converter:
    """Notifications to events, by a list of definitions.

    :param items: the definitions file's list (None: no file, every
        notification gets the default traits only).
    :param drop_unmatched: drop a notification no definition covers,
        instead of storing it with the default traits.
    :param raw_priorities: the priorities whose notifications are kept
        whole as the event's raw payload (others get ``{}``).
    """

    def __init__(self, items=None, drop_unmatched=False, raw_priorities=(),
                 source="definitions"):
        if items is None:
            items = []
        if not isinstance(items, list):
            raise DefinitionError(f"{source}: a list of definitions is "
                                  "expected")
        # The last definition covering a type wins: search from the end.
        self.definitions = [
            Definition(item, f"{source}, definition {number}")
            for number, item in reversed(list(enumerate(items, 1)))]
        if not drop_unmatched:
            self.definitions.append(
                Definition({"event_type": "*", "traits": {}}, source))
        self.raw_priorities = {p.lower() for p in raw_priorities}

    def event(self, priority, notification):
        """The event of ``notification`` (oslo.messaging's message:
        ``ctxt``, ``publisher_id``, ``event_type``, ``payload`` and
        ``metadata``), or None where no definition covers it.

        :raises ValueError: the notification cannot be an event (no
            message id, no time).
        """
        event_type = notification.get("event_type")
        if not isinstance(event_type, str) or not event_type:
            raise ValueError("the notification has no event_type")
        metadata = notification.get("metadata") or {}
        message_id = metadata.get("message_id")
        if not isinstance(message_id, str) or not message_id:
            raise ValueError("the notification has no message_id")
        generated = models.parse_datetime(metadata.get("timestamp"))
        definition = next(
            (d for d in self.definitions if d.covers(event_type)), None)
        if definition is None:
            return None
        context = notification.get("ctxt")
        if hasattr(context, "to_dict"):  # oslo.messaging's RpcContext
            context = context.to_dict()
        body = dict(notification, priority=priority, ctxt=context or {})
        raw = body if priority in self.raw_priorities else {}
        return models.Event(message_id, event_type, generated,
                            definition.traits(body), raw)


def load(path, **kwargs):
    """The :class:`Converter` of the definitions file at ``path``
    (None: none); raise :class:`DefinitionError` saying what is wrong."""
    if path is None:
        return Converter(None, **kwargs)
    try:
        with open(path, encoding="utf-8") as stream:
            items = yaml.safe_load(stream)
    except OSError as exc:
        raise DefinitionError(
            f"cannot read the event definitions {path}: "
            f"{exc.strerror or exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        detail = " ".join(str(exc).split())
        raise DefinitionError(
            f"the event definitions {path} are not YAML: {detail}") from None
    return Converter(items, source=path, **kwargs)


def _compile(path, where):
    try:
        return jsonpath_rw_ext.parse(path)
    except Exception as exc:  # the parser raises bare Exceptions
        raise DefinitionError(
            f"{where}: cannot read the JSONPath {path!r}: {exc}") from None


def _convert(dtype, value):
    if dtype == models.TEXT_TYPE:
        if isinstance(value, str):
            return value
        # Numbers and booleans as their JSON text; objects and lists
        # too, rather than Python's repr.
        return orjson.dumps(value, default=str).decode()
    if dtype == models.INT_TYPE:
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                value = float(value)  # "2.0" is 2; "2.5" is refused below
        if isinstance(value, float) and not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    if dtype == models.FLOAT_TYPE:
        return float(value)
    return models.parse_datetime(value)
