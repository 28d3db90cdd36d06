"""podium's image builder: a Containerfile and a context directory in, an image out.

The one public entry point is ``build``; compose's ``build:`` and ``play kube
--build`` call it exactly as ``podium build`` does. The pieces, each in its own
module, are: ``parser`` (Containerfile text -> located instructions, ARG/ENV
substitution), ``ignore`` (.containerignore/.dockerignore patterns), ``context``
(the build context, read safely: nothing outside it is ever copied), ``cache``
(the layer cache, kept as files under the storage root), ``commit`` (a
container's upper directory -> an OCI layer tarball) and ``executor`` (runs the
stages: RUN in a real container on the runtime, COPY/ADD into a layer, config
instructions into the image config).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable

    from ..engine import Engine

__all__ = ["build"]


def build(engine: "Engine", context: str, *, containerfile: str | None = None,
          tags: list[str] = (), build_args: dict[str, str] | None = None,
          target: str | None = None, no_cache: bool = False,
          labels: dict[str, str] | None = None,
          progress: "Callable[[str], None] | None" = None) -> str:
    """Build an image from ``context`` and return its id (64 hex digits, no ``sha256:``).

    ``containerfile`` is a path (relative to the current directory, or absolute);
    by default ``Containerfile``, else ``Dockerfile``, in the context. ``tags``
    name the result (``localhost/`` is added to names without a registry).
    ``build_args`` feed ``ARG``; ``target`` stops at that stage; ``no_cache``
    runs every step again; ``labels`` are added to the image config last.
    ``progress`` receives one line per step (``STEP 2/5: RUN ...``) and the
    output of RUN commands. Errors are ``PodiumError``s: ``ConfigError`` for a
    bad Containerfile (naming its line), a source outside the context, or an
    unknown stage; ``ImageNotFound`` for a FROM image not in the store;
    ``RuntimeFailure`` when a RUN command exits non-zero. A failed build leaves
    no image and no name behind.
    """
    from .executor import Builder

    return Builder(engine, context, containerfile=containerfile, tags=list(tags),
                   build_args=dict(build_args or {}), target=target, no_cache=no_cache,
                   labels=dict(labels or {}), progress=progress).run()
