"""The v2 REST API: a pecan application behind oslo.middleware."""

from oslo_config import cfg

OPTS = [
    cfg.StrOpt(
        "auth_mode",
        default="keystone",
        choices=[
            ("keystone", "Keystone tokens, checked by keystonemiddleware's "
             "auth_token ([keystone_authtoken] options)."),
            ("token", "Bearer tokens (X-Auth-Token or Authorization: "
             "Bearer) checked against token_file, managed with "
             "panko-like-token: for deployments without Keystone."),
            ("noauth", "Trust the X-User-Id, X-Project-Id and X-Roles "
             "headers: for tests and setups behind a trusted proxy."),
        ],
        help="How requests are authenticated.",
    ),
    cfg.IntOpt(
        "default_api_return_limit",
        default=100,
        min=1,
        help="How many events GET /v2/events returns when the request "
        "gives no limit.",
    ),
    cfg.IntOpt(
        "max_limit",
        default=10000,
        min=1,
        help="The largest number of events one GET /v2/events returns; "
        "a larger limit is lowered to this, and the answer says so in "
        "its X-Limit-Lowered-To header.",
    ),
    cfg.IntOpt(
        "max_request_body_size",
        default=16 * 1024 * 1024,
        min=1024,
        max=1024 * 1024 * 1024,
        help="Largest request body, in bytes; a larger one is refused "
        "with 413.",
    ),
    cfg.IntOpt(
        "max_events_per_request",
        default=10000,
        min=1,
        max=1000000,
        help="Most events one POST /v2/events may carry; more are "
        "refused with 413.",
    ),
    cfg.IntOpt(
        "max_traits_per_event",
        default=1000,
        min=1,
        max=100000,
        help="Most traits one posted event may carry; an event with more "
        "is refused (400, the event named in \"rejected\").",
    ),
    cfg.IntOpt(
        "max_trait_name_length",
        default=255,
        min=1,
        max=255,
        help="Longest trait name, in characters, of a posted event "
        "(the storage keeps 255 at most).",
    ),
    cfg.IntOpt(
        "max_text_length",
        default=4096,
        min=1,
        max=4096,
        help="Longest text trait value, in characters, of a posted "
        "event (the storage keeps 4096 at most).",
    ),
    cfg.IntOpt(
        "max_raw_size",
        default=1024 * 1024,
        min=2,
        max=1024 * 1024,
        help="Largest raw payload of a posted event, in bytes of compact "
        "JSON (the storage keeps 1 MiB at most); its nesting is bounded "
        "by [database] max_raw_depth.",
    ),
    cfg.IntOpt(
        "max_query_filters",
        default=32,
        min=1,
        max=1000,
        help="Most q filters one GET /v2/events may give (query string "
        "and body together); more is a 400. The same holds for counts, "
        "statistics and deletes by filter.",
    ),
    cfg.IntOpt(
        "max_statistics_groups",
        default=10000,
        min=1,
        max=1000000,
        help="Most (group, period) lines one GET /v2/events/statistics "
        "may answer; more is a 400 asking for narrower filters or "
        "longer periods.",
    ),
    cfg.IntOpt(
        "delete_batch_size",
        default=1000,
        min=1,
        max=100000,
        help="Events deleted per transaction by DELETE /v2/events with "
        "filters: a large delete commits batch by batch, so it never "
        "holds locks (or a Galera writeset) in proportion to its size.",
    ),
    cfg.FloatOpt(
        "storage_timeout",
        default=5.0,
        min=0.5,
        max=600,
        help="Seconds an API request waits for the storage, retries "
        "included, before it is answered with 503 and a Retry-After "
        "header (the commands keep [database] max_retries). The API "
        "also waits at most this long, rounded up to whole seconds, "
        "for a pooled connection (pool_timeout) and for a database "
        "host to answer (connect_timeout; MongoDB's server selection).",
    ),
    cfg.IntOpt(
        "max_stream_subscribers",
        default=32,
        min=0,
        max=1000,
        help="Most GET /v2/events/stream answers one API worker process "
        "serves at a time; one more is answered 503 with Retry-After. "
        "Each stream has a thread of its own, beside the [api] threads "
        "that run the other requests, so streams never hold those up; "
        "each stream queries the storage once per new batch of events. "
        "0 turns streams off.",
    ),
    cfg.IntOpt(
        "stream_max_duration",
        default=300,
        min=1,
        max=86400,
        help="Seconds after which an event stream ends (the client "
        "reconnects with its Last-Event-ID and loses nothing); a "
        "stream's timeout parameter may ask for less.",
    ),
    cfg.FloatOpt(
        "stream_poll_interval",
        default=0.2,
        min=0.01,
        max=60,
        help="Seconds between two looks for new events, made once per "
        "worker process for all its streams.",
    ),
    cfg.FloatOpt(
        "stream_settle_delay",
        default=0.3,
        min=0,
        max=60,
        help="Seconds an event waits after its stored time before a "
        "stream delivers it: the time its write transaction takes to "
        "commit. Events are delivered in stored order within this "
        "delay; a later commit is caught by stream_lookback.",
    ),
    cfg.FloatOpt(
        "stream_lookback",
        default=5,
        min=0,
        max=600,
        help="Seconds before the settled time in which streams still "
        "look for events committed later than stream_settle_delay "
        "after their stored time; such an event is delivered once, out "
        "of stored order. 0 turns the look off (one query less per "
        "poll).",
    ),
    cfg.IntOpt(
        "stream_keepalive_interval",
        default=15,
        min=1,
        max=3600,
        help="Seconds without events after which a stream sends a "
        "comment line, so that proxies keep its connection open.",
    ),
]
