"""How ``panko-like-api`` serves: slow clients, its own errors, its log.

A real server process on loopback (see tests.functional.apiserver);
waits poll for what they wait for, within generous limits.
"""

import http.client
import json
import os
import re
import selectors
import socket
import threading
import time

import sqlalchemy as sa

from panko_like.api import streaming
from tests.functional import apiserver, backends

#: How long an answer may take while slow clients hold connections.
PROMPT = 1.0
#: A generous limit for what a test waits for.
PATIENCE = 60


def event(message_id):
    return {"message_id": message_id,
            "event_type": "compute.instance.create.end",
            "generated": "2026-01-01T12:00:00",
            "traits": [], "raw": {}}


def head(method, path, port, headers=(), length=None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             *(f"{name}: {value}" for name, value in headers)]
    if length is not None:
        lines += ["Content-Type: application/json",
                  f"Content-Length: {length}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_answer(sock, timeout=PATIENCE):
    """Everything the server sends until it closes the connection."""
    sock.settimeout(timeout)
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def split_answer(raw):
    """(status, headers, body) of a raw HTTP answer."""
    header, _, body = raw.partition(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


class ServingCase(backends.BackendTestCase):
    """A configured server on the test's database."""

    def serve(self, extra=None, **api):
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        path = apiserver.write_config(server.home, {
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 1, "threads": 1,
                    **api},
            **(extra or {}),
        })
        return self._start(server, path)

    def _start(self, server, path):
        server.args = ["--config-file", path, *server.args]
        return server.start()

    def connect(self, server):
        sock = socket.create_connection(("127.0.0.1", server.port))
        self.addCleanup(sock.close)
        return sock

    def assert_prompt(self, server, path, headers=None, status=200):
        started = time.monotonic()
        answer = server.request("GET", path, headers=headers,
                                timeout=PATIENCE)
        elapsed = time.monotonic() - started
        self.assertEqual(status, answer.status, answer.body)
        self.assertLess(elapsed, PROMPT, f"GET {path} took {elapsed:.2f} s")
        return elapsed

    def wait_closed(self, socks, limit=PATIENCE):
        """Seconds until the server closed every one of ``socks``."""
        started = time.monotonic()
        with selectors.DefaultSelector() as selector:
            for sock in socks:
                sock.setblocking(False)
                selector.register(sock, selectors.EVENT_READ)
            open_ = set(socks)
            while open_:
                left = started + limit - time.monotonic()
                self.assertGreater(left, 0, f"{len(open_)} still open")
                for key, _ in selector.select(left):
                    try:
                        data = key.fileobj.recv(65536)
                    except ConnectionError:
                        data = b""
                    if not data:
                        selector.unregister(key.fileobj)
                        open_.discard(key.fileobj)
        return time.monotonic() - started


class TestSlowClients(ServingCase):
    """Slow or idle clients hold connections, never the workers."""

    def test_idle_half_requests(self):
        server = self.serve(workers=2, threads=2, request_read_timeout=3)
        idle = []
        for _ in range(50):
            sock = self.connect(server)
            sock.sendall(b"GET /v2/events HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        opened = time.monotonic()
        for _ in range(3):
            self.assert_prompt(server, "/")
            self.assert_prompt(server, "/healthcheck")
            self.assert_prompt(server, "/v2/events",
                               headers=apiserver.ADMIN)
        self.wait_closed(idle)
        # Closed for their timeout, not at once.
        self.assertGreater(time.monotonic() - opened, 2.5)
        self.assert_prompt(server, "/")

    def test_trickling_request_closed_after_its_timeout(self):
        """A client that keeps sending, too slowly, is closed too."""
        server = self.serve(request_read_timeout=2)
        sock = self.connect(server)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        started = time.monotonic()
        closed = threading.Event()

        def trickle():
            while not closed.wait(0.3):
                try:
                    sock.send(b"X-Slow: 1\r\n")
                except OSError:
                    return
        sender = threading.Thread(target=trickle, daemon=True)
        sender.start()
        self.addCleanup(closed.set)
        self.assert_prompt(server, "/")
        self.assertEqual(b"", read_answer(sock))
        closed.set()
        self.assertGreater(time.monotonic() - started, 1.5)

    def test_slow_body_holds_no_thread(self):
        server = self.serve()
        body = json.dumps([event("slow")]).encode()
        sock = self.connect(server)
        sock.sendall(head("POST", "/v2/events", server.port,
                          apiserver.ADMIN.items(), len(body)) + body[:10])
        self.assert_prompt(server, "/v2/events", headers=apiserver.ADMIN)
        self.assert_prompt(server, "/healthcheck")
        sock.sendall(body[10:])
        sock.shutdown(socket.SHUT_WR)
        status, _, answer = split_answer(read_answer(sock))
        self.assertEqual(201, status, answer)

    def test_slow_body_in_keystone_mode(self):
        """auth_token reads the body first: it still holds no thread."""
        server = self.serve(
            {"keystone_authtoken": apiserver.KEYSTONE_AUTHTOKEN},
            auth_mode="keystone",
        )
        sock = self.connect(server)
        sock.sendall(head("POST", "/v2/events", server.port,
                          [("X-Auth-Token", "t")], 1000) + b"[")
        self.assert_prompt(server, "/")
        self.assert_prompt(server, "/v2/events", status=401)


class TestConnections(ServingCase):
    """A page is answered whole and its connection kept open; a listing
    longer than the whole-answer limit streams, then the connection
    closes."""

    def test_page_whole_and_kept_alive_long_listing_streamed(self):
        server = self.serve()
        # ~3 KB each: 100 make a page bigger than the stream's buffer,
        # 500 more than the whole-answer limit.
        padding = "x" * 3000
        batch = [dict(event(f"ka-{n:04d}"), raw={"pad": padding})
                 for n in range(500)]
        answer = server.request("POST", "/v2/events", batch,
                                headers=apiserver.ADMIN)
        self.assertEqual(201, answer.status, answer.body)
        conn = http.client.HTTPConnection("127.0.0.1", server.port,
                                          timeout=PATIENCE)
        self.addCleanup(conn.close)

        def listing(limit):
            conn.request("GET", f"/v2/events?limit={limit}",
                         headers=apiserver.ADMIN)
            answer = conn.getresponse()
            body = answer.read()
            self.assertEqual(200, answer.status, body)
            return answer, body

        first_socket = None
        for _ in range(3):
            page, body = listing(100)
            self.assertGreater(len(body), streaming.BUFFER_SIZE)
            self.assertEqual(str(len(body)),
                             page.getheader("Content-Length"))
            self.assertIsNone(page.getheader("Transfer-Encoding"))
            self.assertFalse(page.will_close)
            self.assertEqual(100, len(json.loads(body)))
            # One connection serves the three pages.
            first_socket = first_socket or conn.sock
            self.assertIs(first_socket, conn.sock)
        listing_answer, body = listing(1000)
        self.assertGreater(len(body), streaming.WHOLE_ANSWER_SIZE)
        self.assertEqual("chunked",
                         listing_answer.getheader("Transfer-Encoding"))
        self.assertEqual(
            sorted(e["message_id"] for e in batch),
            sorted(e["message_id"] for e in json.loads(body)))
        self.assertTrue(listing_answer.will_close)


class TestServerErrors(ServingCase):
    """Answers made by the HTTP server itself are JSON too."""

    def raw(self, server, data):
        sock = self.connect(server)
        sock.sendall(data)
        return split_answer(read_answer(sock))

    def assert_json_error(self, answer, status, fragment):
        got, headers, body = answer
        self.assertEqual(status, got, body)
        self.assertEqual("application/json", headers["Content-Type"])
        error = json.loads(body)["error_message"]
        self.assertEqual({"faultcode": "Client", "debuginfo": None},
                         {key: error[key] for key in ("faultcode",
                                                      "debuginfo")})
        self.assertIn(fragment, error["faultstring"])

    def test_client_errors(self):
        server = self.serve(max_request_body_size=4096)
        port = server.port
        cases = [
            (b"NOT AN HTTP REQUEST\r\n\r\n", 400, "Bad Request"),
            (b"GET /\xff\x00 HTTP/1.1\r\nHost: x\r\n\r\n", 400,
             "Bad Request"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n", 400,
             "Bad Request"),
            (b"GET /" + b"a" * 300_000 + b" HTTP/1.1\r\n\r\n", 431,
             "Request Header Fields Too Large"),
            (head("GET", "/", port, [("X-Big", "a" * 300_000)]), 431,
             "Request Header Fields Too Large"),
            (head("POST", "/v2/events", port, apiserver.ADMIN.items(),
                  5000), 413, "[api] max_request_body_size"),
        ]
        for data, status, fragment in cases:
            with self.subTest(data=data[:40]):
                self.assert_json_error(self.raw(server, data), status,
                                       fragment)
        self.assert_prompt(server, "/")


class TestRequestLog(ServingCase):
    """Each request is logged in its own context."""

    def test_anonymous_line_names_no_earlier_caller(self):
        server = apiserver.APIServer()
        self.addCleanup(server.cleanup)
        log_file = os.path.join(server.home, "api.log")
        path = apiserver.write_config(server.home, {
            "DEFAULT": {"log_file": log_file},
            "database": {"connection": self.url, "max_retries": 0},
            "api": {"auth_mode": "noauth", "workers": 1, "threads": 1},
        })
        self._start(server, path)
        identity = {"X-User-Id": "u-earlier", "X-Project-Id": "p-earlier",
                    "X-Roles": "admin"}
        for _ in range(3):
            answer = server.request("GET", "/v2/events", headers=identity)
            self.assertEqual(200, answer.status, answer.body)
            self.assertEqual(200, server.request("GET", "/").status)
            self.assertEqual(
                403, server.request("GET", "/v2/event_types").status)
        self.assertEqual(0, server.stop(), server.logs())
        with open(log_file) as f:
            lines = [line for line in f if "status: " in line]
        named = [line for line in lines if "u-earlier" in line]
        self.assertEqual(3, len(named), lines)
        self.assertTrue(all('"GET /v2/events" status: 200' in line
                            for line in named), named)
        anonymous = [line for line in lines if '"GET /" status' in line
                     or '"GET /v2/event_types"' in line]
        self.assertGreaterEqual(len(anonymous), 6, lines)
        for line in anonymous:
            self.assertNotIn("earlier", line)
            # Its own request id, not "-".
            self.assertRegex(line, r" req-[0-9a-f-]+ - - ")


class TestStalledStorage(ServingCase):
    """PostgreSQL, with the tables locked by the test: every request
    that reaches them waits."""

    backend_name = "postgresql"

    def lock_tables(self):
        engine = sa.create_engine(self.url)
        self.addCleanup(engine.dispose)
        conn = engine.connect()
        self.addCleanup(conn.close)
        transaction = conn.begin()
        self.addCleanup(transaction.rollback)
        conn.exec_driver_sql(
            "LOCK TABLE event, event_type IN ACCESS EXCLUSIVE MODE")

    def stalled_request(self, server, path="/v2/events"):
        sock = self.connect(server)
        sock.sendall(head("GET", path, server.port,
                          apiserver.ADMIN.items()))
        return sock

    def test_healthcheck_while_every_thread_waits(self):
        server = self.serve(workers=2, threads=2, worker_timeout=0)
        self.lock_tables()
        for _ in range(6):
            self.stalled_request(server)
        answer = None
        for _ in range(3):
            started = time.monotonic()
            answer = server.request("GET", "/healthcheck", timeout=PATIENCE)
            self.assertLess(time.monotonic() - started, PROMPT)
        self.assertEqual(503, answer.status, answer.body)

    def test_worker_timeout_answers_json(self):
        server = self.serve(worker_timeout=2)
        self.lock_tables()
        sock = self.stalled_request(server)
        status, headers, body = split_answer(read_answer(sock))
        self.assertEqual(503, status, body)
        self.assertEqual("application/json", headers["Content-Type"])
        error = json.loads(body)["error_message"]
        self.assertEqual("Server", error["faultcode"])
        self.assertIn("worker_timeout", error["faultstring"])
        self.assertTrue(re.search(r"WORKER TIMEOUT", server.logs()),
                        server.logs())
