"""Per-object file locks, so many podium processes can act on one store safely.

SQLite transactions keep rows consistent; a container's lifecycle (mount,
runtime create, start, cleanup) spans processes — the CLI and conmon's exit
command — and takes this lock around each step (lock, reload, act).
"""

from __future__ import annotations

import fcntl
import os
from contextlib import contextmanager
from pathlib import Path

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Iterator


@contextmanager
def locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
