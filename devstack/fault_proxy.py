"""The one fault proxy: an HTTP proxy in front of the emulator that counts AWS calls and injects faults for real.

Point an Airflow AWS connection's ``endpoint_url`` at :attr:`FaultProxy.url`: every request is
recorded (time, service and operation, read from the request itself, not from the code under test)
and forwarded to the emulator, unless a fault was armed for its operation. An injected error is
answered in the protocol of the service it was sent to, so that botocore parses it as it would
parse AWS's own answer and its retry rules apply to it:

- JSON (ACM, the Tagging API, Secrets Manager): ``{"__type": code, "message": ...}``;
- REST-XML (CloudFront, Route 53): ``<ErrorResponse><Error><Type/><Code/><Message/></Error>``
  in the service's own XML namespace;
- query-XML (SNS, STS): the same envelope, in the query protocol's namespace.

The service is read from the request's signature (``Credential=.../us-east-1/route53/aws4_request``)
and the operation from the request: ``X-Amz-Target`` (JSON), ``Action`` (query), or the method and
path matched against the service's botocore model (REST: ``GET /2013-04-01/change/C1`` is
``GetChange``).

moto answers every ``GetChange`` with INSYNC; :meth:`FaultProxy.hold_pending` makes the proxy report
changes PENDING for a number of polls, as Route 53 does while it applies them.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Fault:
    """An error answer: HTTP status and AWS error code in the JSON protocol and in the XML ones."""

    status: int
    json_code: str
    xml_code: str
    message: str


FAULTS = {
    "throttle": Fault(400, "ThrottlingException", "Throttling", "Rate exceeded"),
    "prior_request": Fault(
        400,
        "PriorRequestNotComplete",
        "PriorRequestNotComplete",
        "The request was rejected because Route 53 was still processing a prior request.",
    ),
    "denied": Fault(
        403,
        "AccessDeniedException",
        "AccessDenied",
        "User: arn:aws:iam::123456789012:user/no-access is not authorized to perform this action",
    ),
    "unavailable": Fault(503, "ServiceUnavailableException", "ServiceUnavailable", "Service is unavailable"),
    "internal": Fault(500, "InternalFailure", "InternalFailure", "An internal error occurred"),
}
"""Errors a fault may answer with. Besides these, ``drop`` closes the connection instead of answering;
``lose_answer`` forwards the request, then closes the connection without the answer (the request took
effect, the caller never hears of it); ``pass`` (in a sequence given to :meth:`FaultProxy.inject`)
lets one request through."""

SIGNING_NAMES = {
    "acm": "acm",
    "cloudfront": "cloudfront",
    "route53": "route53",
    "sns": "sns",
    "tagging": "resourcegroupstaggingapi",
    "secretsmanager": "secretsmanager",
    "sts": "sts",
}
"""The signing name in a request's credential scope -> botocore's name of the service."""
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")


class Call(NamedTuple):
    """One request the proxy saw."""

    at: float
    service: str
    operation: str


@cache
def _model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def _path_pattern(request_uri_path: str) -> re.Pattern[str]:
    """A model's request URI path as a pattern: ``{Id}`` is one path segment, ``{Key+}`` any rest."""
    pattern = ""
    for literal, label in re.findall(r"([^{]*)(\{[^}]*\})?", request_uri_path):
        pattern += re.escape(literal)
        if label:
            pattern += ".+" if label.endswith("+}") else "[^/]+"
    return re.compile(f"^{pattern.rstrip('/')}/?$")


@cache
def _rest_routes(service: str) -> list[tuple[str, re.Pattern[str], tuple[str, str] | None, str]]:
    """(method, path pattern, query parameter it needs, operation) of a REST service, most specific first."""
    routes = []
    model = _model(service)
    for name in model.operation_names:
        http = model.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        key, _, value = query.partition("=")
        routes.append((http["method"], _path_pattern(path), (key, value) if key else None, name))
    routes.sort(key=lambda route: (route[2] is None, -len(route[1].pattern)))
    return routes


def service_of(headers: Any, path: str) -> str:
    """botocore's name of the service a request is for (``route53``), from its signature; ``""`` if unsigned."""
    found = CREDENTIAL_SCOPE.search(headers.get("Authorization") or "")
    if found:
        return SIGNING_NAMES.get(found.group(1), found.group(1))
    if path.startswith("/2013-04-01/"):
        return "route53"
    if re.match(r"^/20\d\d-\d\d-\d\d/", path):
        return "cloudfront"
    return ""


def protocol_of(service: str, headers: Any, body: bytes) -> str:
    """The service's protocol: ``json``, ``rest-xml``, ``query`` (or ``rest-json``)."""
    if service:
        try:
            return str(_model(service).metadata["protocol"])
        except Exception:  # noqa: BLE001 - a service botocore does not know: guess from the request
            pass
    if headers.get("X-Amz-Target"):
        return "json"
    if b"Action=" in body:
        return "query"
    return "rest-xml"


def operation_of(command: str, path: str, headers: Any, body: bytes, service: str = "") -> str:
    """The AWS operation of a request: JSON protocols name it in X-Amz-Target, query protocols in
    Action; REST operations are found by method and path in the service's model, else named by them
    (``POST /2020-05-31/distribution``)."""
    target = headers.get("X-Amz-Target")
    if target:
        return target.rsplit(".", 1)[-1]
    action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    if action:
        return action[0]
    parts = urlsplit(path)
    if service:
        try:
            routes = _rest_routes(service)
        except Exception:  # noqa: BLE001 - a service botocore does not know
            routes = []
        query = parse_qs(parts.query, keep_blank_values=True)
        for method, pattern, needs, name in routes:
            if method != command or not pattern.match(parts.path):
                continue
            if needs is None or (needs[0] in query and needs[1] in ("", query[needs[0]][0])):
                return name
    return f"{command} {parts.path}"


def error_answer(fault: Fault, service: str, protocol: str) -> tuple[int, list[tuple[str, str]], bytes]:
    """The HTTP answer AWS gives for ``fault`` in the service's protocol: status, headers, body."""
    request_id = str(uuid.uuid4())
    if protocol in ("json", "rest-json"):
        body = json.dumps({"__type": fault.json_code, "message": fault.message}).encode()
        headers = [
            ("Content-Type", "application/x-amz-json-1.1"),
            ("x-amzn-RequestId", request_id),
            ("x-amzn-ErrorType", fault.json_code),
        ]
        return fault.status, headers, body
    namespace = ""
    if service:
        try:
            metadata = _model(service).metadata
            namespace = f"https://{metadata['endpointPrefix']}.amazonaws.com/doc/{metadata['apiVersion']}/"
        except Exception:  # noqa: BLE001 - an unknown service: an envelope without a namespace
            namespace = ""
    kind = "Receiver" if fault.status >= 500 else "Sender"
    body = (
        f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{namespace}"><Error><Type>{kind}</Type>'
        f"<Code>{fault.xml_code}</Code><Message>{fault.message}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    ).encode()
    return fault.status, [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)], body


class FaultProxy:
    """Forward requests to ``upstream``; record each one; answer with armed faults instead.

    Usable as a context manager (started on entry, stopped on exit).

    :param upstream: the emulator's URL (``http://127.0.0.1:PORT``).
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host, self.upstream_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.requests: list[Call] = []
        self.injected: list[tuple[float, str, str]] = []
        self.answered: list[tuple[float, str, float]] = []
        """Forwarded requests: when, which operation, how many seconds the emulator took to answer."""
        self._faults: deque[tuple[str | None, str]] = deque()
        self._always: dict[str | None, str] = {}
        self._pending_polls = 0
        self._rewrites: dict[str, list[Any]] = {}
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                service = service_of(self.headers, self.path)
                operation = operation_of(self.command, self.path, self.headers, body, service)
                fault = proxy._take_fault(service, operation)
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if fault and fault != "lose_answer":
                    protocol = protocol_of(service, self.headers, body)
                    self._answer(*error_answer(FAULTS[fault], service, protocol))
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
                    if operation == "GetChange" and proxy._hold_this_poll():
                        content = content.replace(b"<Status>INSYNC</Status>", b"<Status>PENDING</Status>")
                    content = proxy._rewritten(operation, content)
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

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # --- faults -----------------------------------------------------------------------------------

    def inject(self, *kinds: str, operation: str | None = None) -> None:
        """Answer the next requests of ``operation`` (any, if None) with these faults, one each, in order."""
        for kind in kinds:
            if kind not in FAULTS and kind not in ("drop", "lose_answer", "pass"):
                raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.extend((operation, kind) for kind in kinds)

    def fail_always(self, kind: str | None, operation: str | None = None) -> None:
        """Answer every request of ``operation`` (or of a service, by its name) with ``kind`` from now on
        (``None`` stops it)."""
        with self._lock:
            if kind is None:
                self._always.pop(operation, None)
            else:
                self._always[operation] = kind

    def hold_pending(self, polls: int) -> None:
        """Report Route 53 changes PENDING for the next ``polls`` GetChange answers, then as they are."""
        with self._lock:
            self._pending_polls = polls

    def rewrite(self, operation: str, old: bytes, new: bytes, answers: int | None = None) -> None:
        """Replace ``old`` with ``new`` in the next ``answers`` answers to ``operation`` (every one if None).

        What no emulator answers by itself: a managed certificate still ``pending-validation`` or
        ``failed``, DNS that CloudFront finds ``invalid-configuration``.
        """
        with self._lock:
            self._rewrites[operation] = [old, new, answers]

    def _rewritten(self, operation: str, content: bytes) -> bytes:
        with self._lock:
            rewrite = self._rewrites.get(operation)
            if rewrite is None:
                return content
            old, new, left = rewrite
            if left is not None:
                if left <= 0:
                    return content
                rewrite[2] = left - 1
        return content.replace(old, new)

    def _hold_this_poll(self) -> bool:
        with self._lock:
            if self._pending_polls > 0:
                self._pending_polls -= 1
                return True
            return False

    def _take_fault(self, service: str, operation: str) -> str | None:
        with self._lock:
            self.requests.append(Call(time.monotonic(), service, operation))
            fault = self._always.get(operation) or self._always.get(service) or self._always.get(None)
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

    @property
    def calls(self) -> list[tuple[float, str]]:
        """Every request seen so far as ``(time.monotonic(), operation)``."""
        with self._lock:
            return [(call.at, call.operation) for call in self.requests]

    def times(self, service: str | None = None, since: float = 0.0) -> list[float]:
        """When each request (of one service, if given) arrived, since an instant."""
        with self._lock:
            return [call.at for call in self.requests if call.at >= since and service in (None, call.service)]

    def count(self, operation: str | None = None, since: float = 0.0) -> int:
        """Requests seen (of one operation, if given) since a ``time.monotonic()`` instant."""
        with self._lock:
            return sum(
                1 for call in self.requests if call.at >= since and operation in (None, call.operation)
            )

    def operations(self, since: float = 0.0, service: str | None = None) -> Counter[str]:
        """Requests seen by operation since an instant (of one service, if given)."""
        with self._lock:
            return Counter(
                call.operation
                for call in self.requests
                if call.at >= since and service in (None, call.service)
            )

    def clear(self) -> None:
        """Forget the calls and faults recorded so far (armed faults stay)."""
        with self._lock:
            self.requests.clear()
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
