"""Reading events: pages streamed in constant memory.

Answers are read in chunks with keyset pagination (each chunk starts
after the last row of the one before), so a long answer streams without
being held whole, and a lost connection between two chunks is retried
from where it stopped.
"""

import dataclasses
import datetime
import functools

import sqlalchemy as sa

from panko_like import storage
from panko_like.storage import models
from panko_like.storage.sqlalchemy import engine as engine_mod
from panko_like.storage.sqlalchemy import queries
from panko_like.storage.sqlalchemy import schema as t
from panko_like.storage.sqlalchemy import traits as trait_codec

_EPOCH = datetime.datetime(1970, 1, 1)
#: Events fetched per round trip while streaming query results.
CHUNK_SIZE = 1000
#: Events of the first page of an answer matched through a trait index,
#: read whole (see _stream_by_keys): about 12 MB of rows.
FIRST_PAGE = 5_000
#: Sort keys read at once past that page: about 12 MB of them.
KEY_CHUNK = 50_000


class Reader:
    """The read half of the SQL driver.

    :param dialect: the database's Dialect.
    :param retry: ``retry(func, *args)`` runs ``func`` under the
        driver's resilience policy (base.Connection._reconnecting); the
        chunks of a stream are fetched through it one by one.
    """

    def __init__(self, dialect, retry):
        self.dialect = dialect
        self.retry = retry

    def get_events(self, event_filter, pagination=None):
        # Chosen at the call: the later chunks of the answer are read
        # through the same engine, whatever the context is by the time
        # the stream is consumed.
        engine = self.dialect.read_engine()
        pagination = pagination or storage.Pagination()
        if pagination.marker is None and queries.is_lookup(event_filter):
            return self._lookup(engine, event_filter)
        conditions, listed = queries.filter_conditions(
            self.dialect, event_filter)
        position = None
        if pagination.marker is not None:
            position = self.retry(
                self._find_marker, engine, conditions, pagination.marker)
        if listed and (pagination.limit is None
                       or pagination.limit > CHUNK_SIZE):
            return self._stream_by_keys(
                engine, conditions, pagination, position)
        return self._stream(engine, conditions, pagination, position)

    def _find_marker(self, engine, conditions, marker):
        with engine.connect() as conn:
            row = conn.execute(
                sa.select(t.event.c.generated, t.event.c.message_id).where(
                    self.dialect.message_is(marker), *conditions)
            ).first()
        if row is None:
            raise storage.InvalidMarker(f"marker {marker!r} not found")
        return queries.position(row)

    def _lookup(self, engine, event_filter):
        """The event ``message_id`` names, if the other filters allow it.

        Showing one event is the API's most frequent call: its query is
        built once per shape of filter (see queries.lookup_query) and
        then run with bound values, instead of being built and hashed
        anew.
        """
        f = event_filter
        params = {"message_id": f.message_id}
        for index, trait_filter in enumerate(f.traits_filter):
            params[f"filter_key_{index}"] = trait_filter.key
            params[f"filter_value_{index}"] = trait_filter.value
        if f.admin_proj is None:
            listed = None
        else:
            listed = queries.fits(f.admin_proj)
            params["project"] = f.admin_proj
        query = queries.lookup_query(
            self.dialect.message_is, len(f.traits_filter), listed)
        rows, traits = self.retry(self._fetch_chunk, engine, query, params)
        yield from events_from_rows(rows, traits)

    def _pages(self, columns, conditions, pagination, position, chunk,
               fetch):
        """Yield ``fetch(query)`` (rows, and what else it reads) for the
        query of each page of the matching events' ``columns``, in
        order, at most ``chunk`` rows each: keyset pagination, each page
        starting after the last row of the one before."""
        remaining = pagination.limit
        order = [
            t.event.c[key].asc() if direction == "asc"
            else t.event.c[key].desc()
            for key, direction in pagination.sort
        ]
        while remaining is None or remaining > 0:
            size = chunk if remaining is None else min(remaining, chunk)
            query = (
                sa.select(*columns)
                .where(t.event.c.event_type_id.is_not(None), *conditions)
                .order_by(*order)
                .limit(size)
            )
            if position is not None:
                query = query.where(queries.after(pagination.sort, position))
            rows, extra = self.retry(fetch, query)
            yield rows, extra
            if len(rows) < size:
                return
            position = queries.position(rows[-1])
            if remaining is not None:
                remaining -= len(rows)

    def _stream(self, engine, conditions, pagination, position):
        fetch = functools.partial(self._fetch_chunk, engine)
        for rows, traits in self._pages(queries.EVENT_COLUMNS, conditions,
                                        pagination, position, CHUNK_SIZE,
                                        fetch):
            yield from events_from_rows(rows, traits)

    def _stream_by_keys(self, engine, conditions, pagination, position):
        """_stream for a filter whose matches a trait table's (key,
        value) index lists (an IN subquery).

        The database then finds every match and sorts them for each
        query, whatever its LIMIT: reading a long answer CHUNK_SIZE
        events at a time would find them all again for every chunk.
        Instead its first FIRST_PAGE events are read in one query (most
        such answers fit), and past them the sort keys of up to
        KEY_CHUNK matches at once, then their rows by id, CHUNK_SIZE at
        a time. An event deleted meanwhile is left out; an id given
        since to another event (SQLite reuses the highest) is told by
        its message_id.
        """
        rows = []
        fetch = functools.partial(self._fetch_chunk, engine)
        first = dataclasses.replace(pagination, limit=min(
            pagination.limit or FIRST_PAGE, FIRST_PAGE))
        for rows, traits in self._pages(queries.EVENT_COLUMNS, conditions,
                                        first, position, FIRST_PAGE,
                                        fetch):
            yield from events_from_rows(rows, traits)
        if len(rows) < first.limit or len(rows) == pagination.limit:
            return
        rest = dataclasses.replace(pagination, limit=(
            None if pagination.limit is None
            else pagination.limit - len(rows)
        ))
        for keys, _ in self._pages(queries.KEY_COLUMNS, conditions, rest,
                                   queries.position(rows[-1]), KEY_CHUNK,
                                   functools.partial(
                                       self._fetch_keys, engine)):
            for chunk in engine_mod.chunks(keys, CHUNK_SIZE):
                ids = [key.id for key in chunk]
                rows, traits = self.retry(
                    fetch,
                    sa.select(*queries.EVENT_COLUMNS).where(
                        *self.dialect.among(t.event.c.id, ids)),
                )
                found = {(row.id, row.message_id): row for row in rows}
                in_order = [found.get((key.id, key.message_id))
                            for key in chunk]
                yield from events_from_rows(
                    [row for row in in_order if row is not None], traits)

    @staticmethod
    def _fetch_keys(engine, query):
        with engine.connect() as conn:
            return conn.execute(query).all(), None

    def _fetch_chunk(self, engine, query, params=None):
        """Rows of events, and the traits of those without event.traits.

        Every event written since revision 0004 has its traits in its
        own row; only older writers' events are looked up in the trait
        tables.
        """
        with engine.connect() as conn:
            rows = conn.execute(query, params).all()
            return rows, self.traits_of(
                conn, [row.id for row in rows if row.traits is None])

    def traits_of(self, conn, event_ids):
        """Traits of these events, in one query over the four tables."""
        traits = {}
        if not event_ids:
            return traits
        for event_id, key, dtype, *values in conn.execute(
                queries.traits_query(self.dialect, event_ids)).all():
            traits.setdefault(event_id, []).append(
                models.Trait(key, dtype, values[dtype - 1]))
        for items in traits.values():
            items.sort(key=lambda trait: (trait.name, trait.dtype))
        return traits

    def count_events(self, event_filter):
        conditions, _ = queries.filter_conditions(self.dialect, event_filter)
        query = sa.select(sa.func.count()).select_from(t.event).where(
            t.event.c.event_type_id.is_not(None), *conditions)
        with self.dialect.read_engine().connect() as conn:
            return conn.scalar(query)

    def event_statistics(self, event_filter, group_by=None, period=None,
                         max_groups=None):
        conditions, _ = queries.filter_conditions(self.dialect, event_filter)
        keys = []
        if group_by is not None:
            keys.append(queries.group_column(group_by).label("grp"))
        if period is not None:
            keys.append(self.dialect.period_index(
                t.event.c.generated, period).label("bucket"))
        query = (
            sa.select(*keys, sa.func.count().label("n"))
            .select_from(t.event)
            .where(t.event.c.event_type_id.is_not(None), *conditions)
        )
        if keys:
            query = query.group_by(*keys)
        if max_groups is not None:
            query = query.limit(max_groups + 1)
        with self.dialect.read_engine().connect() as conn:
            rows = conn.execute(query).all()
            names = (dict(conn.execute(sa.select(
                t.event_type.c.id, t.event_type.c.desc)).all())
                if group_by == "event_type" else None)
        if max_groups is not None and len(rows) > max_groups:
            raise storage.TooManyGroups(
                f"more than {max_groups} groups")
        return statistics_lines(rows, group_by, period, names)

    def get_event_types(self):
        with self.dialect.read_engine().connect() as conn:
            names = conn.scalars(sa.select(t.event_type.c.desc))
            return sorted(name for name in names if name is not None)

    def get_trait_types(self, event_type):
        """From event_type_trait, each row checked against its table.

        A summary row may outlive the events that had it (they were
        deleted), so each is probed for one trait still there. The probe
        is a scalar subquery with LIMIT 1, which databases run per row
        and stop at the first match (an EXISTS would be planned as a
        join over every trait of the type).
        """
        with self.dialect.read_engine().connect() as conn:
            pairs = self.dialect.trait_types(conn, event_type)
        return [{"name": name, "data_type": dtype} for name, dtype in pairs]

    def get_traits(self, event_type, trait_name=None):
        result = []
        with self.dialect.read_engine().connect() as conn:
            for table, dtype in t.TABLE_DTYPES:
                query = (
                    sa.select(table.c.key, table.c.value)
                    .join(t.event, t.event.c.id == table.c.event_id)
                    .where(t.event.c.event_type_id
                           == queries.type_id(event_type))
                )
                if trait_name is not None:
                    query = query.where(table.c.key == trait_name)
                result.extend(
                    models.Trait(key, dtype, value)
                    for key, value in conn.execute(query)
                )
        return result


def statistics_lines(rows, group_by, period, names=None):
    """GroupCount items of rows of (group?, bucket?, count), sorted.

    ``names``: event type names by id, when grouping by event type.
    """
    lines = []
    for row in rows:
        values = list(row)
        group = values.pop(0) if group_by is not None else None
        if names is not None:
            group = names.get(group)
        start = None
        if period is not None:
            start = _EPOCH + datetime.timedelta(
                seconds=int(values.pop(0)) * period)
        lines.append(storage.GroupCount(group, start, values[0]))
    return storage.sorted_groups(lines)


def events_from_rows(rows, traits):
    """models.Event of rows of EVENT_COLUMNS (see _fetch_chunk)."""
    # Unpacked rather than read by name: a page reads 100 rows or more.
    for (event_id, message_id, generated, raw, stored, type_name,
         stored_at, updated_at) in rows:
        if stored is None:
            yield models.Event.from_stored(
                message_id, type_name, generated,
                traits=traits.get(event_id, []), raw_text=raw,
                stored_at=stored_at, updated_at=updated_at)
        else:
            yield models.Event.from_stored(
                message_id, type_name, generated,
                stored_traits=trait_codec.load_trait_items(stored),
                raw_text=raw, stored_at=stored_at, updated_at=updated_at)
