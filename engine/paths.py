"""Where a storage root and a run root keep things.

One ``Paths`` value is made per engine from ``--root``/``--runroot`` (or the
``PODIUM_ROOT``/``PODIUM_RUNROOT`` variables, or the defaults of DESIGN.md); every
module asks it for locations instead of joining strings, so the layout is
written down once.

    ROOT/podium.db                SQLite store (WAL)
    ROOT/blobs/sha256/<hex>       content-addressed blobs (OCI image-layout style)
    ROOT/layers/<diffid-hex>/     one unpacked layer per uncompressed digest
    ROOT/containers/<id>/         upper/, work/, ctr.log, userdata
    ROOT/volumes/<name>/_data     named volumes
    ROOT/tmp/                     staging for imports (same filesystem: rename is atomic)
    RUNROOT/containers/<id>/      OCI bundle: config.json, pidfile, conmon.pid, attach
    RUNROOT/exits/<id>            conmon's exit files
    RUNROOT/persist/<id>/         conmon's persist dir
    RUNROOT/socks/                conmon's socket dir (short names: 108-byte limit)
    RUNROOT/runc/                 the OCI runtime's private state root
    RUNROOT/locks/<id>            one flock per container
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_ROOT = "/var/lib/podium"
DEFAULT_RUNROOT = "/run/podium"


def default_root() -> str:
    if os.geteuid() != 0:
        base = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
        return os.path.join(base, "podium")
    return DEFAULT_ROOT


def default_runroot() -> str:
    if os.geteuid() != 0:
        base = os.environ.get("XDG_RUNTIME_DIR") or f"/tmp/podium-run-{os.geteuid()}"
        return os.path.join(base, "podium")
    return DEFAULT_RUNROOT


class Paths:
    """The directory layout under one storage root and one run root."""

    def __init__(self, root: str | None = None, runroot: str | None = None) -> None:
        self.root = Path(os.path.abspath(root or os.environ.get("PODIUM_ROOT") or default_root()))
        self.runroot = Path(
            os.path.abspath(runroot or os.environ.get("PODIUM_RUNROOT") or default_runroot())
        )

    # storage root
    @property
    def db(self) -> Path:
        return self.root / "podium.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs" / "sha256"

    def blob(self, digest: str) -> Path:
        return self.blobs / digest.split(":", 1)[-1]

    @property
    def layers(self) -> Path:
        return self.root / "layers"

    def layer(self, diff_id: str) -> Path:
        return self.layers / diff_id.split(":", 1)[-1]

    def container_dir(self, cid: str) -> Path:
        return self.root / "containers" / cid

    def volume_dir(self, name: str) -> Path:
        return self.root / "volumes" / name

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    # run root
    def bundle(self, cid: str) -> Path:
        return self.runroot / "containers" / cid

    @property
    def exits(self) -> Path:
        return self.runroot / "exits"

    def exit_file(self, cid: str) -> Path:
        return self.exits / cid

    def persist(self, cid: str) -> Path:
        return self.runroot / "persist" / cid

    @property
    def socks(self) -> Path:
        return self.runroot / "socks"

    @property
    def runtime_root(self) -> Path:
        return self.runroot / "runc"

    def lock(self, name: str) -> Path:
        return self.runroot / "locks" / name

    def ensure(self) -> None:
        """Create the top-level directories once; cheap when they exist."""
        for d in (self.root, self.blobs, self.layers, self.root / "containers", self.tmp,
                  self.root / "volumes", self.runroot / "containers", self.exits,
                  self.runroot / "persist", self.socks, self.runtime_root, self.runroot / "locks"):
            d.mkdir(parents=True, exist_ok=True)
