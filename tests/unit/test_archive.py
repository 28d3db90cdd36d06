"""Layer extraction against hostile and broken tarballs; image archive read/write.

Every hostile case checks three things: ArchiveError, nothing written outside
the destination (a snapshot of the whole test directory, with a sentinel
directory that symlinks point at), and no destination or temp dir left behind.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import stat
import tarfile
from pathlib import Path
from typing import Any

import pytest

from podium.engine.errors import ArchiveError
from podium.engine.storage.imagearchive import (SaveImage, open_image_archive,
                                                read_image_archive, write_docker_archive,
                                                write_oci_archive)
from podium.engine.storage.layers import extract_layer

ROOT = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT, reason="needs root (mknod, chown, trusted xattrs)")


class Entry(tarfile.TarInfo):
    __slots__ = ("data",)


def entry(name: str, kind: str = "file", data: bytes = b"", **kw: Any) -> Entry:
    ti = Entry(name)
    ti.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
               "link": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE, "blk": tarfile.BLKTYPE,
               "fifo": tarfile.FIFOTYPE}[kind]
    ti.size = len(data) if kind == "file" else 0
    ti.mode = kw.pop("mode", 0o755 if kind == "dir" else 0o644)
    ti.mtime = kw.pop("mtime", 1_600_000_000)
    for k, v in kw.items():
        setattr(ti, k, v)
    ti.data = data
    return ti


def make_tar(entries: list[Entry], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for ti in entries:
            tf.addfile(ti, io.BytesIO(ti.data) if ti.isreg() else None)
    return buf.getvalue()


def snapshot(top: Path) -> dict[str, tuple[int, int, bytes | str | None]]:
    """Every path under ``top`` (symlinks not followed) with type, size and content."""
    out: dict[str, Any] = {}
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            content: Any = None
            if stat.S_ISREG(st.st_mode):
                content = Path(p).read_bytes()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(p)
            out[os.path.relpath(p, top)] = (stat.S_IFMT(st.st_mode), st.st_size, content)
    return out


@pytest.fixture
def box(tmp_path: Path) -> dict[str, Path]:
    """tmp/outside/canary (the sentinel), tmp/a/b/ (parent of dest; ../.. lands in tmp)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary").write_text("untouched\n")
    parent = tmp_path / "a" / "b"
    parent.mkdir(parents=True)
    return {"top": tmp_path, "outside": outside, "parent": parent, "dest": parent / "dest"}


def assert_refused(box: dict[str, Path], data: bytes, match: str) -> None:
    src = box["top"] / "layer.tar"
    src.write_bytes(data)
    before = snapshot(box["top"])
    with pytest.raises(ArchiveError, match=match):
        extract_layer(src, box["dest"], copy_to=box["top"] / "blob")
    assert snapshot(box["top"]) == before  # nothing outside, no dest, no temp, no blob
    assert not os.path.lexists(box["dest"])
    assert list(box["parent"].iterdir()) == []


HOSTILE = {
    "dotdot": ([entry("../../escaped", data=b"x")], "escapes"),
    "dotdot-inner": ([entry("a/../../../escaped", data=b"x")], "escapes"),
    "dotdot-dir": ([entry("../../evil", "dir")], "escapes"),
    "symlink-abs-then-file": ([entry("evil", "sym", linkname="{outside}"),
                               entry("evil/canary", data=b"pwned")], "symlink"),
    "symlink-etc-then-file": ([entry("evil", "sym", linkname="/etc"),
                               entry("evil/podium-test-must-not-exist", data=b"pwned")], "symlink"),
    "symlink-up-then-file": ([entry("up", "sym", linkname="../../.."),
                              entry("up/escaped", data=b"pwned")], "symlink"),
    "symlink-then-dir": ([entry("d", "sym", linkname="{outside}"),
                          entry("d/sub", "dir")], "symlink"),
    "nested-symlink-dir": ([entry("x", "dir"), entry("x/y", "sym", linkname="{outside}"),
                            entry("x/y/z/w", data=b"pwned")], "symlink"),
    "hardlink-etc-passwd": ([entry("h", "link", linkname="/etc/passwd")], "hard link"),
    "hardlink-dotdot": ([entry("h", "link", linkname="../../outside/canary")], "escapes"),
    "hardlink-through-symlink": ([entry("s", "sym", linkname="{outside}"),
                                  entry("h", "link", linkname="s/canary")], "symlink"),
    "hardlink-missing": ([entry("h", "link", linkname="nothing/here")], "does not exist"),
    "hardlink-to-dir": ([entry("d", "dir"), entry("h", "link", linkname="d")], "directory"),
    "chardev": ([entry("dev", "dir"), entry("dev/sda", "chr", devmajor=8, devminor=0)],
                "device"),
    "blockdev": ([entry("dev/sda", "blk", devmajor=8, devminor=0)], "device"),
    "root-as-file": ([entry("./", "sym", linkname="/")], "root"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_tarball_refused(box: dict[str, Path], case: str) -> None:
    entries, match = HOSTILE[case]
    for ti in entries:
        ti.linkname = ti.linkname.replace("{outside}", str(box["outside"]))
    assert_refused(box, make_tar(entries), match)
    assert not os.path.exists("/etc/podium-test-must-not-exist")
    assert (box["outside"] / "canary").read_text() == "untouched\n"


def test_absolute_paths_stay_inside(box: dict[str, Path]) -> None:
    target = box["outside"] / "abs-file"
    data = make_tar([entry(str(target), data=b"inside"), entry("/", "dir", mode=0o755)])
    extract_layer(io.BytesIO(data), box["dest"])
    assert not target.exists()
    assert (box["dest"] / str(target).lstrip("/")).read_bytes() == b"inside"


def test_file_replaces_symlink_instead_of_following_it(box: dict[str, Path]) -> None:
    canary = box["outside"] / "canary"
    data = make_tar([entry("x", "sym", linkname=str(canary)), entry("x", data=b"regular")])
    extract_layer(io.BytesIO(data), box["dest"])
    assert canary.read_text() == "untouched\n"
    assert not (box["dest"] / "x").is_symlink()
    assert (box["dest"] / "x").read_bytes() == b"regular"


def test_symlinks_are_kept_verbatim_never_followed(box: dict[str, Path]) -> None:
    data = make_tar([entry("bin", "dir"), entry("bin/busybox", data=b"\x7fELF"),
                     entry("bin/sh", "sym", linkname="/bin/busybox"),
                     entry("up", "sym", linkname="../../../../")])
    extract_layer(io.BytesIO(data), box["dest"])
    assert os.readlink(box["dest"] / "bin/sh") == "/bin/busybox"
    assert os.readlink(box["dest"] / "up") == "../../../../"


def test_truncated_archive_leaves_nothing(box: dict[str, Path]) -> None:
    data = make_tar([entry("a", data=os.urandom(20000)), entry("b", data=b"y" * 5000)])
    for cut in (700, 12000, 19556, 20992, 26624, 26700):
        assert_refused(box, data[:cut], "truncated|corrupt")


def test_corrupt_header_in_the_middle_is_refused(box: dict[str, Path]) -> None:
    good = make_tar([entry("a", data=b"x" * 600)])
    # a second header of garbage after the first file's data (tarfile would stop silently)
    data = good[:1536] + os.urandom(512) + good[1536:]
    assert_refused(box, data, "truncated|corrupt")


def test_truncated_gzip_leaves_nothing(box: dict[str, Path]) -> None:
    data = gzip.compress(make_tar([entry("a", data=os.urandom(50000))]))
    assert_refused(box, data[: len(data) // 2], "truncated|corrupt|compressed|read")


def test_garbage_is_refused(box: dict[str, Path]) -> None:
    assert_refused(box, b"this is not a tar archive at all" * 40, "corrupt|truncated|read")
    assert_refused(box, b"", "corrupt|truncated|empty|read")


def test_diff_id_size_and_blob_copy(tmp_path: Path) -> None:
    data = make_tar([entry("etc", "dir"), entry("etc/hosts", data=b"127.0.0.1 localhost\n")])
    expected = "sha256:" + hashlib.sha256(data).hexdigest()
    assert extract_layer(io.BytesIO(data), tmp_path / "plain",
                         copy_to=tmp_path / "blob") == (expected, len(data))
    assert (tmp_path / "blob").read_bytes() == data
    # compressed input: the diff_id is still that of the uncompressed stream
    assert extract_layer(io.BytesIO(gzip.compress(data)), tmp_path / "gz")[0] == expected
    assert (tmp_path / "gz/etc/hosts").read_bytes() == b"127.0.0.1 localhost\n"
    with pytest.raises(FileExistsError):
        extract_layer(io.BytesIO(data), tmp_path / "gz")


def _zstd(data: bytes) -> bytes:
    import shutil
    import subprocess

    if shutil.which("zstd") is None:
        pytest.skip("zstd is not installed")
    return subprocess.run(["zstd", "-q", "-c"], input=data, capture_output=True,
                          check=True).stdout


@pytest.mark.parametrize("compress", ["gzip", "bz2", "xz", "zstd"])
def test_compressed_layers(tmp_path: Path, compress: str) -> None:
    import bz2
    import lzma

    data = make_tar([entry("f", data=os.urandom(70000)), entry("g", "sym", linkname="f")])
    packed = {"gzip": gzip.compress, "bz2": bz2.compress, "xz": lzma.compress,
              "zstd": _zstd}[compress](data)
    assert extract_layer(io.BytesIO(packed), tmp_path / "d", copy_to=tmp_path / "b") == (
        "sha256:" + hashlib.sha256(data).hexdigest(), len(data))
    assert (tmp_path / "b").read_bytes() == data
    assert os.readlink(tmp_path / "d/g") == "f"
    # cut short: refused, nothing left behind
    with pytest.raises(ArchiveError):
        extract_layer(io.BytesIO(packed[: len(packed) * 2 // 3]), tmp_path / "e",
                      copy_to=tmp_path / "c")
    assert sorted(os.listdir(tmp_path)) == ["b", "d"]


def test_empty_layer(tmp_path: Path) -> None:
    diff_id, size = extract_layer(io.BytesIO(b"\0" * 1024), tmp_path / "empty")
    assert diff_id == "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
    assert size == 1024 and list((tmp_path / "empty").iterdir()) == []
    assert stat.S_IMODE((tmp_path / "empty").stat().st_mode) == 0o755


@needs_root
def test_metadata_is_preserved(tmp_path: Path) -> None:
    f = entry("srv/data/file", data=b"abc", mode=0o4750, uid=33, gid=100, mtime=1_500_000_000)
    f.pax_headers = {"SCHILY.xattr.user.podium": "yes",
                     "SCHILY.xattr.trusted.overlay.redirect": "/etc"}
    data = make_tar([
        entry("srv", "dir", mode=0o711, uid=1, gid=1, mtime=1_400_000_000),
        entry("srv/data", "dir", mode=0o1777),
        f,
        entry("srv/link", "link", linkname="srv/data/file"),
        entry("srv/pipe", "fifo", mode=0o600),
        entry("srv/sym", "sym", linkname="/nowhere", uid=5, gid=6),
    ])
    extract_layer(io.BytesIO(data), tmp_path / "d")
    d = tmp_path / "d"
    st = os.stat(d / "srv/data/file")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime) == (
        0o4750, 33, 100, 1_500_000_000)
    try:
        assert os.getxattr(d / "srv/data/file", "user.podium") == b"yes"
    except OSError:  # a filesystem without user xattrs
        pass
    assert "trusted.overlay.redirect" not in os.listxattr(d / "srv/data/file")
    assert os.stat(d / "srv/link").st_ino == st.st_ino
    assert stat.S_ISFIFO(os.stat(d / "srv/pipe").st_mode)
    sst = os.lstat(d / "srv")
    assert (stat.S_IMODE(sst.st_mode), sst.st_uid, sst.st_mtime) == (0o711, 1, 1_400_000_000)
    assert stat.S_IMODE(os.stat(d / "srv/data").st_mode) == 0o1777
    assert (os.lstat(d / "srv/sym").st_uid, os.lstat(d / "srv/sym").st_gid) == (5, 6)


@needs_root
def test_whiteouts_become_overlay_whiteouts(tmp_path: Path) -> None:
    data = make_tar([
        entry("etc", "dir"), entry("etc/.wh.motd", data=b""),
        entry("var", "dir"), entry("var/.wh..wh..opq", data=b""),
        entry(".wh..wh.plnk", "dir"),  # aufs metadata: ignored
        entry("dev", "dir"), entry("dev/gone", "chr", devmajor=0, devminor=0),
    ])
    extract_layer(io.BytesIO(data), tmp_path / "L")
    for p in (tmp_path / "L/etc/motd", tmp_path / "L/dev/gone"):
        st = os.lstat(p)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert not os.path.lexists(tmp_path / "L/etc/.wh.motd")
    assert os.getxattr(tmp_path / "L/var", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(tmp_path / "L")) == ["dev", "etc", "var"]


# ---- image archives -------------------------------------------------------------------

def _image(layer: bytes) -> tuple[bytes, str]:
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    return config, diff_id


def test_write_then_read_both_formats(tmp_path: Path) -> None:
    layer = make_tar([entry("hello", data=b"world")])
    (tmp_path / "layer.tar").write_bytes(layer)
    config, diff_id = _image(layer)
    img = SaveImage(["localhost/hello:1"], config, [tmp_path / "layer.tar"], [diff_id])
    write_docker_archive(tmp_path / "d.tar", [img])
    write_oci_archive(tmp_path / "o.tar", [img])
    for fmt, docker in (("d", True), ("o", False)):
        with open_image_archive(tmp_path / f"{fmt}.tar") as arc:
            [im] = arc.images
            assert (im.config, im.names, im.docker_names) == (config, ["localhost/hello:1"], docker)
            assert im.layers[0].diff_id == diff_id
            extract_layer(im.layers[0].open(), tmp_path / f"x{fmt}")
        assert (tmp_path / f"x{fmt}/hello").read_bytes() == b"world"
    # gzip-compressed outer archive, given as a stream
    gz = gzip.compress((tmp_path / "o.tar").read_bytes())
    [im] = read_image_archive(io.BytesIO(gz), tmpdir=tmp_path)
    assert im.config == config
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def _docker_archive(tmp_path: Path, manifest: Any, files: dict[str, bytes]) -> Path:
    entries = [entry(n, data=d) for n, d in files.items()]
    entries.append(entry("manifest.json", data=json.dumps(manifest).encode()))
    out = tmp_path / "arc.tar"
    out.write_bytes(make_tar(entries))
    return out


def test_archive_paths_cannot_escape(tmp_path: Path) -> None:
    arc = _docker_archive(tmp_path, [{"Config": "../../../etc/passwd", "RepoTags": [],
                                      "Layers": []}], {})
    with pytest.raises(ArchiveError, match="escapes"):
        read_image_archive(arc)
    config, _ = _image(b"")
    arc = _docker_archive(tmp_path, [{"Config": "c.json", "Layers": ["/etc/passwd"]}],
                          {"c.json": config})
    with pytest.raises(ArchiveError):
        read_image_archive(arc)


def test_archive_digests_are_verified(tmp_path: Path) -> None:
    layer = make_tar([entry("f", data=b"data")])
    config, diff_id = _image(layer)
    bad_name = hashlib.sha256(b"other").hexdigest() + ".json"
    arc = _docker_archive(tmp_path, [{"Config": bad_name, "Layers": ["l.tar"]}],
                          {bad_name: config, "l.tar": layer})
    with pytest.raises(ArchiveError, match="digest"):
        read_image_archive(arc)
    # an OCI layer blob whose bytes do not match its digest fails while being extracted
    (tmp_path / "l.tar").write_bytes(layer)
    write_oci_archive(tmp_path / "o.tar", [SaveImage(["x"], config, [tmp_path / "l.tar"],
                                                     [diff_id])])
    raw = bytearray((tmp_path / "o.tar").read_bytes())
    pos = raw.find(b"data")
    raw[pos:pos + 4] = b"DATA"
    (tmp_path / "o.tar").write_bytes(bytes(raw))
    [im] = read_image_archive(tmp_path / "o.tar")
    with pytest.raises(ArchiveError, match="digest"):
        extract_layer(im.layers[0].open(), tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_truncated_image_archive(tmp_path: Path) -> None:
    layer = make_tar([entry("f", data=os.urandom(30000))])
    (tmp_path / "l.tar").write_bytes(layer)
    config, diff_id = _image(layer)
    write_docker_archive(tmp_path / "d.tar", [SaveImage([], config, [tmp_path / "l.tar"],
                                                        [diff_id])])
    raw = (tmp_path / "d.tar").read_bytes()
    (tmp_path / "t.tar").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ArchiveError):
        read_image_archive(tmp_path / "t.tar")


def test_not_an_image_archive(tmp_path: Path) -> None:
    (tmp_path / "x.tar").write_bytes(make_tar([entry("hello", data=b"x")]))
    with pytest.raises(ArchiveError, match="not an image archive"):
        read_image_archive(tmp_path / "x.tar")
