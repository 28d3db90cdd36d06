"""Capability names and the --cap-add / --cap-drop / --privileged rules, as Podman applies them.

Turns a container's ``cap_add``, ``cap_drop`` and ``privileged`` into the five
OCI capability sets (``process.capabilities``). The rules are containers-common's
(``pkg/capabilities.MergeCapabilities``) and Podman's
(``pkg/specgen/generate/security_linux.go``):

- the base is Podman's default list (11 capabilities); drops then adds;
  ``ALL`` in ``cap_drop`` keeps only ``cap_add``; ``ALL`` in ``cap_add`` means
  every capability this host can grant (minus explicit drops, as Docker does);
- everything is clipped to the *current process's bounding set*: a capability
  we do not hold cannot be given to runc's child (on this host CAP_SYS_RESOURCE
  is missing, and asking runc for it fails the container), and Podman clips the
  same way;
- root (uid 0) gets effective = permitted = bounding; any other uid gets only
  the explicitly added capabilities as effective/permitted/inheritable/ambient,
  so that ``--user www --cap-add NET_ADMIN`` works without file capabilities.

Capability numbers come from linux/capability.h; the host's highest one from
/proc/sys/kernel/cap_last_cap.
"""

from __future__ import annotations

from podium.engine.errors import ConfigError

# Index = capability number (linux/capability.h).
CAP_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
    "CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
    "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
    "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
_CAP_NUMBER = {name: i for i, name in enumerate(CAP_NAMES)}

# Podman's default_capabilities (containers.conf, Podman >= 4.x upstream).
DEFAULT_CAPS: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
    "CAP_SYS_CHROOT",
)

_cache: dict[str, object] = {}


def last_cap() -> int:
    """The highest capability number the running kernel knows (cached)."""
    value = _cache.get("last")
    if value is None:
        try:
            with open("/proc/sys/kernel/cap_last_cap") as f:
                value = int(f.read().strip())
        except (OSError, ValueError):
            value = len(CAP_NAMES) - 1
        _cache["last"] = value
    return value  # type: ignore[return-value]


def known_caps() -> list[str]:
    """Every capability the kernel knows and we can name, in number order."""
    return [CAP_NAMES[i] for i in range(min(last_cap(), len(CAP_NAMES) - 1) + 1)]


def bounding_set() -> list[str]:
    """The capabilities this process may hand on (its bounding set), in number order.

    Why: runc cannot grant a container a capability its caller lacks; Podman
    clips to this set too. Falls back to every known capability when
    /proc/self/status cannot be read.
    """
    value = _cache.get("bnd")
    if value is None:
        mask = None
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("CapBnd:"):
                        mask = int(line.split()[1], 16)
                        break
        except (OSError, ValueError, IndexError):
            mask = None
        known = known_caps()
        value = known if mask is None else [c for c in known if mask >> _CAP_NUMBER[c] & 1]
        _cache["bnd"] = value
    return list(value)  # type: ignore[call-overload]


def cap_mask(caps: list[str]) -> int:
    """The kernel bit mask of ``caps`` (as shown in /proc/PID/status CapEff)."""
    mask = 0
    for c in caps:
        mask |= 1 << _CAP_NUMBER[c]
    return mask


def normalize(name: str) -> str:
    """``net_admin`` / ``NET_ADMIN`` / ``CAP_NET_ADMIN`` -> ``CAP_NET_ADMIN``; ``all`` -> ``ALL``."""
    upper = name.strip().upper()
    if upper == "ALL":
        return "ALL"
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    if upper not in _CAP_NUMBER:
        raise ConfigError(f"unknown capability {name!r}", field="cap_add/cap_drop")
    return upper


def merge(base: list[str] | tuple[str, ...], adds: list[str], drops: list[str]) -> list[str]:
    """The capability list after drops and adds, clipped to the bounding set, in number order."""
    add = [normalize(c) for c in adds or ()]
    drop = [normalize(c) for c in drops or ()]
    bounding = bounding_set()
    if "ALL" in drop:
        if "ALL" in add:
            raise ConfigError("cannot both add and drop ALL capabilities", field="cap_add")
        wanted = set(add)
    elif "ALL" in add:
        wanted = set(bounding) - set(drop)
    else:
        for c in add:
            if c in drop:
                raise ConfigError(f"capability {c} cannot be dropped and added", field="cap_add")
        wanted = (set(base) - set(drop)) | set(add)
    return [c for c in bounding if c in wanted]


def resolve(config: dict, *, uid: int) -> dict[str, list[str]]:
    """The OCI ``process.capabilities`` object for a frozen container config and its uid."""
    if config.get("privileged"):
        caps = bounding_set()
    else:
        caps = merge(DEFAULT_CAPS, config.get("cap_add") or [], config.get("cap_drop") or [])
    if uid == 0:
        return {"bounding": caps, "effective": list(caps), "permitted": list(caps)}
    add = [normalize(c) for c in config.get("cap_add") or ()]
    if "ALL" in add:
        user_caps = list(caps)
    else:
        wanted = set(add)
        user_caps = [c for c in caps if c in wanted]
    return {
        "bounding": caps,
        "effective": user_caps,
        "permitted": list(user_caps),
        "inheritable": list(user_caps),
        "ambient": list(user_caps),
    }
