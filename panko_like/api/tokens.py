"""``[api] auth_mode = token``: bearer tokens checked against a file.

A token is ``<id>.<secret>``: ``id`` names the entry (12 hexadecimal
digits, shown by ``panko-like-token list`` and given to ``revoke``),
``secret`` is 256 random bits (43 URL-safe characters) made by
``panko-like-token create`` and printed once. The file keeps, for each
token, its id, the SHA-256 of the whole token, and the identity it
stands for: a user id, a project id and roles. The token itself is
never stored, nor logged.

A plain hash is enough because the secret is random and long: no
dictionary or brute force reaches 256 bits, so the slow, salted hashes
made for passwords (which people choose) would only cost every request
time. The hash is compared in constant time.

The file is JSON, written whole by the command (to a temporary file,
then renamed) with mode 0600::

    {"tokens": [{"id": "3f2a...", "sha256": "9b1c...",
                 "user_id": "u", "project_id": "p", "roles": ["admin"],
                 "created_at": "2026-12-04T21:00:00"}]}

The API looks at the file's modification time at most once a second
and reads it again when it changed, so a token created or revoked is
taken into account within about a second, without a restart. A file
that cannot be read or is not valid fails closed: no token is accepted
until it is mended (each failed read is logged).
"""

import dataclasses
import hashlib
import hmac
import json
import os
import threading
import time

from oslo_config import cfg
from oslo_log import log

from panko_like.api import errors

LOG = log.getLogger(__name__)

OPTS = [
    cfg.StrOpt(
        "token_file",
        default="/etc/panko_like/tokens.json",
        help="With auth_mode token: the file of the tokens the API "
        "accepts, managed with panko-like-token (create, list, revoke). "
        "Read again within a second of a change, without a restart.",
    ),
]

#: Seconds between two looks at the file's modification time.
RECHECK_INTERVAL = 1.0
#: Length of a token's id, in hexadecimal digits.
ID_LENGTH = 12

#: The request headers that carry an identity: whatever a client sent
#: in them is removed before the token's identity is set (as
#: keystonemiddleware does), so a client cannot name its own roles.
_IDENTITY_PREFIXES = (
    "HTTP_X_USER", "HTTP_X_PROJECT", "HTTP_X_TENANT", "HTTP_X_ROLE",
    "HTTP_X_DOMAIN", "HTTP_X_SERVICE", "HTTP_X_IDENTITY", "HTTP_X_IS_ADMIN",
    "HTTP_X_SYSTEM", "HTTP_X_AUTH", "HTTP_OPENSTACK_SYSTEM_SCOPE",
)


class TokenFileError(ValueError):
    """The token file cannot be read or is not valid; says why."""


@dataclasses.dataclass(frozen=True)
class Entry:
    """One token of the file, without its secret."""

    id: str
    sha256: str
    user_id: str
    project_id: str
    roles: tuple[str, ...]
    created_at: str = ""

    def as_dict(self):
        return {"id": self.id, "sha256": self.sha256,
                "user_id": self.user_id, "project_id": self.project_id,
                "roles": list(self.roles), "created_at": self.created_at}


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def split_token(token: str) -> str | None:
    """The id of ``token``, or None when it has not a token's shape."""
    token_id, dot, secret = token.partition(".")
    if not dot or len(token_id) != ID_LENGTH or not secret:
        return None
    return token_id


def _text(entry, key, number):
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise TokenFileError(f"token {number}: {key} must be a non-empty "
                             "string")
    return value


def parse(text: str) -> dict[str, Entry]:
    """The entries of a token file's ``text``, by id."""
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise TokenFileError(f"not JSON: {exc}") from None
    tokens = document.get("tokens") if isinstance(document, dict) else None
    if not isinstance(tokens, list):
        raise TokenFileError('expected {"tokens": [...]}')
    entries = {}
    for number, item in enumerate(tokens, 1):
        if not isinstance(item, dict):
            raise TokenFileError(f"token {number}: not an object")
        roles = item.get("roles", [])
        if not isinstance(roles, list) or not all(
                isinstance(r, str) and r and "," not in r for r in roles):
            raise TokenFileError(f"token {number}: roles must be a list of "
                                 "names without commas")
        entry = Entry(
            id=_text(item, "id", number),
            sha256=_text(item, "sha256", number).lower(),
            user_id=_text(item, "user_id", number),
            project_id=_text(item, "project_id", number),
            roles=tuple(roles),
            created_at=str(item.get("created_at", "")),
        )
        if len(entry.sha256) != 64 or not all(
                c in "0123456789abcdef" for c in entry.sha256):
            raise TokenFileError(f"token {number}: sha256 must be 64 "
                                 "hexadecimal digits")
        if entry.id in entries:
            raise TokenFileError(f"token {number}: id {entry.id} appears "
                                 "twice")
        entries[entry.id] = entry
    return entries


def read(path: str) -> dict[str, Entry]:
    """The entries of the file at ``path``; TokenFileError says why not."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise TokenFileError(
            f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise TokenFileError(f"{path} is not UTF-8 text") from None
    try:
        return parse(text)
    except TokenFileError as exc:
        raise TokenFileError(f"{path}: {exc}") from None


class TokenStore:
    """The token file of one API worker, read again when it changes."""

    def __init__(self, path):
        self.path = path
        self._lock = threading.Lock()
        self._checked = 0.0
        # A bad file at start is the operator's to hear about at once.
        self._entries = read(path)
        self._stamp = self._file_stamp()

    def _file_stamp(self):
        try:
            status = os.stat(self.path)
        except OSError:
            return None
        return (status.st_mtime_ns, status.st_size, status.st_ino)

    def _refresh(self):
        now = time.monotonic()
        if now - self._checked < RECHECK_INTERVAL:
            return
        with self._lock:
            if now - self._checked < RECHECK_INTERVAL:
                return
            self._checked = now
            stamp = self._file_stamp()
            if stamp == self._stamp:
                return
            self._stamp = stamp
            try:
                self._entries = read(self.path)
            except TokenFileError as exc:
                self._entries = {}
                LOG.error("Token file: %s; no token is accepted until it "
                          "is mended", exc)
                return
            LOG.info("Token file %s read again: %d tokens", self.path,
                     len(self._entries))

    def lookup(self, token: str) -> Entry | None:
        """The entry ``token`` stands for, or None."""
        self._refresh()
        token_id = split_token(token)
        entry = self._entries.get(token_id) if token_id else None
        # The digest is computed and compared even for an unknown id,
        # so the time taken does not tell which part was wrong.
        expected = entry.sha256 if entry else "0" * 64
        if hmac.compare_digest(digest(token), expected) and entry:
            return entry
        return None


def _bearer(environ):
    token = environ.get("HTTP_X_AUTH_TOKEN")
    if token:
        return token.strip()
    scheme, _, credentials = environ.get("HTTP_AUTHORIZATION",
                                         "").partition(" ")
    if scheme.lower() == "bearer":
        return credentials.strip()
    return None


class TokenAuth:
    """WSGI middleware: the identity of the request's bearer token, or
    401 (the same answer whatever was wrong)."""

    def __init__(self, app, conf):
        self.app = app
        self.store = TokenStore(conf.api.token_file)

    def __call__(self, environ, start_response):
        token = _bearer(environ)
        for key in [k for k in environ if k.startswith(_IDENTITY_PREFIXES)]:
            del environ[key]
        entry = self.store.lookup(token) if token else None
        if entry is None:
            raise errors.Unauthorized(
                "The request needs a valid token (X-Auth-Token or "
                "Authorization: Bearer)",
                headers={"WWW-Authenticate": 'Bearer realm="panko_like"'})
        environ["HTTP_X_USER_ID"] = entry.user_id
        environ["HTTP_X_PROJECT_ID"] = entry.project_id
        environ["HTTP_X_ROLES"] = ",".join(entry.roles)
        environ["HTTP_X_IDENTITY_STATUS"] = "Confirmed"
        return self.app(environ, start_response)
