"""Image commands: images, import, load, save, rmi, tag, image inspect."""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import click

from .format import emit, table

CONTEXT = {"help_option_names": ["-h", "--help"]}


def _engine(ctx: click.Context):  # noqa: ANN202
    return ctx.find_root().obj.engine


def _size(n: int) -> str:
    """Podman's human size: 2.15 MB (decimal units, 3 significant digits)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n} B"
        n /= 1000  # type: ignore[assignment]
    return str(n)


def _rows(eng: Any) -> list[dict[str, Any]]:
    from podium.engine.timeutil import parse_iso
    counts: dict[str, int] = {}
    for r in eng.store.query("SELECT image_id, COUNT(*) FROM containers GROUP BY image_id"):
        counts[r[0]] = r[1]
    rows = []
    for img in eng.images.list():
        created = parse_iso(img["created"])
        rows.append({
            "Id": img["id"], "ParentId": "", "RepoTags": img["names"] or None,
            "RepoDigests": [n.rsplit(":", 1)[0] + "@" + img["digest"] for n in img["names"]] or None,
            "Size": img["size"], "SharedSize": 0, "VirtualSize": img["size"],
            "Labels": (img["config"].get("config") or {}).get("Labels") or None,
            "Containers": counts.get(img["id"], 0), "Names": img["names"] or None,
            "Digest": img["digest"], "Created": int(created),
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        })
    return rows


@click.command(context_settings=CONTEXT)
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-q", "--quiet", is_flag=True)
@click.option("--format", "fmt")
@click.option("--no-trunc", is_flag=True)
@click.argument("reference", required=False)
@click.pass_context
def images(ctx: click.Context, all_: bool, quiet: bool, fmt: str | None, no_trunc: bool,
           reference: str | None) -> int:
    """List images in local storage."""
    from podium.engine.timeutil import human_duration
    rows = _rows(_engine(ctx))
    if reference:
        rows = [r for r in rows if any(reference in n for n in r["Names"] or [])
                or r["Id"].startswith(reference)]
    if quiet:
        for r in rows:
            click.echo(r["Id"] if no_trunc else r["Id"][:12])
        return 0
    flat = []
    for r in rows:
        for name in r["Names"] or ["<none>:<none>"]:
            repo, _, tag = name.rpartition(":")
            flat.append({**r, "Repository": repo, "Tag": tag, "ID": r["Id"] if no_trunc else r["Id"][:12],
                         "CreatedSince": human_duration(time.time() - r["Created"]) + " ago",
                         "SizeText": _size(r["Size"])})
    if fmt == "json":
        emit(rows, fmt)
        return 0

    def human(rs: list[dict[str, Any]]) -> None:
        table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
              [[r["Repository"], r["Tag"], r["ID"], r["CreatedSince"], r["SizeText"]] for r in rs])
    emit(flat, fmt, table=human)
    return 0


@click.command("import", context_settings=CONTEXT)
@click.option("-c", "--change", multiple=True, help="Apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR, ...")
@click.option("-m", "--message", help="Commit message for the image history.")
@click.option("-q", "--quiet", is_flag=True)
@click.argument("tarball")
@click.argument("reference", required=False)
@click.pass_context
def import_(ctx: click.Context, tarball: str, reference: str | None, change: tuple[str, ...],
            message: str | None, quiet: bool) -> int:
    """Import a root filesystem tarball as an image."""
    img = _engine(ctx).images.import_rootfs(tarball, reference, changes=list(change), message=message)
    click.echo(img["id"])
    return 0


@click.command(context_settings=CONTEXT)
@click.option("-i", "--input", "input_", default="-", help="Archive to read (default stdin).")
@click.option("-q", "--quiet", is_flag=True)
@click.pass_context
def load(ctx: click.Context, input_: str, quiet: bool) -> int:
    """Load images from a docker-archive or oci-archive."""
    names = _engine(ctx).images.load(input_)
    for n in names:
        click.echo(f"Loaded image: {n}")
    return 0


@click.command(context_settings=CONTEXT)
@click.option("-o", "--output", default="-", help="File to write (default stdout).")
@click.option("--format", "fmt", type=click.Choice(["docker-archive", "oci-archive"]),
              default="docker-archive")
@click.option("-q", "--quiet", is_flag=True)
@click.argument("images", nargs=-1, required=True)
@click.pass_context
def save(ctx: click.Context, images: tuple[str, ...], output: str, fmt: str, quiet: bool) -> int:
    """Save images to an archive."""
    from podium.engine.errors import ConfigError
    if output == "-" and sys.stdout.isatty():
        raise ConfigError("refusing to write an archive to a terminal: use -o FILE or redirect stdout")
    _engine(ctx).images.save(list(images), output, format=fmt)
    return 0


@click.command(context_settings=CONTEXT)
@click.option("-f", "--force", is_flag=True, help="Remove containers using the image too.")
@click.option("-a", "--all", "all_", is_flag=True)
@click.argument("images", nargs=-1)
@click.pass_context
def rmi(ctx: click.Context, images: tuple[str, ...], force: bool, all_: bool) -> int:
    """Remove one or more images."""
    from podium.engine.errors import ConfigError, PodiumError
    eng = _engine(ctx)
    refs = list(images) or ([img["id"] for img in eng.images.list()] if all_ else [])
    if not refs:
        raise ConfigError("image name or ID must be specified")

    def remove_containers(names: list[str]) -> None:
        for n in names:
            eng.containers.remove(n, force=True)

    code = 0
    for report in eng.images.remove(refs, force=force, remove_containers=remove_containers):
        err = report.get("error")
        if err:
            click.echo(f"Error: {err}", err=True)
            code = getattr(err, "exit_code", 125) if isinstance(err, PodiumError) else 125
            continue
        for name in report.get("untagged", []):
            click.echo(f"Untagged: {name}")
        for iid in report.get("deleted", []):
            click.echo(f"Deleted: {iid}")
    return code


@click.command(context_settings=CONTEXT)
@click.argument("image")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def tag(ctx: click.Context, image: str, names: tuple[str, ...]) -> int:
    """Add names to an image."""
    eng = _engine(ctx)
    for n in names:
        eng.images.tag(image, n)
    return 0


@click.command(context_settings=CONTEXT)
@click.argument("image")
@click.argument("names", nargs=-1)
@click.pass_context
def untag(ctx: click.Context, image: str, names: tuple[str, ...]) -> int:
    """Remove names from an image."""
    eng = _engine(ctx)
    for n in names:
        eng.images.untag(image, n)
    return 0


@click.command("inspect", context_settings=CONTEXT)
@click.option("-f", "--format", "fmt")
@click.argument("images", nargs=-1, required=True)
@click.pass_context
def image_inspect(ctx: click.Context, images: tuple[str, ...], fmt: str | None) -> int:
    """Show an image's configuration."""
    eng = _engine(ctx)
    out = [eng.images.inspect(ref) for ref in images]
    if fmt and fmt != "json":
        emit(out, fmt)
    else:
        click.echo(json.dumps(out, indent=4))
    return 0


@click.group(context_settings=CONTEXT)
def image() -> None:
    """Manage images."""


for _cmd, _name in ((images, "list"), (images, "ls"), (import_, "import"), (load, "load"),
                    (save, "save"), (rmi, "rm"), (tag, "tag"), (untag, "untag"),
                    (image_inspect, "inspect")):
    image.add_command(_cmd, _name)
