"""Resolve a container's ``user`` string against the image's /etc/passwd and /etc/group.

``""``, ``"1000"``, ``"1000:1000"``, ``"www"``, ``"www:users"``, ``"www:100"`` ->
``{"uid", "gid", "additionalGids", "home", "name"}``, following runc's
``libcontainer/user.GetExecUser`` (numeric ids need no files; a name must be
found; supplementary groups come from /etc/group membership only when no
group was given) and Podman's habit of listing the primary gid first in
``additionalGids`` whenever a user was given.

The files are read from inside the root filesystem with every symlink resolved
*within* it: an image whose etc/passwd is a symlink to /etc/shadow must not make
podium read the host's file.
"""

from __future__ import annotations

import os

from podium.engine.errors import ConfigError
from podium.engine.fsutil import resolve_beneath

_MAX_ID = 2**31 - 1


def resolve_in_root(root: str, path: str) -> str:
    """``path`` (absolute inside the container) as a host path under ``root``, symlinks chased inside ``root``."""
    return resolve_beneath(root, path, looped=lambda: ConfigError(
        f"too many levels of symbolic links resolving {path} in the image"))


def _read_db(rootfs: str | None, name: str) -> list[list[str]] | None:
    """The colon-separated records of /etc/<name> in the rootfs, or None if there is no such file."""
    if not rootfs:
        return None
    try:
        with open(resolve_in_root(rootfs, "/etc/" + name), encoding="utf-8", errors="replace") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError as e:
        raise ConfigError(f"cannot read /etc/{name} of the image: {e.strerror}") from None
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        rows.append(line.split(":"))
    return rows


def _int(text: str) -> int | None:
    if text.isdigit():
        return int(text)
    return None


def _check_range(value: int, what: str) -> int:
    if value > _MAX_ID:
        raise ConfigError(f"{what} {value} is out of range (0-{_MAX_ID})", field="user")
    return value


def resolve_user(user: str, rootfs: str | None) -> dict:
    """Resolve ``user`` (``name|uid[:group|gid]``, ``""`` = root) against ``rootfs``'s files.

    Returns ``{"uid", "gid", "additionalGids", "home", "name"}``; ``home`` and
    ``name`` are None when no passwd entry matched. Raises ConfigError for a
    user or group name that the image does not define.
    """
    user = (user or "").strip()
    user_arg, _, group_arg = user.partition(":")
    uid_num = _int(user_arg)
    gid_num = _int(group_arg)

    uid, gid, home, name = 0, 0, None, None
    passwd = _read_db(rootfs, "passwd")
    match = None
    for row in passwd or ():
        if len(row) < 4:
            continue
        row_uid = _int(row[2])
        if row_uid is None:
            continue
        if user_arg == "":
            hit = row_uid == 0
        elif uid_num is not None:
            hit = row_uid == uid_num
        else:
            hit = row[0] == user_arg
        if hit:
            match = row
            break
    if match is not None:
        name = match[0]
        uid = int(match[2])
        gid = _int(match[3]) or 0
        home = match[5] if len(match) > 5 and match[5] else None
    elif user_arg:
        if uid_num is None:
            raise ConfigError(f"unable to find user {user_arg}: no matching entries in passwd file",
                              field="user")
        uid = _check_range(uid_num, "uid")

    supplementary: list[int] = []
    if group_arg or name is not None:
        groups = _read_db(rootfs, "group")
        if group_arg:
            found = None
            for row in groups or ():
                row_gid = _int(row[2]) if len(row) > 2 else None
                if row_gid is None:
                    continue
                if (gid_num is not None and row_gid == gid_num) or (gid_num is None and row[0] == group_arg):
                    found = row_gid
                    break
            if found is None:
                if gid_num is None:
                    raise ConfigError(f"unable to find group {group_arg}: no matching entries in group file",
                                      field="user")
                found = _check_range(gid_num, "gid")
            gid = found
        else:
            for row in groups or ():
                if len(row) < 4:
                    continue
                row_gid = _int(row[2])
                if row_gid is None:
                    continue
                members = [m.strip() for m in row[3].split(",")]
                if name in members and row_gid not in supplementary:
                    supplementary.append(row_gid)

    additional: list[int] = []
    if user:
        additional.append(gid)
        additional.extend(g for g in supplementary if g != gid)
    return {"uid": uid, "gid": gid, "additionalGids": additional, "home": home, "name": name}
