"""The queries (a)-(k) of the storage benchmark, timed and checked.

Each query goes through the driver's public contract (``get_events``,
``get_event_types``, ``get_trait_types``, ``get_traits``,
``count_events``, ``event_statistics``) and its answer is compared with
what :class:`~tools.benchlib.workload.Expected` says it must be.
"""

import collections
import datetime
import resource
import statistics
import time

from panko_like import storage
from panko_like.storage import models
from tools.benchlib.workload import DAY, EVENT_TYPES, HOUR, PAGE, WINDOW

#: The last microsecond of DAY: end_timestamp is inclusive.
_DAY_END = DAY[1] - datetime.timedelta(microseconds=1)


def _event_key(event):
    return (event.message_id, event.event_type, event.generated,
            sorted((t.name, _storage_dtype(t.dtype), _value(t.value))
                   for t in event.traits), event.raw)


def _storage_dtype(dtype):
    return models.TEXT_TYPE if dtype == models.NONE_TYPE else dtype


def _value(value):
    return round(value, 9) if isinstance(value, float) else value


def _ordered(keys):
    return [message_id for _, message_id in sorted(keys)]


def queries(expected, scan_repeat):
    """(name, [(call, expected answer) ...], repeat) per query."""
    page = storage.Pagination(limit=PAGE)
    every = storage.Pagination()

    def ids(event_filter, pagination):
        def call(conn):
            found = []
            for event in conn.get_events(event_filter, pagination):
                # Read whole, as a caller would: a driver may decode an
                # event's traits and raw payload only when they are read.
                event.traits, event.raw  # noqa: B018
                found.append(event.message_id)
            return found
        return call

    def project_filter(project, **extra):
        return {"key": "project_id", "string": project, **extra}

    shapes = [
        ("a_event_type_page", [
            (ids(storage.EventFilter(event_type=name), page),
             expected.by_type[name].ids()) for name in EVENT_TYPES]),
        ("b_resource_all", [
            (ids(storage.EventFilter(traits_filter=[
                {"key": "resource_id", "string": r}]), every),
             _ordered(keys)) for r, keys in expected.by_resource.items()]),
        ("c_project_3_days_page", [
            (ids(storage.EventFilter(start_timestamp=WINDOW[0],
                                     end_timestamp=WINDOW[1],
                                     traits_filter=[project_filter(p)]),
                 page), expected.in_window[p].ids())
            for p in expected.projects]),
        ("d_project_memory_page", [
            (ids(storage.EventFilter(traits_filter=[
                project_filter(p),
                {"key": "memory_mb", "op": "ge", "integer": 4096}]), page),
             expected.big_memory[p].ids()) for p in expected.projects]),
        ("e_message_id", [
            (lambda conn, m=m: [_event_key(e) for e in conn.get_events(
                storage.EventFilter(message_id=m))],
             [_event_key(event)])
            for m, event in expected.events.items()]),
        ("f_event_types", [
            (lambda conn: conn.get_event_types(), sorted(expected.types))]),
        ("g_trait_types", [
            (lambda conn, name=name: sorted(
                (t["name"], t["data_type"])
                for t in conn.get_trait_types(name)),
             sorted(expected.trait_types[name]))
            for name in sorted(expected.types)]),
        ("h_first_page", [(ids(storage.EventFilter(), page),
                           expected.first.ids())]),
        ("i_state_values", [
            (lambda conn, name=name: collections.Counter(
                t.value for t in conn.get_traits(name, "state")),
             expected.states[name]) for name in sorted(expected.types)]),
        ("j_count_project_day", [
            (lambda conn, p=p: conn.count_events(storage.EventFilter(
                start_timestamp=DAY[0], end_timestamp=_DAY_END,
                traits_filter=[project_filter(p)])),
             expected.day_counts[p]) for p in expected.projects]),
        ("k_hourly_type_day", [
            (lambda conn, name=name: {
                line.start: line.count for line in conn.event_statistics(
                    storage.EventFilter(event_type=name,
                                        start_timestamp=DAY[0],
                                        end_timestamp=_DAY_END),
                    period=HOUR)},
             dict(expected.hours[name])) for name in EVENT_TYPES]),
    ]
    return [(name, cases, scan_repeat if name.startswith("i_") else None)
            for name, cases in shapes
            if scan_repeat or not name.startswith("i_")]


def run_queries(conn, expected, repeat, scan_repeat):
    """Time each query; return (figures, failures)."""
    figures, failures = {}, []
    for name, cases, own_repeat in queries(expected, scan_repeat):
        if not cases:
            failures.append(f"{name}: no case to check at this size; "
                            "load more events")
            continue
        times, rows = [], 0
        for index in range(own_repeat or repeat):
            call, want = cases[index % len(cases)]
            start = time.perf_counter()
            got = call(conn)
            times.append(time.perf_counter() - start)
            rows += _rows(got)
            if got != want:
                failures.append(f"{name}: wrong answer (case "
                                f"{index % len(cases)}): got "
                                f"{_short(got)}, expected {_short(want)}")
        figures[name] = {
            "runs": len(times),
            "p50_ms": round(statistics.median(times) * 1000, 3),
            "p95_ms": round(percentile(times, 95) * 1000, 3),
            "rows_per_run": round(rows / len(times), 1),
        }
        if name.startswith("i_"):
            figures[name]["rows_per_s"] = round(rows / sum(times))
    return figures, failures


def _rows(answer):
    """How many rows an answer holds: a count is one, the lines of
    statistics hold the events they count."""
    if isinstance(answer, int):
        return 1
    if isinstance(answer, dict):
        return sum(answer.values())
    return len(answer)


def percentile(values, pct):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1,
                       int(round(pct / 100 * (len(ordered) - 1))))]


def _short(value):
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def peak_rss_mb():
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                 1)

