"""The fast path's firewall: one nftables table of podium's own, changed by set elements.

netavark adds and deletes ~30 iptables rules per container, one process each.
Here the rules never change: one table ``ip podium`` holds fixed chains that
look addresses up in sets and maps, and a container or network only adds or
deletes *elements*, all in one ``nft -f`` transaction:

- ``nets``: every active podium subnet; ``masq``: those of non-internal
  networks. Traffic from ``masq`` to anything but a podium subnet or multicast
  is masqueraded (netavark's per-network chain). Connections DNAT'ed to a
  container from 127.0.0.1 or from a podium subnet (hairpin) are masqueraded
  too, so replies come back the same way (netavark's SETMARK/MASQ pair).
- ``dnat_ip`` (``host ip . proto . port : ip . port``) and ``dnat_any``
  (``proto . port : ip . port``): published ports, DNAT'ed for destinations of
  the host (``fib daddr type local``) in prerouting and output.

No set uses concatenated ranges: nft 1.0.6 was seen to crash listing one.

The table is podium's alone (Podman's rules stay in the iptables-nft tables), is
shared by every podium root on the host, like netavark's NETAVARK_* chains,
and is created on first use. Deleting elements is the slow part of nftables
(the kernel waits for an RCU grace period, ~15 ms, when the process closes its
socket), so teardown runs it in the background (fastpath.py).
"""

from __future__ import annotations

import re
import subprocess

from ..errors import RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

NFT = "/usr/sbin/nft"
TABLE = "podium"

RULESET = f"""\
table ip {TABLE} {{
\tset masq {{ type ipv4_addr; flags interval; }}
\tset nets {{ type ipv4_addr; flags interval; }}
\tmap dnat_ip {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}
\tmap dnat_any {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}
\tchain hostports {{
\t\tdnat ip to ip daddr . meta l4proto . th dport map @dnat_ip
\t\tdnat ip to meta l4proto . th dport map @dnat_any
\t}}
\tchain prerouting {{
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tfib daddr type local jump hostports
\t}}
\tchain output {{
\t\ttype nat hook output priority -100; policy accept;
\t\tfib daddr type local jump hostports
\t}}
\tchain postrouting {{
\t\ttype nat hook postrouting priority srcnat; policy accept;
\t\tct status dnat ip saddr 127.0.0.0/8 ip daddr @nets masquerade
\t\tct status dnat ip saddr @nets ip daddr @nets masquerade
\t\tip saddr @masq ip daddr != @nets ip daddr != 224.0.0.0/4 masquerade
\t}}
}}
"""


def network_elements(subnet: str, *, internal: bool) -> list[str]:
    """The elements one active network needs (pure)."""
    out = [f"element ip {TABLE} nets {{ {subnet} }}"]
    if not internal:
        out.append(f"element ip {TABLE} masq {{ {subnet} }}")
    return out


def port_elements(ports: list[dict[str, Any]], ip: str) -> list[str]:
    """The DNAT map elements of one container's published ports (pure)."""
    out = []
    for p in ports:
        target = f"{ip} . {p['container_port']}"
        if p.get("host_ip"):
            out.append(f"element ip {TABLE} dnat_ip {{ {p['host_ip']} . {p['protocol']} . "
                       f"{p['host_port']} : {target} }}")
        else:
            out.append(f"element ip {TABLE} dnat_any {{ {p['protocol']} . {p['host_port']} : {target} }}")
    return out


def script(verb: str, elements: list[str]) -> str:
    return "".join(f"{verb} {e}\n" for e in elements)


def _run(text: str) -> tuple[int, str]:
    proc = subprocess.run([NFT, "-f", "-"], input=text.encode(), capture_output=True)
    return proc.returncode, proc.stderr.decode(errors="replace")


def _first_error(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("Error")]
    return lines[0] if lines else err.strip()[:200]


def add(elements: list[str]) -> None:
    """Add elements in one transaction, creating the table on first use."""
    if not elements:
        return
    rc, err = _run(script("add", elements))
    if rc != 0 and "No such file or directory" in err:
        rc, err = _run(RULESET + script("add", elements))
    if rc != 0:
        if "File exists" in err:
            raise RuntimeFailure("a published port is already forwarded by another podium container "
                                 f"on this host ({_first_error(err)})")
        raise RuntimeFailure(f"nft: {_first_error(err)}")


def delete(elements: list[str]) -> None:
    """Delete elements; those already gone are skipped (one transaction when none is)."""
    if not elements:
        return
    rc, _err = _run(script("delete", elements))
    if rc != 0:
        for e in elements:
            _run(script("delete", [e]))


_ELEMENT = re.compile(r"(?:(\d+\.\d+\.\d+\.\d+) \. )?(tcp|udp|sctp) \. (\d+) : "
                      r"(\d+\.\d+\.\d+\.\d+) \. (\d+)")


def parse_published(text: str) -> list[dict[str, Any]]:
    """The DNATs in ``nft list table ip podium`` output (pure)."""
    return [{"host_ip": m.group(1) or "", "protocol": m.group(2), "host_port": int(m.group(3)),
             "ip": m.group(4), "container_port": int(m.group(5))} for m in _ELEMENT.finditer(text)]


def published() -> list[dict[str, Any]]:
    """Every port published through the table, by any podium root on the host."""
    proc = subprocess.run([NFT, "list", "table", "ip", TABLE], capture_output=True, text=True)
    return parse_published(proc.stdout) if proc.returncode == 0 else []


def conflicts(wanted: list[dict[str, Any]], ip: str, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mappings of ``wanted`` (to ``ip``) that another DNAT already takes (pure). The maps
    refuse the same key themselves, but not 127.0.0.1:8080 in one map against *:8080 in the other."""
    out = []
    for m in wanted:
        for e in existing:
            if (e["protocol"], e["host_port"]) != (m["protocol"], m["host_port"]):
                continue
            if m.get("host_ip") and e["host_ip"] and m["host_ip"] != e["host_ip"]:
                continue
            if (e["ip"], e["container_port"], e["host_ip"]) == (ip, m["container_port"], m.get("host_ip") or ""):
                continue  # our own, left by a crash
            out.append(m)
            break
    return out


def table_exists() -> bool:
    return subprocess.run([NFT, "list", "table", "ip", TABLE], capture_output=True).returncode == 0


def delete_table() -> None:
    subprocess.run([NFT, "delete", "table", "ip", TABLE], capture_output=True)
