"""The image store's writes: tarballs and image archives in, archives out, images removed.

``import_rootfs`` turns a root filesystem tarball into a one-layer image (with
Dockerfile-style ``--change`` instructions applied to its config), ``load``
reads docker-archive / oci-archive files, ``save`` writes them, and ``remove``
is Podman's ``rmi`` with one ``RemoveReport`` per reference. ``ImageStore``
calls these (``images.ImageStore.import_rootfs`` and friends), importing this
module on first use: it pulls in tarfile, hashlib and dataclasses, which
``podium run`` never needs.

Every write stages under ROOT/tmp, then, inside one store transaction, renames
the new files into place and inserts the rows: a failed import, load or remove
leaves the store as it was, and the store's write lock orders the file moves of
concurrent podium processes (a layer being removed cannot be adopted by a
concurrent load, and vice versa).
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ArchiveError, ConfigError, InUse, PodiumError, StoreError
from .images import DEFAULT_PATH, FORMATS, diff_ids, familiar_name, normalize_name
from .storage.imagearchive import (SaveImage, build_manifest, host_platform, open_image_archive,
                                   write_docker_archive, write_oci_archive)
from .storage.layers import extract_layer, rename_noreplace, sha256_hex

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO, Callable, Iterable

    from .images import ImageStore


# ---- --change -----------------------------------------------------------------------

_CHANGE_RE = re.compile(r"^\s*([A-Za-z]+)(?:\s+|=)(.*)$", re.S)
_CHANGE_KEYS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "STOPSIGNAL", "USER",
                "VOLUME", "WORKDIR")
_HEALTH_OPTS = {"interval": "Interval", "timeout": "Timeout", "start-period": "StartPeriod",
                "retries": "Retries"}


def _healthcheck(value: str, change: str) -> dict[str, Any]:
    """``HEALTHCHECK [--interval=D --timeout=D --start-period=D --retries=N] CMD ...`` or ``NONE``."""
    from .health import parse_duration

    out: dict[str, Any] = {}
    rest = value
    while rest.startswith("--"):
        opt, _, rest = rest.partition(" ")
        rest = rest.lstrip()
        name, eq, val = opt[2:].partition("=")
        if name not in _HEALTH_OPTS or not eq:
            raise ConfigError(f"invalid change {change!r}: unknown HEALTHCHECK option {opt!r}",
                              field="--change")
        if name == "retries":
            if not val.isdigit():
                raise ConfigError(f"invalid change {change!r}: --retries takes a number",
                                  field="--change")
            out["Retries"] = int(val)
        else:
            out[_HEALTH_OPTS[name]] = parse_duration(val, what=f"HEALTHCHECK --{name}")
    word, _, cmd = rest.partition(" ")
    if word.upper() == "NONE" and not cmd.strip():
        return {"Test": ["NONE"]}
    if word.upper() != "CMD" or not cmd.strip():
        raise ConfigError(f"invalid change {change!r}: expected HEALTHCHECK [OPTIONS] CMD command, "
                          "or HEALTHCHECK NONE", field="--change")
    command = _command(cmd.strip())
    test = ["CMD-SHELL", command[2]] if command[:2] == ["/bin/sh", "-c"] else ["CMD", *command]
    return {"Test": test, **out}


def _words(value: str, change: str) -> list[str]:
    import shlex

    try:
        return shlex.split(value)
    except ValueError as exc:
        raise ConfigError(f"invalid change {change!r}: {exc}", field="--change") from None


def _command(value: str) -> list[str]:
    """JSON (exec) form as is; anything else is shell form, run by /bin/sh -c."""
    if value.startswith("["):
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
    return ["/bin/sh", "-c", value]


def _pairs(value: str, change: str) -> list[tuple[str, str]]:
    """``K=V K2="v 2"`` or the legacy one-pair form ``K rest of line``."""
    words = _words(value, change)
    if words and "=" in words[0]:
        out = []
        for w in words:
            k, eq, v = w.partition("=")
            if not eq or not k:
                raise ConfigError(f"invalid change {change!r}: {w!r} is not KEY=VALUE",
                                  field="--change")
            out.append((k, v))
        return out
    key, _, rest = value.partition(" ")
    if not rest.strip():
        raise ConfigError(f"invalid change {change!r}: expected KEY=VALUE or KEY VALUE",
                          field="--change")
    return [(key, rest.strip())]


def _ports(value: str, change: str) -> list[str]:
    out = []
    for w in _words(value, change):
        port, _, proto = w.partition("/")
        proto = (proto or "tcp").lower()
        lo, _, hi = port.partition("-")
        if proto not in ("tcp", "udp", "sctp") or not lo.isdigit() or (hi and not hi.isdigit()):
            raise ConfigError(f"invalid change {change!r}: bad port {w!r}", field="--change")
        first, last = int(lo), int(hi or lo)
        if not 0 < first <= last <= 65535:
            raise ConfigError(f"invalid change {change!r}: port {w!r} out of range",
                              field="--change")
        out += [f"{p}/{proto}" for p in range(first, last + 1)]
    return out


def _signal(value: str, change: str) -> str:
    import signal

    v = value.strip()
    if v.isdigit() and 0 < int(v) < 65:
        return v
    name = v.upper() if v.upper().startswith("SIG") else "SIG" + v.upper()
    if name in signal.Signals.__members__ or re.match(r"^SIGRTM(IN|AX)([+-]\d+)?$", name):
        return v
    raise ConfigError(f"invalid change {change!r}: unknown signal {v!r}", field="--change")


def apply_changes(config: dict[str, Any], changes: Iterable[str]) -> dict[str, Any]:
    """Apply Dockerfile-style ``--change`` instructions to an image's ``config`` object.

    Accepts ``CMD ["sh"]``, ``CMD sh -c x`` (shell form) and the ``CMD=...``
    spelling; unknown instructions are a ConfigError naming the supported ones.
    """
    import posixpath

    for change in changes:
        m = _CHANGE_RE.match(change)
        if not m or not m.group(2).strip():
            raise ConfigError(f"invalid change {change!r}: expected 'INSTRUCTION value'",
                              field="--change")
        key, value = m.group(1).upper(), m.group(2).strip()
        if key in ("CMD", "ENTRYPOINT"):
            config["Cmd" if key == "CMD" else "Entrypoint"] = _command(value)
        elif key == "ENV":
            env = list(config.get("Env") or [])
            for k, v in _pairs(value, change):
                env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
            config["Env"] = env
        elif key == "LABEL":
            config.setdefault("Labels", {}).update(dict(_pairs(value, change)))
        elif key == "HEALTHCHECK":
            config["Healthcheck"] = _healthcheck(value, change)
        elif key == "EXPOSE":
            ports = config.setdefault("ExposedPorts", {})
            for p in _ports(value, change):
                ports[p] = {}
        elif key == "VOLUME":
            vols = _command(value) if value.startswith("[") else _words(value, change)
            if vols[:2] == ["/bin/sh", "-c"]:
                raise ConfigError(f"invalid change {change!r}: bad JSON list", field="--change")
            config.setdefault("Volumes", {}).update({v: {} for v in vols})
        elif key == "WORKDIR":
            config["WorkingDir"] = posixpath.normpath(
                posixpath.join(config.get("WorkingDir") or "/", value))
        elif key == "USER":
            config["User"] = value
        elif key == "STOPSIGNAL":
            config["StopSignal"] = _signal(value, change)
        else:
            raise ConfigError(f"unknown instruction {key} in change {change!r}: supported are "
                              + ", ".join(_CHANGE_KEYS), field="--change")
    return config


# ---- reports, staging, commit -------------------------------------------------------


@dataclass
class RemoveReport:
    """What ``remove`` did for one reference (Podman's ImageRemoveReport, per item).

    ``deleted`` lists the image ids removed (empty when only a name went away);
    ``get()`` allows dict-style reads, ``report.get("untagged", [])``.
    """

    ref: str
    id: str | None = None
    untagged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    error: PodiumError | None = None

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, key, default)


@dataclass
class _Pending:
    config: bytes
    layers: list[tuple[str, int]]
    names: list[str]
    annotations: dict[str, str]


def _now() -> str:
    import time

    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _rmtree(path: Path) -> None:
    import shutil

    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


def _staging(ims: ImageStore, kind: str) -> Path:
    import tempfile

    ims.paths.ensure()
    return Path(tempfile.mkdtemp(prefix=kind + "-", dir=ims.paths.tmp))


def _layer_present(ims: ImageStore, diff_id: str) -> bool:
    return (ims.store.has_layer(diff_id) and ims.paths.layer(diff_id).is_dir()
            and ims.paths.blob(diff_id).is_file())


def _place(src: Path, dst: Path, placed: list[Path]) -> None:
    """Move a staged file into the store unless an equal one is there already."""
    if os.path.lexists(dst):
        return
    try:
        rename_noreplace(src, dst)
    except FileExistsError:  # content-addressed: theirs is as good as ours
        return
    placed.append(dst)


def _commit(ims: ImageStore, pending: list[_Pending], fresh: dict[str, tuple[Path, Path, int]],
            staging: Path, action: str = "load") -> list[dict[str, Any]]:
    """Move staged layers and blobs into place and insert the rows, all or nothing."""
    now = _now()
    staged = []
    for i, p in enumerate(pending):
        mbytes = build_manifest(p.config, p.layers, p.annotations or None)
        cfile, mfile = staging / f"config{i}", staging / f"manifest{i}"
        cfile.write_bytes(p.config)
        mfile.write_bytes(mbytes)
        staged.append((sha256_hex(p.config), cfile, sha256_hex(mbytes), mfile, mbytes))
    placed: list[Path] = []
    try:
        with ims.store.write():
            for diff_id, (ldir, lblob, size) in fresh.items():
                _place(ldir, ims.paths.layer(diff_id), placed)
                _place(lblob, ims.paths.blob(diff_id), placed)
                ims.store.insert_layer(diff_id, size, now)
            for p, (cid, cfile, mhex, mfile, mbytes) in zip(pending, staged):
                for d, _ in p.layers:
                    if d not in fresh and not _layer_present(ims, d):
                        raise StoreError(f"layer {d[:19]} was removed by another podium "
                                         "process while this one used it; try again")
                _place(cfile, ims.paths.blob(cid), placed)
                _place(mfile, ims.paths.blob(mhex), placed)
                config = json.loads(p.config)
                ims.store.insert_image({
                    "id": cid, "digest": "sha256:" + mhex,
                    "created": config.get("created") or now,
                    "size": sum(s for _, s in p.layers),
                    "manifest": json.loads(mbytes), "config": config})
                for name in p.names:
                    ims.store.tag_image(name, cid)
                ims.events.record("image", action, "sha256:" + cid, p.names[0] if p.names else "")
    except BaseException:
        for path in reversed(placed):
            _rmtree(path)
        raise
    return [ims.store.image(cid) or {} for cid, *_ in staged]


# ---- import / load -------------------------------------------------------------------


def import_rootfs(ims: ImageStore, tarball: str | Path | BinaryIO, name: str | None = None, *,
                  changes: Iterable[str] = (), message: str | None = None) -> dict[str, Any]:
    """A root filesystem tarball (plain or compressed; "-" is stdin) -> a one-layer image."""
    norm = normalize_name(name) if name else None
    if norm and "@" in norm:
        raise ConfigError(f"{name}: an imported image cannot be named by digest")
    inner = apply_changes({"Env": [DEFAULT_PATH]}, changes)
    if isinstance(tarball, (str, Path)):
        if str(tarball) == "-":
            tarball = sys.stdin.buffer
        elif not os.path.isfile(tarball):
            raise ConfigError(f"{tarball}: no such file")
    staging = _staging(ims, "import")
    try:
        diff_id, size = extract_layer(tarball, staging / "layer", copy_to=staging / "blob")
        created = _now()
        arch, variant = host_platform()
        config: dict[str, Any] = {"created": created, "architecture": arch}
        if variant:
            config["variant"] = variant
        config.update({
            "os": "linux", "config": inner,
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
            "history": [{"created": created,
                         "created_by": f"/bin/sh -c #(nop) ADD file:{diff_id[7:]} in /",
                         "comment": message if message is not None else
                         "imported from tarball"}],
        })
        cbytes = json.dumps(config, separators=(",", ":")).encode()
        pend = _Pending(cbytes, [(diff_id, size)], [norm] if norm else [], {})
        return _commit(ims, [pend], {diff_id: (staging / "layer", staging / "blob", size)},
                       staging, action="import")[0]
    finally:
        _rmtree(staging)


def load(ims: ImageStore, src: str | Path | BinaryIO) -> list[str]:
    """Load a docker-archive or oci-archive ("-" is stdin); returns names (or sha256: ids)."""
    if isinstance(src, (str, Path)) and str(src) == "-":
        src = sys.stdin.buffer
    staging = _staging(ims, "load")
    try:
        with open_image_archive(src, tmpdir=staging) as arc:
            fresh: dict[str, tuple[Path, Path, int]] = {}
            pending = []
            for im in arc.images:
                layers = []
                for layer in im.layers:
                    d = layer.diff_id or ""
                    if d in fresh:
                        size = fresh[d][2]
                    elif _layer_present(ims, d):
                        size = ims.paths.blob(d).stat().st_size
                    else:
                        n = len(fresh)
                        ldir, lblob = staging / f"l{n}", staging / f"b{n}"
                        got, size = extract_layer(layer.open(), ldir, copy_to=lblob)
                        if got != d:
                            raise ArchiveError(f"layer {layer.index} of image {im.id[:12]} "
                                               f"has content {got}, its config says {d}")
                        fresh[d] = (ldir, lblob, size)
                    layers.append((d, size))
                dom = "docker.io" if im.docker_names else "localhost"
                try:
                    names = [normalize_name(n, default_domain=dom) for n in im.names]
                except ConfigError as exc:
                    raise ArchiveError(f"image archive: {exc}") from None
                pending.append(_Pending(im.config, layers, list(dict.fromkeys(names)),
                                        im.annotations))
            images = _commit(ims, pending, fresh, staging)
    finally:
        _rmtree(staging)
    out: list[str] = []
    for p, img in zip(pending, images):
        out.extend(p.names or ["sha256:" + img["id"]])
    return out


# ---- save ----------------------------------------------------------------------------


def save(ims: ImageStore, refs: list[str], out: str | Path | BinaryIO, *,
         format: str = "docker-archive") -> None:
    """Write images to an archive file (or a binary stream; "-" is stdout)."""
    if format not in FORMATS:
        raise ConfigError(f"unknown archive format {format!r}: use one of {', '.join(FORMATS)}")
    chosen: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for ref in refs:
        img, matched = ims.lookup(ref)
        names = [matched] if matched else img["names"]
        have = chosen.setdefault(img["id"], (img, []))[1]
        have.extend(n for n in names if n not in have)
    items = []
    for img, names in chosen.values():
        dids = diff_ids(img)
        layers: list[Any] = [ims.paths.blob(d) for d in dids]
        for d, p in zip(dids, layers):
            if not p.is_file():
                raise StoreError(f"image {img['id'][:12]}: layer blob {d[:19]} is missing")
        names = [n for n in names if "@" not in n]
        if format == "docker-archive":
            names = [familiar_name(n) for n in names]
        items.append(SaveImage(names, ims.config_bytes(img), layers, dids))
    writer = write_docker_archive if format == "docker-archive" else write_oci_archive
    if isinstance(out, (str, Path)) and str(out) != "-":
        if not os.path.isdir(os.path.dirname(os.path.abspath(out))):
            raise ConfigError(f"{out}: directory does not exist")
        writer(out, items)
        return
    stream = sys.stdout.buffer if isinstance(out, (str, Path)) else out
    import shutil

    staging = _staging(ims, "save")
    try:
        writer(staging / "archive.tar", items)
        with open(staging / "archive.tar", "rb") as f:
            shutil.copyfileobj(f, stream, 1 << 20)  # type: ignore[misc]
        stream.flush()
    finally:
        _rmtree(staging)


# ---- remove --------------------------------------------------------------------------


def remove(ims: ImageStore, refs: list[str], *, force: bool = False,
           remove_containers: Callable[[list[str]], None] | None = None
           ) -> list[RemoveReport]:
    """Remove images, one report per ref (Podman's ``rmi``; see ``ImageStore.remove``)."""
    reports = []
    for ref in refs:
        rep = RemoveReport(ref)
        try:
            _remove_one(ims, ref, rep, force, remove_containers)
        except PodiumError as exc:
            rep.error = exc
        reports.append(rep)
    return reports


def _remove_one(ims: ImageStore, ref: str, rep: RemoveReport, force: bool,
                remove_containers: Callable[[list[str]], None] | None) -> None:
    img, matched = ims.lookup(ref)
    rep.id = img["id"]
    if matched and len(img["names"]) > 1:
        with ims.store.write():
            ims.store.untag_image(matched)
            ims.events.record("image", "untag", "sha256:" + img["id"], matched)
        rep.untagged = [matched]
        return
    if not matched and len(img["names"]) > 1 and not force:
        raise InUse(f"unable to delete image {img['id'][:12]} by id: it has several names "
                    f"({', '.join(img['names'])}); remove them by name or use --force")
    users = ims.store.containers_using_image(img["id"])
    if users:
        if not force or remove_containers is None:
            raise InUse(f"image {img['id'][:12]} is in use by container(s) "
                        f"{', '.join(users)}: remove them first or use --force")
        remove_containers(users)
    trash = _staging(ims, "rmi")
    moved: list[tuple[Path, Path]] = []
    try:
        with ims.store.write():
            users = ims.store.containers_using_image(img["id"])
            if users:
                raise InUse(f"image {img['id'][:12]} is in use by container(s) "
                            f"{', '.join(users)}")
            rep.untagged = ims.store.image_names(img["id"])
            ims.store.delete_image(img["id"])
            ims.events.record("image", "delete", "sha256:" + img["id"], (rep.untagged or [""])[0])
            _collect(ims, img, trash, moved)
        rep.deleted = [img["id"]]
    except BaseException:
        for src, dst in reversed(moved):  # the rows stay: put their files back
            os.rename(dst, src)
        raise
    finally:
        _rmtree(trash)


def _collect(ims: ImageStore, gone: dict[str, Any], trash: Path,
             moved: list[tuple[Path, Path]]) -> None:
    """Move what no remaining image references into ``trash`` (under the lock)."""
    keep_layers: set[str] = set()
    keep_blobs: set[str] = set()
    for img in ims.store.images():
        keep_layers.update(diff_ids(img))
        keep_blobs.update({img["id"], img["digest"].split(":", 1)[-1]})
        keep_blobs.update(lay["digest"].split(":", 1)[-1]
                          for lay in img["manifest"].get("layers") or [])
        keep_blobs.update(d.split(":", 1)[-1] for d in diff_ids(img))  # pulled: not in manifest
    blobs = {gone["id"], gone["digest"].split(":", 1)[-1]}
    blobs.update(lay["digest"].split(":", 1)[-1] for lay in gone["manifest"].get("layers") or [])
    blobs.update(d.split(":", 1)[-1] for d in diff_ids(gone))
    doomed = []
    for d in diff_ids(gone):
        if d not in keep_layers:
            ims.store.delete_layer(d)
            doomed.append(ims.paths.layer(d))
    doomed += [ims.paths.blob(h) for h in sorted(blobs - keep_blobs)]
    for path in doomed:
        if os.path.lexists(path):
            dst = trash / str(len(moved))
            os.rename(path, dst)
            moved.append((path, dst))
