"""The authentication layer chosen by ``[api] auth_mode``.

Every mode leaves the caller's identity in the X-User-Id, X-Project-Id
and X-Roles headers that :mod:`panko_like.api.rbac` reads: Keystone's
auth_token middleware sets them from a validated token, and ``token``
from the entry of the token file (both remove any the client sent);
``noauth`` trusts what the client sent.
"""

from panko_like.api import tokens


def authenticate(app, conf):
    if conf.api.auth_mode == "keystone":
        # Imported here: noauth deployments never load keystonemiddleware.
        from keystonemiddleware import auth_token

        return auth_token.AuthProtocol(app, {"oslo_config_config": conf})
    if conf.api.auth_mode == "token":
        return tokens.TokenAuth(app, conf)
    return app
