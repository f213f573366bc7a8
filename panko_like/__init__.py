"""panko_like: an event store for OpenStack-style deployments."""

__version__ = "0.1.0"


class NotImplementedError(NotImplementedError):  # noqa: A001
    """A feature the active driver does not provide.

    The API turns it into HTTP 501 and the shared test suite into a skip.
    """
