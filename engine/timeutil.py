"""Timestamps as Docker and Podman print them (RFC 3339 with nanoseconds, UTC)."""

from __future__ import annotations

import time


def now_iso() -> str:
    return iso_from_ns(time.time_ns())


def iso_from_ns(ns: int) -> str:
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


def iso_from_ts(ts: float) -> str:
    return iso_from_ns(int(ts * 1_000_000_000))


ZERO = "0001-01-01T00:00:00Z"


def parse_iso(value: str) -> float:
    """Seconds since the epoch from our own ISO strings (or Docker's), 0 for the zero time."""
    if not value or value.startswith("0001-"):
        return 0.0
    import calendar
    base, _, frac = value.rstrip("Z").partition(".")
    offset = 0
    for sep in ("+", "-"):
        if sep in frac:
            frac, tz = frac.split(sep, 1)
            h, _, m = tz.partition(":")
            offset = (int(h) * 3600 + int(m or 0) * 60) * (1 if sep == "+" else -1)
    if "+" in base[10:]:
        base, tz = base.rsplit("+", 1)
        h, _, m = tz.partition(":")
        offset = int(h) * 3600 + int(m or 0) * 60
    t = calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S"))
    return t + (float("0." + frac) if frac.isdigit() else 0.0) - offset


def human_duration(seconds: float) -> str:
    """Docker's HumanDuration: "Less than a second", "5 seconds", "About a minute", "2 hours"."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"
