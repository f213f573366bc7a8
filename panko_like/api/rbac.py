"""Who is asking, what they may do, and which events they may see."""

import dataclasses

from oslo_context import context

from panko_like.api import errors


@dataclasses.dataclass
class Identity:
    user_id: str | None
    project_id: str | None
    roles: list[str]
    context: context.RequestContext

    def policy_values(self):
        return self.context.to_policy_values()


def identity_of(request):
    """Read the identity the auth layer (or noauth headers) left."""
    ctx = context.RequestContext.from_environ(request.environ)
    return Identity(ctx.user_id or None, ctx.project_id or None,
                    list(ctx.roles), ctx)


def _require_identity(identity):
    # Keystone always sets both; in noauth mode a request without them
    # is anonymous, and anonymous requests see nothing.
    if not identity.user_id or not identity.project_id:
        raise errors.Forbidden("RBAC Authorization Failed")


def enforce(request, rule, anonymous=False):
    """Deny with 403 unless ``rule`` allows the caller.

    ``anonymous``: let the policy itself decide about a request without
    identity (a sender such as Ceilometer's http publisher has none);
    the default rules still refuse it. A request naming only a user or
    only a project is refused, as for every other endpoint.
    """
    identity = identity_of(request)
    if identity.user_id or identity.project_id or not anonymous:
        _require_identity(identity)
        values = identity.policy_values()
    else:
        # Truly anonymous: no roles either, whatever headers came along.
        values = {"roles": [], "user_id": None, "project_id": None}
    if not request.enforcer.enforce(rule, values, values):
        raise errors.Forbidden("RBAC Authorization Failed")
    return identity


def is_admin(request, identity):
    values = identity.policy_values()
    return request.enforcer.enforce("segregation", values, values)


def require_admin(request):
    """Admin-only endpoints: 401 for everyone else (Panko's answer)."""
    identity = identity_of(request)
    _require_identity(identity)
    if not is_admin(request, identity):
        raise errors.Unauthorized(
            f"Not Authorized to access project {identity.project_id}"
        )
    return identity
