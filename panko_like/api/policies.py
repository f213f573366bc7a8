"""Policy defaults, in code; an operator's policy file overrides them.

Listed for ``oslopolicy-sample-generator`` through the
``oslo.policy.policies`` entry point (namespace ``panko_like``).
"""

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
        name="telemetry:events:create",
        check_str=ADMIN,
        description="Store events.",
        operations=[{"path": "/v2/events", "method": "POST"}],
    ),
    policy.DocumentedRuleDefault(
        name="telemetry:events:delete",
        check_str=ADMIN,
        description="Delete an event.",
        operations=[{"path": "/v2/events/{message_id}",
                     "method": "DELETE"}],
    ),
]


def list_rules():
    return RULES


def make_enforcer(conf):
    """An Enforcer with the defaults registered; reads [oslo_policy]."""
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(list_rules())
    return enforcer
