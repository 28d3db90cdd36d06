"""``top``: the processes of a running container, read from /proc (ps-like columns)."""

from __future__ import annotations

import os
import pwd
import time

from .errors import ConfigError
from .state import status as st

TYPE_CHECKING = False

if TYPE_CHECKING:
    from .engine import Engine

DEFAULT = ["user", "pid", "ppid", "pcpu", "etime", "tty", "time", "args"]
HEADERS = {"user": "USER", "pid": "PID", "ppid": "PPID", "pcpu": "%CPU", "etime": "ELAPSED",
           "tty": "TTY", "time": "TIME", "args": "COMMAND", "comm": "COMMAND", "uid": "UID",
           "gid": "GID", "group": "GROUP", "state": "STATE", "rss": "RSS", "vsz": "VSZ"}
ALIASES = {"%cpu": "pcpu", "command": "args", "cmd": "args", "elapsed": "etime"}


def _fmt_secs(s: float) -> str:
    """Go's duration text, as Podman's top prints ELAPSED and TIME: ``1h2m3s``, ``45s``."""
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{sec}s"


def _proc(pid: int, fields: list[str], boot: float, hz: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    rest = stat[stat.rindex(")") + 2:].split()
    ppid, tty_nr = int(rest[1]), int(rest[4])
    utime, stime, start = int(rest[11]), int(rest[12]), int(rest[19])
    vsz, rss = int(rest[20]), int(rest[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        args = f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") or f"[{comm}]"
    s = os.stat(f"/proc/{pid}")
    started = boot + start / hz
    elapsed = max(time.time() - started, 0.001)
    cpu = (utime + stime) / hz
    try:
        user = pwd.getpwuid(s.st_uid).pw_name
    except KeyError:
        user = str(s.st_uid)
    values = {"user": user, "pid": str(pid), "ppid": str(ppid), "pcpu": f"{100 * cpu / elapsed:.3f}",
              "etime": _fmt_secs(elapsed), "tty": "?" if tty_nr == 0 else str(tty_nr),
              "time": _fmt_secs(cpu), "args": args, "comm": comm, "uid": str(s.st_uid),
              "gid": str(s.st_gid), "group": str(s.st_gid), "state": rest[0],
              "rss": str(rss), "vsz": str(vsz // 1024)}
    return [values[f] for f in fields]


def top(engine: "Engine", ref: str, descriptors: list[str]) -> tuple[list[str], list[list[str]]]:
    c = engine.containers.get(ref)
    st.require(c["name"], c["state"]["status"], (st.RUNNING, st.PAUSED), "top")
    fields = []
    for d in descriptors or DEFAULT:
        for part in d.split(","):
            key = ALIASES.get(part.lower(), part.lower())
            if key not in HEADERS:
                raise ConfigError(f"unknown descriptor {part!r}: use {', '.join(sorted(HEADERS))}")
            fields.append(key)
    with open("/proc/stat") as f:
        boot = next(float(ln.split()[1]) for ln in f if ln.startswith("btime"))
    hz = os.sysconf("SC_CLK_TCK")
    rows = []
    for pid in engine.runtime.pids(c["id"]):
        try:
            rows.append(_proc(pid, fields, boot, hz))
        except (OSError, ValueError, IndexError):
            continue
    return [HEADERS[f] for f in fields], rows
