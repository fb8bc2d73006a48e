"""A TCP proxy a test can partition: the network cut for the partitioned-agent test.

iptables is not safe on a shared test machine and network namespaces need
privileges CI may lack, so the agent reaches the master through this proxy.
``cut()`` silently stops forwarding in both directions (packets "lost", no
FIN or RST, so only heartbeats can notice); new connections are accepted and
then hang the same way.  ``heal()`` closes every connection held during the
cut (as a real partition's TCP timeouts eventually would) and forwards again.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class PartitionableProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = f"127.0.0.1:{self._listener.getsockname()[1]}"
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                self._open.wait()  # during a cut, data goes nowhere (held, then dropped)
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self._open.clear()

    def heal(self) -> None:
        with self._lock:
            held, self._sockets = self._sockets, []
        for sock in held:
            with contextlib.suppress(OSError):
                sock.close()
        self._open.set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        self.heal()
