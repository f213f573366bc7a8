"""A throwaway MariaDB Galera cluster of three nodes on loopback ports.

Each node is a ``mariadbd`` of its own in a temporary directory, with
four free ports: SQL, group communication, incremental state transfer
and full state transfer (rsync). The first node bootstraps the cluster;
the others join it and copy its state.
"""

import atexit
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

import pymysql

from panko_like import storage
from tests.functional import backends

PROVIDER = "/usr/lib/galera/libgalera_smm.so"
MARIADBD = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
INSTALL_DB = shutil.which("mariadb-install-db")
#: Seconds a node may take to start, or to join and copy the state.
START_TIMEOUT = 120


def missing() -> str | None:
    """Why no cluster can be made here, or None."""
    for path, what in ((PROVIDER, "galera-4"), (MARIADBD, "mariadbd"),
                       (INSTALL_DB, "mariadb-install-db"),
                       (shutil.which("rsync"), "rsync")):
        if not path or not os.path.exists(path):
            return f"{what} is not installed"
    if os.geteuid() != 0:
        return "needs root to run mariadbd nodes as mysql"
    return None


def _free_ports(count):
    # All bound at once, so that none is handed out twice.
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Node:
    """One mariadbd of the cluster."""

    def __init__(self, root, name, ports):
        self.name = name
        self.dir = os.path.join(root, name)
        self.port, self.gcomm, self.ist, self.sst = ports
        self.process = None
        # A server removes the temporary files it finds in its tmpdir
        # when it starts: in a shared /tmp, those of the other nodes'.
        self.tmpdir = self.dir + ".tmp"
        os.mkdir(self.tmpdir)
        shutil.chown(self.tmpdir, "mysql", "mysql")

    @property
    def log(self):
        return self.dir + ".err"

    def install(self):
        done = subprocess.run(
            [INSTALL_DB, "--no-defaults", "--user=mysql",
             f"--datadir={self.dir}", f"--tmpdir={self.tmpdir}",
             "--auth-root-authentication-method=normal", "--skip-test-db",
             "--innodb-log-file-size=8M"],
            capture_output=True, timeout=120, stdin=subprocess.DEVNULL)
        if done.returncode:
            raise AssertionError(
                f"mariadb-install-db failed ({done.returncode}):\n"
                f"{done.stdout.decode(errors='replace')}"
                f"{done.stderr.decode(errors='replace')}")

    def options(self, cluster_address):
        return [
            "--no-defaults", "--user=mysql", f"--datadir={self.dir}",
            f"--tmpdir={self.tmpdir}",
            f"--socket={self.dir}.sock", f"--pid-file={self.dir}.pid",
            f"--log-error={self.log}", "--bind-address=127.0.0.1",
            f"--port={self.port}", "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M", "--innodb-log-file-size=8M",
            "--innodb-flush-log-at-trx-commit=0", "--binlog-format=ROW",
            "--innodb-autoinc-lock-mode=2", "--wsrep-on=ON",
            # Refuse what Galera cannot replicate faithfully (a table
            # without a primary key, one of another engine than
            # InnoDB), rather than only warn in the log.
            "--wsrep-mode=REQUIRED_PRIMARY_KEY,STRICT_REPLICATION",
            f"--wsrep-provider={PROVIDER}",
            f"--wsrep-cluster-address={cluster_address}",
            f"--wsrep-node-address=127.0.0.1:{self.gcomm}",
            f"--wsrep-node-name={self.name}",
            "--wsrep-provider-options="
            f"gmcast.listen_addr=tcp://127.0.0.1:{self.gcomm};"
            f"ist.recv_addr=127.0.0.1:{self.ist};gcache.size=32M",
            "--wsrep-sst-method=rsync",
            f"--wsrep-sst-receive-address=127.0.0.1:{self.sst}",
        ]

    def start(self, cluster_address, bootstrap=False):
        command = [MARIADBD, *self.options(cluster_address)]
        if bootstrap:
            command.append("--wsrep-new-cluster")
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)

    def wait_synced(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited:\n{self.tail()}")
            try:
                if self.status("wsrep_local_state_comment") == "Synced":
                    return
            except pymysql.err.MySQLError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.name} did not sync:\n{self.tail()}")

    def connect(self, database=None):
        return pymysql.connect(host="127.0.0.1", port=self.port,
                               user="root", database=database,
                               connect_timeout=5, autocommit=True)

    def query(self, sql, database=None):
        with self.connect(database) as conn, conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    def status(self, name):
        rows = self.query(f"SHOW STATUS LIKE '{name}'")
        return rows[0][1] if rows else None

    def isolate(self, isolated=True):
        """Cut the node off the cluster's group communication (or let it
        back in): alone, it leaves the primary component."""
        value = 1 if isolated else 0
        self.query("SET GLOBAL wsrep_provider_options = "
                   f"'gmcast.isolate={value}'")

    def wait_status(self, name, value, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while self.status(name) != value:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {name} is not {value}")
            time.sleep(0.1)

    def kill(self):
        """SIGKILL, as a crash; wait for the process to be gone."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def tail(self, lines=40):
        try:
            with open(self.log, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError:
            return "(no log)"


class Cluster:
    """Three nodes forming one cluster; ``cleanup`` kills and removes
    everything, whatever state it was left in."""

    def __init__(self, size=3):
        self.root = tempfile.mkdtemp(prefix="panko_like_galera_")
        # The nodes run as mysql, as do their state transfers.
        shutil.chown(self.root, "mysql", "mysql")
        ports = _free_ports(4 * size)
        self.nodes = [Node(self.root, f"node{i + 1}", ports[4 * i:4 * i + 4])
                      for i in range(size)]
        # Even if the test process ends before its class's teardown.
        atexit.register(self.cleanup)
        self.address = "gcomm://" + ",".join(
            f"127.0.0.1:{node.gcomm}" for node in self.nodes)

    def start(self):
        first, *others = self.nodes
        first.install()
        for node in others:
            # Filled by the state transfer.
            os.mkdir(node.dir)
            shutil.chown(node.dir, "mysql", "mysql")
        first.start(self.address, bootstrap=True)
        first.wait_synced()
        # One joiner at a time: each takes a full copy from a donor.
        for node in others:
            node.start(self.address)
            node.wait_synced()
        return self

    def cleanup(self):
        for node in self.nodes:
            node.kill()
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database, nodes=None):
        """The URL listing ``nodes`` (all by default), in that order."""
        hosts = ",".join(f"127.0.0.1:{node.port}"
                         for node in (nodes or self.nodes))
        return f"mysql+pymysql://root@{hosts}/{database}"

    def rejoin(self, node):
        """Let an isolated ``node`` back in, and wait until it is."""
        node.isolate(False)
        node.wait_synced()
        self.wait_size(len(self.nodes))
        node.wait_status("wsrep_ready", "ON")

    def alive(self):
        return [node for node in self.nodes
                if node.process is not None and node.process.poll() is None]

    def wait_size(self, size, timeout=60):
        """Until each living node counts ``size`` members."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if all(node.status("wsrep_cluster_size") == str(size)
                       for node in self.alive()):
                    return
            except pymysql.err.MySQLError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the cluster did not reach {size} nodes")


def stored_ids(node, database):
    """The message_ids of ``database`` on ``node``, once it has applied
    what the cluster committed before (wsrep_sync_wait)."""
    with node.connect(database) as conn, conn.cursor() as cursor:
        cursor.execute("SET SESSION wsrep_sync_wait = 1")
        cursor.execute("SELECT message_id FROM event")
        return [row[0] for row in cursor.fetchall()]


_shared = []


def shared_cluster() -> Cluster:
    """One cluster for the tests of this process that leave it whole
    (nodes they cut off are let back in), removed at exit."""
    if not _shared:
        cluster = Cluster()
        try:
            cluster.start()
        except BaseException:
            cluster.cleanup()
            raise
        _shared.append(cluster)
    return _shared[0]


class ClusterTestCase:
    """A database of its own per test, on the shared cluster, or on one
    of the class's own when ``own_cluster`` (a test that kills nodes).

    Without galera-4 (or root) a test fails when MySQL is a required
    backend, and is skipped otherwise.
    """

    own_cluster = False
    cluster = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if missing() is not None:
            return
        if not cls.own_cluster:
            cls.cluster = shared_cluster()
            return
        cls.cluster = Cluster()
        try:
            cls.cluster.start()
        except BaseException:
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        if cls.own_cluster and cls.cluster is not None:
            cls.cluster.cleanup()
        super().tearDownClass()

    def setUp(self):
        super().setUp()
        reason = missing()
        if reason:
            if "mysql" in backends.required():
                self.fail(reason)
            self.skipTest(reason)
        # Every node ready, whatever the test before left (a rejoin
        # still settling on a loaded machine).
        for node in self.cluster.alive():
            node.wait_synced()
            node.wait_status("wsrep_ready", "ON")
        self.database = f"panko_like_{uuid.uuid4().hex}"
        self.cluster.nodes[0].query(f"CREATE DATABASE {self.database}")
        self.addCleanup(self.drop_database)

    def drop_database(self):
        for node in self.cluster.alive():
            try:
                node.query(f"DROP DATABASE IF EXISTS {self.database}")
                return
            except pymysql.err.MySQLError:
                continue

    def connect(self, nodes=None, **overrides):
        """A storage connection to the URL listing ``nodes``."""
        url = self.cluster.url(self.database, nodes)
        conf = backends.make_conf(url, {
            ("database", "retry_interval"): 1,
            ("database", "max_retries"): 30,
            **overrides})
        conn = storage.get_connection(url, conf)
        self.addCleanup(conn.close)
        return conn
