"""A small HTTP proxy in front of moto on 127.0.0.1 that counts AWS calls and injects faults for real.

Point an Airflow AWS connection's ``endpoint_url`` at :attr:`FaultProxy.url`: every request is
recorded (time and operation, read from the request itself, not from the code under test) and
forwarded to the emulator, unless a fault was armed for its operation: a throttling answer, a 5xx
answer, or a connection dropped without any answer.
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

FAULTS = {
    "throttle": (400, "ThrottlingException", "Rate exceeded"),
    "unavailable": (503, "ServiceUnavailableException", "Service is temporarily unavailable"),
    "internal": (500, "InternalFailure", "An internal error occurred"),
}
"""Answers a fault may give: HTTP status, AWS error code, message. ``drop`` closes the connection
instead; ``lose_answer`` forwards the request, then closes the connection without the answer (the
request took effect, the caller never hears of it); ``pass`` (in a sequence given to
:meth:`FaultProxy.inject`) lets one request through."""


def operation_of(command: str, path: str, headers: Any, body: bytes) -> str:
    """The AWS operation of a request: JSON protocols name it in X-Amz-Target, query protocols in
    Action; REST protocols (CloudFront) are named by method and path, e.g. ``POST /2020-05-31/distribution``."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return action[0]
    return f"{command} {urlsplit(path).path}"


class FaultProxy:
    """Forward requests to ``upstream``; record each one; answer with armed faults instead.

    :param upstream: the emulator's URL (``http://127.0.0.1:PORT``).
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.calls: list[tuple[float, str]] = []
        self.injected: list[tuple[float, str, str]] = []
        self.answered: list[tuple[float, str, float]] = []
        """Forwarded requests: when, which operation, how many seconds the emulator took to answer."""
        self._faults: deque[tuple[str | None, str]] = deque()
        self._always: dict[str | None, str] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                operation = operation_of(self.command, self.path, self.headers, body)
                fault = proxy._take_fault(operation)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault and fault != "lose_answer":
                    status, code, message = FAULTS[fault]
                    payload = json.dumps({"__type": code, "message": message}).encode()
                    self._answer(status, [("Content-Type", "application/x-amz-json-1.1")], payload)
                    return
                upstream = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=600)
                forwarded_at = time.monotonic()
                try:
                    headers = {
                        key: value for key, value in self.headers.items() if key.lower() != "connection"
                    }
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    content = response.read()
                    if fault == "lose_answer":
                        self.close_connection = True
                        self.connection.shutdown(socket.SHUT_RDWR)
                        return
                    passed = [
                        (key, value)
                        for key, value in response.getheaders()
                        if key.lower() not in ("transfer-encoding", "connection", "content-length")
                    ]
                    with proxy._lock:
                        proxy.answered.append((forwarded_at, operation, time.monotonic() - forwarded_at))
                    self._answer(response.status, passed, content)
                finally:
                    upstream.close()

            def _answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    def start(self) -> FaultProxy:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the listening socket."""
        self._server.shutdown()
        self._server.server_close()

    # --- faults -----------------------------------------------------------------------------------

    def inject(self, *kinds: str, operation: str | None = None) -> None:
        """Answer the next requests of ``operation`` (any, if None) with these faults, one each, in order."""
        with self._lock:
            self._faults.extend((operation, kind) for kind in kinds)

    def fail_always(self, kind: str | None, operation: str | None = None) -> None:
        """Answer every request of ``operation`` with ``kind`` from now on (``None`` stops it)."""
        with self._lock:
            if kind is None:
                self._always.pop(operation, None)
            else:
                self._always[operation] = kind

    def _take_fault(self, operation: str) -> str | None:
        with self._lock:
            self.calls.append((time.monotonic(), operation))
            fault = self._always.get(operation) or self._always.get(None)
            if fault is None:
                for index, (wanted, kind) in enumerate(self._faults):
                    if wanted in (None, operation):
                        del self._faults[index]
                        fault = kind
                        break
            if fault == "pass":
                return None
            if fault:
                self.injected.append((time.monotonic(), operation, fault))
            return fault

    @property
    def pending_faults(self) -> int:
        """Armed faults not served yet."""
        with self._lock:
            return len(self._faults)

    # --- reading the record -----------------------------------------------------------------------

    def count(self, operation: str | None = None, since: float = 0.0) -> int:
        """Requests seen (of one operation, if given) since a ``time.monotonic()`` instant."""
        with self._lock:
            return sum(1 for at, name in self.calls if at >= since and operation in (None, name))

    def operations(self, since: float = 0.0) -> Counter[str]:
        """Requests seen by operation since an instant."""
        with self._lock:
            return Counter(name for at, name in self.calls if at >= since)

    def clear(self) -> None:
        """Forget the calls and faults recorded so far (armed faults stay)."""
        with self._lock:
            self.calls.clear()
            self.injected.clear()
            self.answered.clear()


def peak_per_second(times: Iterable[float], window: float = 1.0) -> int:
    """The most calls that any ``window``-second span holds (a sliding window over the call times)."""
    ordered = sorted(times)
    peak, start = 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= window:
            start += 1
        peak = max(peak, end - start + 1)
    return peak
