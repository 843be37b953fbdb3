"""Per-contact flood control: a short burst waits a moment, a flood is answered once and dropped.

A token bucket per sender. Beyond the burst, a message may borrow a token that has not refilled
yet and wait for it (:attr:`Admission.wait` seconds), so a second tap that arrives too fast is
handled a moment later instead of lost. Borrowing is bounded twice: at most ``max_waiting``
tokens owed per sender and a wait of at most ``max_wait`` seconds; beyond that the sender is told
once, then dropped quietly until the bucket refills.

Kept in memory on purpose: it protects one process from one noisy sender, and losing it on a
restart loses nothing that matters. At most ``max_keys`` senders are remembered; waiting adds
nothing per message (the debt is the bucket's own count going below zero).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum


class Verdict(StrEnum):
    ALLOW = "allow"
    WAIT = "wait"  # allowed after Admission.wait seconds
    WARN = "warn"  # first refusal: tell the person once
    DROP = "drop"


@dataclass(frozen=True, slots=True)
class Admission:
    """What to do with one message: a verdict, and for ``WAIT`` how long to wait first."""

    verdict: Verdict
    wait: float = 0.0


@dataclass
class _Bucket:
    tokens: float  # below zero: tokens lent to messages still waiting
    updated: float
    warned: bool = False


class RateLimiter:
    """Token bucket per key: ``burst`` messages at once, then ``rate`` per second; up to
    ``max_waiting`` more may wait (each at most ``max_wait`` seconds) for a token."""

    def __init__(
        self,
        *,
        rate: float = 1.0,
        burst: int = 8,
        max_keys: int = 10_000,
        max_waiting: int = 2,
        max_wait: float = 2.0,
    ) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self.max_waiting, self.max_wait = max_waiting, max_wait
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def check(self, key: str, now: float) -> Verdict:
        """Spend a token for ``key`` at monotonic time ``now``; never waits."""
        return self._take(key, now, may_wait=False).verdict

    def admit(self, key: str, now: float) -> Admission:
        """Spend a token for ``key`` at monotonic time ``now``, borrowing one if the wait for
        it is short enough (then the caller waits :attr:`Admission.wait` seconds first)."""
        return self._take(key, now, may_wait=True)

    def _take(self, key: str, now: float, *, may_wait: bool) -> Admission:
        bucket = self._buckets.pop(key, None) or _Bucket(tokens=float(self.burst), updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + max(now - bucket.updated, 0) * self.rate)
        bucket.updated = now
        self._buckets[key] = bucket
        if len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)  # the least recently seen sender
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return Admission(Verdict.ALLOW)
        owed = 1 - bucket.tokens  # tokens owed once this one is lent, this one included
        wait = owed / self.rate if self.rate > 0 else float("inf")
        if may_wait and owed <= self.max_waiting and wait <= self.max_wait:
            bucket.tokens -= 1
            return Admission(Verdict.WAIT, wait)
        if bucket.warned:
            return Admission(Verdict.DROP)
        bucket.warned = True
        return Admission(Verdict.WARN)
