"""users.py: a container's ``user`` string against the image's /etc/passwd and /etc/group."""

from __future__ import annotations

import os

import pytest

from podium.engine.errors import ConfigError
from podium.engine.runtime.users import resolve_in_root, resolve_user
from tests.rootfs import GROUP, PASSWD


@pytest.fixture()
def rootfs(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text(PASSWD)
    (tmp_path / "etc" / "group").write_text(GROUP + "wheel:x:10:daemon,www\n")
    return str(tmp_path)


@pytest.mark.parametrize(
    "user, uid, gid, extra, home",
    [
        ("", 0, 0, [], "/root"),
        ("root", 0, 0, [0], "/root"),
        ("www", 33, 33, [33, 100, 10], "/var/www"),
        ("33", 33, 33, [33, 100, 10], "/var/www"),
        ("www:users", 33, 100, [100], "/var/www"),
        ("www:100", 33, 100, [100], "/var/www"),
        ("www:4242", 33, 4242, [4242], "/var/www"),
        ("1000", 1000, 0, [0], None),
        ("1000:1000", 1000, 1000, [1000], None),
        ("daemon:nogroup", 1, 65534, [65534], "/usr/sbin"),
    ],
)
def test_resolution(rootfs, user, uid, gid, extra, home):
    u = resolve_user(user, rootfs)
    assert (u["uid"], u["gid"], u["additionalGids"], u["home"]) == (uid, gid, extra, home)


def test_numeric_ids_need_no_files(tmp_path):
    assert resolve_user("1000:2000", str(tmp_path))["uid"] == 1000
    u = resolve_user("", str(tmp_path))
    assert (u["uid"], u["gid"], u["additionalGids"], u["home"]) == (0, 0, [], None)
    assert resolve_user("5", None)["uid"] == 5


def test_unknown_user(rootfs):
    with pytest.raises(ConfigError, match="unable to find user nosuch: no matching entries in passwd file"):
        resolve_user("nosuch", rootfs)


def test_unknown_user_without_passwd_file(tmp_path):
    with pytest.raises(ConfigError, match="unable to find user www"):
        resolve_user("www", str(tmp_path))


def test_unknown_group(rootfs):
    with pytest.raises(ConfigError, match="unable to find group staff: no matching entries in group file"):
        resolve_user("www:staff", rootfs)


def test_out_of_range(rootfs):
    with pytest.raises(ConfigError, match="out of range"):
        resolve_user(str(2**32), rootfs)


def test_comments_and_blank_lines(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "passwd").write_text("# hello\n\nbob:x:7:8::/home/bob:/bin/sh\n")
    u = resolve_user("bob", str(tmp_path))
    assert (u["uid"], u["gid"], u["home"]) == (7, 8, "/home/bob")


def test_symlinked_passwd_stays_inside_rootfs(tmp_path):
    """An absolute symlink in the image points into the image, never at the host's file."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "real").mkdir()
    (root / "real" / "passwd").write_text("app:x:77:77::/app:/bin/sh\n")
    os.symlink("/real/passwd", root / "etc" / "passwd")
    assert resolve_user("app", str(root))["uid"] == 77
    os.symlink("../../../../../../etc/shadow", root / "etc" / "group")
    assert resolve_in_root(str(root), "/etc/group") == str(root / "etc" / "shadow")


def test_symlink_loop(tmp_path):
    (tmp_path / "etc").mkdir()
    os.symlink("/etc/passwd", tmp_path / "etc" / "passwd")
    with pytest.raises(ConfigError, match="symbolic links"):
        resolve_user("www", str(tmp_path))
