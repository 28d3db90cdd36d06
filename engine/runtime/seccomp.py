"""containers-common seccomp.json -> an OCI ``linux.seccomp`` object for one container.

/usr/share/containers/seccomp.json is not in OCI form: it carries an
``archMap``, rules conditioned on capabilities, architectures and kernel
versions (``includes`` / ``excludes``), comments, and errno *names*. runc does no
conversion, so podium does what containers-common's ``setupSeccomp`` does:

- architectures: the native one from ``archMap`` plus its sub-architectures
  (amd64 -> SCMP_ARCH_X86_64, SCMP_ARCH_X86, SCMP_ARCH_X32);
- a rule is kept when every capability in ``includes.caps`` is in the
  container's (bounding) capabilities, the native arch is in
  ``includes.arches`` (when given), the running kernel is at least
  ``includes.minKernel`` (when given), no ``excludes.caps`` capability is held and
  the arch is not in ``excludes.arches``;
- only OCI keys survive: ``names``, ``action``, ``errnoRet``, ``args``
  (``index``, ``value``, ``valueTwo``, ``op``); ``errno``/``defaultErrno`` names
  become numbers when no ``*Ret`` is given.

This runs on ``podium run``'s hot path: the parsed file is memoized per
process (keyed by path, size and mtime, so an edited file is re-read), and
each call only filters ~35 rules into fresh dicts. Only ``json``, ``os`` and
``errno`` are imported.
"""

from __future__ import annotations

import errno as _errno
import json
import os

from podium.engine.errors import ConfigError

# os.uname().machine / Go GOARCH -> the arch name containers-common uses in includes/excludes.
_ARCH_ALIASES = {
    "x86_64": "amd64", "amd64": "amd64",
    "aarch64": "arm64", "arm64": "arm64",
    "i386": "x86", "i686": "x86", "x86": "x86",
    "armv7l": "arm", "armv6l": "arm", "arm": "arm",
    "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64",
    "mips64": "mips64", "mips64el": "mipsel64",
}
# containers-common arch name -> the SCMP_ARCH_* that heads its archMap entry.
_NATIVE_SCMP = {
    "amd64": "SCMP_ARCH_X86_64",
    "arm64": "SCMP_ARCH_AARCH64",
    "x86": "SCMP_ARCH_X86",
    "arm": "SCMP_ARCH_ARM",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "s390x": "SCMP_ARCH_S390X",
    "riscv64": "SCMP_ARCH_RISCV64",
    "mips64": "SCMP_ARCH_MIPS64",
    "mipsel64": "SCMP_ARCH_MIPSEL64",
}
_ARG_KEYS = ("index", "value", "valueTwo", "op")

_parsed: dict[str, tuple[tuple[int, int], dict]] = {}


def native_arch() -> str:
    """The running machine's architecture in containers-common's naming (``amd64``, ``arm64``...)."""
    machine = os.uname().machine
    return _ARCH_ALIASES.get(machine, machine)


def _kernel_version(release: str | None = None) -> tuple[int, ...]:
    release = release or os.uname().release
    nums = []
    for piece in release.split("-")[0].split(".")[:3]:
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        nums.append(int(digits or 0))
    return tuple(nums)


def _read(path: str) -> dict:
    """The parsed profile at ``path``, memoized while the file's size and mtime stay the same."""
    try:
        st = os.stat(path)
    except OSError as e:
        raise ConfigError(f"seccomp profile {path}: {e.strerror}") from None
    key = (st.st_size, st.st_mtime_ns)
    hit = _parsed.get(path)
    if hit is not None and hit[0] == key:
        return hit[1]
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
    except OSError as e:
        raise ConfigError(f"seccomp profile {path}: {e.strerror}") from None
    except ValueError as e:
        raise ConfigError(f"seccomp profile {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"seccomp profile {path} is not a JSON object")
    _parsed[path] = (key, data)
    return data


def _errno_number(name: str | None, where: str) -> int | None:
    if not name:
        return None
    value = getattr(_errno, name, None)
    if not isinstance(value, int):
        raise ConfigError(f"seccomp profile: unknown errno {name!r} in {where}")
    return value


def convert(profile: dict, caps: list[str] | tuple[str, ...], arch: str | None = None,
            *, kernel: str | None = None) -> dict:
    """Convert a parsed containers-common profile for a container holding ``caps`` (CAP_* names)."""
    arch = _ARCH_ALIASES.get(arch, arch) if arch else native_arch()
    held = set(caps)
    kver = _kernel_version(kernel)

    out: dict = {"defaultAction": profile.get("defaultAction") or "SCMP_ACT_ERRNO"}
    default_ret = profile.get("defaultErrnoRet")
    if default_ret is None:
        default_ret = _errno_number(profile.get("defaultErrno"), "defaultErrno")
    if default_ret is not None:
        out["defaultErrnoRet"] = default_ret

    arches: list[str] = []
    if profile.get("architectures") and profile.get("archMap"):
        raise ConfigError("seccomp profile: use either 'architectures' or 'archMap', not both")
    if profile.get("architectures"):
        arches = list(profile["architectures"])
    else:
        native = _NATIVE_SCMP.get(arch)
        for entry in profile.get("archMap") or ():
            if entry.get("architecture") == native:
                arches = [native, *(entry.get("subArchitectures") or ())]
                break
    out["architectures"] = arches
    if profile.get("flags"):
        out["flags"] = list(profile["flags"])

    rules = []
    for i, call in enumerate(profile.get("syscalls") or ()):
        inc = call.get("includes") or {}
        exc = call.get("excludes") or {}
        if arch in (exc.get("arches") or ()):
            continue
        if any(c in held for c in exc.get("caps") or ()):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if any(c not in held for c in inc.get("caps") or ()):
            continue
        if inc.get("minKernel") and kver < _kernel_version(inc["minKernel"]):
            continue
        names = call.get("names") or ([call["name"]] if call.get("name") else [])
        if not names:
            continue
        rule: dict = {"names": list(names), "action": call.get("action")}
        ret = call.get("errnoRet")
        if ret is None:
            ret = _errno_number(call.get("errno"), f"syscalls[{i}]")
        if ret is not None:
            rule["errnoRet"] = ret
        args = call.get("args")
        if args:
            # valueTwo 0 is omitted, as Go's omitempty does in Podman's output.
            rule["args"] = [{k: a[k] for k in _ARG_KEYS if k in a and (k != "valueTwo" or a[k])}
                            for a in args]
        rules.append(rule)
    out["syscalls"] = rules
    return out


def load_profile(path: str, caps: list[str] | tuple[str, ...], arch: str | None = None) -> dict:
    """The OCI seccomp object for a container with ``caps``, from the containers-common file at ``path``.

    ``arch`` defaults to the running machine's (``amd64``, ``arm64``, or a
    ``uname -m`` name). Raises ConfigError when the file is missing or broken:
    silently running unconfined would be worse.
    """
    return convert(_read(path), caps, arch)
