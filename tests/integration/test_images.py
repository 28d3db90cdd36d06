"""The image store on a real storage root: import, inspect, tag, rmi, save/load
(also with Podman in both directions), atomic failures, overlay and copy rootfs.

Each test gets a private root under /tmp (short paths: overlay options must fit
in a page) that is unmounted and removed afterwards.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from podium.engine.errors import ArchiveError, ConfigError, InUse, StoreError
from podium.engine.images import ImageStore
from podium.engine.paths import Paths
from podium.engine.state.store import Store
from podium.engine.storage.layers import extract_layer
from podium.engine.storage.overlay import (is_mounted, mount_rootfs, overlay_options,
                                           unmount_rootfs)
from tests.conftest import need

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _mounts_under(prefix: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [ln.split()[4] for ln in f if ln.split()[4].startswith(prefix)]


class Root:
    """A private storage root with its ImageStore."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pdm", dir="/tmp"))
        self.paths = Paths(str(self.base / "root"), str(self.base / "run"))
        self.paths.ensure()
        self.store = Store(self.paths.db)
        self.images = ImageStore(self.paths, self.store)

    def close(self) -> list[str]:
        leaked = _mounts_under(str(self.base))
        for m in sorted(leaked, key=len, reverse=True):
            unmount_rootfs(Path(m))
        self.store.close()
        shutil.rmtree(self.base, ignore_errors=True)
        return leaked

    def state(self) -> tuple[dict[str, Any], dict[str, list[tuple[Any, ...]]]]:
        """Every file under the root (but the database) with its content, and every row."""
        files: dict[str, Any] = {}
        for dirpath, dirnames, filenames in os.walk(self.paths.root):
            for name in dirnames + filenames:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, self.paths.root)
                if rel.startswith("podium.db"):
                    continue
                st = os.lstat(p)
                digest = (hashlib.sha256(Path(p).read_bytes()).hexdigest()
                          if stat.S_ISREG(st.st_mode) else None)
                files[rel] = (st.st_mode, st.st_uid, st.st_size if digest else 0, digest)
        rows = {t: [tuple(r) for r in self.store.query(f"SELECT * FROM {t} ORDER BY 1")]
                for t in ("images", "image_names", "layers")}
        return files, rows


@pytest.fixture
def root() -> Iterator[Root]:
    need(os.geteuid() == 0, "image store integration tests need root (chown, mknod, mounts)")
    r = Root()
    try:
        yield r
    finally:
        assert r.close() == [], "test leaked mounts"


@pytest.fixture
def root2() -> Iterator[Root]:
    r = Root()
    try:
        yield r
    finally:
        assert r.close() == []


class Podman:
    """Real podman on a private vfs root (vfs: no overlay mounts to leak)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pdmp", dir="/tmp"))
        self.argv = ["podman", "--root", str(self.base / "r"), "--runroot", str(self.base / "rr"),
                     "--storage-driver", "vfs", "--tmpdir", str(self.base / "t")]
        (self.base / "t").mkdir()

    def __call__(self, *args: str) -> str:
        proc = subprocess.run([*self.argv, *args], capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    def images(self) -> list[dict[str, Any]]:
        return json.loads(self("images", "--format", "json"))


@pytest.fixture
def podman() -> Iterator[Podman]:
    need(shutil.which("podman") is not None, "podman is not installed (apt-get install podman)")
    p = Podman()
    try:
        yield p
    finally:
        subprocess.run([*p.argv, "system", "reset", "-f"], capture_output=True, timeout=120)
        shutil.rmtree(p.base, ignore_errors=True)


def tar_digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def test_import_inspect_tag_rmi(root: Root, rootfs_tar: Path) -> None:
    ims, paths = root.images, root.paths
    img = ims.import_rootfs(rootfs_tar, "busybox", message="made by a test",
                            changes=['CMD ["sh"]', "ENV A=1", "LABEL app=demo", "EXPOSE 80"])
    diff_id = tar_digest(rootfs_tar)
    assert [i["names"] for i in ims.list()] == [["localhost/busybox:latest"]]
    assert img["id"] == hashlib.sha256(paths.blob(img["id"]).read_bytes()).hexdigest()
    assert paths.blob(diff_id).read_bytes() == rootfs_tar.read_bytes()
    assert hashlib.sha256(paths.blob(img["digest"]).read_bytes()).hexdigest() == img["digest"][7:]
    assert os.readlink(paths.layer(diff_id) / "bin/sh") == "/bin/busybox"
    assert (paths.layer(diff_id) / "www/index.html").read_bytes() == b"hello from podium\n"
    assert ims.layer_dirs("busybox") == [paths.layer(diff_id)]

    info = ims.inspect("busybox")
    assert info["Id"] == img["id"] and info["RepoTags"] == ["localhost/busybox:latest"]
    assert info["RepoDigests"] == [f"localhost/busybox@{img['digest']}"]
    assert info["Config"]["Cmd"] == ["sh"] and info["Labels"] == {"app": "demo"}
    assert info["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert info["RootFS"] == {"Type": "layers", "Layers": [diff_id]}
    assert info["Comment"] == "made by a test" and info["Os"] == "linux"
    assert info["Size"] == rootfs_tar.stat().st_size
    cfg = ims.config_of(img)
    assert cfg["Cmd"] == ["sh"] and cfg["Entrypoint"] is None and cfg["WorkingDir"] == ""
    assert cfg["Env"][0].startswith("PATH=/usr/local/sbin") and cfg["Env"][1] == "A=1"

    assert ims.tag("busybox", "foo") == "localhost/foo:latest"
    assert ims.resolve("foo")["id"] == img["id"]
    [rep] = ims.remove(["foo"])
    assert (rep.untagged, rep.deleted, rep.error) == (["localhost/foo:latest"], [], None)
    ims.tag(img["id"], "quay.io/x/y:1")
    [rep] = ims.remove([img["id"][:12]])
    assert isinstance(rep.error, InUse) and "several names" in str(rep.error)
    [rep] = ims.remove([img["id"][:12]], force=True)
    assert rep.deleted == [img["id"]] and rep.get("error") is None
    assert sorted(rep.get("untagged")) == ["localhost/busybox:latest", "quay.io/x/y:1"]
    assert ims.list() == []
    assert list(paths.blobs.iterdir()) == [] and list(paths.layers.iterdir()) == []
    assert list(paths.tmp.iterdir()) == []
    assert root.state()[1] == {"images": [], "image_names": [], "layers": []}
    [rep] = ims.remove(["busybox"])
    assert "image not known" in str(rep.error)


def test_compressed_stream_import_reuses_the_layer(root: Root, rootfs_tar: Path) -> None:
    ims = root.images
    a = ims.import_rootfs(rootfs_tar, "a")
    b = ims.import_rootfs(io.BytesIO(gzip.compress(rootfs_tar.read_bytes(), 1)), "b")
    assert a["id"] != b["id"]  # created differs, the layer does not
    assert a["config"]["rootfs"] == b["config"]["rootfs"]
    assert len(list(root.paths.layers.iterdir())) == 1
    [rep] = ims.remove(["a"])
    assert rep.deleted and len(list(root.paths.layers.iterdir())) == 1
    assert ims.resolve("b")["id"] == b["id"]
    [rep] = ims.remove(["b"])
    assert rep.deleted and list(root.paths.layers.iterdir()) == []
    assert list(root.paths.blobs.iterdir()) == []


def test_remove_in_use(root: Root, rootfs_tar: Path) -> None:
    ims, store = root.images, root.store
    img = ims.import_rootfs(rootfs_tar, "busybox")
    with store.write():
        store.insert_container({"id": "c" * 64, "name": "web", "image_id": img["id"],
                                "created": "now", "config": {}, "state": {}})
    [rep] = ims.remove(["busybox"])
    assert isinstance(rep.error, InUse) and "web" in str(rep.error)
    [rep] = ims.remove(["busybox"], force=True)  # force, but nobody to remove the containers
    assert isinstance(rep.error, InUse)
    assert ims.untag("busybox") == ["localhost/busybox:latest"]  # untagging is fine
    ims.tag(img["id"], "busybox")
    called = []

    def remove_containers(names: list[str]) -> None:
        called.append(names)
        with store.write():
            for n in names:
                store.db.execute("DELETE FROM containers WHERE name=?", (n,))

    [rep] = ims.remove(["busybox"], force=True, remove_containers=remove_containers)
    assert called == [["web"]] and rep.deleted and rep.error is None
    assert ims.list() == []


def test_failed_import_leaves_store_unchanged(root: Root, rootfs_tar: Path,
                                              tmp_path: Path) -> None:
    ims = root.images
    ims.import_rootfs(rootfs_tar, "keep")
    before = root.state()
    cut = tmp_path / "cut.tar"
    cut.write_bytes(rootfs_tar.read_bytes()[: rootfs_tar.stat().st_size // 2])
    with pytest.raises(ArchiveError, match="truncated"):
        ims.import_rootfs(cut, "broken")
    with pytest.raises(ConfigError, match="unknown instruction"):
        ims.import_rootfs(rootfs_tar, "x", changes=["RUN rm -rf /"])
    with pytest.raises(ConfigError, match="invalid image name"):
        ims.import_rootfs(rootfs_tar, "Bad:Name")
    with pytest.raises(ConfigError, match="no such file"):
        ims.import_rootfs(tmp_path / "missing.tar", "x")
    assert root.state() == before


def test_truncated_or_corrupt_load_leaves_store_unchanged(root: Root, rootfs_tar: Path,
                                                         tmp_path: Path) -> None:
    ims = root.images
    img = ims.import_rootfs(rootfs_tar, "busybox")
    ims.save(["busybox"], tmp_path / "d.tar")
    ims.save(["busybox"], tmp_path / "o.tar", format="oci-archive")
    ims.tag("busybox", "other")
    ims.remove(["busybox"])
    ims.import_rootfs(io.BytesIO(b"\0" * 1024), "empty")
    before = root.state()
    assert before[1]["images"] and before[1]["layers"]
    for name in ("d.tar", "o.tar"):
        data = (tmp_path / name).read_bytes()
        for cut in (len(data) // 2, len(data) - 20000):
            (tmp_path / "cut.tar").write_bytes(data[:cut])
            with pytest.raises(ArchiveError):
                ims.load(tmp_path / "cut.tar")
            assert root.state() == before
    # a layer whose bytes were changed after it was saved (digest no longer matches)
    ims.untag("other")
    ims.remove([img["id"]])
    before = root.state()
    for name in ("d.tar", "o.tar"):
        data = bytearray((tmp_path / name).read_bytes())
        pos = data.find(b"hello from podium")
        data[pos:pos + 5] = b"HELLO"
        (tmp_path / "bad.tar").write_bytes(bytes(data))
        with pytest.raises(ArchiveError, match="digest|content"):
            ims.load(tmp_path / "bad.tar")
        assert root.state() == before


def test_save_load_roundtrip(root: Root, root2: Root, rootfs_tar: Path, tmp_path: Path) -> None:
    img = root.images.import_rootfs(rootfs_tar, "busybox", changes=["CMD sh"])
    root.images.tag("busybox", "docker.io/library/hub:1")
    for fmt in ("docker-archive", "oci-archive"):
        out = tmp_path / f"{fmt}.tar"
        root.images.save(["busybox", "hub:1"], out, format=fmt)
        with open(out, "rb") as f:  # a stream, as from stdin
            names = root2.images.load(f)
        assert sorted(names) == ["docker.io/library/hub:1", "localhost/busybox:latest"]
        got = root2.images.resolve("hub:1")
        assert got["id"] == img["id"] and got["config"] == img["config"]
        assert root2.images.layer_dirs(got) == [root2.paths.layer(tar_digest(rootfs_tar))]
        [rep] = root2.images.remove([img["id"]], force=True)
        assert rep.deleted
    buf = io.BytesIO()
    root.images.save([img["id"][:8]], buf)
    tf = tarfile.open(fileobj=io.BytesIO(buf.getvalue()))
    manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert sorted(manifest[0]["RepoTags"]) == ["hub:1", "localhost/busybox:latest"]
    assert sorted(root2.images.load(io.BytesIO(buf.getvalue()))) == [
        "docker.io/library/hub:1", "localhost/busybox:latest"]
    with pytest.raises(ConfigError, match="unknown archive format"):
        root.images.save(["busybox"], tmp_path / "x.tar", format="zip")


@pytest.mark.podman
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_loads_our_archives(root: Root, podman: Podman, rootfs_tar: Path,
                                   fmt: str) -> None:
    img = root.images.import_rootfs(rootfs_tar, "busybox", changes=['CMD ["sh"]'])
    out = podman.base / "ours.tar"
    root.images.save(["busybox"], out, format=fmt)
    podman("load", "-i", str(out))
    [listed] = podman.images()
    assert listed["Id"] == img["id"]
    assert listed["Names"] == ["localhost/busybox:latest"]
    [info] = json.loads(podman("image", "inspect", "localhost/busybox:latest"))
    assert info["RootFS"]["Layers"] == [tar_digest(rootfs_tar)]
    assert info["Config"]["Cmd"] == ["sh"]


@pytest.mark.podman
@pytest.mark.parametrize("fmt", ["docker-archive", "oci-archive"])
def test_podman_archives_load_into_podium(root: Root, podman: Podman, rootfs_tar: Path,
                                          fmt: str) -> None:
    podman("import", "--change", "ENTRYPOINT /bin/sh", str(rootfs_tar), "pbox")
    podman("tag", "pbox", "docker.io/library/hub:2")
    [info] = json.loads(podman("image", "inspect", "pbox"))
    out = podman.base / "theirs.tar"
    ref = "docker.io/library/hub:2" if fmt == "docker-archive" else "localhost/pbox:latest"
    podman("save", "--format", fmt, "-o", str(out), ref)
    assert root.images.load(out) == [ref]
    got = root.images.resolve(ref)
    assert got["id"] == info["Id"]
    assert got["config"]["rootfs"]["diff_ids"] == info["RootFS"]["Layers"]
    assert root.images.config_of(got)["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    [layer] = root.images.layer_dirs(got)
    assert (layer / "bin/busybox").stat().st_size == Path("/bin/busybox").stat().st_size
    assert root.paths.blob(info["RootFS"]["Layers"][0]).read_bytes() == rootfs_tar.read_bytes()


def _tree(top: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            extra: Any = None
            if stat.S_ISREG(st.st_mode):
                extra = hashlib.sha256(Path(p).read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                extra = os.readlink(p)
            out[os.path.relpath(p, top)] = (st.st_mode, st.st_uid, st.st_gid, extra)
    return out


def _chroot(merged: Path, *argv: str) -> str:
    """Run busybox inside the root filesystem: proof that it is usable as one."""
    return subprocess.run(["chroot", str(merged), "/bin/busybox", *argv], capture_output=True,
                          text=True, timeout=30, check=True).stdout


def test_overlay_mount(root: Root, rootfs_tar: Path) -> None:
    img = root.images.import_rootfs(rootfs_tar, "busybox")
    ctr = root.paths.container_dir("c1")
    upper, work, merged = ctr / "upper", ctr / "work", ctr / "merged"
    assert mount_rootfs(root.images.layer_dirs(img), upper, work, merged) == "overlay"
    assert is_mounted(merged) and (merged / "bin/busybox").is_file()
    assert _chroot(merged, "sh", "-c", "cat /etc/motd; ls /var") == "podium test image\nwww\n"
    (merged / "newfile").write_text("x")
    (merged / "etc/motd").unlink()
    assert (upper / "newfile").read_text() == "x"
    assert stat.S_ISCHR(os.lstat(upper / "etc/motd").st_mode)  # overlay's own whiteout
    layer = root.images.layer_dirs(img)[0]
    assert (layer / "etc/motd").is_file() and not (layer / "newfile").exists()
    assert mount_rootfs(root.images.layer_dirs(img), upper, work, merged) == "overlay"
    assert _mounts_under(str(merged)) == [str(merged)]  # not mounted twice
    unmount_rootfs(merged)
    assert not is_mounted(merged) and _mounts_under(str(root.base)) == []
    unmount_rootfs(merged)  # no-op
    unmount_rootfs(root.base / "never-mounted")


def test_copy_fallback_matches_overlay(root: Root, rootfs_tar: Path, tmp_path: Path) -> None:
    base = root.base
    l1, l2 = base / "l1", base / "l2"
    extract_layer(rootfs_tar, l1)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("etc/.wh.motd", b""), ("var/.wh..wh..opq", b""),
                           ("var/new", b"new"), ("bin/sh", b"#!not a link\n"),
                           ("usr/.wh.bin", b"")):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    buf.seek(0)
    extract_layer(buf, l2)
    over, copy = base / "o", base / "c"
    assert mount_rootfs([l2, l1], over / "u", over / "w", over / "m") == "overlay"
    try:
        expected = _tree(over / "m")
    finally:
        unmount_rootfs(over / "m")
    assert "etc/motd" not in expected and "var/www" not in expected and "var/new" in expected
    assert "usr/bin" not in expected and "usr/sbin" in expected
    assert mount_rootfs([l2, l1], copy / "u", copy / "w", copy / "m", method="copy") == "copy"
    assert _tree(copy / "m") == expected
    assert _chroot(copy / "m", "ls", "/var") == "new\n"
    (copy / "m" / "mine").write_text("kept")
    assert mount_rootfs([l2, l1], copy / "u", copy / "w", copy / "m") == "copy"  # no-op
    assert (copy / "m" / "mine").read_text() == "kept"
    unmount_rootfs(copy / "m")  # nothing mounted: no-op


def test_many_layers_mount_one_by_one(root: Root) -> None:
    """More layers than mount(2)'s one page of options takes: fsconfig's lowerdir+."""
    lowers = []
    for i in range(70):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for name in (f"f{i}", "top"):
                ti = tarfile.TarInfo(name)
                ti.size = len(str(i))
                tf.addfile(ti, io.BytesIO(str(i).encode()))
        buf.seek(0)
        lowers.insert(0, root.paths.layers / hashlib.sha256(buf.getvalue()).hexdigest())
        extract_layer(buf, lowers[0])
    with pytest.raises(StoreError, match="too many layers"):
        overlay_options(lowers, root.base / "u", root.base / "w")
    merged = root.base / "m"
    assert mount_rootfs(lowers, root.base / "u", root.base / "w", merged) == "overlay"
    try:
        assert (merged / "f0").read_text() == "0" and (merged / "f69").read_text() == "69"
        assert (merged / "top").read_text() == "69"  # the first lower is the top one
    finally:
        unmount_rootfs(merged)
    assert not is_mounted(merged)


def test_overlay_option_limit() -> None:
    lowers = [Path("/var/lib/podium/layers") / (f"{i:02d}" * 32) for i in range(80)]
    with pytest.raises(StoreError, match="too many layers"):
        overlay_options(lowers, Path("/u"), Path("/w"))
    with pytest.raises(StoreError, match="contains"):
        overlay_options([Path("/a:b")], Path("/u"), Path("/w"))


def test_concurrent_imports_of_one_layer(root: Root, rootfs_tar: Path) -> None:
    code = ("import sys; from podium.engine.paths import Paths; "
            "from podium.engine.state.store import Store; "
            "from podium.engine.images import ImageStore; "
            "p = Paths(sys.argv[1], sys.argv[2]); "
            "ImageStore(p, Store(p.db)).import_rootfs(sys.argv[3], sys.argv[4])")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(root.paths.root),
                               str(root.paths.runroot), str(rootfs_tar), f"img{i}"],
                              cwd=REPO, stderr=subprocess.PIPE, text=True) for i in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert sorted(n for i in root.images.list() for n in i["names"]) == [
        f"localhost/img{i}:latest" for i in range(4)]
    assert len(list(root.paths.layers.iterdir())) == 1
    assert list(root.paths.tmp.iterdir()) == []
    assert (root.paths.layer(tar_digest(rootfs_tar)) / "bin/busybox").is_file()


def test_image_prune(podium: Podium, rootfs_tar: Path) -> None:
    """Dangling images go; -a also takes named ones no container uses; used ones always stay."""
    first = podium("import", str(rootfs_tar), "localhost/p:1", "--change", "CMD [\"sh\"]").stdout.strip()
    second = podium("import", str(rootfs_tar), "localhost/p:1", "--change", "CMD [\"true\"]").stdout.strip()
    assert first != second  # the name moved: the first image is dangling now
    podium("import", str(rootfs_tar), "localhost/used:1")
    podium("create", "--name", "holder", "localhost/used:1", "true")
    ids = lambda: {line.split()[0] for line in podium("images", "-q", "--no-trunc").stdout.split()}  # noqa: E731
    assert podium("image", "prune", input="n\n").stdout.startswith("WARNING!")
    assert len(ids()) == 3
    out = podium("image", "prune", "-f").stdout
    assert out.split() == [first.removeprefix("sha256:")] or out.split() == [first]
    assert len(ids()) == 2
    podium("image", "prune", "-a", "-f")
    names = podium("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert names == ["localhost/used:1"]
