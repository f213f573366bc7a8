"""The rules of update_traits (see base.Connection.update_traits),
applied by every driver the same way: the arguments checked, then the
event's traits computed from what it has. A driver's own part is to
read and write the traits as one atomic step."""

from panko_like.storage import models


def checked_update(
    set_traits: list[models.Trait], remove: list[str]
) -> tuple[list[models.Trait], list[str]]:
    """Check (and convert) the arguments of update_traits; raise
    InvalidEvent.

    The traits follow record_events' rules (a name at most once per
    type); each name to remove is a trait name; a name is never both
    set and removed, and something is set or removed.
    """
    # validate_traits looks at the traits alone.
    holder = models.Event("-", "-", None, list(set_traits))
    holder.validate_traits()
    for name in remove:
        models.check_name(name, "trait name", models.MAX_TRAIT_NAME_LENGTH)
    both = sorted({trait.name for trait in holder.traits} & set(remove))
    if both:
        raise models.InvalidEvent(
            models.Problem.INVALID,
            f"traits both set and removed: {', '.join(both)}")
    if not holder.traits and not remove:
        raise models.InvalidEvent(models.Problem.INVALID,
                                  "nothing to set or remove")
    return holder.traits, sorted(set(remove))


def updated_traits(
    current: list[models.Trait], set_traits: list[models.Trait],
    remove: list[str], max_traits: int | None = None,
) -> list[models.Trait]:
    """An event's traits once ``set_traits`` and ``remove`` (checked by
    checked_update) apply to its ``current`` ones, sorted by (name,
    dtype) as drivers read them back.

    A name set replaces every trait of that name, whatever its type;
    removing a name the event lacks is no error. More than
    ``max_traits`` traits raises InvalidEvent (too large).
    """
    touched = {trait.name for trait in set_traits} | set(remove)
    traits = [trait for trait in current if trait.name not in touched]
    traits.extend(set_traits)
    if max_traits is not None and len(traits) > max_traits:
        raise models.InvalidEvent(
            models.Problem.TOO_LARGE,
            f"the event would have {len(traits)} traits; at most "
            f"{max_traits}")
    traits.sort(key=lambda trait: (trait.name, trait.dtype))
    return traits
