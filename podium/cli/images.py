"""Image commands: images, import, load, save, rmi, tag, untag, image inspect."""

from __future__ import annotations

import argparse
import sys
import time

from .command import Command, Parser, flag, multi
from .format import emit, emit_inspect, table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def human_size(n: float) -> str:
    """Podman's human size: 2.14 MB (decimal units, 3 significant digits)."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{int(n)} B" if unit == "B" else f"{n:.3g} {unit}"
        n /= 1000
    return str(n)


def _repo(name: str) -> str:
    """``host:5000/x:tag`` or ``host:5000/x@sha256:...`` -> ``host:5000/x``."""
    name = name.partition("@")[0]
    return name[:name.rfind(":")] if name.rfind(":") > name.rfind("/") else name


def _rows(eng: Any) -> list[dict[str, Any]]:
    from podium.engine.timeutil import parse_iso
    counts = {r[0]: r[1] for r in eng.store.query(
        "SELECT image_id, COUNT(*) FROM containers GROUP BY image_id")}
    rows = []
    for img in eng.images.list():
        created = parse_iso(img["created"])
        rows.append({
            "Id": img["id"], "ParentId": "", "RepoTags": img["names"] or None,
            "RepoDigests": sorted({_repo(n) + "@" + img["digest"] for n in img["names"]}) or None,
            "Size": img["size"], "SharedSize": 0, "VirtualSize": img["size"],
            "Labels": (img["config"].get("config") or {}).get("Labels") or None,
            "Containers": counts.get(img["id"], 0), "Names": img["names"] or None,
            "Digest": img["digest"], "Created": int(created),
            "CreatedAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        })
    return rows


def _images_args(p: Parser) -> None:
    flag(p, "-a", "--all", help="show all images")
    flag(p, "-q", "--quiet", help="print only the IDs")
    p.add_argument("--format", help="json, or a Go template such as '{{.Repository}}:{{.Tag}}'")
    flag(p, "--no-trunc", help="do not truncate IDs")
    p.add_argument("reference", nargs="?", help="only images whose name contains this")


def do_images(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.timeutil import human_duration
    rows = _rows(g.engine)
    if a.reference:
        rows = [r for r in rows if any(a.reference in n for n in r["Names"] or [])
                or r["Id"].startswith(a.reference)]
    if a.quiet:
        for r in rows:
            print(r["Id"] if a.no_trunc else r["Id"][:12])
        return 0
    if a.format == "json":
        emit(rows, "json")
        return 0
    flat = []
    for r in rows:
        for name in r["Names"] or ["<none>:<none>"]:
            repo, _, tag = name.rpartition(":") if "@" not in name else (_repo(name), "", "<none>")
            flat.append({**r, "Repository": repo, "Tag": tag, "ID": r["Id"] if a.no_trunc else r["Id"][:12],
                         "CreatedSince": human_duration(time.time() - r["Created"]) + " ago",
                         "SizeText": human_size(r["Size"])})

    def human(rs: list[dict[str, Any]]) -> None:
        table(["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
              [[r["Repository"], r["Tag"], r["ID"], r["CreatedSince"], r["SizeText"]] for r in rs])
    emit(flat, a.format, table=human)
    return 0


def _import_args(p: Parser) -> None:
    multi(p, "-c", "--change", help="apply a Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR, ...")
    p.add_argument("-m", "--message", help="commit message for the image history")
    flag(p, "-q", "--quiet", help="print nothing but the ID")
    p.add_argument("tarball", help="root filesystem tarball (plain, gzip, xz, zstd), or - for stdin")
    p.add_argument("reference", nargs="?", help="name for the image")


def do_import(a: argparse.Namespace, g: Any) -> int:
    img = g.engine.images.import_rootfs(a.tarball, a.reference, changes=list(a.change), message=a.message)
    print(img["id"])
    return 0


def _load_args(p: Parser) -> None:
    p.add_argument("-i", "--input", default="-", help="archive to read (default stdin)")
    flag(p, "-q", "--quiet", help="print nothing")


def do_load(a: argparse.Namespace, g: Any) -> int:
    for n in g.engine.images.load(a.input):
        if not a.quiet:
            print(f"Loaded image: {n}")
    return 0


def _save_args(p: Parser) -> None:
    p.add_argument("-o", "--output", default="-", help="file to write (default stdout)")
    p.add_argument("--format", default="docker-archive", choices=["docker-archive", "oci-archive"])
    flag(p, "-q", "--quiet", help="print nothing")
    p.add_argument("images", nargs="+")


def do_save(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import ConfigError
    if a.output == "-" and sys.stdout.isatty():
        raise ConfigError("refusing to write an archive to a terminal: use -o FILE or redirect stdout")
    sys.stdout.flush()
    g.engine.images.save(list(a.images), a.output, format=a.format)
    return 0


def _rmi_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="remove containers using the image too")
    flag(p, "-a", "--all", help="remove all images")
    p.add_argument("images", nargs="*")


def do_rmi(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import ConfigError, PodiumError
    eng = g.engine
    refs = list(a.images) or ([img["id"] for img in eng.images.list()] if a.all else [])
    if not refs:
        raise ConfigError("image name or ID must be specified")

    def remove_containers(names: list[str]) -> None:
        for n in names:
            eng.containers.remove(n, force=True)

    code = 0
    for report in eng.images.remove(refs, force=a.force, remove_containers=remove_containers):
        err = report.get("error")
        if err:
            sys.stderr.write(f"Error: {err}\n")
            code = err.exit_code if isinstance(err, PodiumError) else 125
            continue
        for name in report.get("untagged", []):
            print(f"Untagged: {name}")
        for iid in report.get("deleted", []):
            print(f"Deleted: {iid}")
    return code


def _prune_args(p: Parser) -> None:
    flag(p, "-a", "--all", help="remove every image no container uses, not only dangling ones")
    flag(p, "-f", "--force", help="do not ask for confirmation")


def do_prune(a: argparse.Namespace, g: Any) -> int:
    """Podman's ``image prune``: dangling (or, with -a, all unused) images, then the build
    cache's layers that no image uses any more."""
    from podium.engine.errors import PodiumError
    eng = g.engine
    if not a.force:
        what = "all images without at least one container associated to them" if a.all \
            else "all dangling images"
        sys.stdout.write(f"WARNING! This command removes {what}.\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    candidates = [img["id"] for img in eng.images.list()
                  if (a.all or not img.get("names")) and not eng.store.containers_using_image(img["id"])]
    code = 0
    for report in eng.images.remove(candidates, force=True) if candidates else []:
        err = report.get("error")
        if err:
            sys.stderr.write(f"Error: {err}\n")
            code = err.exit_code if isinstance(err, PodiumError) else 125
            continue
        for iid in report.get("deleted", []):
            print(iid)
    from podium.engine.build.cache import prune as prune_build_cache
    prune_build_cache(eng)
    return code


def _tag_args(p: Parser) -> None:
    p.add_argument("image")
    p.add_argument("names", nargs="+")


def do_tag(a: argparse.Namespace, g: Any) -> int:
    for n in a.names:
        g.engine.images.tag(a.image, n)
    return 0


def _untag_args(p: Parser) -> None:
    p.add_argument("image")
    p.add_argument("names", nargs="*")


def do_untag(a: argparse.Namespace, g: Any) -> int:
    for n in a.names or [None]:
        g.engine.images.untag(a.image, n)
    return 0


def _inspect_args(p: Parser) -> None:
    p.add_argument("-f", "--format", help="json (default) or a Go template")
    p.add_argument("images", nargs="+")


def do_image_inspect(a: argparse.Namespace, g: Any) -> int:
    out = [g.engine.images.inspect(ref) for ref in a.images]
    emit_inspect(out, a.format)
    return 0


COMMANDS: dict[str, Command] = {
    "images": Command(do_images, _images_args, "List images in local storage."),
    "import": Command(do_import, _import_args, "Import a root filesystem tarball as an image."),
    "load": Command(do_load, _load_args, "Load images from a docker-archive or oci-archive."),
    "save": Command(do_save, _save_args, "Save images to a docker-archive or oci-archive."),
    "rmi": Command(do_rmi, _rmi_args, "Remove one or more images."),
    "prune": Command(do_prune, _prune_args, "Remove dangling images (-a: every unused image) and unused build cache."),
    "tag": Command(do_tag, _tag_args, "Add names to an image."),
    "untag": Command(do_untag, _untag_args, "Remove names from an image."),
    "image-inspect": Command(do_image_inspect, _inspect_args, "Show an image's configuration."),
}
