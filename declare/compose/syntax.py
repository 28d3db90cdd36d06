"""Compose short syntaxes -> long forms: ports, volumes, durations, sizes, hosts, commands.

Pure functions, each raising ``ValueError`` with a user-facing message; the
caller adds file:line and the field path. The rules are Docker Compose's
(compose-go's ``ParsePortConfig``/``ParseVolume``, Go's ``time.ParseDuration``,
go-units' ``RAMInBytes``, mattn/go-shellwords) re-stated, not translated.
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import re
import shlex
from typing import Any

# -- durations ----------------------------------------------------------------

_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: Any) -> float:
    """``"1m30s"`` -> 90.0 seconds (Go duration syntax: ns us ms s m h, fractions allowed)."""
    if isinstance(value, bool):
        raise ValueError(f"invalid duration {value!r}")
    if isinstance(value, (int, float)):
        # a bare number is what Docker's API takes (nanoseconds) but compose wants units
        if value == 0:
            return 0.0
        raise ValueError(f"invalid duration {value!r}: missing unit (for example '{value}s')")
    s = str(value).strip()
    if s in ("0", "+0", "-0"):
        return 0.0
    sign = 1.0
    if s[:1] in "+-":
        sign = -1.0 if s[0] == "-" else 1.0
        s = s[1:]
    if not s:
        raise ValueError(f"invalid duration {value!r}")
    total = 0.0
    pos = 0
    while pos < len(s):
        m = _DURATION_PART.match(s, pos)
        if not m:
            if re.fullmatch(r"\d+(\.\d*)?", s[pos:]):
                raise ValueError(f"invalid duration {value!r}: missing unit (for example '{value}s')")
            raise ValueError(f"invalid duration {value!r} (use units h, m, s, ms, us, e.g. '1m30s')")
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if sign < 0:
        raise ValueError(f"invalid duration {value!r}: must not be negative")
    return round(total, 9)


# -- sizes --------------------------------------------------------------------

_SIZE = re.compile(r"^(\d+(?:\.\d+)?) ?([kmgtp])?(i?b)?$", re.IGNORECASE)
_SIZE_MULT = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def parse_size(value: Any) -> int:
    """``"64m"`` -> 67108864 bytes (binary units, as Docker's RAMInBytes); ints pass through."""
    if isinstance(value, bool):
        raise ValueError(f"invalid size {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    s = str(value).strip()
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    m = _SIZE.match(s)
    if not m:
        raise ValueError(f"invalid size {value!r} (use a number with an optional unit b, k, m, g, t, e.g. '64m')")
    unit = (m.group(2) or "").lower()
    return int(float(m.group(1)) * _SIZE_MULT[unit])


def parse_int(value: Any, what: str = "number") -> int:
    if isinstance(value, bool):
        raise ValueError(f"invalid {what} {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    try:
        return int(str(value).strip(), 10)
    except ValueError:
        raise ValueError(f"invalid {what} {value!r}: must be an integer") from None


def parse_float(value: Any, what: str = "number") -> float:
    if isinstance(value, bool):
        raise ValueError(f"invalid {what} {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid {what} {value!r}: must be a number") from None


_TRUE = {"true", "yes", "y", "on", "1"}
_FALSE = {"false", "no", "n", "off", "0"}


def parse_bool(value: Any, what: str = "boolean") -> bool:
    if isinstance(value, bool):
        return value
    s = str(value).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise ValueError(f"invalid {what} {value!r}: must be true or false")


def scalar_str(value: Any) -> str:
    """A YAML scalar as Docker Compose prints it into an environment or label value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


# -- ports --------------------------------------------------------------------

_PROTOCOLS = ("tcp", "udp", "sctp")


def _port_range(text: str, what: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)(?:-(\d+))?", text)
    if not m:
        raise ValueError(f"invalid {what} port {text!r}")
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start
    for p in (start, end):
        if not 1 <= p <= 65535:
            raise ValueError(f"invalid {what} port {p}: must be between 1 and 65535")
    if end < start:
        raise ValueError(f"invalid {what} port range {text!r}: end before start")
    return start, end


def _host_ip(text: str) -> str:
    ip = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ValueError(f"invalid host IP {text!r}") from None
    return ip


def parse_port(spec: Any) -> list[dict[str, Any]]:
    """``"127.0.0.1:8080:80/udp"`` -> ``[{target, published, host_ip, protocol, mode}]`` (ranges expand)."""
    if isinstance(spec, bool):
        raise ValueError(f"invalid port {spec!r}")
    if isinstance(spec, (int, float)):
        target = parse_int(spec, "port")
        _port_range(str(target), "container")
        return [{"target": target, "published": None, "host_ip": None, "protocol": "tcp", "mode": "ingress"}]
    raw = str(spec).strip()
    protocol = "tcp"
    if "/" in raw:
        raw, protocol = raw.rsplit("/", 1)
        protocol = protocol.lower()
        if protocol not in _PROTOCOLS:
            raise ValueError(f"invalid protocol {protocol!r} in port {spec!r} (tcp, udp or sctp)")
    parts = raw.split(":")
    if len(parts) == 1:
        ip, host, container = "", "", parts[0]
    elif len(parts) == 2:
        ip, host, container = "", parts[0], parts[1]
    else:
        ip, host, container = ":".join(parts[:-2]), parts[-2], parts[-1]
    host_ip = _host_ip(ip) if ip else None
    cstart, cend = _port_range(container, "container")
    if host:
        hstart, hend = _port_range(host, "published")
    else:
        hstart = hend = 0
    if host and (cend - cstart) != (hend - hstart) and cend != cstart:
        raise ValueError(f"invalid port {spec!r}: container range {container} and published range {host} differ in size")
    out = []
    for i in range(cend - cstart + 1):
        if not host:
            published = None
        elif cstart == cend and hstart != hend:
            published = f"{hstart}-{hend}"
        else:
            published = str(hstart + i)
        out.append({"target": cstart + i, "published": published, "host_ip": host_ip,
                    "protocol": protocol, "mode": "ingress"})
    return out


def long_port(entry: dict[str, Any]) -> dict[str, Any]:
    """A long-form port mapping with defaults and types settled."""
    if "target" not in entry:
        raise ValueError("a port mapping needs a 'target'")
    target = parse_int(entry["target"], "container port")
    _port_range(str(target), "container")
    published = entry.get("published")
    if published is not None and published != "":
        published = str(published)
        _port_range(published, "published")
    else:
        published = None
    host_ip = entry.get("host_ip") or None
    if host_ip is not None:
        host_ip = _host_ip(str(host_ip))
    protocol = str(entry.get("protocol") or "tcp").lower()
    if protocol not in _PROTOCOLS:
        raise ValueError(f"invalid protocol {protocol!r} (tcp, udp or sctp)")
    out = {"target": target, "published": published, "host_ip": host_ip, "protocol": protocol,
           "mode": entry.get("mode") or "ingress"}
    for k in ("name", "app_protocol"):
        if entry.get(k) is not None:
            out[k] = entry[k]
    return out


def port_key(p: dict[str, Any]) -> tuple:
    return (p.get("host_ip") or "", p.get("published") or "", p.get("target"), p.get("protocol") or "tcp")


# -- volumes ------------------------------------------------------------------

_PROPAGATION = ("shared", "rshared", "slave", "rslave", "private", "rprivate")


def is_host_path(source: str) -> bool:
    return bool(source) and source[0] in "./~"


def resolve_host_path(source: str, base_dir: str) -> str:
    if source.startswith("~"):
        source = os.path.expanduser(source)
    if not os.path.isabs(source):
        source = os.path.join(base_dir, source)
    return os.path.normpath(source)


def parse_volume(spec: str, base_dir: str) -> dict[str, Any]:
    """``"./data:/var/lib/data:ro"`` -> ``{type: bind, source: /abs/data, target, read_only: True, bind: {...}}``."""
    spec = str(spec)
    if not spec:
        raise ValueError("invalid empty volume spec")
    parts = spec.split(":")
    if any(p == "" for p in parts):
        raise ValueError(f"invalid volume {spec!r}: empty section between colons")
    if len(parts) > 3:
        raise ValueError(f"invalid volume {spec!r}: too many colons")
    options: list[str] = []
    if len(parts) == 1:
        source, target = "", parts[0]
    elif len(parts) == 2:
        source, target = parts
    else:
        source, target = parts[0], parts[1]
        options = parts[2].split(",")
    if not target.startswith("/"):
        raise ValueError(f"invalid volume {spec!r}: the container path {target!r} must be absolute")
    out: dict[str, Any] = {"target": posixpath.normpath(target)}
    read_only = False
    bind: dict[str, Any] = {}
    volume: dict[str, Any] = {}
    for opt in options:
        if opt == "ro":
            read_only = True
        elif opt == "rw":
            read_only = False
        elif opt == "nocopy":
            volume["nocopy"] = True
        elif opt in _PROPAGATION:
            bind["propagation"] = opt
        elif opt in ("z", "Z"):
            bind["selinux"] = opt
        elif opt in ("cached", "delegated", "consistent"):
            out["consistency"] = opt
        else:
            raise ValueError(f"invalid volume {spec!r}: unknown option {opt!r}")
    if is_host_path(source):
        out["type"] = "bind"
        out["source"] = resolve_host_path(source, base_dir)
        bind["create_host_path"] = True
        out["bind"] = bind
    else:
        out["type"] = "volume"
        if source:
            out["source"] = source
        if volume:
            out["volume"] = volume
    out["read_only"] = read_only
    return out


# -- hosts, commands ----------------------------------------------------------

def parse_extra_host(entry: str) -> tuple[str, str]:
    """``"db:10.0.0.2"`` or ``"db=10.0.0.2"`` (``"db=::1"``, ``"db:[::1]"``) -> (host, ip)."""
    text = str(entry)
    if "=" in text:
        host, ip = text.split("=", 1)
    elif ":" in text:
        host, ip = text.split(":", 1)
    else:
        raise ValueError(f"invalid extra host {entry!r}: expected HOST:IP or HOST=IP")
    host, ip = host.strip(), ip.strip()
    if ip.startswith("[") and ip.endswith("]"):
        ip = ip[1:-1]
    if not host or not ip:
        raise ValueError(f"invalid extra host {entry!r}: expected HOST:IP or HOST=IP")
    if ip != "host-gateway":
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise ValueError(f"invalid extra host {entry!r}: {ip!r} is not an IP address") from None
    return host, ip


def split_command(value: Any) -> list[str] | None:
    """``command``/``entrypoint``: a string is split into words as a shell would (no expansion)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [scalar_str(v) for v in value]
    try:
        return shlex.split(str(value))
    except ValueError as exc:
        raise ValueError(f"cannot split {value!r} into words: {exc}") from None
