"""Images from and to registries: the OCI distribution protocol, natively, on httpx.

    reference.py  names -> registry, repository, tag/digest
    config.py     registries.conf -> search registries, aliases, mirrors, insecure
    auth.py       containers-auth.json / Docker config.json credentials
    client.py     one registry's HTTP API: auth challenges, manifests, blobs, uploads
    manifest.py   media types, manifest lists, platform choice
    pull.py       reference -> verified layers -> store (store.py commits)
    push.py       local image -> registry (mounts, chunked gzip uploads)
    policy.py     pull policies (always, missing, never, newer)
    login.py      login / search; progress.py what the user sees

This package's ``__init__`` imports nothing: httpx is loaded by the modules
that talk to a registry, only when a command does.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..engine import Engine


def pull_image(engine: Engine, reference: str, options: Any = None) -> dict[str, Any]:
    """Pull ``reference`` into ``engine``'s store (``pull.PullOptions``); the image record.

    (Not named ``pull``: that name is the submodule, which the import system binds
    on this package as soon as it is imported. ``engine.images.pull`` is the same.)
    """
    return engine.images.pull(reference, options)


def ensure(engine: Engine, reference: str, policy: str | None = "missing",
           options: Any = None) -> dict[str, Any]:
    """The image, pulled first as ``policy`` says (see ``policy.py``)."""
    return engine.images.ensure(reference, policy, options)
