"""A Server-Sent Events client on http.client, one thread per stream.

Used by the stream benchmark (tools/bench_stream.py) and its tests:
each message is kept with the wall-clock time it was read.
"""

import http.client
import json
import socket
import threading
import time


class Subscriber(threading.Thread):
    """``GET path`` on 127.0.0.1:``port``, read until the stream ends or
    :meth:`close`. ``messages``: ``(received, id, data)``; ``status``
    and ``body`` (of an answer other than 200) once ``ready`` is set."""

    def __init__(self, port, path, headers=None, timeout=60):
        super().__init__(daemon=True)
        self.port = port
        self.path = path
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.messages = []
        self.comments = []
        self.status = None
        self.response_headers = None
        self.body = b""
        self.error = None
        self.ready = threading.Event()
        self._conn = None
        self._sock = None
        self._changed = threading.Condition()

    def run(self):
        try:
            self._read()
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self.error = exc
        finally:
            self.ready.set()
            with self._changed:
                self._changed.notify_all()

    def _read(self):
        self._conn = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=self.timeout)
        self._conn.request("GET", self.path, headers=self.headers)
        # http.client hands the socket to the response (the server
        # closes the connection after a stream): kept to close it.
        self._sock = self._conn.sock
        response = self._conn.getresponse()
        self.status = response.status
        self.response_headers = response.headers
        if response.status != 200:
            self.body = response.read()
            self.ready.set()
            return
        self.ready.set()
        fields = {}
        while True:
            line = response.readline()
            if not line:
                return
            line = line.decode("utf-8").rstrip("\n")
            if line:
                if line.startswith(":"):
                    self.comments.append(line)
                else:
                    name, _, value = line.partition(":")
                    fields[name] = value[1:] if value[:1] == " " else value
                continue
            if "data" in fields:
                with self._changed:
                    self.messages.append(
                        (time.time(), fields.get("id"), fields["data"]))
                    self._changed.notify_all()
            fields = {}

    def wait_for(self, count, timeout):
        """Wait until ``count`` messages came (or the stream ended)."""
        with self._changed:
            self._changed.wait_for(
                lambda: len(self.messages) >= count or not self.is_alive(),
                timeout)
            return len(self.messages)

    def events(self):
        """The messages' data as JSON, with the time each came."""
        return [(received, json.loads(data))
                for received, _, data in list(self.messages)]

    def close(self):
        """Drop the connection, as a client that goes away does."""
        if self._sock is not None:
            try:
                self._sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
