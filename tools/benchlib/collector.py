"""How often Python's cyclic garbage collector runs during a piece of
work: what ``record_events`` holding it off (see
``panko_like.storage.base.collector_paused``) saves a writer, printed as
a figure rather than asserted in a test (the count depends on the
interpreter and on everything else the process holds)."""

import gc


class Passes:
    """Counts the collector's passes while inside ``with``, by
    generation; reusable, the counts add up."""

    def __init__(self):
        self.by_generation = [0, 0, 0]

    def _count(self, phase, info):
        if phase == "start":
            self.by_generation[info["generation"]] += 1

    def __enter__(self):
        gc.callbacks.append(self._count)
        return self

    def __exit__(self, *exc_info):
        gc.callbacks.remove(self._count)

    @property
    def total(self) -> int:
        return sum(self.by_generation)

    def figure(self) -> dict:
        return {"passes": self.total,
                "by_generation": list(self.by_generation)}
