"""/etc/hosts, /etc/resolv.conf and /etc/hostname for a container, written like Podman's.

They live in the container's bundle directory and are bind-mounted over the
image's files, so the image itself is never modified.
"""

from __future__ import annotations

from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LOCALHOST = "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n" \
            "::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n"


def hosts_text(config: dict[str, Any], *, ip: str | None = None, extra: list[str] | None = None) -> str:
    mode = config.get("network_mode", "none")
    if mode == "host":
        try:
            base = Path("/etc/hosts").read_text()
        except OSError:
            base = LOCALHOST
    else:
        base = LOCALHOST
    lines = [base.rstrip("\n")]
    for entry in extra or config.get("add_hosts", []):
        host, _, addr = entry.partition(":")
        lines.append(f"{addr}\t{host}")
    hostname = config.get("hostname", "")
    if hostname:
        lines.append(f"{ip or '127.0.1.1'}\t{hostname}")
    return "\n".join(lines) + "\n"


def resolv_text(config: dict[str, Any], *, nameservers: list[str] | None = None,
                search: list[str] | None = None) -> str:
    if nameservers:
        text = ""
        if search:
            text += "search " + " ".join(search) + "\n"
        return text + "".join(f"nameserver {ns}\n" for ns in nameservers)
    try:
        host = Path("/etc/resolv.conf").read_text()
    except OSError:
        return ""
    if config.get("network_mode") == "host":
        return host
    # Loopback resolvers of the host cannot be reached from another network namespace.
    return "".join(ln + "\n" for ln in host.splitlines()
                   if not (ln.startswith("nameserver") and ln.split()[1:2] and
                           (ln.split()[1].startswith("127.") or ln.split()[1] == "::1")))


def write_etc_files(bundle: Path, config: dict[str, Any], paths: Any = None,
                    **net: Any) -> dict[str, str]:
    """Write the three files into ``bundle``; returns {container path: host path}."""
    files = {
        "/etc/hosts": hosts_text(config, ip=net.get("ip")),
        "/etc/resolv.conf": resolv_text(config, nameservers=net.get("nameservers"),
                                        search=net.get("search")),
        "/etc/hostname": config.get("hostname", "") + "\n",
    }
    out = {}
    for dest, text in files.items():
        p = bundle / dest.rsplit("/", 1)[1]
        p.write_text(text)
        out[dest] = str(p)
    return out
