"""Connection URLs, including PostgreSQL and MySQL host lists.

SQLAlchemy parses one host per URL, or several as repeated ``?host=``
query parameters. Operators also write libpq's forms, which it cannot
parse, so these are rewritten into the repeated-parameter form:

- ``postgresql://user:pw@pg1:5432,pg2:5432/events?opt=v``
- ``pg1,pg2/events`` (no scheme): user, password and port come from
  ``[database] user``, ``password`` and ``port``.

With more than one host, libpq's ``target_session_attrs=read-write`` is
added unless given, so the service always lands on the writable primary.
A MySQL URL lists hosts the same ways but for the bare form
(``mysql+pymysql://u:p@db1:3306,db2:3306/events``), which PyMySQL
cannot follow: mysql_hosts connects to them in turn.
"""

import re
import urllib.parse

import sqlalchemy as sa
from oslo_config import cfg

OPTS = [
    cfg.StrOpt(
        "user",
        help="PostgreSQL user for a connection given as a bare host list "
        "(pg1,pg2/dbname).",
    ),
    cfg.StrOpt(
        "password",
        secret=True,
        help="PostgreSQL password for a connection given as a bare host "
        "list (pg1,pg2/dbname).",
    ),
    cfg.PortOpt(
        "port",
        default=5432,
        help="PostgreSQL port of the hosts of a connection given as a bare "
        "host list that name none.",
    ),
    cfg.IntOpt(
        "connect_timeout",
        default=5,
        min=1,
        help="Seconds to wait for one PostgreSQL host, or one MySQL host "
        "of a host list, to answer before trying the next one of the "
        "list; for MongoDB, for a server to "
        "select (serverSelectionTimeoutMS, unless the URI sets it).",
    ),
]

_DEFAULT_DBAPI = {"postgresql": "psycopg", "mysql": "pymysql"}
#: SQLAlchemy's own ``mariadb`` dialect names itself "mariadb", where the
#: driver, its migrations and its types know MySQL's: a ``mariadb://``
#: URL is read as ``mysql://``, whose dialect tells MariaDB apart once
#: connected (``is_mariadb``).
_SAME_AS = {"mariadb": "mysql"}
# user[:password]@host[:port],host[:port]/database?query
_HOST_LIST_URL = re.compile(
    r"^(?P<scheme>[\w+]+)://"
    r"(?:(?P<userinfo>[^@/]*)@)?"
    r"(?P<hosts>[^/?]*,[^/?]*)"
    r"(?:/(?P<database>[^?]*))?"
    r"(?:\?(?P<query>.*))?$"
)
_BARE_HOST_LIST = re.compile(
    r"^(?P<hosts>[\w.\-\[\]:]+(?:,[\w.\-\[\]:]+)*)"
    r"/(?P<database>[^?]+)(?:\?(?P<query>.*))?$"
)


def is_bare_host_list(url: str) -> bool:
    """``pg1,pg2/events``: the PostgreSQL form without a scheme."""
    return "://" not in url and bool(_BARE_HOST_LIST.match(url))


def _split_host(host: str, default_port):
    """``h``, ``h:5432``, ``[::1]:5432`` -> ``h:port`` for SQLAlchemy."""
    match = re.match(r"^(\[[^\]]+\]|[^:]+)(?::(\d+))?$", host.strip())
    if not match:
        raise ValueError(f"not a host[:port]: {host!r}")
    name, port = match.group(1), match.group(2) or default_port
    return f"{name}:{port}" if port else name


def _query(text):
    return {
        key: values if len(values) > 1 else values[0]
        for key, values in urllib.parse.parse_qs(
            text or "", keep_blank_values=True
        ).items()
    }


def _host_list_url(drivername, username, password, hosts, database, query):
    return sa.engine.URL.create(
        drivername,
        username=username,
        password=password,
        database=database or None,
        query={**query, "host": hosts},
    )


def _from_host_list(url: str, conf) -> sa.engine.URL:
    match = _HOST_LIST_URL.match(url)
    if match:
        user, _, password = (match["userinfo"] or "").partition(":")
        hosts = [_split_host(h, None) for h in match["hosts"].split(",")]
        return _host_list_url(
            match["scheme"],
            urllib.parse.unquote(user) or None,
            urllib.parse.unquote(password) or None,
            hosts,
            urllib.parse.unquote(match["database"] or ""),
            _query(match["query"]),
        )
    match = _BARE_HOST_LIST.match(url)
    db = conf.database if conf is not None else None
    port = db.port if db is not None else 5432
    hosts = [_split_host(h, port) for h in match["hosts"].split(",")]
    return _host_list_url(
        "postgresql",
        db.user if db is not None else None,
        db.password if db is not None else None,
        hosts,
        match["database"],
        _query(match["query"]),
    )


def make_url(url: str, conf=None) -> sa.engine.URL:
    """Parse ``url`` into an SQLAlchemy URL ready for create_engine."""
    if is_bare_host_list(url) or _HOST_LIST_URL.match(url):
        parsed = _from_host_list(url, conf)
    else:
        parsed = sa.engine.make_url(url)
    # Schemes are case-insensitive (storage.scheme_of); SQLAlchemy's
    # dialect names are not.
    backend, _, driver = parsed.drivername.lower().partition("+")
    backend = _SAME_AS.get(backend, backend)
    driver = driver or _DEFAULT_DBAPI.get(backend)
    drivername = f"{backend}+{driver}" if driver else backend
    if drivername != parsed.drivername:
        parsed = parsed.set(drivername=drivername)
    if backend == "mysql" and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    if backend == "postgresql":
        parsed = _postgresql_defaults(parsed, conf)
    return parsed


def _postgresql_defaults(parsed, conf):
    extra = {}
    hosts = parsed.query.get("host", ())
    if isinstance(hosts, tuple) and len(hosts) > 1:
        extra["target_session_attrs"] = "read-write"
    timeout = conf.database.connect_timeout if conf is not None else 5
    extra["connect_timeout"] = str(timeout)
    missing = {k: v for k, v in extra.items() if k not in parsed.query}
    return parsed.update_query_dict(missing) if missing else parsed
