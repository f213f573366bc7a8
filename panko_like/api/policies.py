"""Policy defaults, in code; an operator's policy file overrides them.

Listed for ``oslopolicy-sample-generator`` through the
``oslo.policy.policies`` entry point (namespace ``panko_like``).
"""

import time

from oslo_policy import policy

ADMIN = "rule:context_is_admin"
ANYONE = ""

RULES = [
    policy.RuleDefault(
        name="context_is_admin",
        check_str="role:admin",
        description="Who is an administrator.",
    ),
    policy.RuleDefault(
        name="segregation",
        check_str=ADMIN,
        description="Who sees beyond their own user and project: the "
        "events of their project and those without a project_id trait, "
        "every project's with all_tenants=True, and the event types and "
        "trait endpoints.",
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:index",
        check_str=ANYONE,
        description="List events (each caller only sees what "
        "segregation allows).",
        operations=[{"path": "/v2/events", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:show",
        check_str=ANYONE,
        description="Show one event (each caller only sees what "
        "segregation allows).",
        operations=[{"path": "/v2/events/{message_id}", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:count",
        check_str=ANYONE,
        description="Count the events a filter matches (each caller only "
        "counts what segregation allows).",
        operations=[{"path": "/v2/events/count", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:statistics",
        check_str=ANYONE,
        description="Count events per group and per period (each caller "
        "only counts what segregation allows).",
        operations=[{"path": "/v2/events/statistics", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:stream",
        check_str=ANYONE,
        description="Follow new events as Server-Sent Events (each "
        "caller only receives what segregation allows).",
        operations=[{"path": "/v2/events/stream", "method": "GET"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:create",
        check_str=ADMIN,
        description="Store events.",
        operations=[{"path": "/v2/events", "method": "POST"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:delete",
        check_str=ADMIN,
        description="Delete an event (only one the caller may show; an "
        "admin reaches beyond its own scope with all_tenants=True).",
        operations=[{"path": "/v2/events/{message_id}",
                     "method": "DELETE"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:delete_matching",
        check_str=ADMIN,
        description="Delete every event a filter matches (within the "
        "caller's scope; all_tenants=True reaches every project).",
        operations=[{"path": "/v2/events", "method": "DELETE"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:update",
        check_str=ADMIN,
        description="Set and remove traits of an event (only one the "
        "caller may show; an admin reaches beyond its own scope, and "
        "changes project_id or user_id, with all_tenants=True).",
        operations=[{"path": "/v2/events/{message_id}",
                     "method": "PATCH"}],
    ),
]


def list_rules():
    return RULES


class Enforcer(policy.Enforcer):
    """An Enforcer that looks for policy file changes once a second.

    oslo.policy searches for the policy file and directories and checks
    their modification times on every ``enforce``: a dozen ``stat``
    calls, more than the rules themselves cost, and a request enforces
    two rules. Here that look happens at most every ``check_interval``
    seconds, so an operator's edit applies within that time.
    """

    def __init__(self, conf, check_interval=1.0):
        super().__init__(conf)
        self.check_interval = check_interval
        self._checked_at = None

    def load_rules(self, force_reload=False):
        now = time.monotonic()
        if (force_reload or self._checked_at is None
                or now - self._checked_at >= self.check_interval):
            super().load_rules(force_reload)
            self._checked_at = now

    def clear(self):
        super().clear()
        self._checked_at = None


def make_enforcer(conf, check_interval=1.0):
    """An Enforcer with the defaults registered; reads [oslo_policy]."""
    enforcer = Enforcer(conf, check_interval)
    enforcer.register_defaults(list_rules())
    return enforcer
