"""``cp``: copy files between the host and a container's root filesystem.

Paths inside the container are resolved with every symlink chased *within*
the container's root, so a link in the image can never make podium read or
write the host. The root filesystem is mounted for the copy when the
container is not running.
"""

from __future__ import annotations

import os
import shutil
from contextlib import contextmanager

from .errors import ConfigError, NotFound
from .state import status as st

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator

if TYPE_CHECKING:
    from .engine import Engine


def split_ref(arg: str) -> tuple[str | None, str]:
    """``ctr:/path`` -> ("ctr", "/path"); a host path (absolute, ./ or no colon) -> (None, path)."""
    if arg.startswith("/") or arg.startswith(".") or ":" not in arg:
        return None, arg
    ctr, _, path = arg.partition(":")
    return ctr, path or "/"


@contextmanager
def mounted_rootfs(engine: "Engine", ref: str) -> Iterator[str]:
    from .storage.overlay import is_mounted, mount_rootfs, unmount_rootfs
    c = engine.containers.get(ref)
    cdir = engine.paths.container_dir(c["id"])
    merged = cdir / "merged"
    with engine.containers.lock(c["id"]):
        c = engine.containers.sync(engine.containers.reload(c["id"]))
        running = c["state"]["status"] in st.ACTIVE and is_mounted(merged)
        mode = None
        if not running:
            image = engine.store.image(c["image_id"])
            if image is None:
                raise NotFound(f"image of container {c['name']} was removed")
            mode = mount_rootfs(engine.images.layer_dirs(image), cdir / "upper", cdir / "work", merged)
        try:
            yield str(merged)
        finally:
            if mode == "overlay":
                unmount_rootfs(merged)


def copy(engine: "Engine", src: str, dst: str) -> None:
    from .runtime.users import resolve_in_root
    sc, spath = split_ref(src)
    dc, dpath = split_ref(dst)
    if (sc is None) == (dc is None):
        raise ConfigError("copying between containers or within the host is not supported: "
                          "one of SRC and DEST must be CONTAINER:PATH")
    if sc is not None:
        with mounted_rootfs(engine, sc) as root:
            host_src = resolve_in_root(root, spath)
            if not os.path.lexists(host_src):
                raise NotFound(f"{spath}: no such file or directory in container {sc}")
            _copy(host_src, dpath)
    else:
        if not os.path.lexists(spath):
            raise NotFound(f"{spath}: no such file or directory")
        assert dc is not None
        with mounted_rootfs(engine, dc) as root:
            target = resolve_in_root(root, dpath)
            if not os.path.realpath(target).startswith(os.path.realpath(root)):
                raise ConfigError(f"{dpath} resolves outside the container")
            _copy(spath, target)


def _copy(src: str, dst: str) -> None:
    """docker cp's rules: into an existing directory, or to the given name."""
    if os.path.isdir(dst) and not os.path.islink(dst):
        dst = os.path.join(dst, os.path.basename(src.rstrip("/")))
    if os.path.isdir(src) and not os.path.islink(src):
        shutil.copytree(src, dst, symlinks=True, dirs_exist_ok=True)
    else:
        parent = os.path.dirname(dst) or "."
        if not os.path.isdir(parent):
            raise NotFound(f"{parent}: no such directory")
        shutil.copy2(src, dst, follow_symlinks=False)
