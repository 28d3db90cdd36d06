"""The ``podium`` command: global options, lazy command loading, one error translation.

Command modules are imported only when their command runs, so ``podium ps``
pays for click and the store, nothing else. Every PodiumError becomes one line
on stderr and its class's exit code (Podman's: 125, 126, 127); click's usage
errors exit 125 as Podman's do.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

# command name -> "module:attribute" under podium.cli
COMMANDS: dict[str, str] = {
    "run": "containers:run", "create": "containers:create", "start": "containers:start",
    "stop": "containers:stop", "kill": "containers:kill", "restart": "containers:restart",
    "rm": "containers:rm", "ps": "containers:ps", "logs": "containers:logs",
    "exec": "containers:exec_", "wait": "containers:wait", "inspect": "containers:inspect",
    "port": "containers:port", "top": "containers:top", "cp": "containers:cp",
    "rename": "containers:rename",
    "container": "containers:container",
    "images": "images:images", "import": "images:import_", "load": "images:load",
    "save": "images:save", "rmi": "images:rmi", "tag": "images:tag", "image": "images:image",
    "version": "system:version", "info": "system:info",
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy:
            mod, _, attr = self.lazy[name].partition(":")
            return getattr(importlib.import_module(f"podium.cli.{mod}"), attr)
        return super().get_command(ctx, name)


class State:
    """Global options, and the engine made from them on first use."""

    def __init__(self, root: str | None, runroot: str | None, runtime: str | None) -> None:
        self.root, self.runroot, self.runtime = root, runroot, runtime
        self._engine = None

    @property
    def engine(self):  # noqa: ANN201
        if self._engine is None:
            from podium.engine.engine import Engine
            self._engine = Engine(root=self.root, runroot=self.runroot, runtime=self.runtime)
        return self._engine


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", envvar="PODIUM_ROOT", help="Storage root (default /var/lib/podium).")
@click.option("--runroot", envvar="PODIUM_RUNROOT", help="Run root (default /run/podium).")
@click.option("--runtime", envvar="PODIUM_RUNTIME", help="OCI runtime: runc, crun or a path.")
@click.option("--log-level", default="warn", hidden=True)
@click.version_option(package_name="podium", prog_name="podium")
@click.pass_context
def cli(ctx: click.Context, root: str | None, runroot: str | None, runtime: str | None,
        log_level: str) -> None:
    """podium: a daemonless, declarative container tool."""
    ctx.obj = State(root, runroot, runtime)


def main(argv: list[str] | None = None) -> None:
    from podium.engine.errors import PodiumError

    code = 0
    try:
        rv = cli.main(args=argv, prog_name="podium", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except PodiumError as exc:
        _error(str(exc))
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        _error(exc.format_message())
        code = 125
    except click.Abort:
        _error("aborted")
        code = 125
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
    sys.stdout.flush() if not sys.stdout.closed else None
    sys.exit(code)


def _error(message: str) -> None:
    line = " ".join(message.split())
    sys.stderr.write(f"Error: {line}\n")
