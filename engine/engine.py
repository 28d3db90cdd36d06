"""The engine facade: one object every front door (CLI, REST, declare) calls.

It owns the paths, the store and the runtime choice for one storage root;
sub-APIs (containers, images, volumes) are built on first use so a command
only pays for what it touches.
"""

from __future__ import annotations

import sys
from functools import cached_property

from .paths import Paths
from .state.store import Store

TYPE_CHECKING = False

if TYPE_CHECKING:
    from .containers import Containers
    from .events import Events
    from .images import ImageStore
    from .networks import Networks
    from .pods import Pods
    from .runtime.oci import OCIRuntime
    from .volumes import Volumes


class Engine:
    """podium's embedded engine for one storage root and run root."""

    def __init__(self, *, root: str | None = None, runroot: str | None = None,
                 runtime: str | None = None) -> None:
        self.paths = Paths(root, runroot)
        self.runtime_override = runtime

    @cached_property
    def store(self) -> Store:
        if not self.paths.db.exists():
            self.paths.ensure()
        return Store(self.paths.db)

    @cached_property
    def runtime(self) -> "OCIRuntime":
        from .runtime.oci import OCIRuntime, pick_runtime
        return OCIRuntime(pick_runtime(self.runtime_override), self.paths.runtime_root)

    @cached_property
    def images(self) -> "ImageStore":
        from .images import ImageStore
        self.paths.ensure()
        return ImageStore(self.paths, self.store)

    @cached_property
    def containers(self) -> "Containers":
        from .containers import Containers
        return Containers(self)

    @cached_property
    def networks(self) -> "Networks":
        from .networks import Networks
        return Networks(self)

    @cached_property
    def pods(self) -> "Pods":
        from .pods import Pods
        return Pods(self)

    @cached_property
    def events(self) -> "Events":
        from .events import Events
        return Events(self.store)

    @cached_property
    def volumes(self) -> "Volumes":
        from .volumes import Volumes
        return Volumes(self)

    def self_command(self) -> list[str]:
        """How conmon's exit command re-enters podium for this store (absolute, no PATH search)."""
        argv = [sys.executable, "-m", "podium", "--root", str(self.paths.root),
                "--runroot", str(self.paths.runroot)]
        if self.runtime_override:
            argv += ["--runtime", self.runtime_override]
        return argv

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
