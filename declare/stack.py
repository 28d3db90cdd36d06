"""A stack's bookkeeping: owner labels, the applied-spec store, files, and the stack lock.

Every engine object podium makes for a stack carries owner labels: the stack,
the resource's kind and name, and the config hash of its normalized desired
spec. Ownership is read back from those labels only: an object without them,
or with another stack's, is never touched.

The spec behind each hash is kept, content-addressed, under
``<root>/stacks/specs/<hash>.json`` (written before the object is made), so a
later diff can say which field changed (``config changed: env.ROLE``) and
show a unified diff. A missing spec file only costs that detail.

``lock`` is a ``flock`` on ``<root>/stacks/<stack>.lock``: two applies of one
stack never interleave (the second waits, or fails at once with
``wait=False``). The kernel drops the lock when its process dies, so a
SIGKILLed apply never blocks the next one.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

from podium.engine.errors import InUse

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

L_STACK = "io.podium.stack"
L_KIND = "io.podium.stack.kind"
L_NAME = "io.podium.stack.name"
L_HASH = "io.podium.stack.config-hash"
L_SOURCE = "io.podium.stack.source"
L_GROUP = "io.podium.stack.group"      # the workload a replica belongs to: compose/<project>/<service>, kube/<Kind>/<name>
L_PRUNE = "io.podium.prune"
OWNER_LABELS = (L_STACK, L_KIND, L_NAME, L_HASH, L_SOURCE, L_GROUP)


def owner_labels(stack: str, kind: str, name: str, hash_: str, source: str, group: str = "") -> dict[str, str]:
    out = {L_STACK: stack, L_KIND: kind, L_NAME: name, L_HASH: hash_, L_SOURCE: source}
    if group:
        out[L_GROUP] = group
    return out


def stacks_dir(root: str) -> str:
    return os.path.join(root, "stacks")


def files_dir(root: str, stack: str) -> str:
    """Where the stack's config files (compose secrets and configs) live."""
    return os.path.join(stacks_dir(root), "files", stack)


# ---- the applied-spec store ----------------------------------------------------------------

class SpecStore:
    """Specs by hash, written once (temp file + rename), read when a diff needs them."""

    def __init__(self, root: str) -> None:
        self.dir = os.path.join(stacks_dir(root), "specs")

    def path(self, h: str) -> str:
        return os.path.join(self.dir, f"{h}.json")

    def put(self, h: str, spec: dict[str, Any]) -> None:
        p = self.path(h)
        if os.path.exists(p):
            return
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        tmp = f"{p}.tmp{os.getpid()}.{id(spec)}"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(spec, f, sort_keys=True, default=str)
        os.replace(tmp, p)

    def get(self, h: str) -> dict[str, Any] | None:
        if not h or not all(c in "0123456789abcdef" for c in h):
            return None
        try:
            with open(self.path(h), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def keep_only(self, hashes: set[str]) -> None:
        """Drop specs no owned object refers to any more (every stack's hashes must be given)."""
        try:
            names = os.listdir(self.dir)
        except OSError:
            return
        for n in names:
            if n.endswith(".json") and n[:-5] not in hashes:
                try:
                    os.unlink(os.path.join(self.dir, n))
                except OSError:
                    pass


# ---- the lock ------------------------------------------------------------------------------

@contextmanager
def lock(root: str, stack: str, *, wait: bool = True) -> Iterator[None]:
    """Hold the stack's lock; ``wait=False`` raises ``InUse`` naming the holder at once."""
    import fcntl

    d = stacks_dir(root)
    os.makedirs(d, mode=0o700, exist_ok=True)
    path = os.path.join(d, f"{stack}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            holder = ""
            try:
                holder = os.pread(fd, 64, 0).decode().strip()
            except OSError:
                pass
            raise InUse(f"stack {stack!r} is being applied by another podium process"
                        + (f" (pid {holder})" if holder else "")
                        + ": retry later, or leave out --no-wait-lock to wait for it") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)
