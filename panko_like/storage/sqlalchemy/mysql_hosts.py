"""MySQL/MariaDB host lists: one node of a Galera cluster at a time.

``mysql+pymysql://u:p@db1:3306,db2:3306,db3:3306/events`` (or
SQLAlchemy's ``?host=db1:3306&host=db2:3306``) lists the nodes. PyMySQL
connects to one host only, so each new connection of the pool is made
here: the hosts are tried in order from the last one that answered, and
a Galera node that is not ready for clients (outside the cluster's
primary component, still joining) is passed over. Every connection thus
goes to the same node until it is lost; the pool is then emptied (see
engine.NODE_LOST_MYSQL) and the next connections move on to the next
node that answers. Writing to one node at a time keeps certification
conflicts between the service's own connections away.
"""

import re
import threading

import sqlalchemy as sa

_HOST = re.compile(
    r"^(?:\[(?P<ipv6>[^\]]+)\]|(?P<name>[^:\[\]]+))(?::(?P<port>\d+))?$")


def split_host(host: str) -> tuple[str, int]:
    """``h``, ``h:3306`` or ``[::1]:3306`` -> (host, port), 3306 if
    none is given."""
    match = _HOST.match(host.strip())
    if not match:
        raise ValueError(f"not a host[:port]: {host!r}")
    return match["ipv6"] or match["name"], int(match["port"] or 3306)


class HostList:
    """Connects to the first listed host that is up and ready, starting
    from the last one that was.

    :param hosts: ``host:port`` texts, in the operator's order.
    :param timeout: seconds to wait for one host to answer.
    """

    def __init__(self, hosts, timeout):
        self.hosts = [split_host(host) for host in hosts]
        self.timeout = timeout
        self.current = 0
        self._lock = threading.Lock()

    def connect(self, dialect, conn_rec, cargs, cparams):
        """SQLAlchemy's ``do_connect`` event: the new DBAPI connection."""
        dbapi = dialect.loaded_dbapi
        params = {key: value for key, value in cparams.items()
                  if key not in ("host", "port")}
        params.setdefault("connect_timeout", self.timeout)
        start = self.current
        failure = None
        for step in range(len(self.hosts)):
            at = (start + step) % len(self.hosts)
            host, port = self.hosts[at]
            try:
                connection = dbapi.connect(
                    *cargs, host=host, port=port, **params)
                reason = not_ready(connection)
            except dbapi.OperationalError as exc:
                failure = exc
                continue
            if reason is None:
                with self._lock:
                    self.current = at
                return connection
            connection.close()
            # Galera's own code for a node refusing clients.
            failure = dbapi.OperationalError(
                1047, f"{host}:{port} is not ready: {reason}")
        raise failure


def not_ready(connection) -> str | None:
    """Why this Galera node must not be written to now, or None (also
    for a server that is no Galera node)."""
    with connection.cursor() as cursor:
        # SHOW is answered even by a node outside the primary component.
        cursor.execute("SHOW VARIABLES LIKE 'wsrep_on'")
        row = cursor.fetchone()
        if not row or row[1] != "ON":
            return None
        cursor.execute("SHOW STATUS LIKE 'wsrep_ready'")
        row = cursor.fetchone()
    if row and row[1] == "ON":
        return None
    return "wsrep_ready is not ON"


def listen(engine, conf) -> None:
    """Connect ``engine`` through a HostList when its URL names hosts as
    ``host`` query parameters."""
    hosts = engine.url.query.get("host")
    if not hosts:
        return
    if isinstance(hosts, str):
        hosts = (hosts,)
    timeout = conf.database.connect_timeout if conf is not None else 5
    sa.event.listen(engine, "do_connect", HostList(hosts, timeout).connect)
