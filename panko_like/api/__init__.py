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
]
