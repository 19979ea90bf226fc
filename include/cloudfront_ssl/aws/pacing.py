"""One cap on the rate of the package's ACM calls in a process: waits, requests, inventory and page alike.

ACM throttles per account and region (DescribeCertificate 10/s, ListCertificates 1-5/s,
RequestCertificate 5/s). Pacing inside each task or trigger does nothing across them, so every ACM
client that :func:`cloudfront_ssl.aws.acm.acm_hook` makes, synchronous or asynchronous, waits here
before each HTTP request it sends (retries included). The cap is the Airflow setting
``[ssl_certificates] acm_calls_per_second`` (default 5; 0 or less turns the cap off), read once per
process; each process (worker, triggerer, API server) has its own limiter.

The limiter is attached through botocore's own event system (``before-send.acm``) on the session the
provider's hook creates the client from, so the provider's credential handling and retries are untouched.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections import deque
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

CONFIG_SECTION = "ssl_certificates"
CONFIG_KEY = "acm_calls_per_second"
DEFAULT_CALLS_PER_SECOND = 5.0
ACM_SEND_EVENT = "before-send.acm"
"""Emitted by botocore before each HTTP request to ACM, every retry included."""


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


_limiter: CallRateLimiter | None = None
_limiter_lock = threading.Lock()


def configured_calls_per_second() -> float:
    """``[ssl_certificates] acm_calls_per_second`` from the Airflow config (default 5)."""
    from airflow.configuration import conf

    return conf.getfloat(CONFIG_SECTION, CONFIG_KEY, fallback=DEFAULT_CALLS_PER_SECOND)


def process_limiter() -> CallRateLimiter:
    """The limiter every ACM client of this process shares (created on first use from the config)."""
    global _limiter
    if _limiter is None:
        with _limiter_lock:
            if _limiter is None:
                _limiter = CallRateLimiter(configured_calls_per_second())
    return _limiter


def reset_limiter(calls_per_second: float | None = None) -> CallRateLimiter:
    """Start a new process limiter: at ``calls_per_second``, or from the config when not given."""
    global _limiter
    with _limiter_lock:
        _limiter = CallRateLimiter(
            configured_calls_per_second() if calls_per_second is None else calls_per_second
        )
    return _limiter


def _forget_limiter_in_child() -> None:
    # A forked worker must not inherit the parent's schedule or a lock held at fork time.
    global _limiter, _limiter_lock
    _limiter = None
    _limiter_lock = threading.Lock()


os.register_at_fork(after_in_child=_forget_limiter_in_child)


def _pace(**_: Any) -> None:
    """botocore handler of synchronous clients: wait for a slot before the request is sent."""
    process_limiter().wait()


async def _pace_async(**_: Any) -> None:
    """aiobotocore handler (awaited by its event emitter): wait for a slot without blocking the loop."""
    await process_limiter().wait_async()


def pace_session(session: Any) -> Any:
    """Register the limiter on a boto3 session or an aiobotocore session, for the ACM clients it makes.

    A client copies its session's handlers when it is created, so register before creating clients.
    """
    import boto3

    if isinstance(session, boto3.session.Session):
        session.events.register(ACM_SEND_EVENT, _pace, unique_id="cloudfront_ssl.aws.acm_rate")
    else:  # the provider's deferrable sessions are aiobotocore's AioSession
        session.register(ACM_SEND_EVENT, _pace_async, unique_id="cloudfront_ssl.aws.acm_rate")
    return session


class PacedAcmHook(AwsBaseHook):
    """The provider's AWS hook whose clients (boto3 and aiobotocore) wait for the process limiter.

    Takes the same arguments as :class:`~airflow.providers.amazon.aws.hooks.base_aws.AwsBaseHook`.
    """

    def get_session(self, region_name: str | None = None, deferrable: bool = False) -> Any:
        """The provider's session for this connection, with the limiter registered on it."""
        return pace_session(super().get_session(region_name=region_name, deferrable=deferrable))
