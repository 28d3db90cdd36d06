"""Published ports: ``-p`` syntax in, port mappings out, and who holds a host port.

``-p [[IP:][HOST]:]CTR[/PROTO]`` with ranges (``8000-8001:80-81``) and several
protocols (``/tcp,udp``) become one mapping per port, in netavark's shape
(``{"host_ip", "host_port", "container_port", "protocol", "range": 1}``), which
is also what ``inspect``, ``ps`` and ``port`` print. A host port is free when
no podium container of this root has reserved it and ``bind()`` on it works
(nothing else on the host listens there); an omitted host port gets a free one
from the kernel, as Podman does.
"""

from __future__ import annotations

import socket

from ..errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

PROTOCOLS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str, spec: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("-")
    try:
        a = int(lo)
        b = int(hi) if sep else a
    except ValueError:
        raise ConfigError(f"invalid port mapping {spec!r}: {what} port {text!r} is not a number") from None
    for n in (a, b):
        if not 1 <= n <= 65535:
            raise ConfigError(f"invalid port mapping {spec!r}: {what} port {n} is not in 1-65535")
    if b < a:
        raise ConfigError(f"invalid port mapping {spec!r}: {what} port range {text!r} ends before it starts")
    return a, b


def parse(spec: str) -> list[dict[str, Any]]:
    """One ``-p`` value -> mappings (host_port 0 means "pick a free one")."""
    text, _, protos = spec.partition("/")
    protocols = [p.strip().lower() for p in protos.split(",")] if protos else ["tcp"]
    for p in protocols:
        if p not in PROTOCOLS:
            raise ConfigError(f"invalid port mapping {spec!r}: unknown protocol {p!r} (use tcp, udp or sctp)")
    if text.startswith("["):
        raise ConfigError(f"invalid port mapping {spec!r}: IPv6 host addresses are not supported")
    parts = text.split(":")
    if len(parts) == 1:
        host_ip, host, ctr = "", "", parts[0]
    elif len(parts) == 2:
        host_ip, host, ctr = "", parts[0], parts[1]
    elif len(parts) == 3:
        host_ip, host, ctr = parts
    else:
        raise ConfigError(f"invalid port mapping {spec!r}: expected [[IP:][HOST_PORT]:]CONTAINER_PORT[/PROTOCOL]")
    if host_ip:
        try:
            socket.inet_aton(host_ip)
            if host_ip.count(".") != 3:
                raise OSError
        except OSError:
            raise ConfigError(f"invalid port mapping {spec!r}: {host_ip!r} is not an IPv4 address") from None
        if host_ip == "0.0.0.0":
            host_ip = ""
    if not ctr:
        raise ConfigError(f"invalid port mapping {spec!r}: the container port is missing")
    c_lo, c_hi = _port_range(ctr, "container", spec)
    if host:
        h_lo, h_hi = _port_range(host, "host", spec)
        if h_hi - h_lo != c_hi - c_lo:
            raise ConfigError(f"invalid port mapping {spec!r}: host and container port ranges differ in size")
    else:
        h_lo = h_hi = 0
    out = []
    for proto in protocols:
        for i in range(c_hi - c_lo + 1):
            hp = h_lo + i if host else 0
            out.append({"host_ip": host_ip, "host_port": hp, "container_port": c_lo + i,
                        "protocol": proto, "range": 1})
    return out


def _clash(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return (a["host_port"] == b["host_port"] and a["protocol"] == b["protocol"]
            and (not a["host_ip"] or not b["host_ip"] or a["host_ip"] == b["host_ip"]))


def bind_free(host_ip: str, port: int, protocol: str) -> bool:
    """Can this host port be bound right now (no listener of any process)?"""
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    s = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no owner
        s.bind((host_ip or "0.0.0.0", port))
    except OSError:
        return False
    finally:
        s.close()
    return True


def _ephemeral(host_ip: str, protocol: str) -> int:
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host_ip or "0.0.0.0", 0))
        return s.getsockname()[1]


def resolve(specs: Iterable[str], reserved: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parse every ``-p``, pick free host ports where none was given, and refuse taken ones.

    ``reserved``: the mappings of this root's other containers.
    """
    wanted = [m for s in specs for m in parse(s)]
    out: list[dict[str, Any]] = []
    for m in wanted:
        if m["host_port"] == 0:
            for _ in range(50):
                m = {**m, "host_port": _ephemeral(m["host_ip"], m["protocol"])}
                if not any(_clash(m, r) for r in reserved + out):
                    break
        label = f"{m['host_ip'] or '0.0.0.0'}:{m['host_port']}/{m['protocol']}"
        if any(_clash(m, r) for r in out):
            raise ConfigError(f"port {label} is published twice")
        if any(_clash(m, r) for r in reserved):
            raise ConfigError(f"port {label} is already reserved by another podium container")
        if not bind_free(m["host_ip"], m["host_port"], m["protocol"]):
            raise ConfigError(f"port {label} is already in use on the host (bind: address in use)")
        out.append(m)
    return out


def check_free(ports: list[dict[str, Any]]) -> None:
    """At start: the ports must still be bindable (something may have taken one since create)."""
    for m in ports:
        if not bind_free(m["host_ip"], m["host_port"], m["protocol"]):
            raise ConfigError(f"port {m['host_ip'] or '0.0.0.0'}:{m['host_port']}/{m['protocol']} "
                              "is already in use on the host (bind: address in use)")
