"""build_config() output run by bare ``runc run`` on a busybox rootfs: the spec does what it says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import uuid

import pytest

from podium.engine.runtime.ocispec import build_config
from tests.rootfs import write_rootfs_tar

pytestmark = pytest.mark.integration

RUNC = shutil.which("runc") or "/usr/sbin/runc"
CATATONIT = "/usr/bin/catatonit"
CGROUP_V2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")

if os.geteuid() != 0 or not os.access(RUNC, os.X_OK):
    _why = "test_ocispec_runc needs root and runc to run real containers"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"required under CI: {_why}", pytrace=False)
    print(f"\nSKIPPED (integration): {_why}", file=sys.stderr)
    pytest.skip(_why, allow_module_level=True)


@pytest.fixture(scope="module")
def env():
    top = tempfile.mkdtemp(prefix="pdm", dir="/tmp")
    try:
        tar = write_rootfs_tar(os.path.join(top, "rootfs.tar"))
        rootfs = os.path.join(top, "rootfs")
        with tarfile.open(tar) as tf:
            # Our own tarball (trusted); the "tar" filter only exists on newer Pythons.
            kw = {"filter": "tar"} if hasattr(tarfile, "tar_filter") else {}
            tf.extractall(rootfs, **kw)
        os.unlink(tar)
        etc = os.path.join(top, "etc")
        os.mkdir(etc)
        files = {"/etc/hostname": "abcdef123456\n", "/etc/hosts": "127.0.0.1\tlocalhost\n10.9.8.7\tpodium-test\n",
                 "/etc/resolv.conf": "nameserver 192.0.2.53\n"}
        etc_files = {}
        for dest, text in files.items():
            host = os.path.join(etc, os.path.basename(dest))
            with open(host, "w") as f:
                f.write(text)
            etc_files[dest] = host
        yield {"top": top, "rootfs": rootfs, "etc_files": etc_files}
    finally:
        shutil.rmtree(top, ignore_errors=True)


def base(**over) -> dict:
    cfg = {
        "args": ["true"],
        "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "workdir": "/", "user": "", "hostname": "abcdef123456", "mounts": [], "read_only": False,
        "cap_add": [], "cap_drop": [], "privileged": False, "memory": None, "cpus": None,
        "pids_limit": None, "init": False, "interactive": False, "tty": False, "network_mode": "none",
        "sysctls": {}, "annotations": {}, "labels": {}, "shm_size": None,
    }
    cfg.update(over)
    return cfg


def _rmdir_cgroup_parents(parent: str) -> None:
    """runc delete removes the leaf cgroup; the parent we named is ours to remove in every hierarchy."""
    for hier in os.listdir("/sys/fs/cgroup"):
        path = os.path.join("/sys/fs/cgroup", hier, parent.lstrip("/"))
        if CGROUP_V2:
            path = os.path.join("/sys/fs/cgroup", parent.lstrip("/"))
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        if CGROUP_V2:
            break


def run(env, cfg: dict, cmd: list[str]) -> subprocess.CompletedProcess:
    """Run ``cmd`` in a container made from ``cfg`` with bare ``runc run``; always deleted afterwards."""
    cfg = dict(cfg, args=cmd)
    cid = "pdmt-" + uuid.uuid4().hex[:12]
    parent = "/pdmtest-" + uuid.uuid4().hex[:8]
    bundle = os.path.join(env["top"], cid)
    state = os.path.join(env["top"], "runc")
    os.makedirs(bundle)
    spec = build_config(cfg, cid=cid, rootfs=env["rootfs"], etc_files=env["etc_files"],
                        cgroup_path=f"{parent}/{cid}", cgroup_v2=CGROUP_V2,
                        init_path=CATATONIT if cfg.get("init") else None)
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(spec, f)
    try:
        return subprocess.run([RUNC, "--root", state, "run", "--bundle", bundle, cid],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run([RUNC, "--root", state, "delete", "-f", cid], capture_output=True, timeout=60)
        _rmdir_cgroup_parents(parent)
        shutil.rmtree(bundle, ignore_errors=True)


def ok(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 0, f"rc={proc.returncode} stderr={proc.stderr!r} stdout={proc.stdout!r}"
    return proc.stdout


def test_user_www(env):
    out = ok(run(env, base(user="www"), ["sh", "-c", "id -u; id -g; id -G; echo $HOME"])).split("\n")
    assert out[0] == "33" and out[1] == "33"
    assert set(out[2].split()) == {"33", "100"}
    assert out[3] == "/var/www"


def test_seccomp_and_default_caps(env):
    status = ok(run(env, base(), ["cat", "/proc/self/status"]))
    assert "Seccomp:\t2" in status
    assert "CapEff:\t00000000800405fb" in status
    assert "CapBnd:\t00000000800405fb" in status
    assert "NoNewPrivs:\t0" in status


def test_seccomp_blocks_without_capability(env):
    proc = run(env, base(cap_drop=["SYS_CHROOT"]), ["chroot", "/", "true"])
    assert proc.returncode != 0 and "not permitted" in proc.stderr.lower()
    ok(run(env, base(), ["chroot", "/", "true"]))


def test_non_root_with_added_cap(env):
    status = ok(run(env, base(user="www", cap_add=["NET_BIND_SERVICE"]), ["cat", "/proc/self/status"]))
    assert "CapEff:\t0000000000000400" in status and "CapAmb:\t0000000000000400" in status


def test_hostname_env_and_etc_files(env):
    out = ok(run(env, base(), ["sh", "-c", "hostname; cat /etc/hostname; grep podium-test /etc/hosts; "
                                          "cat /etc/resolv.conf; echo $container $HOSTNAME"]))
    assert out.split("\n")[:5] == ["abcdef123456", "abcdef123456", "10.9.8.7\tpodium-test",
                                   "nameserver 192.0.2.53", "podium abcdef123456"]


def test_resources_visible(env):
    cfg = base(memory=67108864, cpus=0.5, pids_limit=100)
    if CGROUP_V2:
        out = ok(run(env, cfg, ["sh", "-c", "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max "
                                            "/sys/fs/cgroup/cpu.max"])).split("\n")
        assert out[:3] == ["67108864", "100", "50000 100000"]
    else:
        out = ok(run(env, cfg, ["sh", "-c", "cat /sys/fs/cgroup/memory/memory.limit_in_bytes "
                                            "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/cpu/cpu.cfs_quota_us"]))
        assert out.split("\n")[:3] == ["67108864", "100", "50000"]


def test_read_only_root(env):
    proc = run(env, base(read_only=True), ["touch", "/x"])
    assert proc.returncode != 0 and "read-only" in proc.stderr.lower()
    assert not os.path.exists(os.path.join(env["rootfs"], "x"))


def test_bind_mounts_ro_and_rw(env):
    host_ro = tempfile.mkdtemp(prefix="pdmro", dir="/tmp")
    host_rw = tempfile.mkdtemp(prefix="pdmrw", dir="/tmp")
    try:
        with open(os.path.join(host_ro, "hello"), "w") as f:
            f.write("from host\n")
        # A mount nested in a read-only bind needs its mount point to exist in the source.
        os.mkdir(os.path.join(host_ro, "out"))
        cfg = base(mounts=[
            {"type": "bind", "source": host_ro, "destination": "/data", "options": ["rbind", "ro"]},
            {"type": "bind", "source": host_rw, "destination": "/data/out", "options": ["rbind", "rw"]},
            {"type": "tmpfs", "destination": "/scratch", "options": ["rw", "nosuid", "nodev", "size=65536k"]},
        ])
        proc = run(env, cfg, ["sh", "-c", "cat /data/hello; touch /data/new && echo WROTE; "
                                          "echo hi > /data/out/f && echo OUT; grep ' /scratch ' /proc/mounts"])
        assert "from host" in proc.stdout and "WROTE" not in proc.stdout
        assert "read-only" in proc.stderr.lower()
        assert "OUT" in proc.stdout and "tmpfs" in proc.stdout
        with open(os.path.join(host_rw, "f")) as f:
            assert f.read() == "hi\n"
        assert not os.path.exists(os.path.join(host_ro, "new"))
    finally:
        shutil.rmtree(host_ro, ignore_errors=True)
        shutil.rmtree(host_rw, ignore_errors=True)


@pytest.mark.skipif(not os.access(CATATONIT, os.X_OK), reason="catatonit missing")
def test_init(env):
    out = ok(run(env, base(init=True), ["sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '"]))
    assert out.startswith("/run/podium-init -- sh -c")


def test_network_none_has_only_lo(env):
    out = ok(run(env, base(), ["cat", "/proc/net/dev"]))
    ifaces = [line.split(":")[0].strip() for line in out.splitlines()[2:]]
    assert ifaces == ["lo"]


def test_ulimit(env):
    out = ok(run(env, base(ulimits=[{"name": "nofile", "soft": 512, "hard": 1024}]),
                 ["sh", "-c", "ulimit -n; ulimit -Hn"]))
    assert out.split() == ["512", "1024"]


def test_default_rlimits_start(env):
    out = ok(run(env, base(), ["sh", "-c", "ulimit -n"]))
    assert int(out) >= 1024


def test_masked_and_readonly_paths(env):
    masked = next((p for p in ("/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug")
                   if os.path.exists(p)), None)
    if masked:
        assert ok(run(env, base(), ["sh", "-c", f"wc -c < {masked}"])).strip() == "0"
    proc = run(env, base(), ["sh", "-c", "echo 1 > /proc/sys/kernel/domainname && echo W"])
    assert "W" not in proc.stdout and "read-only" in proc.stderr.lower()


def test_privileged(env):
    from podium.engine.runtime import caps

    status = ok(run(env, base(privileged=True), ["cat", "/proc/self/status"]))
    assert "Seccomp:\t0" in status
    assert f"CapEff:\t{caps.cap_mask(caps.bounding_set()):016x}" in status


def test_network_host_sees_host_interfaces(env):
    def host_links() -> set[str]:
        with open("/proc/net/dev") as f:
            return {line.split(":")[0].strip() for line in f.read().splitlines()[2:]}
    # Other tests may add or remove bridges meanwhile: compare with the host before and after.
    before = host_links()
    out = ok(run(env, base(network_mode="host"), ["cat", "/proc/net/dev"]))
    after = host_links()
    seen = {line.split(":")[0].strip() for line in out.splitlines()[2:]}
    assert before & after <= seen <= before | after
    assert "lo" in seen and len(seen) > 1
