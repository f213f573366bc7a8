"""``panko-like-token``: the tokens of ``[api] auth_mode = token``."""

import contextlib
import datetime
import fcntl
import json
import os
import secrets
import sys
import tempfile

from oslo_config import cfg

from panko_like import cmd
from panko_like.api import tokens

HELP = (
    "Manage the tokens of [api] auth_mode = token, kept in [api] "
    "token_file: 'create' makes a token for a user, project and roles and "
    "prints it once; 'list' shows them (never the secret); 'revoke ID' "
    "removes one. The API takes a change into account within a second."
)


def _add_commands(subparsers):
    create = subparsers.add_parser(
        "create", help="make a token and print it (only this once)")
    create.add_argument("--user", required=True, help="the user id")
    create.add_argument("--project", required=True, help="the project id")
    create.add_argument("--role", action="append", default=[],
                        help="a role (repeat for several), e.g. admin")
    subparsers.add_parser("list", help="the tokens, without their secret")
    revoke = subparsers.add_parser("revoke", help="remove a token")
    revoke.add_argument("id", help="the token's id (see list)")


CLI_OPTS = [
    cfg.SubCommandOpt("action", title="actions", handler=_add_commands,
                      help="what to do"),
]


@contextlib.contextmanager
def _locked(path):
    """The token file's lock: one writer at a time."""
    try:
        lock = open(f"{path}.lock", "a")
    except OSError as exc:
        sys.exit(f"cannot lock {path}: {exc.strerror or exc}")
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _entries(path, missing_ok=False):
    if missing_ok and not os.path.exists(path):
        return {}
    try:
        return tokens.read(path)
    except tokens.TokenFileError as exc:
        sys.exit(f"token file error: {exc}")


def _write(path, entries):
    """Replace the file at once (a reader never sees half of it)."""
    document = {"tokens": [e.as_dict() for e in entries.values()]}
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, temporary = tempfile.mkstemp(dir=directory, prefix=".tokens-")
    except OSError as exc:
        sys.exit(f"cannot write the token file in {directory}: "
                 f"{exc.strerror or exc}")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:  # mode 0600
            json.dump(document, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        sys.exit(f"cannot write {path}: {exc.strerror or exc}")


def create(path, user, project, roles):
    for role in roles:
        if not role or "," in role:
            sys.exit(f"a role is a name without commas: {role!r}")
    with _locked(path):
        entries = _entries(path, missing_ok=True)
        token_id = secrets.token_hex(tokens.ID_LENGTH // 2)
        while token_id in entries:
            token_id = secrets.token_hex(tokens.ID_LENGTH // 2)
        token = f"{token_id}.{secrets.token_urlsafe(32)}"
        now = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        entries[token_id] = tokens.Entry(
            id=token_id, sha256=tokens.digest(token), user_id=user,
            project_id=project, roles=tuple(roles),
            created_at=now.isoformat())
        _write(path, entries)
    print(token)
    print(f"token {token_id} created for user {user}, project {project}; "
          "the token above is shown only this once", file=sys.stderr)


def list_(path):
    entries = _entries(path, missing_ok=True)
    print("id            user_id / project_id / roles / created_at")
    for entry in entries.values():
        print(f"{entry.id}  {entry.user_id} / {entry.project_id} / "
              f"{','.join(entry.roles) or '-'} / {entry.created_at}")


def revoke(path, token_id):
    with _locked(path):
        entries = _entries(path)
        if entries.pop(token_id, None) is None:
            sys.exit(f"no token {token_id} in {path}")
        _write(path, entries)
    print(f"token {token_id} revoked")


def main(argv=None):
    conf = cmd.prepare(sys.argv[1:] if argv is None else argv,
                       cli_opts=CLI_OPTS, description=HELP)
    path = conf.api.token_file
    action = conf.action
    if action.name == "create":
        create(path, action.user, action.project, action.role)
    elif action.name == "list":
        list_(path)
    else:
        revoke(path, action.id)
