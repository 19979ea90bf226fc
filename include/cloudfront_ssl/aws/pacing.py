"""One pace per AWS service in a process, attached where every client of the package is made.

AWS throttles per account (and region): Route 53 takes 5 requests a second, ACM 10 DescribeCertificate,
1 to 5 ListCertificates and 5 RequestCertificate. Pacing inside each task or trigger does nothing across
them, so every client of a service that the package makes, synchronous or asynchronous, in a task, a
trigger or the API server, waits for its service's limiter before each HTTP request it sends (retries
included). Each service has its own setting in ``[ssl_certificates]`` (see :data:`PACED_SERVICES`;
0 or less turns a cap off), read once per process; each process (worker, triggerer, API server) has its
own limiters, so a fleet of N processes can together reach N times a cap.

The clients come from one hook class per service (:class:`AcmHook`, :class:`CloudFrontHook`,
:class:`Route53Hook`, :class:`SnsHook`, :class:`TaggingHook`, :class:`SecretsManagerHook`,
:class:`StsHook`): the Amazon provider's hooks, whose ``get_session`` registers
the limiters through botocore's own event system (``before-send.<service>``) on the session the
clients are made from. The provider's credential handling and retries are untouched, and no call
site can forget the pace.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.hooks.secrets_manager import (
    SecretsManagerHook as ProviderSecretsManagerHook,
)
from airflow.providers.amazon.aws.hooks.sns import SnsHook as ProviderSnsHook
from airflow.providers.amazon.aws.hooks.sts import StsHook as ProviderStsHook

CONFIG_SECTION = "ssl_certificates"
GLOBAL_REGION = "us-east-1"
"""CloudFront and Route 53 are global services, addressed through us-east-1; ACM's certificates for
CloudFront live there too."""


@dataclass(frozen=True)
class ServicePace:
    """How one AWS service is paced.

    :param service: boto3's name of the service (``route53``), the key of :data:`PACED_SERVICES`.
    :param event_service: botocore's event name of the service (``route-53``), as in ``before-send.route-53``.
    :param setting: the key in ``[ssl_certificates]`` holding its calls per second.
    :param default: the rate when the setting is absent: what AWS publishes, or a safe share of it.
    """

    service: str
    event_service: str
    setting: str
    default: float

    @property
    def send_event(self) -> str:
        """The botocore event emitted before each HTTP request to the service, every retry included."""
        return f"before-send.{self.event_service}"


PACED_SERVICES: dict[str, ServicePace] = {
    # DescribeCertificate 10/s, RequestCertificate 5/s, ListCertificates 1-5/s: 5 covers them all.
    "acm": ServicePace("acm", "acm", "acm_calls_per_second", 5.0),
    # CloudFront publishes no rate for the calls the package makes (lists, tags, config reads,
    # creations); it throttles control-plane bursts, and 5 a second stays well clear of that.
    "cloudfront": ServicePace("cloudfront", "cloudfront", "cloudfront_calls_per_second", 5.0),
    # Route 53: 5 requests a second per account, every API together.
    "route53": ServicePace("route53", "route-53", "route53_calls_per_second", 5.0),
    # SNS's API quotas are tens to thousands a second per account (Publish the highest); a job sends
    # a handful of messages, so 10 keeps a burst of failing jobs from reaching any of them.
    "sns": ServicePace("sns", "sns", "sns_calls_per_second", 10.0),
    # Resource Groups Tagging API: GetResources is throttled at a few calls a second per account and
    # region; the package pages through it 100 certificates at a time, so 5 stays clear of that.
    "resourcegroupstaggingapi": ServicePace(
        "resourcegroupstaggingapi", "resource-groups-tagging-api", "tagging_calls_per_second", 5.0
    ),
    # Secrets Manager: GetSecretValue takes 10,000 a second per account; an import or rotation reads
    # one secret per certificate, so 20 keeps a rotation of a whole fleet far below it.
    "secretsmanager": ServicePace(
        "secretsmanager", "secrets-manager", "secretsmanager_calls_per_second", 20.0
    ),
    # STS: GetCallerIdentity (the account number of a connection) shares STS's 600 a second per account
    # with credential refreshes; 5 is ample for the page's one call per connection and minute.
    "sts": ServicePace("sts", "sts", "sts_calls_per_second", 5.0),
}
"""Every service whose clients the package paces, by boto3's service name."""


MARGIN_SECONDS = 0.2
"""Added to the one-second window: absorbs the delay between a call's start and its request reaching AWS."""


class CallRateLimiter:
    """Let at most ``calls_per_second`` calls start in any one-second window, spread out evenly.

    Each call reserves a slot (slots are ``1 / calls_per_second`` seconds apart: no burst) and waits
    until it. A thread or task may wake up late and bunch up with the next ones, so a call is counted
    when it actually starts, and waits again if it would be one more than ``calls_per_second``
    within one second (plus :data:`MARGIN_SECONDS`). Thread-safe, and usable from synchronous code
    (:meth:`wait`) and from an event loop (:meth:`wait_async`) at once.

    :param calls_per_second: the cap; ``None`` or a value of 0 or less means no cap.
    """

    def __init__(self, calls_per_second: float | None) -> None:
        self.calls_per_second = calls_per_second if calls_per_second and calls_per_second > 0 else None
        rate = self.calls_per_second or 0.0
        self._interval = 1.0 / rate if rate else 0.0
        self._per_window = max(1, int(rate))
        self._window = self._per_window / rate + MARGIN_SECONDS if rate else 0.0
        self._next_slot = 0.0
        self._started: deque[float] = deque(maxlen=self._per_window)
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next slot and return how many seconds to wait for it (0 when it is now)."""
        if not self._interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self._interval
        return slot - now

    def start(self) -> float:
        """Count the call as starting now and return 0; or return how long to wait before asking again."""
        if not self._interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            if len(self._started) == self._per_window and now - self._started[0] < self._window:
                return self._started[0] + self._window - now
            self._started.append(now)
            return 0.0

    def wait(self) -> None:
        """Block the calling thread until its call may start."""
        delay = self.reserve()
        while True:
            if delay > 0:
                time.sleep(delay)
            delay = self.start()
            if delay <= 0:
                return

    async def wait_async(self) -> None:
        """Wait, without blocking the event loop, until the calling task's call may start."""
        delay = self.reserve()
        while True:
            if delay > 0:
                await asyncio.sleep(delay)
            delay = self.start()
            if delay <= 0:
                return


_limiters: dict[str, CallRateLimiter] = {}
_limiters_lock = threading.Lock()


def configured_calls_per_second(service: str) -> float:
    """The service's ``[ssl_certificates] <service>_calls_per_second`` from the Airflow config, or its default."""
    from airflow.configuration import conf

    pace = PACED_SERVICES[service]
    return conf.getfloat(CONFIG_SECTION, pace.setting, fallback=pace.default)


def process_limiter(service: str) -> CallRateLimiter:
    """The limiter every client of ``service`` in this process shares (created on first use from the config)."""
    limiter = _limiters.get(service)
    if limiter is None:
        with _limiters_lock:
            limiter = _limiters.get(service)
            if limiter is None:
                limiter = _limiters[service] = CallRateLimiter(configured_calls_per_second(service))
    return limiter


def reset_limiter(service: str, calls_per_second: float | None = None) -> CallRateLimiter:
    """Start a new limiter for ``service`` in this process: at ``calls_per_second``, or from the config."""
    with _limiters_lock:
        limiter = _limiters[service] = CallRateLimiter(
            configured_calls_per_second(service) if calls_per_second is None else calls_per_second
        )
    return limiter


def _forget_limiters_in_child() -> None:
    # A forked worker must not inherit the parent's schedule or a lock held at fork time.
    global _limiters_lock
    _limiters.clear()
    _limiters_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_limiters_in_child)


class _Pace:
    """botocore handler of synchronous clients: wait for the service's slot before the request is sent."""

    def __init__(self, service: str) -> None:
        self.service = service

    def __call__(self, **_: Any) -> None:
        process_limiter(self.service).wait()


class _PaceAsync:
    """aiobotocore handler (awaited by its event emitter): wait for the slot without blocking the loop."""

    def __init__(self, service: str) -> None:
        self.service = service

    async def __call__(self, **_: Any) -> None:
        await process_limiter(self.service).wait_async()


def pace_session(session: Any) -> Any:
    """Register every paced service's limiter on a boto3 or aiobotocore session; return the session.

    A client fires only its own service's events, so one registration serves whichever client the
    session makes. A client copies its session's handlers when it is created: register first.
    """
    import boto3

    for pace in PACED_SERVICES.values():
        unique_id = f"cloudfront_ssl.aws.pacing.{pace.service}"
        if isinstance(session, boto3.session.Session):
            session.events.register(pace.send_event, _Pace(pace.service), unique_id=unique_id)
        else:  # the provider's deferrable sessions are aiobotocore's AioSession
            session.register(pace.send_event, _PaceAsync(pace.service), unique_id=unique_id)
    return session


class PacedSession:
    """Mixin for the provider's hooks: the session they make clients from carries the limiters."""

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        """The provider's session for this connection, with the limiters registered on it."""
        return pace_session(super().get_session(region_name=region_name, deferrable=deferrable))  # type: ignore[misc]


class AcmHook(PacedSession, AwsBaseHook):
    """The provider's AWS hook for ACM, paced. Takes ``AwsBaseHook``'s arguments except ``client_type``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "acm"
        super().__init__(*args, **kwargs)


class CloudFrontHook(PacedSession, AwsBaseHook):
    """The provider's AWS hook for CloudFront (through us-east-1), paced.

    Takes ``AwsBaseHook``'s arguments except ``client_type``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "cloudfront"
        kwargs["region_name"] = kwargs.get("region_name") or GLOBAL_REGION
        super().__init__(*args, **kwargs)


class Route53Hook(PacedSession, AwsBaseHook):
    """The provider's AWS hook for Route 53 (through us-east-1), paced.

    Takes ``AwsBaseHook``'s arguments except ``client_type``. Without a botocore ``config`` the client
    retries throttling and ``PriorRequestNotComplete`` up to 10 times (botocore's standard mode).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from botocore.config import Config

        kwargs["client_type"] = "route53"
        kwargs["region_name"] = kwargs.get("region_name") or GLOBAL_REGION
        if not kwargs.get("config"):
            kwargs["config"] = Config(retries={"mode": "standard", "max_attempts": 10})
        super().__init__(*args, **kwargs)


class TaggingHook(PacedSession, AwsBaseHook):
    """The provider's AWS hook for the Resource Groups Tagging API, paced; in us-east-1 unless told
    otherwise (where the account's certificates for CloudFront and its CloudFront resources are).

    Takes ``AwsBaseHook``'s arguments except ``client_type``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "resourcegroupstaggingapi"
        kwargs["region_name"] = kwargs.get("region_name") or GLOBAL_REGION
        super().__init__(*args, **kwargs)


class SnsHook(PacedSession, ProviderSnsHook):
    """The provider's ``SnsHook`` (``publish_to_target`` and all), paced. Takes the same arguments."""


class SecretsManagerHook(PacedSession, ProviderSecretsManagerHook):
    """The provider's ``SecretsManagerHook`` (``get_secret`` and all), paced. Takes the same arguments."""


class StsHook(PacedSession, ProviderStsHook):
    """The provider's ``StsHook`` (``get_account_number``), paced. Takes the same arguments."""
