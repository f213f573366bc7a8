"""The SELECTs of the SQL driver, built from an EventFilter.

Pure query construction: nothing here runs a statement. What differs
between databases comes from the Dialect given (see dialect).
"""

import functools

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import schema as t

OPERATORS = {
    "eq": lambda col, v: col == v,
    "ne": lambda col, v: col != v,
    "lt": lambda col, v: col < v,
    "le": lambda col, v: col <= v,
    "gt": lambda col, v: col > v,
    "ge": lambda col, v: col >= v,
}

FILTER_TABLES = {
    "string": t.trait_text,
    "integer": t.trait_int,
    "float": t.trait_float,
    "datetime": t.trait_datetime,
}

#: The event's type name, looked up per returned row: with a join,
#: MariaDB would read the (8-row) event_type table first and sort all
#: the events of every type instead of walking an index in order. The
#: foreign key makes it never NULL.
TYPE_NAME = (
    sa.select(t.event_type.c.desc)
    .where(t.event_type.c.id == t.event.c.event_type_id)
    .scalar_subquery()
    .label("desc")
)

#: What a page of events reads of each row.
EVENT_COLUMNS = (
    t.event.c.id,
    t.event.c.message_id,
    t.event.c.generated,
    t.event.c.raw,
    t.event.c.traits,
    TYPE_NAME,
    t.event.c.stored_at,
    t.event.c.updated_at,
)
#: What a long answer first reads of each matching event (see
#: reads.Reader._stream_by_keys).
KEY_COLUMNS = (t.event.c.id, t.event.c.message_id, t.event.c.generated)


def position(row):
    """Where keyset pagination resumes after ``row``."""
    return {"generated": row.generated, "message_id": row.message_id}


def after(sort, where):
    """Keyset condition: rows strictly after position ``where`` in
    ``sort``."""
    alternatives = []
    for index, (key, direction) in enumerate(sort):
        column = t.event.c[key]
        beyond = (
            column > where[key] if direction == "asc"
            else column < where[key]
        )
        equal = [t.event.c[k] == where[k] for k, _ in sort[:index]]
        alternatives.append(sa.and_(*equal, beyond))
    return sa.or_(*alternatives)


def fits(value):
    """Whether a trait value of ID_TRAITS is kept in the event's row."""
    return isinstance(value, str) and len(value) <= t.ID_COLUMN_LENGTH


def in_event_column(trait_filter):
    """Whether the event's own column (project_id, user_id) answers
    this trait filter."""
    return (trait_filter.key in t.ID_TRAITS
            and trait_filter.type == "string"
            and trait_filter.op == "eq"
            and fits(trait_filter.value))


def probed(trait_filter, anchored):
    """Whether this trait filter is a probe of each candidate event's
    trait rather than a lookup in the (key, value) index (see
    trait_condition)."""
    return anchored and trait_filter.op != "eq"


def visible(project, listed):
    """Events with this project_id trait or with none at all.

    ``project`` is a value or a bound parameter; ``listed``: whether it
    fits ``event.project_id`` (longer ones are never copied there).
    event.project_id is NULL when there is no text project_id trait, and
    also when its value is NULL or too long for the column: those few
    are told apart through trait_text.
    """
    other_project = sa.exists().where(
        t.trait_text.c.event_id == t.event.c.id,
        t.trait_text.c.key == "project_id",
        sa.or_(
            t.trait_text.c.value.is_(None),
            t.trait_text.c.value != project,
        ),
    )
    unlisted = sa.and_(t.event.c.project_id.is_(None), ~other_project)
    if not listed:
        return unlisted
    return sa.or_(t.event.c.project_id == project, unlisted)


def type_id(event_type):
    """The id of the event type named ``event_type``."""
    return (
        sa.select(t.event_type.c.id)
        .where(t.event_type.c.desc == event_type)
        .scalar_subquery()
    )


def trait_condition(dialect, trait_filter: storage.TraitFilter,
                    anchored=False):
    """The SQL condition of one trait filter.

    ``anchored``: the filter has other conditions that an index on
    events serves. A range or ``ne`` filter then probes each candidate
    event's trait by primary key (a scalar subquery, at most one row
    since (event_id, key) is the key) instead of joining every trait in
    the range, so a page stops after its first matches.
    """
    if in_event_column(trait_filter):
        # The event's column of that name holds every such value.
        return t.event.c[trait_filter.key] == trait_filter.value
    table = FILTER_TABLES[trait_filter.type]
    value_col = table.c.value
    value = trait_filter.value
    text = trait_filter.type == "string"
    if text:
        value_col = dialect.text_value(value_col, trait_filter.op)
    own_trait = [
        table.c.event_id == t.event.c.id,
        table.c.key == trait_filter.key,
    ]
    if probed(trait_filter, anchored):
        probe = sa.select(value_col).where(*own_trait).scalar_subquery()
        return OPERATORS[trait_filter.op](probe, value)
    conditions = [table.c.key == trait_filter.key]
    if text and trait_filter.op == "eq":
        conditions.extend(dialect.text_equal(value_col, value))
    conditions.append(OPERATORS[trait_filter.op](value_col, value))
    # IN rather than EXISTS: SQLite runs a correlated EXISTS once per
    # event, but reads an IN list from the (key, value) index.
    return t.event.c.id.in_(sa.select(table.c.event_id).where(*conditions))


def filter_conditions(dialect, event_filter: storage.EventFilter):
    """The SQL conditions of ``event_filter``, and whether a trait
    table's (key, value) index lists its matches (see
    reads.Reader._stream_by_keys)."""
    f = event_filter
    conditions = []
    start = end = None
    if f.start_timestamp is not None:
        start = models.to_naive_utc(f.start_timestamp)
        conditions.append(t.event.c.generated >= start)
    if f.end_timestamp is not None:
        end = models.to_naive_utc(f.end_timestamp)
        conditions.append(t.event.c.generated <= end)
    conditions.extend(dialect.time_bounds(start, end))
    if f.stored_since is not None:
        conditions.append(
            t.event.c.stored_at >= models.to_naive_utc(f.stored_since))
    if f.stored_before is not None:
        conditions.append(
            t.event.c.stored_at < models.to_naive_utc(f.stored_before))
    if f.event_type is not None:
        # A scalar subquery (desc is unique): the planner then walks
        # the (event_type_id, generated, message_id) index in order.
        conditions.append(t.event.c.event_type_id == type_id(f.event_type))
    if f.message_id is not None:
        conditions.append(dialect.message_is(f.message_id))
    anchored = bool(conditions) or f.admin_proj is not None or any(
        trait_filter.op == "eq" for trait_filter in f.traits_filter
    )
    listed = False
    for trait_filter in f.traits_filter:
        conditions.append(trait_condition(dialect, trait_filter, anchored))
        listed = listed or not (in_event_column(trait_filter)
                                or probed(trait_filter, anchored))
    if f.admin_proj is not None:
        conditions.append(visible(f.admin_proj, fits(f.admin_proj)))
    return conditions, listed


def is_lookup(event_filter):
    """Whether the filter is one message_id, string ``eq`` trait filters
    (a non-admin's own project and user) and a project restriction."""
    f = event_filter
    # A None value is left to the general path, which compares it as
    # SQLAlchemy does a literal None (IS NULL).
    return (f.message_id is not None and f.event_type is None
            and f.start_timestamp is None and f.end_timestamp is None
            and f.stored_since is None and f.stored_before is None
            and all(trait_filter.type == "string" and trait_filter.op == "eq"
                    and isinstance(trait_filter.value, str)
                    for trait_filter in f.traits_filter))


@functools.lru_cache(maxsize=64)
def lookup_query(message_is, text_filters, listed):
    """The query of one event by message_id, for one shape of filter.

    ``message_is``: the dialect's (see Dialect.message_is);
    ``text_filters``: how many string ``eq`` trait filters (bound as
    filter_key_N and filter_value_N), each checked on the event's own
    trait by primary key; ``listed``: None for no project restriction,
    else whether the bound ``project`` fits event.project_id.
    """
    conditions = [
        t.event.c.event_type_id.is_not(None),
        message_is(sa.bindparam("message_id")),
    ]
    for index in range(text_filters):
        conditions.append(sa.exists().where(
            t.trait_text.c.event_id == t.event.c.id,
            t.trait_text.c.key == sa.bindparam(f"filter_key_{index}"),
            t.trait_text.c.value == sa.bindparam(
                f"filter_value_{index}", type_=t.trait_text.c.value.type),
        ))
    if listed is not None:
        project = sa.bindparam("project", type_=t.trait_text.c.value.type)
        conditions.append(visible(project, listed))
    return sa.select(*EVENT_COLUMNS).where(*conditions)


def trait_types_query(event_type, ids=None, suffix=None):
    """Each (name, dtype) of event_type_trait for ``event_type``, with an
    event_id of that type having it, or NULL. ``ids``: the lowest and
    highest event id to look among; ``suffix``: look in the partitions
    of that suffix only (``_default``, PostgreSQL's catch-all)."""
    summary = t.event_type_trait
    event = t.event if suffix is None else _partition(t.event, suffix)
    parts = []
    for whole, dtype in t.TABLE_DTYPES:
        table = whole if suffix is None else _partition(whole, suffix)
        probe = (
            sa.select(table.c.event_id)
            .join(event, event.c.id == table.c.event_id)
            .where(
                event.c.event_type_id == summary.c.event_type_id,
                table.c.key == summary.c.key,
            )
            .limit(1)
        )
        if ids is not None:
            # Literal bounds on both tables: the planner then keeps only
            # their partitions of those days.
            low, high = (sa.literal_column(str(int(i))) for i in ids)
            probe = probe.where(table.c.event_id.between(low, high),
                                event.c.id.between(low, high))
        parts.append(
            sa.select(summary.c.key, summary.c.dtype,
                      probe.scalar_subquery()).where(
                summary.c.event_type_id == type_id(event_type),
                summary.c.dtype == dtype,
            )
        )
    return sa.union_all(*parts)


def _partition(table, suffix):
    """The partition of ``table`` named with ``suffix``, with the
    columns a probe reads."""
    return sa.table(table.name + suffix,
                    *(sa.column(name) for name in table.c.keys()))


def found_trait_types(rows):
    """The sorted (name, dtype) of rows of trait_types_query that an
    event still has."""
    return sorted(
        (name, dtype) for name, dtype, found in rows if found is not None
    )


def traits_query(dialect, event_ids):
    """event_id, key, dtype, then one value column per dtype."""
    parts = []
    for table, dtype in t.TABLE_DTYPES:
        values = [
            table.c.value if other is table
            else dialect.typed_null(other.c.value.type)
            for other, _ in t.TABLE_DTYPES
        ]
        parts.append(
            sa.select(
                table.c.event_id,
                table.c.key,
                sa.literal(dtype, sa.Integer),
                *values,
            ).where(dialect.in_(table.c.event_id, event_ids))
        )
    return sa.union_all(*parts)


def no_event_of_type(type_id_column):
    """True where no event has the type ``type_id_column``.

    A scalar subquery in the order of the (event_type_id, generated,
    message_id) index, so that each type costs the first entry of that
    index in each partition. PostgreSQL plans NOT EXISTS here as an anti
    join whose inner side builds a bitmap of the type's every event in a
    partition, which grows with the table.
    """
    first = (
        sa.select(sa.literal(1))
        .where(t.event.c.event_type_id == type_id_column)
        .order_by(t.event.c.generated)
        .limit(1)
        .scalar_subquery()
    )
    return first.is_(None)


def text_trait_of_event(name):
    """The value of the event's text trait ``name``, or NULL: a probe
    by the trait table's primary key (event_id, key), per row."""
    return (
        sa.select(t.trait_text.c.value)
        .where(t.trait_text.c.event_id == t.event.c.id,
               t.trait_text.c.key == name)
        .scalar_subquery()
    )


def group_column(group_by):
    """What event_statistics groups on: the event type's id, or a text
    trait's value (event.project_id holds most project_ids: the trait
    table is read only for the others)."""
    if group_by == "event_type":
        return t.event.c.event_type_id
    if group_by in t.ID_TRAITS:
        return sa.func.coalesce(t.event.c[group_by],
                                text_trait_of_event(group_by))
    return text_trait_of_event(group_by)
