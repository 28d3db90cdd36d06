"""``podium build``: a Containerfile and a context directory in, an image id out."""

from __future__ import annotations

import argparse
import sys

from .command import Command, Parser, flag, kv, multi

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _build_args(p: Parser) -> None:
    multi(p, "-t", "--tag", help="name for the image (repeatable)")
    p.add_argument("-f", "--file", help="the Containerfile (default CONTEXT/Containerfile, "
                                        "else CONTEXT/Dockerfile; - reads stdin)")
    multi(p, "--build-arg", help="KEY=VALUE for an ARG (repeatable; KEY alone takes "
                                 "the value from the environment)")
    p.add_argument("--target", help="build up to this stage")
    flag(p, "--no-cache", help="run every step again instead of using the layer cache")
    multi(p, "--label", help="KEY=VALUE label added to the image (repeatable)")
    p.add_argument("--network", help="network for RUN: none (default), host or default")
    p.add_argument("--pull", default="missing", choices=["always", "missing", "never", "newer"],
                   help="pull policy for FROM and COPY --from images (default missing)")
    flag(p, "-q", "--quiet", help="print only the image id")
    p.add_argument("context", nargs="?", default=".", help="the build context directory")


def _parse_build_args(values: list[str]) -> dict[str, str]:
    import os

    from podium.engine.errors import ConfigError

    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not k:
            raise ConfigError(f"invalid --build-arg {v!r}: expected KEY=VALUE")
        if not sep:
            if k not in os.environ:
                continue  # Docker: a bare KEY not in the environment is ignored
            val = os.environ[k]
        out[k] = val
    return out


def do_build(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.build.executor import Builder
    from podium.engine.errors import ConfigError

    if a.network not in (None, "none", "host", "default", "bridge"):
        raise ConfigError(f"invalid --network {a.network!r}: use none, host or default")

    closed = []

    def say(line: str) -> None:
        if a.quiet or closed:
            return
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:  # the reader went away (| head): the build goes on
            closed.append(True)
            import os
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

    containerfile, stdin_copy = a.file, None
    if a.file == "-":  # the build file on stdin: a private copy the builder reads by path
        import os
        import tempfile

        fd, stdin_copy = tempfile.mkstemp(prefix="podium-build-", suffix=".Containerfile")
        with os.fdopen(fd, "wb") as f:
            f.write(sys.stdin.buffer.read())
        containerfile = stdin_copy
    try:
        iid = Builder(g.engine, a.context, containerfile=containerfile, tags=list(a.tag),
                      build_args=_parse_build_args(a.build_arg), target=a.target,
                      no_cache=a.no_cache, labels=kv(a.label, "label"), progress=say,
                      network=a.network, pull=a.pull).run()
    finally:
        if stdin_copy:
            import os
            os.unlink(stdin_copy)
    if not a.quiet:
        from podium.engine.images import normalize_name
        for t in a.tag:
            say(f"Successfully tagged {normalize_name(t)}")
    sys.stdout.write(iid + "\n")
    return 0


COMMANDS: dict[str, Command] = {
    "build": Command(do_build, _build_args, "Build an image from a Containerfile and a context "
                                            "directory."),
}
