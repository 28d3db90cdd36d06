"""The neutral container spec every input converges on, and its value parsers.

CLI flags, REST bodies, kube pods and compose services all become a
``ContainerSpec``; ``create`` turns it, together with its image, into the frozen
config stored with the container. The short syntaxes users type (``64m``,
``on-failure:3``, ``/src:/dst:ro``) are parsed here, once, with errors that say
which value was wrong.
"""

from __future__ import annotations

import re

from .errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


class ContainerSpec:
    """What a user asks for; ``None`` means "the image's or podium's default".

    A plain class rather than a dataclass: dataclasses pull in ``inspect``,
    which costs more start-up time than ``podium run`` can spare.
    """

    __slots__ = FIELDS = (
        'image', 'name', 'command', 'entrypoint', 'env', 'workdir', 'user', 'labels',
        'annotations', 'volumes', 'mounts', 'tmpfs', 'read_only', 'cap_add', 'cap_drop',
        'privileged', 'memory', 'cpus', 'pids_limit', 'shm_size', 'hostname', 'restart',
        'init', 'stop_signal', 'stop_timeout', 'interactive', 'tty', 'remove', 'network',
        'ports', 'ulimits', 'sysctls', 'pod', 'network_aliases', 'ip', 'health',
        'add_hosts', 'dns', 'dns_search', 'dns_options', 'groups', 'no_new_privileges',
        'unmask', 'seccomp_profile', 'memory_reservation', 'pid', 'ipc',
    )

    def __init__(self, image: str, *,
                 name: str | None = None,
                 command: list[str] | None = None,
                 entrypoint: list[str] | None = None,
                 env: dict[str, str] | None = None,
                 workdir: str | None = None,
                 user: str | None = None,
                 labels: dict[str, str] | None = None,
                 annotations: dict[str, str] | None = None,
                 volumes: list[str] | None = None,
                 mounts: list[dict[str, Any]] | None = None,
                 tmpfs: dict[str, str] | None = None,
                 read_only: bool = False,
                 cap_add: list[str] | None = None,
                 cap_drop: list[str] | None = None,
                 privileged: bool = False,
                 memory: str | int | None = None,
                 cpus: str | float | None = None,
                 pids_limit: int | None = None,
                 shm_size: str | int | None = None,
                 hostname: str | None = None,
                 restart: str | None = None,
                 init: bool = False,
                 stop_signal: str | None = None,
                 stop_timeout: int | None = None,
                 interactive: bool = False,
                 tty: bool = False,
                 remove: bool = False,
                 network: str | None = None,
                 ports: list[str] | None = None,
                 ulimits: list[str] | None = None,
                 sysctls: dict[str, str] | None = None,
                 pod: str | None = None,
                 network_aliases: list[str] | None = None,
                 ip: str | None = None,
                 health: dict[str, Any] | None = None,
                 add_hosts: list[str] | None = None,
                 dns: list[str] | None = None,
                 dns_search: list[str] | None = None,
                 dns_options: list[str] | None = None,
                 groups: list[str] | None = None,
                 no_new_privileges: bool = False,
                 unmask: list[str] | None = None,
                 seccomp_profile: str | None = None,
                 memory_reservation: str | int | None = None,
                 pid: str | None = None,
                 ipc: str | None = None) -> None:
        self.image = image
        self.name = name
        self.command = command
        self.entrypoint = entrypoint  # [] clears the image's entrypoint
        self.env = dict(env) if env is not None else {}
        self.workdir = workdir
        self.user = user
        self.labels = dict(labels) if labels is not None else {}
        self.annotations = dict(annotations) if annotations is not None else {}
        self.volumes = list(volumes) if volumes is not None else []  # "HOST:CTR[:ro]" or "CTR" (anonymous)
        self.mounts = list(mounts) if mounts is not None else []  # already-parsed long form
        self.tmpfs = dict(tmpfs) if tmpfs is not None else {}  # dest -> options ("size=64m,mode=1777")
        self.read_only = read_only
        self.cap_add = list(cap_add) if cap_add is not None else []
        self.cap_drop = list(cap_drop) if cap_drop is not None else []
        self.privileged = privileged
        self.memory = memory
        self.cpus = cpus
        self.pids_limit = pids_limit
        self.shm_size = shm_size
        self.hostname = hostname
        self.restart = restart
        self.init = init
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.interactive = interactive
        self.tty = tty
        self.remove = remove
        self.network = network
        self.ports = list(ports) if ports is not None else []
        self.ulimits = list(ulimits) if ulimits is not None else []
        self.sysctls = dict(sysctls) if sysctls is not None else {}
        self.pod = pod
        self.network_aliases = list(network_aliases) if network_aliases is not None else []
        self.ip = ip
        # --health-cmd/-interval/-timeout/-retries/-start-period/-on-failure, --no-healthcheck:
        # {"cmd": str|list, "interval": str, ..., "disable": bool}; None = the image's
        self.health = dict(health) if health is not None else None
        self.add_hosts = list(add_hosts) if add_hosts is not None else []  # "HOST:IP" (--add-host)
        # resolv.conf: --dns replaces the nameservers, --dns-search the search domains;
        # --dns-option adds options (Podman's rules). None = the network's or the host's.
        self.dns = list(dns) if dns is not None else None
        self.dns_search = list(dns_search) if dns_search is not None else None
        self.dns_options = list(dns_options) if dns_options is not None else []
        self.groups = list(groups) if groups is not None else []  # supplementary gids (--group-add)
        self.no_new_privileges = no_new_privileges
        self.unmask = list(unmask) if unmask is not None else []  # ["ALL"] or /proc paths to unmask
        self.seccomp_profile = seccomp_profile  # None: the default; "unconfined"; or a JSON file
        self.memory_reservation = memory_reservation
        self.pid = pid  # "host": the host's PID namespace (--pid host, kube hostPID)
        self.ipc = ipc  # "host": the host's IPC namespace (--ipc host, kube hostIPC)

    def __repr__(self) -> str:
        return "ContainerSpec(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.FIELDS) + ")"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ContainerSpec) and all(
            getattr(self, k) == getattr(other, k) for k in self.FIELDS)


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2,
               "g": 1024**3, "gb": 1024**3, "t": 1024**4, "tb": 1024**4}


def parse_size(value: str | int, *, what: str = "size") -> int:
    """``64m`` -> 67108864, as Docker's RAMInBytes reads it (binary units)."""
    if isinstance(value, int):
        if value < 0:
            raise ConfigError(f"invalid {what} {value!r}: must not be negative")
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]{0,2})\s*", str(value))
    if not m or m.group(2).lower() not in _SIZE_UNITS:
        raise ConfigError(f"invalid {what} {value!r}: use a number with an optional unit b, k, m or g")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2).lower()])


def parse_memory(value: str | int) -> int:
    n = parse_size(value, what="memory")
    if n < 6 * 1024 * 1024:
        raise ConfigError(f"invalid memory {value!r}: the minimum allowed memory limit is 6MB")
    return n


def parse_cpus(value: str | float) -> float:
    try:
        n = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"invalid cpus {value!r}: expected a number such as 0.5 or 2") from None
    if n <= 0:
        raise ConfigError(f"invalid cpus {value!r}: must be greater than 0")
    return n


def parse_restart(value: str | None) -> dict[str, Any]:
    """``on-failure:3`` -> {"Name": "on-failure", "MaximumRetryCount": 3} (Docker's shape)."""
    if not value:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = value.partition(":")
    if name not in RESTART_POLICIES:
        raise ConfigError(f"invalid restart policy {value!r}: use one of {', '.join(RESTART_POLICIES)}")
    retries = 0
    if count:
        if name != "on-failure":
            raise ConfigError(f"invalid restart policy {value!r}: only on-failure takes a retry count")
        if not count.isdigit():
            raise ConfigError(f"invalid restart policy {value!r}: the retry count must be a number")
        retries = int(count)
    return {"Name": name, "MaximumRetryCount": retries}


def parse_env_line(line: str) -> tuple[str, str | None]:
    """``K=V`` -> (K, V); a bare ``K`` takes its value from the caller's environment (None)."""
    key, sep, value = line.partition("=")
    if not key or any(c.isspace() for c in key):
        raise ConfigError(f"invalid environment variable {line!r}")
    return key, (value if sep else None)


def read_env_file(path: str) -> list[str]:
    """Lines of an ``--env-file``: ``K=V``, ``K`` (from the environment), comments and blanks skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise ConfigError(f"cannot read env file {path}: {exc.strerror}") from None
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]


def parse_volume(value: str) -> dict[str, Any]:
    """``-v HOST:CTR[:opts]`` (bind when HOST is a path) or ``-v CTR`` (anonymous volume)."""
    parts = value.split(":")
    if len(parts) == 1:
        dest, source, opts = parts[0], None, []
    elif len(parts) in (2, 3):
        source, dest = parts[0], parts[1]
        opts = parts[2].split(",") if len(parts) == 3 and parts[2] else []
    else:
        raise ConfigError(f"invalid volume {value!r}: expected HOST:CONTAINER[:OPTIONS]")
    if not dest.startswith("/"):
        raise ConfigError(f"invalid volume {value!r}: the container path must be absolute")
    for o in opts:
        if o not in ("ro", "rw", "z", "Z", "rprivate", "private", "shared", "rshared", "slave",
                     "rslave", "nocopy", "copy", "bind", "rbind", "U", "noexec", "exec", "nosuid",
                     "suid", "nodev", "dev"):
            raise ConfigError(f"invalid volume {value!r}: unknown option {o!r}")
    ro = "ro" in opts
    if source is None:
        return {"type": "volume", "source": "", "destination": dest, "rw": True, "options": []}
    if source.startswith("/") or source.startswith("."):
        return {"type": "bind", "source": source, "destination": dest, "rw": not ro,
                "options": [o for o in opts if o not in ("ro", "rw", "z", "Z")]}
    return {"type": "volume", "source": source, "destination": dest, "rw": not ro, "options": []}


def parse_tmpfs(value: str) -> tuple[str, str]:
    dest, _, opts = value.partition(":")
    if not dest.startswith("/"):
        raise ConfigError(f"invalid tmpfs {value!r}: the container path must be absolute")
    return dest, opts


def parse_ulimit(value: str) -> dict[str, Any]:
    """``nofile=1024:2048`` -> {"name": "nofile", "soft": 1024, "hard": 2048}."""
    name, sep, limits = value.partition("=")
    soft, _, hard = limits.partition(":")
    try:
        s = int(soft)
        h = int(hard) if hard else s
    except ValueError:
        raise ConfigError(f"invalid ulimit {value!r}: expected NAME=SOFT[:HARD]") from None
    if not sep or not name:
        raise ConfigError(f"invalid ulimit {value!r}: expected NAME=SOFT[:HARD]")
    if s > h:
        raise ConfigError(f"invalid ulimit {value!r}: soft limit above hard limit")
    return {"name": name, "soft": s, "hard": h}


SIGNALS = {
    "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
    "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16,
    "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
    "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "PWR": 30, "SYS": 31,
}


def parse_security_opts(opts: list[str]) -> dict[str, Any]:
    """``--security-opt`` / compose ``security_opt`` / Docker's ``SecurityOpt`` -> spec keywords.

    What podium enforces: no-new-privileges, seccomp (unconfined or a profile file) and
    unmask. ``label=disable`` and ``apparmor=unconfined`` ask to turn off what podium
    never turns on (no SELinux labels, no AppArmor profile), so they are accepted as is.
    Anything else is refused rather than silently ignored.
    """
    out: dict[str, Any] = {"no_new_privileges": False, "seccomp_profile": None, "unmask": []}
    for o in opts:
        key, _, val = o.replace(":", "=", 1).partition("=")
        if key == "no-new-privileges" and val.lower() in ("", "true"):
            out["no_new_privileges"] = True
        elif key == "no-new-privileges" and val.lower() == "false":
            out["no_new_privileges"] = False
        elif (key, val) in (("label", "disable"), ("apparmor", "unconfined")):
            pass
        elif key == "seccomp" and val:
            out["seccomp_profile"] = val
        elif key == "unmask" and val:
            out["unmask"] += val.split(":")
        else:
            raise ConfigError(f"unsupported security option {o!r}: podium supports no-new-privileges, "
                              "seccomp=unconfined|PROFILE.json, unmask=PATHS|ALL, label=disable",
                              field="security_opt")
    return out


def parse_signal(value: str | int) -> int:
    """``SIGTERM``, ``TERM``, ``term`` or ``15`` -> 15."""
    s = str(value).strip().upper()
    if s.isdigit():
        n = int(s)
        if 1 <= n <= 64:
            return n
    else:
        s = s[3:] if s.startswith("SIG") else s
        if s in SIGNALS:
            return SIGNALS[s]
        m = re.fullmatch(r"RTMIN\+(\d+)", s)
        if m and int(m.group(1)) <= 30:
            return 34 + int(m.group(1))
    raise ConfigError(f"invalid signal {value!r}")


def signal_name(num: int) -> str:
    for name, n in SIGNALS.items():
        if n == num:
            return "SIG" + name
    return str(num)


def extra_config(spec: ContainerSpec) -> dict[str, Any]:
    """The frozen-config fragment of the hosts/DNS, groups and security options, validated.

    Kept here, next to the other parsers, so that ``create`` stores checked
    values only and the runtime layer never sees a malformed one.
    """
    import ipaddress
    import os

    def ip(value: str, what: str) -> str:
        try:
            return str(ipaddress.ip_address(value.strip("[]")))
        except ValueError:
            raise ConfigError(f"invalid {what} {value!r}: not an IP address") from None

    hosts = []
    for entry in spec.add_hosts:
        host, sep, addr = entry.partition(":")
        if not sep or not host or any(c.isspace() for c in host):
            raise ConfigError(f"invalid --add-host {entry!r}: expected HOST:IP")
        hosts.append(f"{host}:{ip(addr, '--add-host address')}")
    groups = []
    for g in spec.groups:
        text = str(g).strip()
        if not text.isdigit() or int(text) > 2**32 - 2:
            raise ConfigError(f"invalid supplementary group {g!r}: expected a numeric group id")
        groups.append(int(text))
    for path in spec.unmask:
        if path != "ALL" and not path.startswith(("/proc/", "/sys/")):
            raise ConfigError(f"invalid unmask path {path!r}: use ALL or paths under /proc or /sys")
    seccomp = spec.seccomp_profile
    if seccomp in ("", "default", "runtime/default", "RuntimeDefault"):
        seccomp = None
    elif seccomp is not None and seccomp != "unconfined":
        if not seccomp.startswith("/") or not os.path.isfile(seccomp):
            raise ConfigError(f"seccomp profile {seccomp!r} not found: give an absolute path to a JSON profile "
                              "or 'unconfined'")
    reservation = None
    if spec.memory_reservation not in (None, "", 0):
        reservation = parse_size(spec.memory_reservation, what="memory reservation")  # type: ignore[arg-type]
    for what, mode in (("pid", spec.pid), ("ipc", spec.ipc)):
        if mode not in (None, "", "private", "host"):
            raise ConfigError(f"invalid --{what} {mode!r}: use host or private")
    for opt in spec.dns_options:
        if not opt or any(c.isspace() for c in opt):
            raise ConfigError(f"invalid DNS option {opt!r}")
    for d in spec.dns_search or []:
        if not d or any(c.isspace() for c in d):
            raise ConfigError(f"invalid DNS search domain {d!r}")
    return {
        "add_hosts": hosts,
        "dns_servers": [ip(s, "DNS server") for s in spec.dns] if spec.dns is not None else None,
        "dns_search": list(spec.dns_search) if spec.dns_search is not None else None,
        "dns_options": list(spec.dns_options),
        "groups": groups,
        "no_new_privileges": bool(spec.no_new_privileges),
        "unmask": list(spec.unmask),
        "seccomp_profile": seccomp,
        "memory_reservation": reservation,
        "pid_mode": "host" if spec.pid == "host" else None,
        "ipc_mode": "host" if spec.ipc == "host" else None,
    }
