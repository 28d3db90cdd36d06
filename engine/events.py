"""The engine's event log: every mutation, in order, queryable and followable.

Podman writes events to journald or a file and Docker streams them from its
daemon; podium has neither a daemon nor a journal it can rely on, so events are
rows in the store's SQLite database — written by whichever process made the
change (the CLI, conmon's exit command, the REST service), read by
``podium events``, the REST ``/events`` stream and by tests that must prove a
second ``apply`` mutated nothing. Recording joins the caller's transaction when
one is open, and a failure to record never fails the mutation itself.

Actions use Docker's words (``die``, ``destroy``) because two of the three
readers speak Docker's API; ``podium events`` prints Podman's (``died``,
``remove``).
"""

from __future__ import annotations

import json
import re
import sqlite3
import time

from .errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Iterable, Iterator

    from .state.store import Store

KEEP = 20_000          # newest rows kept; older ones are trimmed now and then
TRIM_EVERY = 500
POLL_S = 0.2
FILTER_KEYS = ("container", "event", "image", "label", "network", "volume", "pod", "type")
PODMAN_WORDS = {"die": "died", "destroy": "remove"}


class Events:
    """Append and read the event log of one storage root."""

    def __init__(self, store: "Store") -> None:
        self.store = store

    def record(self, type: str, action: str, id: str, name: str = "",
               attributes: dict[str, Any] | None = None) -> None:
        """Append one event; called by the engine after the mutation it describes."""
        attrs = {k: str(v) for k, v in (attributes or {}).items() if v is not None and v != ""}
        if name:
            attrs["name"] = name
        try:
            db = self.store.db
            cur = db.execute("INSERT INTO events (time_ns, type, action, actor, attrs) VALUES (?,?,?,?,?)",
                             (time.time_ns(), type, action, id, json.dumps(attrs, sort_keys=True)))
            if cur.lastrowid and cur.lastrowid % TRIM_EVERY == 0:
                db.execute("DELETE FROM events WHERE id <= ?", (cur.lastrowid - KEEP,))
        except sqlite3.Error:
            pass  # the log is a witness, not a precondition

    def container(self, c: dict[str, Any], action: str, **extra: Any) -> None:
        """A container event with the attributes Docker puts on them (name, image, labels)."""
        cfg = c.get("config") or {}
        attrs: dict[str, Any] = dict(cfg.get("labels") or {})
        attrs["image"] = cfg.get("image_name") or cfg.get("image") or c.get("image_id") or ""
        if c.get("pod_id"):
            attrs["pod"] = c["pod_id"]
        attrs.update(extra)
        self.record("container", action, c["id"], c.get("name", ""), attrs)

    def list(self, *, since: float | str | None = None, until: float | str | None = None,
             filters: Iterable[str] = (), after_id: int = 0, upto_id: int | None = None) -> list[dict[str, Any]]:
        """Events between ``since`` and ``until`` (seconds, RFC 3339 or a duration ago) matching ``filters``."""
        match = compile_filters(filters)
        sql, args = "SELECT * FROM events WHERE id > ?", [after_id]
        if upto_id is not None:
            sql += " AND id <= ?"
            args.append(upto_id)
        if since is not None:
            sql += " AND time_ns >= ?"
            args.append(int(parse_time(since) * 1e9))
        if until is not None:
            sql += " AND time_ns <= ?"
            args.append(int(parse_time(until) * 1e9))
        rows = self.store.query(sql + " ORDER BY id", tuple(args))
        return [e for e in map(_shape, rows) if match(e)]

    def follow(self, *, since: float | str | None = None, until: float | str | None = None,
               filters: Iterable[str] = (), stop: Callable[[], bool] | None = None) -> Iterator[dict[str, Any]]:
        """Past events from ``since`` (none without it), then new ones as they land, until ``stop()`` or ``until``."""
        filters = list(filters)
        compile_filters(filters)  # bad filters fail before the first poll
        end = parse_time(until) if until is not None else None
        last = self._top()
        if since is not None:
            yield from self.list(since=since, until=until, filters=filters, upto_id=last)
        while not (stop and stop()) and (end is None or time.time() < end):
            top = self._top()
            if top > last:
                yield from self.list(filters=filters, after_id=last, upto_id=top, until=until)
                last = top
            else:
                time.sleep(POLL_S)

    def _top(self) -> int:
        return self.store.query("SELECT COALESCE(MAX(id), 0) FROM events")[0][0]


def _shape(row: sqlite3.Row) -> dict[str, Any]:
    attrs = json.loads(row["attrs"])
    ns = row["time_ns"]
    e: dict[str, Any] = {"Type": row["type"], "Action": row["action"],
                         "Actor": {"ID": row["actor"], "Attributes": attrs},
                         "scope": "local", "time": ns // 1_000_000_000, "timeNano": ns, "_seq": row["id"]}
    if row["type"] == "container":  # the pre-1.22 fields docker-py and the docker CLI still read
        e.update(status=row["action"], id=row["actor"], **({"from": attrs["image"]} if "image" in attrs else {}))
    return e


def compile_filters(filters: Iterable[str]) -> Callable[[dict[str, Any]], bool]:
    """Docker's rule: values of one key are alternatives, different keys must all match."""
    want: dict[str, list[str]] = {}
    for f in filters:
        key, eq, val = f.partition("=")
        if not eq or key not in FILTER_KEYS:
            raise ConfigError(f"invalid filter {f!r}: use one of {', '.join(k + '=' for k in FILTER_KEYS)}")
        want.setdefault(key, []).append(val)

    def one(key: str, val: str, e: dict[str, Any]) -> bool:
        actor, attrs = e["Actor"]["ID"], e["Actor"]["Attributes"]
        if key == "type":
            return e["Type"] == val
        if key == "event":
            return e["Action"] == val or PODMAN_WORDS.get(e["Action"]) == val
        if key == "label":
            k, eq2, v = val.partition("=")
            return k in attrs and (not eq2 or attrs[k] == v)
        if key in ("container", "network", "volume", "image", "pod") and e["Type"] == key:
            return actor.startswith(val) or attrs.get("name") == val
        if key == "image":
            return attrs.get("image") == val or actor.startswith(val)
        if key == "pod":
            return attrs.get("pod", "").startswith(val) or attrs.get("pod_name") == val
        if key in ("network", "volume"):
            return attrs.get(key) == val
        return False

    return lambda e: all(any(one(k, v, e) for v in vals) for k, vals in want.items())


_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h)")
_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_time(value: float | str) -> float:
    """Seconds since the epoch from a number, RFC 3339 / ISO 8601 text, or a Go duration ago (``10m``)."""
    if isinstance(value, (int, float)):
        return float(value)
    s = value.strip()
    try:
        return float(s)
    except ValueError:
        pass
    if _DURATION.fullmatch(s) or re.fullmatch(r"(?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h))+", s):
        return time.time() - sum(float(n) * _UNIT[u] for n, u in _DURATION.findall(s))
    from datetime import datetime, timezone
    try:
        dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"invalid time {value!r}: use a Unix timestamp, RFC 3339 or a duration like 10m") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()
