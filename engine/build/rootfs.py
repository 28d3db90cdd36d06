"""A scratch root filesystem for COPY, ADD and WORKDIR: layers in, one new layer out.

``Workspace`` mounts an image's layers with a fresh upper directory (overlay,
or a full copy where overlay is refused, exactly as a container's rootfs is
made), lets the builder write into it from the host, then turns the changes
into a layer with the same differ a RUN container's changes go through.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ..fsutil import rmtree
from ..storage.overlay import mount_rootfs, unmount_rootfs
from . import commit

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..engine import Engine


class Workspace:
    """Context manager: ``merged`` is the writable rootfs; ``commit()`` stores the diff."""

    def __init__(self, engine: "Engine", diff_ids: list[str]) -> None:
        self.engine = engine
        self.lowers = [engine.paths.layer(d) for d in reversed(diff_ids)]
        engine.paths.ensure()
        self.dir = Path(tempfile.mkdtemp(prefix="build-", dir=engine.paths.tmp))
        self.merged = self.dir / "merged"
        self.mode = ""

    def __enter__(self) -> "Workspace":
        try:
            self.mode = mount_rootfs(self.lowers, self.dir / "upper", self.dir / "work",
                                     self.merged)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def scratch(self) -> str:
        """A directory outside the rootfs for temporary files (unpacked archives)."""
        d = self.dir / "scratch"
        d.mkdir(exist_ok=True)
        return str(d)

    def close(self) -> None:
        if self.mode == "overlay":
            unmount_rootfs(self.merged)
            self.mode = "closed"
        rmtree(self.dir)  # never crosses into a mount that failed to go away

    def changed(self) -> bool:
        """Whether anything was written (overlay only; a copy always counts as changed)."""
        if self.mode != "overlay":
            return True
        return any(os.scandir(self.dir / "upper"))

    def commit(self) -> tuple[str, int]:
        """Unmount, diff, store: (diff_id, size) of the new layer."""
        if self.mode == "overlay":
            unmount_rootfs(self.merged)
            self.mode = "closed"
        tar = self.dir / "layer.tar"
        changes_to_layer(self.dir / "upper", self.merged, self.lowers, tar,
                         copied=self.mode == "copy")
        return commit.store_layer(self.engine, tar)


def changes_to_layer(upper: Path, merged: Path, lowers: list[Path], out: Path, *,
                     copied: bool) -> int:
    """Upper dir (overlay) or full copy -> layer tarball at ``out``."""
    if copied:
        return commit.diff_copy(merged, lowers, out)
    if commit.needs_merged_view(upper):
        view = Path(tempfile.mkdtemp(prefix="view-", dir=out.parent))
        try:
            mode = mount_rootfs([upper, *lowers], view / "u", view / "w", view / "m")
            try:
                return commit.diff_copy(view / "m", lowers, out)
            finally:
                if mode == "overlay":
                    unmount_rootfs(view / "m")
        finally:
            rmtree(view)
    return commit.diff_upper(upper, lowers, out)
