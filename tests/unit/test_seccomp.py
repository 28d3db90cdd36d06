"""seccomp.py: containers-common's seccomp.json -> an OCI linux.seccomp object."""

from __future__ import annotations

import json
import os

import pytest

from podium.engine.errors import ConfigError
from podium.engine.runtime import seccomp
from podium.engine.runtime.caps import DEFAULT_CAPS

SYSTEM_PROFILE = "/usr/share/containers/seccomp.json"
needs_profile = pytest.mark.skipif(not os.path.exists(SYSTEM_PROFILE),
                                   reason=f"{SYSTEM_PROFILE} missing (install golang-github-containers-common)")


def _rules_for(profile: dict, name: str) -> list[dict]:
    return [r for r in profile["syscalls"] if name in r["names"]]


@needs_profile
def test_default_caps_amd64():
    p = seccomp.load_profile(SYSTEM_PROFILE, list(DEFAULT_CAPS), "amd64")
    assert p["defaultAction"] == "SCMP_ACT_ERRNO"
    assert p["defaultErrnoRet"] == 38
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert 15 <= len(p["syscalls"]) <= 25
    allowed = {n for r in p["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert {"read", "write", "clone", "chroot"} <= allowed  # chroot: CAP_SYS_CHROOT is a default
    assert "sethostname" not in allowed and "bpf" not in allowed  # CAP_SYS_ADMIN only
    for r in p["syscalls"]:
        assert set(r) <= {"names", "action", "errnoRet", "args"}
        for a in r.get("args", ()):
            assert set(a) <= {"index", "value", "valueTwo", "op"}
    json.dumps(p)


@needs_profile
def test_sys_admin_rules_are_conditional():
    without = seccomp.load_profile(SYSTEM_PROFILE, list(DEFAULT_CAPS), "amd64")
    denied = _rules_for(without, "sethostname")
    assert [r["action"] for r in denied] == ["SCMP_ACT_ERRNO"] and denied[0]["errnoRet"] == 1
    with_admin = seccomp.load_profile(SYSTEM_PROFILE, [*DEFAULT_CAPS, "CAP_SYS_ADMIN"], "amd64")
    assert [r["action"] for r in _rules_for(with_admin, "sethostname")] == ["SCMP_ACT_ALLOW"]
    assert len(with_admin["syscalls"]) == len(without["syscalls"])  # one rule swapped for another


@needs_profile
def test_chroot_follows_sys_chroot():
    caps = [c for c in DEFAULT_CAPS if c != "CAP_SYS_CHROOT"]
    p = seccomp.load_profile(SYSTEM_PROFILE, caps, "amd64")
    assert [r["action"] for r in _rules_for(p, "chroot")] == ["SCMP_ACT_ERRNO"]


@needs_profile
def test_arm64_architectures():
    p = seccomp.load_profile(SYSTEM_PROFILE, list(DEFAULT_CAPS), "aarch64")
    assert p["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]
    amd = seccomp.load_profile(SYSTEM_PROFILE, list(DEFAULT_CAPS), "amd64")
    arch_prctl = lambda prof: any("arch_prctl" in r["names"] for r in prof["syscalls"])  # noqa: E731
    assert arch_prctl(amd) and not arch_prctl(p)


SYNTHETIC = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrno": "ENOSYS",
    "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
    "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": "x", "includes": {}, "excludes": {}},
        {"names": ["new_thing"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "5.8"}},
        {"names": ["future_thing"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "99.0"}},
        {"names": ["kill_it"], "action": "SCMP_ACT_ERRNO", "errno": "EPERM",
         "excludes": {"caps": ["CAP_KILL"]}},
        {"names": ["not_here"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["amd64"]}},
        {"names": ["two_caps"], "action": "SCMP_ACT_ALLOW",
         "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}},
        {"name": "single", "action": "SCMP_ACT_ALLOW",
         "args": [{"index": 0, "value": 8, "valueTwo": 0, "op": "SCMP_CMP_EQ", "extra": 1}]},
    ],
}


def test_synthetic_filters():
    p = seccomp.convert(SYNTHETIC, ["CAP_SYS_ADMIN"], "amd64", kernel="6.1.0-13-amd64")
    names = [r["names"][0] for r in p["syscalls"]]
    assert names == ["read", "new_thing", "kill_it", "single"]
    assert p["defaultErrnoRet"] == 38
    assert p["syscalls"][2]["errnoRet"] == 1
    assert p["syscalls"][3]["args"] == [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]
    both = seccomp.convert(SYNTHETIC, ["CAP_SYS_ADMIN", "CAP_NET_ADMIN", "CAP_KILL"], "amd64",
                           kernel="5.4.0")
    names = [r["names"][0] for r in both["syscalls"]]
    assert names == ["read", "two_caps", "single"]


def test_unknown_errno_name():
    bad = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["x"], "action": "SCMP_ACT_ERRNO",
                                                           "errno": "ENOTANERRNO"}]}
    with pytest.raises(ConfigError, match="ENOTANERRNO"):
        seccomp.convert(bad, [], "amd64")


def test_memoized_and_reread_on_change(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SYNTHETIC))
    a = seccomp.load_profile(str(path), [], "amd64")
    assert seccomp._read(str(path)) is seccomp._read(str(path))
    a["syscalls"].clear()  # results are fresh objects: mutating one does not poison the cache
    assert seccomp.load_profile(str(path), [], "amd64")["syscalls"]
    changed = dict(SYNTHETIC, syscalls=SYNTHETIC["syscalls"][:1])
    path.write_text(json.dumps(changed) + " " * 50)
    assert len(seccomp.load_profile(str(path), [], "amd64")["syscalls"]) == 1


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="seccomp profile"):
        seccomp.load_profile(str(tmp_path / "nope.json"), [])
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        seccomp.load_profile(str(tmp_path / "bad.json"), [])


def test_native_arch():
    expected = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine)
    if expected:
        assert seccomp.native_arch() == expected
