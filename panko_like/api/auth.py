"""The authentication layer chosen by ``[api] auth_mode``.

Both modes leave the caller's identity in the X-User-Id, X-Project-Id
and X-Roles headers that :mod:`panko_like.api.rbac` reads: Keystone's
auth_token middleware sets them from a validated token (and removes any
the client sent); ``noauth`` trusts what the client sent.
"""


def authenticate(app, conf):
    if conf.api.auth_mode == "keystone":
        # Imported here: noauth deployments never load keystonemiddleware.
        from keystonemiddleware import auth_token

        return auth_token.AuthProtocol(app, {"oslo_config_config": conf})
    return app
