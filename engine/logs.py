"""Reading conmon's k8s-file logs: ``<RFC3339Nano> <stdout|stderr> <F|P> <message>``.

P records are partial lines (conmon reads at most 8192 bytes at a time, or the
process printed no newline yet); they are glued to the following records of
the same stream up to the next F.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Iterator, NamedTuple

if TYPE_CHECKING:
    from typing import Any, Callable

    from .engine import Engine


class LogLine(NamedTuple):
    time: str          # the first record's timestamp, as conmon wrote it
    stream: str        # "stdout" | "stderr"
    text: str          # without the trailing newline
    complete: bool     # False for a last line that never got its newline


def parse(lines: Iterator[str]) -> Iterator[LogLine]:
    partial: dict[str, tuple[str, list[str]]] = {}
    for raw in lines:
        raw = raw.rstrip("\n")
        parts = raw.split(" ", 3)
        if len(parts) < 3:
            continue
        ts, stream, tag = parts[0], parts[1], parts[2]
        msg = parts[3] if len(parts) > 3 else ""
        if tag == "P":
            first_ts, chunks = partial.get(stream, (ts, []))
            chunks.append(msg)
            partial[stream] = (first_ts, chunks)
            continue
        if stream in partial:
            first_ts, chunks = partial.pop(stream)
            yield LogLine(first_ts, stream, "".join(chunks) + msg, True)
        else:
            yield LogLine(ts, stream, msg, True)
    for stream, (first_ts, chunks) in partial.items():
        yield LogLine(first_ts, stream, "".join(chunks), False)


def ts_seconds(ts: str) -> float:
    """Seconds since the epoch of a conmon timestamp (``2026-11-28T18:27:15.087844246+00:00``)."""
    import calendar
    date, _, rest = ts.partition("T")
    clock = rest[:8]
    frac_and_zone = rest[8:]
    frac = ""
    zone = "Z"
    if frac_and_zone.startswith("."):
        i = 1
        while i < len(frac_and_zone) and frac_and_zone[i].isdigit():
            i += 1
        frac, zone = frac_and_zone[1:i], frac_and_zone[i:]
    else:
        zone = frac_and_zone
    secs = calendar.timegm(time.strptime(f"{date}T{clock}", "%Y-%m-%dT%H:%M:%S"))
    offset = 0
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        hh, _, mm = zone[1:].partition(":")
        offset = sign * (int(hh) * 3600 + int(mm or 0) * 60)
    return secs - offset + (float("0." + frac) if frac else 0.0)


def parse_since(value: str, now: float | None = None) -> float:
    """``--since``: a duration (``10s``, ``5m``, ``1h30m``), a Unix time, or an RFC 3339 time."""
    import re
    from .errors import ConfigError
    now = time.time() if now is None else now
    v = value.strip()
    if re.fullmatch(r"(\d+(\.\d+)?(ns|us|ms|s|m|h))+", v):
        total = 0.0
        for num, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)", v):
            total += float(num) * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
        return now - total
    if re.fullmatch(r"\d+(\.\d+)?", v):
        return float(v)
    try:
        if len(v) == 10:
            v += "T00:00:00Z"
        if v.endswith("Z") or "+" in v[10:] or v[10:].count("-"):
            return ts_seconds(v)
        return ts_seconds(v + "Z")
    except ValueError:
        raise ConfigError(f"invalid --since value {value!r}: use a duration like 10m, a Unix time or an RFC 3339 time") from None


def read(engine: "Engine", ref: str, *, tail: int | None = None, since: float | None = None,
         until: float | None = None, follow: bool = False,
         stop: "Callable[[], bool] | None" = None) -> Iterator[LogLine]:
    """The container's log lines; with ``follow`` keeps reading until it is no longer running
    (or ``stop()`` says so: the REST API's client went away)."""
    c = engine.containers.get(ref)
    path = engine.paths.container_dir(c["id"]) / "ctr.log"
    f = None
    if follow:
        # one open file for the past and the future: a line written between reading the
        # past and starting to follow is neither lost nor read twice
        try:
            f = open(path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            f = None
    if f is not None:
        text = f.read()
        cut = text.rfind("\n") + 1
        lines, pending = list(parse(iter(text[:cut].splitlines(keepends=True)))), text[cut:]
    else:
        lines, pending = _read_all(path), ""
    if since is not None or until is not None:
        lines = [ln for ln in lines if (since is None or ts_seconds(ln.time) >= since)
                 and (until is None or ts_seconds(ln.time) <= until)]
    if tail is not None and tail >= 0:
        lines = lines[-tail:] if tail else []
    try:
        yield from lines
        if not follow:
            return
        yield from _follow(engine, c["id"], path, stop, f, pending)
    finally:
        if f is not None:
            f.close()


def _read_all(path: os.PathLike[str]) -> list[LogLine]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return list(parse(iter(f)))
    except FileNotFoundError:
        return []


def _follow(engine: "Engine", cid: str, path: os.PathLike[str],
            stop: "Callable[[], bool] | None" = None, opened: Any = None,
            pending: str = "") -> Iterator[LogLine]:
    """New lines from where ``opened`` stands (with ``pending``, a record not ended yet),
    or from the end of the file."""
    from .state import status as st
    if opened is not None:
        f = opened
    else:
        try:
            f = open(path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        f.seek(0, os.SEEK_END)
    with f:
        buf = pending
        while True:
            chunk = f.read()
            if chunk:
                buf += chunk
                *complete, buf = buf.split("\n")
                yield from (ln for ln in parse(iter(x + "\n" for x in complete)) if ln.complete)
                continue
            c = engine.store.container(cid)
            if c is None or engine.containers.sync(c)["state"]["status"] not in st.ACTIVE:
                rest = f.read()
                if rest:
                    yield from parse(iter((buf + rest).splitlines(keepends=True)))
                return
            if stop is not None and stop():
                return
            time.sleep(0.1)
