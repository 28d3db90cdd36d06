"""version and info."""

from __future__ import annotations

import json
import platform

import click

import podium


@click.command()
@click.option("--format", "fmt")
def version(fmt: str | None) -> int:
    """Show podium's version."""
    info = {"Version": podium.__version__, "APIVersion": "1.41", "OsArch": f"linux/{platform.machine()}",
            "PythonVersion": platform.python_version()}
    if fmt == "json":
        click.echo(json.dumps({"Client": info}, indent=4))
    else:
        for k, v in info.items():
            click.echo(f"{k + ':':<15}{v}")
    return 0


@click.command()
@click.option("--format", "fmt")
@click.pass_context
def info(ctx: click.Context, fmt: str | None) -> int:
    """Show the storage root, runtime and counts."""
    eng = ctx.find_root().obj.engine
    from podium.engine.runtime.oci import cgroup_v2_unified
    ctrs = eng.containers.list()
    data = {
        "host": {"arch": platform.machine(), "kernel": platform.release(),
                 "cgroupVersion": "v2" if cgroup_v2_unified() else "v1",
                 "ociRuntime": {"path": eng.runtime.path, "name": eng.runtime.name}},
        "store": {"graphRoot": str(eng.paths.root), "runRoot": str(eng.paths.runroot),
                  "containerStore": {"number": len(ctrs),
                                     "running": sum(c["state"]["status"] == "running" for c in ctrs)},
                  "imageStore": {"number": len(eng.store.images())}},
        "version": {"Version": podium.__version__},
    }
    click.echo(json.dumps(data, indent=4))
    return 0
