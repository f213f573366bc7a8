"""Hypothesis settings and strategies shared by the property tests.

Every property test runs with :data:`PROFILE`: derandomized (the same
examples on every run, so CI is reproducible), no example database
written into the tree, and a bounded number of examples so that the
whole property suite stays well under a minute.
"""

import datetime
import math

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from panko_like.storage import models

PROFILE = "panko_like"
settings.register_profile(
    PROFILE,
    derandomize=True,
    database=None,
    max_examples=100,
    deadline=datetime.timedelta(seconds=5),
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow,
                           HealthCheck.data_too_large,
                           HealthCheck.large_base_example],
)
settings.load_profile(PROFILE)


def examples(count, **kwargs):
    """Settings of a test that runs ``count`` examples."""
    return settings(settings.get_profile(PROFILE), max_examples=count,
                    **kwargs)


#: Any character a database stores: not NUL, not a lone surrogate.
STORABLE = st.characters(blacklist_categories=("Cs",),
                         blacklist_characters="\x00")
#: Any character at all, astral ones and surrogates included.
ANY_CHAR = st.characters()
#: Astral characters (emoji, CJK extension B, musical symbols).
ASTRAL = st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF,
                       blacklist_categories=("Cs", "Cn"))


def storable_text(min_size=0, max_size=40):
    return st.text(st.one_of(STORABLE, ASTRAL),
                   min_size=min_size, max_size=max_size)


def name(max_length):
    """A message_id, event type or trait name within ``max_length``."""
    return st.one_of(
        storable_text(1, min(max_length, 30)),
        st.integers(1, max_length).map(lambda n: "n" * n),
        st.just("\U0001f600" * max_length),
    )


INT_EDGES = [models.INT_MIN, models.INT_MIN + 1, -1, 0, 1,
             2**31 - 1, 2**31, 2**53 + 1, models.INT_MAX - 1,
             models.INT_MAX]
ints = st.one_of(st.sampled_from(INT_EDGES),
                 st.integers(models.INT_MIN, models.INT_MAX))
floats = st.one_of(
    st.sampled_from([-0.0, 0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                     1.7976931348623157e308, -1.7976931348623157e308,
                     0.1, 1e16, 1e-7, 2.0**53 + 2]),
    st.floats(allow_nan=False, allow_infinity=False),
)
YEAR_1 = datetime.datetime(1, 1, 1)
YEAR_9999 = datetime.datetime(9999, 12, 31, 23, 59, 59, 999999)
datetimes = st.one_of(
    st.sampled_from([YEAR_1, YEAR_9999, datetime.datetime(1970, 1, 1),
                     datetime.datetime(2026, 1, 1, 12, 0, 0, 1)]),
    st.datetimes(min_value=YEAR_1, max_value=YEAR_9999),
)
texts = st.one_of(
    storable_text(0, 60),
    st.just("x" * models.MAX_TEXT_LENGTH),
    st.just("\U0001f600" * models.MAX_TEXT_LENGTH),
    st.sampled_from(["", " ", "None", "null", "true", "-0.0", "\u00e9",
                     " padded ", "trailing  "]),
)

VALUES = {
    models.NONE_TYPE: texts,
    models.TEXT_TYPE: texts,
    models.INT_TYPE: ints,
    models.FLOAT_TYPE: floats,
    models.DATETIME_TYPE: datetimes,
}


@st.composite
def traits(draw, max_size=8, allow_none=True):
    """Traits of distinct (name, stored type): what validate() takes."""
    chosen = draw(st.lists(
        st.tuples(name(models.MAX_TRAIT_NAME_LENGTH),
                  st.sampled_from(sorted(VALUES))),
        max_size=max_size,
        unique_by=lambda item: (
            item[0],
            models.TEXT_TYPE if item[1] == models.NONE_TYPE else item[1]),
    ))
    result = []
    for trait_name, dtype in chosen:
        values = VALUES[dtype]
        if allow_none:
            values = st.one_of(values, st.none())
        result.append(models.Trait(trait_name, dtype, draw(values)))
    return result


json_scalars = st.one_of(
    st.none(), st.booleans(), ints,
    # Integers beyond 64 bits, which Panko's payloads may hold.
    st.integers(-(2**80), 2**80),
    floats, storable_text(0, 30),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(storable_text(0, 10), children, max_size=4),
    ),
    max_leaves=20,
)


@st.composite
def events(draw, allow_none=True):
    """A valid models.Event (validate() passes; values already converted)."""
    event = models.Event(
        draw(name(models.MAX_MESSAGE_ID_LENGTH)),
        draw(name(models.MAX_EVENT_TYPE_LENGTH)),
        draw(datetimes),
        draw(traits(allow_none=allow_none)),
        draw(st.one_of(json_values,
                       st.dictionaries(storable_text(0, 10), json_values,
                                       max_size=5))),
    )
    event.validate()
    return event


def same_float(a, b):
    """Equal, and of the same sign (-0.0 is not 0.0)."""
    return a == b and math.copysign(1, a) == math.copysign(1, b)
