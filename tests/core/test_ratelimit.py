"""Flood control: a short burst waits a moment; a flood is answered once, then dropped."""

from __future__ import annotations

from bot.core.ratelimit import Admission, RateLimiter, Verdict


def test_burst_then_a_bounded_wait_then_one_warning() -> None:
    limiter = RateLimiter(rate=1.0, burst=2, max_waiting=2, max_wait=2.0)
    got = [limiter.admit("a", 0.0) for _ in range(6)]
    assert got == [
        Admission(Verdict.ALLOW),
        Admission(Verdict.ALLOW),
        Admission(Verdict.WAIT, 1.0),
        Admission(Verdict.WAIT, 2.0),
        Admission(Verdict.WARN),
        Admission(Verdict.DROP),
    ]
    # The waiting two take the tokens as they refill; a third second frees one more.
    assert limiter.admit("a", 2.0).verdict is Verdict.WAIT
    assert limiter.admit("a", 5.0) == Admission(Verdict.ALLOW)


def test_the_wait_is_bounded_by_time_as_well() -> None:
    limiter = RateLimiter(rate=0.25, burst=1, max_waiting=5, max_wait=2.0)
    assert limiter.admit("a", 0.0).verdict is Verdict.ALLOW
    assert limiter.admit("a", 0.0).verdict is Verdict.WARN  # a token is 4 s away


def test_check_never_waits() -> None:
    limiter = RateLimiter(rate=1.0, burst=1)
    assert [limiter.check("a", 0.0) for _ in range(3)] == [
        Verdict.ALLOW,
        Verdict.WARN,
        Verdict.DROP,
    ]


def test_senders_are_apart_and_memory_is_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_keys=3, max_waiting=0)
    assert limiter.admit("a", 0.0).verdict is Verdict.ALLOW
    assert limiter.admit("b", 0.0).verdict is Verdict.ALLOW
    assert limiter.admit("a", 0.0).verdict is Verdict.WARN
    for n in range(10):
        limiter.admit(f"other{n}", 0.0)
    assert len(limiter._buckets) == 3


def test_a_coordinator_at_crisis_speed_passes_a_flood_does_not() -> None:
    """The defaults: the urgent path's five actions within a second, then the long path's
    thirteen at two a second, never warned (at most a short wait); thirty at once still are."""
    limiter = RateLimiter()
    urgent = [limiter.admit("coco", n * 0.2) for n in range(5)]
    assert all(a.verdict is Verdict.ALLOW for a in urgent)
    full = [limiter.admit("coco", 60 + n * 0.5) for n in range(13)]
    assert all(a.verdict in (Verdict.ALLOW, Verdict.WAIT) for a in full)
    assert all(a.wait <= limiter.max_wait for a in full)
    flood = [limiter.admit("bot", 0.0).verdict for _ in range(30)]
    assert flood.count(Verdict.WARN) == 1
    assert flood[-1] is Verdict.DROP
    assert flood.count(Verdict.ALLOW) + flood.count(Verdict.WAIT) == 10
