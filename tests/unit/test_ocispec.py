"""ocispec.py and caps.py: a frozen container config -> OCI config.json."""

from __future__ import annotations

import json
import os
import resource

import pytest

from podium.engine.errors import ConfigError
from podium.engine.runtime import caps, ocispec
from podium.engine.runtime.ocispec import build_config
from tests.rootfs import GROUP, PASSWD

SECCOMP = "/usr/share/containers/seccomp.json"
DEFAULT_SET = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
               "CAP_SETUID", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_SETFCAP"]


@pytest.fixture()
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(PASSWD)
    (root / "etc" / "group").write_text(GROUP)
    return str(root)


@pytest.fixture()
def full_bounding(monkeypatch):
    """Pretend this process holds every capability, so results do not depend on the host."""
    monkeypatch.setitem(caps._cache, "bnd", caps.known_caps())


def base(**over) -> dict:
    cfg = {
        "args": ["sh", "-c", "echo hi"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "K=V"],
        "workdir": "/",
        "user": "",
        "hostname": "abcdef123456",
        "mounts": [],
        "read_only": False,
        "cap_add": [],
        "cap_drop": [],
        "privileged": False,
        "memory": None,
        "cpus": None,
        "pids_limit": None,
        "init": False,
        "interactive": False,
        "tty": False,
        "network_mode": "none",
        "sysctls": {},
        "annotations": {},
        "labels": {},
        "shm_size": None,
    }
    cfg.update(over)
    return cfg


def build(rootfs, cfg, **kw) -> dict:
    args = {"cid": "f" * 64, "rootfs": rootfs, "etc_files": {}, "cgroup_path": "/podium/podium-x",
            "cgroup_v2": False, "seccomp_path": SECCOMP if os.path.exists(SECCOMP) else ""}
    args.update(kw)
    return build_config(cfg, **args)


# ---------------------------------------------------------------- the whole document

def test_shape_and_json(rootfs, full_bounding):
    spec = build(rootfs, base())
    assert json.loads(json.dumps(spec)) == spec
    assert spec["ociVersion"] == "1.0.2-dev"
    assert spec["root"] == {"path": rootfs, "readonly": False}
    assert spec["hostname"] == "abcdef123456"
    p = spec["process"]
    assert p["terminal"] is False and p["noNewPrivileges"] is False
    assert p["user"] == {"uid": 0, "gid": 0, "umask": 0o022}
    assert p["args"] == ["sh", "-c", "echo hi"]
    assert p["cwd"] == "/"
    assert "oomScoreAdj" not in p
    assert p["env"][:2] == base()["env"]
    assert {"container=podium", "HOSTNAME=abcdef123456", "HOME=/root", "TERM=xterm"} <= set(p["env"])
    assert spec["linux"]["cgroupsPath"] == "/podium/podium-x"
    assert "/proc/kcore" in spec["linux"]["maskedPaths"]
    assert "/proc/sys" in spec["linux"]["readonlyPaths"]


def test_env_defaults_do_not_override(rootfs):
    spec = build(rootfs, base(env=["HOSTNAME=mine", "container=other", "HOME=/h"]))
    env = spec["process"]["env"]
    assert env.count("HOSTNAME=mine") == 1 and not any(e.startswith("HOSTNAME=abc") for e in env)
    assert "container=other" in env and "HOME=/h" in env


def test_hostname_defaults_to_short_id(rootfs):
    assert build(rootfs, base(hostname=""))["hostname"] == "f" * 12


def test_tty_and_workdir(rootfs):
    spec = build(rootfs, base(tty=True, workdir="/var/www"))
    assert spec["process"]["terminal"] is True and spec["process"]["cwd"] == "/var/www"
    with pytest.raises(ConfigError, match="absolute"):
        build(rootfs, base(workdir="relative"))
    with pytest.raises(ConfigError, match="no command"):
        build(rootfs, base(args=[]))


# ---------------------------------------------------------------- capabilities

def test_default_caps_root(rootfs, full_bounding):
    c = build(rootfs, base())["process"]["capabilities"]
    assert c["bounding"] == DEFAULT_SET
    assert c["effective"] == c["permitted"] == DEFAULT_SET
    assert not c.get("inheritable") and not c.get("ambient")
    assert caps.cap_mask(c["effective"]) == 0x800405FB  # Podman's CapEff for its defaults


def test_cap_add_drop_any_spelling(rootfs, full_bounding):
    c = build(rootfs, base(cap_add=["net_admin", "CAP_SYS_TIME"], cap_drop=["chown"]))["process"]["capabilities"]
    assert "CAP_NET_ADMIN" in c["bounding"] and "CAP_SYS_TIME" in c["bounding"]
    assert "CAP_CHOWN" not in c["bounding"] and c["effective"] == c["bounding"]


def test_drop_all_keeps_only_added(rootfs, full_bounding):
    c = build(rootfs, base(cap_add=["NET_RAW"], cap_drop=["ALL"]))["process"]["capabilities"]
    assert c["bounding"] == c["effective"] == ["CAP_NET_RAW"]


def test_add_all(rootfs, full_bounding):
    c = build(rootfs, base(cap_add=["all"], cap_drop=["SYS_ADMIN"]))["process"]["capabilities"]
    assert len(c["bounding"]) == len(caps.known_caps()) - 1 and "CAP_SYS_ADMIN" not in c["bounding"]


def test_cap_errors(rootfs):
    with pytest.raises(ConfigError, match="unknown capability"):
        build(rootfs, base(cap_add=["FLY"]))
    with pytest.raises(ConfigError, match="cannot be dropped and added"):
        build(rootfs, base(cap_add=["NET_ADMIN"], cap_drop=["net_admin"]))


def test_non_root_gets_only_added_caps(rootfs, full_bounding):
    c = build(rootfs, base(user="www", cap_add=["NET_ADMIN"]))["process"]["capabilities"]
    assert "CAP_NET_ADMIN" in c["bounding"] and "CAP_CHOWN" in c["bounding"]
    for key in ("effective", "permitted", "inheritable", "ambient"):
        assert c[key] == ["CAP_NET_ADMIN"]
    plain = build(rootfs, base(user="www"))["process"]["capabilities"]
    assert plain["effective"] == plain["ambient"] == []


def test_uid_zero_by_name_is_root(rootfs, full_bounding):
    c = build(rootfs, base(user="root"))["process"]["capabilities"]
    assert c["effective"] == DEFAULT_SET


def test_caps_clipped_to_bounding_set(rootfs, monkeypatch):
    monkeypatch.setitem(caps._cache, "bnd", [c for c in caps.known_caps() if c != "CAP_SYS_RESOURCE"])
    spec = build(rootfs, base(cap_add=["SYS_RESOURCE", "NET_ADMIN"]))
    assert "CAP_SYS_RESOURCE" not in spec["process"]["capabilities"]["bounding"]
    priv = build(rootfs, base(privileged=True))
    assert "CAP_SYS_RESOURCE" not in priv["process"]["capabilities"]["bounding"]
    assert "CAP_SYS_ADMIN" in priv["process"]["capabilities"]["effective"]


def test_known_caps_follow_kernel(monkeypatch):
    monkeypatch.setitem(caps._cache, "last", 37)
    assert caps.known_caps()[-1] == "CAP_AUDIT_READ" and len(caps.known_caps()) == 38


def test_privileged(rootfs, full_bounding):
    spec = build(rootfs, base(privileged=True))
    c = spec["process"]["capabilities"]
    assert c["bounding"] == c["effective"] == caps.known_caps()
    lin = spec["linux"]
    assert "seccomp" not in lin and "maskedPaths" not in lin and "readonlyPaths" not in lin
    assert lin["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    sysfs = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert "rw" in sysfs["options"] and "ro" not in sysfs["options"]
    cg = next(m for m in spec["mounts"] if m["destination"] == "/sys/fs/cgroup")
    assert "rw" in cg["options"]
    for dev in lin.get("devices", ()):
        assert dev["type"] in ("c", "b") and dev["path"].startswith("/dev/")


# ---------------------------------------------------------------- users

def test_user_resolution(rootfs):
    spec = build(rootfs, base(user="www"))
    assert spec["process"]["user"] == {"uid": 33, "gid": 33, "umask": 0o022, "additionalGids": [33, 100]}
    assert "HOME=/var/www" in spec["process"]["env"]
    spec = build(rootfs, base(user="1000:1000"))
    assert spec["process"]["user"]["uid"] == 1000 and spec["process"]["user"]["gid"] == 1000


def test_unknown_user(rootfs):
    with pytest.raises(ConfigError, match="unable to find user nosuch: no matching entries in passwd file"):
        build(rootfs, base(user="nosuch"))


# ---------------------------------------------------------------- resources

def test_resources(rootfs, monkeypatch):
    monkeypatch.setitem(ocispec._host_cache, "swap0", True)
    r = build(rootfs, base(memory=67108864, cpus=0.5, pids_limit=100))["linux"]["resources"]
    assert r["memory"] == {"limit": 67108864, "swap": 134217728}
    assert r["cpu"] == {"quota": 50000, "period": 100000}
    assert r["pids"] == {"limit": 100}
    assert r["devices"][0] == {"allow": False, "access": "rwm"}
    allowed = {(d["major"], d.get("minor")) for d in r["devices"][1:]}
    assert {(1, 3), (1, 5), (1, 7), (5, 0), (1, 8), (1, 9), (5, 2), (136, None)} == allowed


def test_no_swap_without_accounting(rootfs, monkeypatch):
    monkeypatch.setitem(ocispec._host_cache, "swap0", False)
    r = build(rootfs, base(memory=67108864))["linux"]["resources"]
    assert r["memory"] == {"limit": 67108864}


def test_swap_accounting_detected_on_this_host():
    expected = os.path.exists("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes")
    ocispec._host_cache.pop("swap0", None)
    assert ocispec.swap_accounting(False) is expected


def test_no_limits_by_default(rootfs):
    r = build(rootfs, base())["linux"]["resources"]
    assert set(r) == {"devices"}


def test_resource_validation(rootfs):
    with pytest.raises(ConfigError, match="6MB"):
        build(rootfs, base(memory=1024))
    with pytest.raises(ConfigError, match="range of CPUs"):
        build(rootfs, base(cpus=(os.cpu_count() or 1) + 1))


# ---------------------------------------------------------------- rlimits

def _hard(name):
    return ocispec._oci_limit(resource.getrlimit(getattr(resource, "RLIMIT_" + name))[1])


def test_rlimits_never_above_hard_limit(rootfs, monkeypatch):
    monkeypatch.setitem(ocispec._host_cache, "sysres", False)
    rl = {r["type"]: r for r in build(rootfs, base())["process"]["rlimits"]}
    assert rl["RLIMIT_NOFILE"]["hard"] == rl["RLIMIT_NOFILE"]["soft"] == min(1048576, _hard("NOFILE"))
    for r in rl.values():
        assert r["soft"] <= r["hard"] <= _hard(r["type"][len("RLIMIT_"):])


def test_ulimits_honoured_and_validated(rootfs, monkeypatch):
    monkeypatch.setitem(ocispec._host_cache, "sysres", False)
    cfg = base(ulimits=[{"name": "nofile", "soft": 512, "hard": 1024}, {"name": "core", "soft": 0, "hard": 0}])
    rl = {r["type"]: r for r in build(rootfs, cfg)["process"]["rlimits"]}
    assert rl["RLIMIT_NOFILE"] == {"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 512}
    assert rl["RLIMIT_CORE"]["hard"] == 0
    hard = _hard("NOFILE")
    if hard < ocispec.RLIM_INFINITY_OCI:
        with pytest.raises(ConfigError, match="above this host's current hard limit"):
            build(rootfs, base(ulimits=[{"name": "nofile", "soft": hard + 1, "hard": hard + 1}]))
    with pytest.raises(ConfigError, match="soft limit 10 is above hard limit 5"):
        build(rootfs, base(ulimits=[{"name": "nofile", "soft": 10, "hard": 5}]))
    with pytest.raises(ConfigError, match="invalid ulimit type"):
        build(rootfs, base(ulimits=[{"name": "bogus", "soft": 1, "hard": 1}]))
    rl = {r["type"]: r for r in build(rootfs, base(ulimits=[{"name": "nofile", "soft": -1, "hard": -1}]))
          ["process"]["rlimits"]}
    assert rl["RLIMIT_NOFILE"]["hard"] == hard


def test_ulimit_may_raise_with_sys_resource(rootfs, monkeypatch):
    monkeypatch.setitem(ocispec._host_cache, "sysres", True)
    monkeypatch.setattr(ocispec, "_current_hard", lambda name: 1000)
    rl = {r["type"]: r for r in build(rootfs, base(ulimits=[{"name": "nofile", "soft": 5000, "hard": 5000}]))
          ["process"]["rlimits"]}
    assert rl["RLIMIT_NOFILE"]["hard"] == 5000


# ---------------------------------------------------------------- namespaces

def test_network_modes(rootfs):
    def nets(mode):
        spec = build(rootfs, base(network_mode=mode))
        return [n for n in spec["linux"]["namespaces"] if n["type"] == "network"]

    assert nets("none") == [{"type": "network"}]
    assert nets("host") == []
    assert nets("ns:/run/netns/x") == [{"type": "network", "path": "/run/netns/x"}]
    with pytest.raises(ConfigError, match="unknown network mode"):
        nets("bogus")


def test_namespaces_and_cgroupns(rootfs):
    v1 = [n["type"] for n in build(rootfs, base())["linux"]["namespaces"]]
    assert v1 == ["pid", "network", "ipc", "uts", "mount"]
    v2 = [n["type"] for n in build(rootfs, base(), cgroup_v2=True)["linux"]["namespaces"]]
    assert v2 == ["pid", "network", "ipc", "uts", "mount", "cgroup"]


def test_sysctls(rootfs):
    spec = build(rootfs, base(sysctls={"net.ipv4.ip_forward": "1", "kernel.shmmax": 1000}))
    assert spec["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000"}
    assert "sysctl" not in build(rootfs, base())["linux"]
    with pytest.raises(ConfigError, match="not namespaced"):
        build(rootfs, base(sysctls={"vm.swappiness": "1"}))
    with pytest.raises(ConfigError, match="Network Namespace set to host"):
        build(rootfs, base(network_mode="host", sysctls={"net.ipv4.ip_forward": "1"}))


def test_annotations(rootfs):
    assert build(rootfs, base(annotations={"a": "b"}))["annotations"] == {"a": "b"}


# ---------------------------------------------------------------- mounts

def _dests(spec):
    return [m["destination"] for m in spec["mounts"]]


def test_mount_order(rootfs):
    cfg = base(init=True, mounts=[
        {"type": "bind", "source": "/srv/a", "destination": "/data/deep/er", "options": ["ro"]},
        {"type": "tmpfs", "destination": "/scratch", "options": ["rw", "nosuid", "nodev", "size=65536k"]},
        {"type": "bind", "source": "/srv/b", "destination": "/data", "options": ["rbind", "rw"]},
    ])
    etc = {"/etc/hosts": "/b/hosts", "/etc/resolv.conf": "/b/resolv.conf", "/etc/hostname": "/b/hostname"}
    spec = build(rootfs, cfg, etc_files=etc, init_path="/usr/bin/catatonit")
    assert _dests(spec) == [
        "/proc", "/dev", "/sys", "/dev/pts", "/dev/mqueue", "/dev/shm", "/sys/fs/cgroup",
        "/etc/hosts", "/etc/resolv.conf", "/etc/hostname", "/run/podium-init",
        "/scratch", "/data", "/data/deep/er",
    ]
    by = {m["destination"]: m for m in spec["mounts"]}
    assert by["/data/deep/er"] == {"destination": "/data/deep/er", "type": "bind", "source": "/srv/a",
                                   "options": ["ro", "rbind", "rprivate"]}
    assert by["/data"]["options"] == ["rbind", "rw", "rprivate"]
    assert by["/scratch"]["type"] == "tmpfs" and by["/scratch"]["source"] == "tmpfs"
    assert by["/etc/hosts"] == {"destination": "/etc/hosts", "type": "bind", "source": "/b/hosts",
                                "options": ["rbind", "rprivate"]}
    assert by["/run/podium-init"]["source"] == "/usr/bin/catatonit"
    assert "ro" in by["/run/podium-init"]["options"]
    assert spec["process"]["args"] == ["/run/podium-init", "--", "sh", "-c", "echo hi"]
    assert by["/dev"]["options"] == ["nosuid", "noexec", "strictatime", "mode=755", "size=65536k"]
    assert "ro" in by["/sys"]["options"] and "ro" in by["/sys/fs/cgroup"]["options"]
    assert "newinstance" in by["/dev/pts"]["options"] and "gid=5" in by["/dev/pts"]["options"]


def test_user_mount_supersedes_defaults(rootfs):
    cfg = base(mounts=[{"type": "bind", "source": "/x/hosts", "destination": "/etc/hosts", "options": []},
                       {"type": "tmpfs", "destination": "/dev/shm/", "options": ["size=1m"]}])
    spec = build(rootfs, cfg, etc_files={"/etc/hosts": "/b/hosts"})
    assert _dests(spec).count("/etc/hosts") == 1 and _dests(spec).count("/dev/shm") == 1
    by = {m["destination"]: m for m in spec["mounts"]}
    assert by["/etc/hosts"]["source"] == "/x/hosts" and by["/dev/shm"]["options"] == ["size=1m"]


def test_shm_size_and_read_only(rootfs):
    spec = build(rootfs, base(shm_size=65536000, read_only=True), etc_files={"/etc/hosts": "/b/hosts"})
    by = {m["destination"]: m for m in spec["mounts"]}
    assert "size=65536000" in by["/dev/shm"]["options"]
    assert spec["root"]["readonly"] is True
    assert "ro" in by["/etc/hosts"]["options"]
    assert "/tmp" not in by


def test_mount_errors(rootfs):
    with pytest.raises(ConfigError, match="absolute"):
        build(rootfs, base(mounts=[{"type": "bind", "source": "rel", "destination": "/d", "options": []}]))
    with pytest.raises(ConfigError, match="absolute"):
        build(rootfs, base(mounts=[{"type": "tmpfs", "destination": "d", "options": []}]))
    with pytest.raises(ConfigError, match="share one destination"):
        build(rootfs, base(mounts=[{"type": "tmpfs", "destination": "/d", "options": []},
                                   {"type": "tmpfs", "destination": "/d/", "options": []}]))


def test_propagation_option_kept(rootfs):
    spec = build(rootfs, base(mounts=[{"type": "bind", "source": "/s", "destination": "/d",
                                       "options": ["bind", "rslave"]}]))
    assert spec["mounts"][-1]["options"] == ["bind", "rslave"]


def test_init_needs_binary(rootfs, monkeypatch):
    monkeypatch.setattr(ocispec, "_INIT_CANDIDATES", ("/nonexistent/catatonit",))
    with pytest.raises(ConfigError, match="catatonit"):
        build(rootfs, base(init=True))


# ---------------------------------------------------------------- seccomp

@pytest.mark.skipif(not os.path.exists(SECCOMP), reason="no containers-common seccomp.json")
def test_seccomp_follows_caps(rootfs, full_bounding):
    spec = build(rootfs, base())
    sc = spec["linux"]["seccomp"]
    assert sc["defaultAction"] == "SCMP_ACT_ERRNO" and 15 <= len(sc["syscalls"]) <= 25
    admin = build(rootfs, base(cap_add=["SYS_ADMIN"]))["linux"]["seccomp"]
    allowed = {n for r in admin["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    assert "sethostname" in allowed
    assert "seccomp" not in build(rootfs, base(), seccomp_path="unconfined")["linux"]


def test_missing_seccomp_file_is_an_error(rootfs, tmp_path):
    with pytest.raises(ConfigError, match="seccomp profile"):
        build(rootfs, base(), seccomp_path=str(tmp_path / "none.json"))


def test_defaults_below_a_user_mount_come_after_it(rootfs):
    """A tmpfs on /run must not hide the init binary, nor a bind on /etc the hosts file."""
    cfg = base(init=True, mounts=[{"type": "tmpfs", "destination": "/run", "options": ["rw"]},
                                  {"type": "bind", "source": "/srv/etc", "destination": "/etc", "options": ["ro"]}])
    spec = build(rootfs, cfg, etc_files={"/etc/hosts": "/b/hosts"}, init_path="/usr/bin/catatonit")
    dests = _dests(spec)
    assert dests.index("/run") < dests.index("/run/podium-init")
    assert dests.index("/etc") < dests.index("/etc/hosts")
    assert dests[:7] == ["/proc", "/dev", "/sys", "/dev/pts", "/dev/mqueue", "/dev/shm", "/sys/fs/cgroup"]
