"""/etc/hosts, /etc/resolv.conf and /etc/hostname for a container, written like Podman's.

They live in the container's bundle directory and are bind-mounted over the
image's files, so the image itself is never modified.

- hosts: the localhost lines, ``--add-host`` entries, then, on a bridge
  network, ``<ip> <hostname> <name>`` and ``<gateway> host.containers.internal``
  (Podman's name for the host); host mode copies the host's file.
- resolv.conf: on DNS-enabled networks, the gateways (where aardvark-dns
  answers) and ``search dns.podman`` before the host's search domains, with the
  host's options; otherwise the host's file without loopback resolvers, which
  another network namespace cannot reach (Podman then falls back to Google's
  public resolvers); host mode copies the host's file. ``--dns`` replaces the
  nameservers, ``--dns-search`` the search domains, ``--dns-option`` adds
  options (kube ``dnsConfig``), in every mode.
"""

from __future__ import annotations

from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LOCALHOST = "127.0.0.1\tlocalhost localhost.localdomain localhost4 localhost4.localdomain4\n" \
            "::1\tlocalhost localhost.localdomain localhost6 localhost6.localdomain6\n"
FALLBACK_NAMESERVERS = ("8.8.8.8", "8.8.4.4")


def hosts_text(config: dict[str, Any], *, ip: str | None = None, name: str | None = None,
               gateway: str | None = None, extra: list[str] | None = None,
               host_hosts: str | None = None) -> str:
    mode = config.get("network_mode", "none")
    if mode == "host":
        if host_hosts is None:
            try:
                host_hosts = Path("/etc/hosts").read_text()
            except OSError:
                host_hosts = LOCALHOST
        base = host_hosts
    else:
        base = LOCALHOST
    lines = [base.rstrip("\n")]
    for entry in extra if extra is not None else config.get("add_hosts", []):
        host, _, addr = entry.partition(":")
        lines.append(f"{addr}\t{host}")
    hostname = config.get("hostname", "")
    names = " ".join(dict.fromkeys(x for x in (hostname, name) if x))
    if ip and names:
        lines.append(f"{ip}\t{names}")
    elif hostname and mode != "host":
        lines.append(f"127.0.1.1\t{hostname}")
    if gateway:
        lines.append(f"{gateway}\thost.containers.internal")
    return "\n".join(lines) + "\n"


def _parse_resolv(text: str) -> tuple[list[str], list[str], list[str]]:
    """(nameservers, search domains, options) of a resolv.conf (pure)."""
    ns: list[str] = []
    search: list[str] = []
    options: list[str] = []
    for ln in text.splitlines():
        parts = ln.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            ns.append(parts[1])
        elif parts[0] in ("search", "domain"):
            search = parts[1:]
        elif parts[0] == "options":
            options += parts[1:]
    return ns, search, options


def _loopback(ns: str) -> bool:
    return ns.startswith("127.") or ns == "::1"


def resolv_text(config: dict[str, Any], *, nameservers: list[str] | None = None,
                search: list[str] | None = None, host_resolv: str | None = None) -> str:
    if host_resolv is None:
        try:
            host_resolv = Path("/etc/resolv.conf").read_text()
        except OSError:
            host_resolv = ""
    custom_ns, custom_search = config.get("dns_servers"), config.get("dns_search")
    custom_opts = list(config.get("dns_options") or [])
    if config.get("network_mode") == "host" and custom_ns is None and custom_search is None \
            and not custom_opts:
        return host_resolv
    host_ns, host_search, options = _parse_resolv(host_resolv)
    if custom_ns is not None:  # --dns (kube dnsConfig.nameservers) replaces every resolver
        nameservers = list(custom_ns)
        domains = host_search
    elif config.get("network_mode") == "host":
        nameservers, domains = host_ns, host_search
    elif nameservers:
        domains = list(dict.fromkeys(list(search or []) + host_search))
    else:
        nameservers = [ns for ns in host_ns if not _loopback(ns)] or list(FALLBACK_NAMESERVERS)
        domains = host_search
    if custom_search is not None:  # --dns-search replaces the search list ("." clears it)
        domains = [d for d in custom_search if d != "."]
    if custom_opts:  # --dns-option adds; an option given again replaces the host's (ndots:5 over ndots:1)
        names = {o.split(":", 1)[0] for o in custom_opts}
        options = [o for o in options if o.split(":", 1)[0] not in names] + custom_opts
    text = ""
    if domains:
        text += "search " + " ".join(domains) + "\n"
    text += "".join(f"nameserver {ns}\n" for ns in nameservers)
    if options:
        text += "options " + " ".join(options) + "\n"
    return text


def write_etc_files(bundle: Path, config: dict[str, Any], paths: Any = None,
                    **net: Any) -> dict[str, str]:
    """Write the three files into ``bundle``; returns {container path: host path}.

    ``net`` is what net.setup.attach returned: ip, name, gateway, nameservers, search.
    """
    files = {
        "/etc/hosts": hosts_text(config, ip=net.get("ip"), name=net.get("name"),
                                 gateway=net.get("gateway")),
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
