"""A container's frozen config -> the OCI runtime config.json (spec 1.0.2) that runc runs.

The result mirrors what Podman 4 writes (``pkg/specgen/generate``,
``libpod/container_internal*.go``) for the same options, with podium's
differences spelled out where they matter:

- ``container=podium`` instead of ``container=podman`` in the environment;
- /dev/shm is a tmpfs mounted by runc (Podman binds a tmpfs it mounted itself);
- rlimits never exceed this process's hard limits unless it holds
  CAP_SYS_RESOURCE (Podman asks for RLIMIT_NOFILE 1048576, which runc cannot
  set on a host without that capability: "error setting rlimit type 7");
- ``--read-only`` adds no implicit tmpfs on /run, /tmp, /var/tmp: the caller
  passes such mounts explicitly when it wants them;
- capabilities and seccomp follow caps.py and seccomp.py.

Everything here is pure except reading the rootfs's passwd/group, the kernel's
capability count, the process's rlimits and capabilities, the seccomp file and
(privileged only) the host's /dev.
"""

from __future__ import annotations

import os
import resource

from podium.engine.errors import ConfigError
from podium.engine.runtime import caps as _caps
from podium.engine.runtime import seccomp as _seccomp
from podium.engine.runtime.users import resolve_user

OCI_VERSION = "1.0.2-dev"
INIT_PATH_IN_CONTAINER = "/run/podium-init"
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_NOFILE = 1048576
MIN_MEMORY = 6 * 1024 * 1024
CPU_PERIOD = 100000
RLIM_INFINITY_OCI = 2**64 - 1
_INIT_CANDIDATES = ("/usr/bin/catatonit", "/usr/libexec/podman/catatonit", "/usr/libexec/catatonit/catatonit")

MASKED_PATHS = (
    "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
    "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/fs/selinux",
    "/sys/dev/block", "/sys/devices/virtual/powercap",
)
READONLY_PATHS = ("/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

# The character devices runc creates in /dev, plus the pty ones: what a
# non-privileged container may open (runc adds the same rules itself; being
# explicit keeps config.json self-describing).
DEFAULT_DEVICE_RULES = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},   # null
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},   # zero
    {"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"},   # full
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},   # tty
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},   # random
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},   # urandom
    {"allow": True, "type": "c", "major": 5, "minor": 2, "access": "rwm"},   # ptmx
    {"allow": True, "type": "c", "major": 136, "access": "rwm"},             # pts/*
)

_RLIMIT_NAMES = (
    "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
    "nproc", "rss", "rtprio", "rttime", "sigpending", "stack",
)
_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate", "unbindable", "runbindable"}
# Namespaced sysctls a container may set (Podman's util.ValidateSysctls).
_SYSCTL_NAMES = {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                 "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced",
                 "kernel.domainname", "kernel.hostname"}
_SYSCTL_PREFIXES = ("fs.mqueue.", "net.")

_host_cache: dict[str, object] = {}


# ---------------------------------------------------------------- host facts

def swap_accounting(cgroup_v2: bool) -> bool:
    """Whether the host's memory cgroup accounts swap (only then may memory.swap be set)."""
    key = f"swap{int(cgroup_v2)}"
    value = _host_cache.get(key)
    if value is None:
        if not cgroup_v2:
            value = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
        else:
            value = False
            try:
                with os.scandir("/sys/fs/cgroup") as it:
                    for entry in it:
                        if entry.is_dir(follow_symlinks=False) and os.path.exists(
                                os.path.join(entry.path, "memory.swap.max")):
                            value = True
                            break
            except OSError:
                value = False
        _host_cache[key] = value
    return bool(value)


def can_raise_rlimits() -> bool:
    """Whether this process holds CAP_SYS_RESOURCE, i.e. runc may raise a hard rlimit."""
    value = _host_cache.get("sysres")
    if value is None:
        value = False
        try:
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("CapEff:"):
                        value = bool(int(line.split()[1], 16) >> 24 & 1)
                        break
        except (OSError, ValueError, IndexError):
            value = False
        _host_cache["sysres"] = value
    return bool(value)


def _oci_limit(value: int) -> int:
    return RLIM_INFINITY_OCI if value == resource.RLIM_INFINITY or value < 0 else value


def _current_hard(name: str) -> int:
    """This process's hard limit for ``name`` in OCI terms (infinity = 2**64-1)."""
    return _oci_limit(resource.getrlimit(getattr(resource, "RLIMIT_" + name.upper()))[1])


# ---------------------------------------------------------------- pieces

def build_rlimits(ulimits: list[dict] | None) -> list[dict]:
    """``process.rlimits``: Podman's NOFILE/NPROC defaults clipped to what runc can set, then ``ulimits``.

    A requested hard limit above this process's hard limit is refused up front
    (unless we hold CAP_SYS_RESOURCE): runc would fail later with an obscure
    "error setting rlimit type N: operation not permitted". ``-1`` means
    "as high as allowed" (the current hard limit).
    """
    raise_ok = can_raise_rlimits()
    nofile_hard = _current_hard("nofile")
    nofile = DEFAULT_NOFILE if raise_ok else min(DEFAULT_NOFILE, nofile_hard)
    nproc = _current_hard("nproc")
    limits: dict[str, dict] = {
        "RLIMIT_NOFILE": {"type": "RLIMIT_NOFILE", "hard": nofile, "soft": nofile},
        "RLIMIT_NPROC": {"type": "RLIMIT_NPROC", "hard": nproc, "soft": nproc},
    }
    for ul in ulimits or ():
        raw = str(ul.get("name", "")).strip().lower()
        name = raw[len("rlimit_"):] if raw.startswith("rlimit_") else raw
        if name not in _RLIMIT_NAMES:
            raise ConfigError(f"invalid ulimit type {ul.get('name')!r}", field="ulimits")
        cur = _current_hard(name)
        try:
            soft, hard = int(ul.get("soft", ul.get("hard"))), int(ul.get("hard", ul.get("soft")))
        except (TypeError, ValueError):
            raise ConfigError(f"ulimit {name}: soft and hard limits must be integers", field="ulimits") from None
        soft = cur if soft == -1 else soft
        hard = cur if hard == -1 else hard
        if soft < 0 or hard < 0:
            raise ConfigError(f"ulimit {name}: limits must be -1 or non-negative", field="ulimits")
        if soft > hard:
            raise ConfigError(f"ulimit {name}: soft limit {soft} is above hard limit {hard}", field="ulimits")
        if hard > cur and not raise_ok:
            raise ConfigError(
                f"ulimit {name}: hard limit {hard} is above this host's current hard limit {cur} "
                f"(raising it needs CAP_SYS_RESOURCE); use {cur} or less", field="ulimits")
        key = "RLIMIT_" + name.upper()
        limits[key] = {"type": key, "hard": hard, "soft": soft}
    return list(limits.values())


def _env(config: dict, *, hostname: str, home: str | None) -> list[str]:
    """The final environment plus Podman's defaults for whatever the config did not set."""
    env = [str(e) for e in config.get("env") or ()]
    have = {e.split("=", 1)[0] for e in env}
    defaults = [("TERM", "xterm"), ("container", "podium"), ("HOME", home), ("HOSTNAME", hostname)]
    for key, value in defaults:
        if key not in have and value:
            env.append(f"{key}={value}")
    return env


def _norm_dest(path: str) -> str:
    if not path or not path.startswith("/"):
        raise ConfigError(f"mount destination {path!r} must be an absolute path", field="mounts")
    return os.path.normpath(path).replace("//", "/")


def _user_mount(m: dict) -> dict:
    """A validated user mount in OCI form; bind mounts become recursive and rprivate like Podman's."""
    mtype = m.get("type") or "bind"
    dest = _norm_dest(m.get("destination") or "")
    opts = [str(o) for o in m.get("options") or ()]
    if mtype == "volume":  # a named or anonymous volume is a bind of its data directory
        mtype = "bind"
        if m.get("rw") is False and "ro" not in opts:
            opts.append("ro")
    if mtype == "bind":
        source = m.get("source")
        if not source or not str(source).startswith("/"):
            raise ConfigError(f"bind mount on {dest}: source must be an absolute host path", field="mounts")
        if "bind" not in opts and "rbind" not in opts:
            opts.append("rbind")
        if not _PROPAGATION.intersection(opts):
            opts.append("rprivate")
    else:
        source = m.get("source") or mtype
    return {"destination": dest, "type": mtype, "source": source, "options": opts}


def _depth(dest: str) -> int:
    return 0 if dest == "/" else dest.count("/")


def build_mounts(config: dict, *, etc_files: dict[str, str], init_path: str | None) -> list[dict]:
    """``mounts``: runc's/Podman's defaults, the etc files, the init binary, then user mounts (shallow first).

    A user mount on the same destination supersedes a default or an etc file,
    as in Podman's SupersedeUserMounts.
    """
    privileged = bool(config.get("privileged"))
    read_only = bool(config.get("read_only"))
    shm = config.get("shm_size")
    shm_opt = f"size={int(shm)}" if shm else "size=65536k"
    sys_opts = ["rprivate", "nosuid", "noexec", "nodev", "rw"] if privileged else ["nosuid", "noexec", "nodev", "ro"]
    cgroup_perm = "rw" if privileged else "ro"
    defaults = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": sys_opts},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", shm_opt]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["rprivate", "nosuid", "noexec", "nodev", "relatime", cgroup_perm]},
    ]
    for dest, source in (etc_files or {}).items():
        opts = ["rbind", "rprivate"]
        if read_only:
            opts.append("ro")
        defaults.append({"destination": _norm_dest(dest), "type": "bind", "source": source, "options": opts})
    if config.get("init"):
        defaults.append({"destination": INIT_PATH_IN_CONTAINER, "type": "bind", "source": init_path,
                         "options": ["bind", "ro", "rprivate"]})

    user = [_user_mount(m) for m in config.get("mounts") or ()]
    taken = {m["destination"] for m in user}
    if len(taken) != len(user):
        raise ConfigError("two mounts share one destination", field="mounts")
    # A default below a user mount goes after it, not under it: a user tmpfs on /run must
    # not hide the init binary at /run/podium-init, nor a bind on /etc the hosts file.
    user.sort(key=lambda m: _depth(m["destination"]))
    kept = [m for m in defaults if m["destination"] not in taken]
    below = [m for m in kept if any(m["destination"].startswith(t.rstrip("/") + "/") for t in taken)]
    return [m for m in kept if m not in below] + user + below


def _namespaces(config: dict, *, cgroup_v2: bool) -> list[dict]:
    mode = config.get("network_mode") or "none"
    # pid_mode/ipc_mode "host": no namespace of that kind, the host's is used (kube hostPID/hostIPC)
    ns: list[dict] = [] if config.get("pid_mode") == "host" else [{"type": "pid"}]
    if mode in ("none", "private", "bridge"):
        ns.append({"type": "network"})
    elif mode.startswith("ns:"):
        path = mode[3:]
        if not path.startswith("/"):
            raise ConfigError(f"network namespace path {path!r} must be absolute", field="network_mode")
        ns.append({"type": "network", "path": path})
    elif mode != "host":
        raise ConfigError(f"unknown network mode {mode!r} (none, host or ns:PATH)", field="network_mode")
    ns += ([] if config.get("ipc_mode") == "host" else [{"type": "ipc"}]) + [{"type": "uts"}, {"type": "mount"}]
    if cgroup_v2:
        ns.append({"type": "cgroup"})
    # Joined namespaces (a pod's infra container): {"ipc": "/proc/PID/ns/ipc", ...}
    paths = config.get("namespace_paths") or {}
    for entry in ns:
        path = paths.get(entry["type"])
        if path:
            if not path.startswith("/"):
                raise ConfigError(f"{entry['type']} namespace path {path!r} must be absolute")
            entry["path"] = path
    return ns


def _resources(config: dict, *, cgroup_v2: bool) -> dict:
    """``linux.resources``: device rules, memory (+swap as Podman), CPU quota, pids."""
    res: dict = {}
    if config.get("privileged"):
        res["devices"] = [{"allow": True, "access": "rwm"}]
    else:
        res["devices"] = [dict(r) for r in DEFAULT_DEVICE_RULES]
    memory = config.get("memory")
    if memory is not None and int(memory) > 0:
        memory = int(memory)
        if memory < MIN_MEMORY:
            raise ConfigError(f"memory limit {memory} is below the minimum of 6MB", field="memory")
        mem: dict = {"limit": memory}
        swap = config.get("memory_swap")
        if swap is not None and int(swap) != 0:
            swap = int(swap)
            if swap != -1 and swap < memory:
                raise ConfigError("memory_swap must be at least the memory limit (or -1)", field="memory_swap")
            if swap_accounting(cgroup_v2):
                mem["swap"] = swap
        elif swap_accounting(cgroup_v2):
            mem["swap"] = 2 * memory
        res["memory"] = mem
    reservation = config.get("memory_reservation")
    if reservation:  # the soft limit (cgroup v1 memory.soft_limit_in_bytes, v2 memory.low)
        if memory is not None and int(memory) > 0 and int(reservation) > int(memory):
            raise ConfigError("the memory reservation must not be above the memory limit",
                              field="memory_reservation")
        res.setdefault("memory", {})["reservation"] = int(reservation)
    cpus = config.get("cpus")
    if cpus is not None and float(cpus) != 0:
        cpus = float(cpus)
        ncpu = os.cpu_count() or 1
        if cpus < 0.01 or cpus > ncpu:
            raise ConfigError(f"range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available",
                              field="cpus")
        res["cpu"] = {"quota": int(round(cpus * CPU_PERIOD)), "period": CPU_PERIOD}
    pids = config.get("pids_limit")
    if pids is not None and int(pids) != 0:
        res["pids"] = {"limit": int(pids) if int(pids) > 0 else -1}
    return res


def _sysctls(config: dict) -> dict[str, str]:
    out = {}
    host_net = (config.get("network_mode") or "none") == "host"
    for key, value in (config.get("sysctls") or {}).items():
        if key not in _SYSCTL_NAMES and not key.startswith(_SYSCTL_PREFIXES):
            raise ConfigError(f"sysctl {key!r} is not allowed: it is not namespaced", field="sysctls")
        if host_net and key.startswith("net."):
            raise ConfigError(f"sysctl {key}={value} can't be set since Network Namespace set to host",
                              field="sysctls")
        out[key] = str(value)
    return out


def host_devices(root: str = "/dev") -> list[dict]:
    """The host's device nodes as ``linux.devices`` entries (for --privileged, like Podman)."""
    import stat

    skip_dirs = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    skip = {"/dev/null", "/dev/zero", "/dev/full", "/dev/tty", "/dev/random", "/dev/urandom",
            "/dev/ptmx", "/dev/console"}
    out: list[dict] = []

    def walk(d: str) -> None:
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError:
            return
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    if e.name not in skip_dirs:
                        walk(e.path)
                    continue
                st = e.stat(follow_symlinks=False)
            except OSError:
                continue
            if e.path in skip:
                continue
            if stat.S_ISCHR(st.st_mode):
                kind = "c"
            elif stat.S_ISBLK(st.st_mode):
                kind = "b"
            else:
                continue
            out.append({"path": e.path, "type": kind, "major": os.major(st.st_rdev),
                        "minor": os.minor(st.st_rdev), "fileMode": stat.S_IMODE(st.st_mode),
                        "uid": st.st_uid, "gid": st.st_gid})

    walk(root)
    return out


def _find_init() -> str | None:
    for path in _INIT_CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return None


# ---------------------------------------------------------------- the spec

def build_config(config: dict, *, cid: str, rootfs: str, etc_files: dict[str, str], cgroup_path: str,
                 cgroup_v2: bool, init_path: str | None = None,
                 seccomp_path: str = "/usr/share/containers/seccomp.json") -> dict:
    """The OCI runtime config (a JSON-able dict) for container ``cid``'s frozen ``config``.

    ``rootfs`` is the mounted root filesystem (its /etc/passwd and /etc/group
    resolve ``user``); ``etc_files`` maps container paths such as /etc/hosts to
    host files to bind; ``cgroup_path`` becomes ``linux.cgroupsPath``;
    ``init_path`` is the catatonit binary for ``init`` (looked up in the usual
    places when None); ``seccomp_path`` "" or "unconfined" disables seccomp.
    Raises ConfigError for anything runc would refuse later with a worse message.
    """
    privileged = bool(config.get("privileged"))
    hostname = config.get("hostname") or cid[:12]

    user = resolve_user(config.get("user") or "", rootfs)
    caps = _caps.resolve(config, uid=user["uid"])

    args = [str(a) for a in config.get("args") or ()]
    if not args:
        raise ConfigError("no command given: the image has no entrypoint or cmd", field="args")
    if config.get("init"):
        init_path = init_path or _find_init()
        if not init_path:
            raise ConfigError("--init needs catatonit (looked in " + ", ".join(_INIT_CANDIDATES) + ")",
                              field="init")
        args = [INIT_PATH_IN_CONTAINER, "--", *args]

    cwd = config.get("workdir") or "/"
    if not cwd.startswith("/"):
        raise ConfigError(f"working directory {cwd!r} must be an absolute path", field="workdir")

    oci_user: dict = {"uid": user["uid"], "gid": user["gid"], "umask": 0o022}
    gids = list(user["additionalGids"])
    for g in config.get("groups") or ():  # --group-add, kube supplementalGroups/fsGroup
        if int(g) not in gids:
            gids.append(int(g))
    if gids:
        oci_user["additionalGids"] = gids

    process = {
        "terminal": bool(config.get("tty")),
        "user": oci_user,
        "args": args,
        "env": _env(config, hostname=hostname, home=user["home"]),
        "cwd": cwd,
        "capabilities": caps,
        "rlimits": build_rlimits(config.get("ulimits")),
        "noNewPrivileges": bool(config.get("no_new_privileges")),
    }

    linux: dict = {
        "resources": _resources(config, cgroup_v2=cgroup_v2),
        "cgroupsPath": cgroup_path,
        "namespaces": _namespaces(config, cgroup_v2=cgroup_v2),
    }
    sysctls = _sysctls(config)
    if sysctls:
        linux["sysctl"] = sysctls
    if privileged:
        devices = host_devices()
        if devices:
            linux["devices"] = devices
    else:
        seccomp_path = config.get("seccomp_profile") or seccomp_path
        if seccomp_path and seccomp_path != "unconfined":
            linux["seccomp"] = _seccomp.load_profile(seccomp_path, caps["bounding"])
        unmask = set(config.get("unmask") or ())
        if "ALL" not in unmask:  # unmask=ALL (kube procMount: Unmasked) drops both lists, as Podman
            linux["maskedPaths"] = [p for p in MASKED_PATHS if p not in unmask]
            linux["readonlyPaths"] = [p for p in READONLY_PATHS if p not in unmask]

    spec = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": rootfs, "readonly": bool(config.get("read_only"))},
        "hostname": hostname,
        "mounts": build_mounts(config, etc_files=etc_files, init_path=init_path),
        "annotations": {str(k): str(v) for k, v in (config.get("annotations") or {}).items()},
        "linux": linux,
    }
    if (config.get("namespace_paths") or {}).get("uts"):
        del spec["hostname"]  # a joined UTS namespace keeps its owner's hostname
    return spec
