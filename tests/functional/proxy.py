"""A TCP proxy on the loopback interface that a test uses to lose its
storage server, and to get it back, without touching the server.

The service under test is pointed at the proxy's port instead of the
server's. The test then decides what happens to its connections:

- :meth:`Proxy.refuse`: the proxy stops listening, so new connections
  are refused (ECONNREFUSED, as from a host whose server is down);
- :meth:`Proxy.cut`: every open connection is reset, both ways;
- :meth:`Proxy.restore`: the proxy listens again on the same port;
- :meth:`Proxy.cut_after`: arm a cut at the n-th packet the server
  sends from now on (that packet is dropped), so the loss falls in the
  middle of whatever the client is doing at that moment.

One thread accepts; each connection has a thread per direction.
Everything stays on 127.0.0.1.
"""

import contextlib
import socket
import struct
import threading
import time

_CHUNK = 65536


def _reset(sock):
    """Close ``sock`` at once: a reset (RST) rather than an orderly
    close. shutdown() first: close() alone neither wakes nor ends a
    recv() that another thread is blocked in."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


class Proxy:
    """Forwards 127.0.0.1:``port`` to ``target`` (host, port)."""

    def __init__(self, target_host, target_port):
        self.target = (target_host, target_port)
        self._lock = threading.Lock()
        self._pairs = set()
        self._listener = None
        self._acceptor = None
        #: Server packets still to pass before an armed cut (None: none).
        self._cut_countdown = None
        self._refuse_on_cut = False
        #: How many cuts an armed countdown has made.
        self.cuts = 0
        #: Connections accepted so far.
        self.accepted = 0
        self.port = None
        self._listen()

    # Control

    def refuse(self):
        """Refuse new connections (open ones are left as they are)."""
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            # shutdown() wakes the thread blocked in accept().
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
            self._acceptor.join(10)

    def cut(self):
        """Reset every open connection."""
        with self._lock:
            pairs, self._pairs = self._pairs, set()
        for client, server in pairs:
            _reset(client)
            _reset(server)
        return len(pairs)

    def lose(self):
        """The server is gone: refuse new connections, cut open ones."""
        self.refuse()
        self.cut()

    def restore(self):
        """Accept connections again, on the same port."""
        with self._lock:
            listening = self._listener is not None
        if not listening:
            self._listen()

    def cut_after(self, packets, refuse=False):
        """Cut every connection when the server sends its
        ``packets``-th packet from now on (dropped, not forwarded).
        New connections are accepted still, or refused from then on
        when ``refuse`` is true (the server is lost for good)."""
        with self._lock:
            self._cut_countdown = packets
            self._refuse_on_cut = refuse

    def disarm(self) -> bool:
        """Cancel an armed cut; whether it had fired."""
        with self._lock:
            fired = self._cut_countdown is None
            self._cut_countdown = None
        return fired

    def close(self):
        self.refuse()
        self.cut()

    # Forwarding

    def _listen(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        deadline = time.monotonic() + 10
        while True:
            try:
                listener.bind(("127.0.0.1", self.port or 0))
                break
            except OSError:
                # The port of a listener just closed, rarely still busy.
                if self.port is None or time.monotonic() > deadline:
                    listener.close()
                    raise
                time.sleep(0.05)
        listener.listen(64)
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        self._acceptor = threading.Thread(
            target=self._accept, args=(listener,), daemon=True,
            name=f"proxy-accept-{self.port}")
        self._acceptor.start()

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # refused: the listener is closed
            try:
                server = socket.create_connection(self.target, timeout=5)
                server.settimeout(None)
            except OSError:
                _reset(client)
                continue
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            pair = (client, server)
            with self._lock:
                if self._listener is not listener:
                    _reset(client)
                    _reset(server)
                    return
                self._pairs.add(pair)
                self.accepted += 1
            for source, sink, from_server in ((client, server, False),
                                              (server, client, True)):
                threading.Thread(
                    target=self._pump, args=(pair, source, sink,
                                             from_server),
                    daemon=True, name=f"proxy-pump-{self.port}").start()

    def _pump(self, pair, source, sink, from_server):
        try:
            while True:
                data = source.recv(_CHUNK)
                if not data:
                    break
                if from_server and self._armed_cut_fires():
                    if self._refuse_on_cut:
                        self.refuse()
                    self.cut()
                    return
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._pairs.discard(pair)
        _reset(source)
        _reset(sink)

    def _armed_cut_fires(self) -> bool:
        with self._lock:
            if self._cut_countdown is None:
                return False
            self._cut_countdown -= 1
            if self._cut_countdown > 0:
                return False
            self._cut_countdown = None
            self.cuts += 1
            return True
