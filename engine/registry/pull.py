"""``podium pull``: a reference in, a verified image in the local store out.

Order of work, for one source (a mirror or the registry itself):
manifest (a manifest list or OCI index is resolved to one platform's
manifest) -> config blob (digest checked) -> the layers whose diff_id the
store lacks, fetched in parallel, each streamed through a hash of the
compressed bytes into ``extract_layer`` (which sniffs gzip/zstd/plain,
refuses hostile entries and yields the diff_id) -> every digest compared
(the blob's against its descriptor, the unpacked tar's against the config's
diff_id) -> one store transaction (``store.commit``).

Everything before the commit happens in a staging directory under ROOT/tmp
that is removed on any failure, so a digest mismatch, a dropped connection
or an interrupt leaves the store exactly as it was, and the next pull starts
afresh. Short names go through registries.conf (aliases, then each
unqualified-search registry in order); each source is tried in turn and the
errors of all are reported when none works.
"""

from __future__ import annotations

import hashlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ArchiveError, ConfigError, PodiumError
from ..image_io import _rmtree, _staging
from ..storage.layers import extract_layer
from . import auth, manifest as mf
from .client import RegistryClient
from .config import RegistriesConf, Source, load as load_conf
from .errors import DigestMismatch, RegistryError
from .progress import Progress
from .reference import Reference

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

    from ..images import ImageStore

PARALLEL = 4
RETRIES = 2  # per layer, after a connection lost in the middle of a blob


@dataclass
class PullOptions:
    """How to pull: platform, TLS, credentials, where to report progress."""

    platform: mf.Platform | None = None
    tls_verify: bool | None = None        # None: registries.conf decides
    authfile: str | None = None
    credentials: tuple[str, str] | None = None
    progress: Progress = field(default_factory=Progress)
    registries: RegistriesConf | None = None
    parallel: int = PARALLEL


def conf_of(opts: PullOptions) -> RegistriesConf:
    if opts.registries is None:
        opts.registries = load_conf()
    return opts.registries


def client_for(ref: Reference, *, insecure: bool, opts: PullOptions) -> RegistryClient:
    """A client for ``ref``'s registry, with the credentials the auth files hold for it."""
    creds = opts.credentials or auth.lookup(ref.repo, authfile=opts.authfile)
    if opts.tls_verify is False:
        insecure = True
    elif opts.tls_verify is True:
        insecure = False
    return RegistryClient(ref.api_host, insecure=insecure, credentials=creds)


def pull(ims: ImageStore, name: str, opts: PullOptions | None = None) -> dict[str, Any]:
    """Pull ``name`` (short names resolved by registries.conf); returns the image record."""
    opts = opts or PullOptions()
    conf = conf_of(opts)
    errors: list[tuple[str, PodiumError]] = []
    for cand in conf.candidates(name):
        for src in conf.sources(cand):
            try:
                return _pull_from(ims, src, cand, opts)
            except (RegistryError, ArchiveError) as exc:
                errors.append((str(src.ref), exc))
    opts.progress.close()
    if len(errors) == 1:
        raise errors[0][1]
    first = errors[0][1]
    msg = f"{name}: pulling failed from every source: " + "; ".join(
        f"{where}: {exc}" for where, exc in errors)
    err = type(first)(msg) if isinstance(first, RegistryError) else RegistryError(msg)
    raise err


def remote_digest(name: str, opts: PullOptions) -> str:
    """The manifest digest ``name`` points at on its registry now (the ``newer`` policy)."""
    conf = conf_of(opts)
    cand = conf.candidates(name)[0]
    src = conf.sources(cand)[-1]
    with client_for(src.ref, insecure=src.insecure, opts=opts) as client:
        data, mt, digest = client.get_manifest(src.ref.path, src.ref.manifest_ref)
        doc = mf.parse(data, mt, str(src.ref))
        if doc["mediaType"] in mf.LIST_TYPES:
            return mf.choose(doc, opts.platform or mf.platform(), str(src.ref))["digest"]
        return digest


def _pull_from(ims: ImageStore, src: Source, canonical: Reference,
               opts: PullOptions) -> dict[str, Any]:
    ref, what = src.ref, str(src.ref)
    prog = opts.progress
    prog.status(f"Trying to pull {what}...")
    with client_for(ref, insecure=src.insecure, opts=opts) as client:
        data, mt, digest = client.get_manifest(ref.path, ref.manifest_ref)
        doc = mf.parse(data, mt, what)
        if doc["mediaType"] in mf.LIST_TYPES:
            want = opts.platform or mf.platform()
            desc = mf.choose(doc, want, what)
            data, mt, digest = client.get_manifest(ref.path, desc["digest"])
            doc = mf.parse(data, mt, what)
            if doc["mediaType"] not in mf.IMAGE_TYPES:
                raise RegistryError(f"{what}: the manifest list points at another list")
        layers = mf.layers(doc, what)
        prog.status("Getting image source signatures")
        cdesc = doc["config"]
        config = client.get_blob(ref.path, cdesc["digest"], mf.MAX_CONFIG)
        diff_ids = _diff_ids(config, len(layers), what)
        staging = _staging(ims, "pull")
        try:
            fresh = _fetch_layers(ims, client, ref, layers, diff_ids, staging, opts)
            sizes = []
            for d in diff_ids:
                sizes.append(fresh[d][2] if d in fresh else ims.paths.blob(d).stat().st_size)
            prog.done("config", cdesc["digest"])
            prog.status("Writing manifest to image destination")
            from .store import commit

            name = str(canonical) if canonical.tag is None or canonical.digest is None else \
                str(Reference(canonical.domain, canonical.path, canonical.tag))
            img = commit(ims, config=config, manifest=data, digest=digest,
                         layers=list(zip(diff_ids, sizes)), fresh=fresh, names=[name],
                         staging=staging)
        finally:
            _rmtree(staging)
    from . import blobinfo

    for desc, d in zip(layers, diff_ids):
        blobinfo.remember(ims.paths, d, desc, ref.repo)
    prog.close()
    return img


def _diff_ids(config: bytes, n_layers: int, what: str) -> list[str]:
    try:
        cfg = json.loads(config)
        diff_ids = list(cfg["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"{what}: the image config has no rootfs.diff_ids") from None
    import re

    if len(diff_ids) != n_layers or not all(
            isinstance(d, str) and re.fullmatch(r"sha256:[0-9a-f]{64}", d) for d in diff_ids):
        raise RegistryError(f"{what}: the config lists {len(diff_ids)} layer digests for "
                            f"{n_layers} layers")
    return diff_ids


def _fetch_layers(ims: ImageStore, client: RegistryClient, ref: Reference,
                  layers: list[dict[str, Any]], diff_ids: list[str], staging: Path,
                  opts: PullOptions) -> dict[str, tuple[Path, Path, int]]:
    """Fetch and unpack the missing layers in parallel; first failure cancels the rest."""
    from .store import layer_present

    prog = opts.progress
    todo: dict[str, dict[str, Any]] = {}
    for desc, d in zip(layers, diff_ids):
        if d in todo:
            continue
        if layer_present(ims, d):
            prog.done("blob", desc["digest"], "skipped: already exists")
        else:
            todo[d] = desc
    fresh: dict[str, tuple[Path, Path, int]] = {}
    if not todo:
        return fresh
    stop = threading.Event()

    def one(i: int, diff_id: str, desc: dict[str, Any]) -> None:
        for attempt in range(RETRIES + 1):
            ldir, lblob = staging / f"l{i}.{attempt}", staging / f"b{i}.{attempt}"
            try:
                size = _fetch_layer(client, ref, desc, diff_id, ldir, lblob, prog, stop)
                break
            except RegistryError as exc:
                # a connection dropped mid-blob is worth another go (from the start: the
                # partial layer was removed); wrong content, auth or a dead server is not
                if attempt == RETRIES or stop.is_set() or "connection lost" not in str(exc):
                    raise
                prog.status(f"Retrying blob {desc['digest'][7:19]}: {exc}")
                stop.wait(0.5 * (attempt + 1))
        fresh[diff_id] = (ldir, lblob, size)

    with ThreadPoolExecutor(max_workers=max(1, min(opts.parallel, len(todo)))) as pool:
        futures = [pool.submit(one, i, d, desc) for i, (d, desc) in enumerate(todo.items())]
        first: BaseException | None = None
        for fut in futures:
            try:
                fut.result()
            except BaseException as exc:  # noqa: BLE001 - re-raised below, once all stopped
                stop.set()
                if first is None or isinstance(first, RegistryError) and \
                        "cancelled" in str(first):
                    first = exc
        if first is not None:
            raise first
    return fresh


class _BlobReader:
    """A file-like view of a blob response that hashes and counts what it hands out.

    At the end of the stream the byte count and the sha256 must be the
    descriptor's, or DigestMismatch is raised before the caller can use a
    byte of it (the caller unpacks into staging only).
    """

    def __init__(self, chunks: Iterator[bytes], desc: dict[str, Any], what: str,
                 prog: Progress, stop: threading.Event) -> None:
        self.chunks, self.desc, self.what, self.prog, self.stop = chunks, desc, what, prog, stop
        self.sha = hashlib.sha256()
        self.count = 0
        self.buf = b""   # the current chunk; bytes before ``pos`` were handed out
        self.pos = 0
        self.eof = False

    def _more(self) -> bool:
        """Replace the (consumed) buffer with the next chunk; False at the verified end."""
        import httpx

        if self.stop.is_set():
            raise RegistryError(f"{self.what}: cancelled (another layer failed)")
        try:
            chunk = next(self.chunks, None)
        except httpx.HTTPError as exc:
            raise RegistryError(f"{self.what}: connection lost after {self.count} of "
                                f"{self.desc['size']} bytes ({exc or type(exc).__name__})") \
                from None
        if chunk is None:
            self.eof = True
            self._verify()
            return False
        self.count += len(chunk)
        if self.count > self.desc["size"]:
            raise DigestMismatch(f"{self.what}: the registry sent more than the "
                                 f"{self.desc['size']} bytes the manifest gives: refusing it")
        self.sha.update(chunk)
        self.prog.advance(self.desc["digest"], len(chunk))
        self.buf, self.pos = chunk, 0
        return True

    def _verify(self) -> None:
        got = "sha256:" + self.sha.hexdigest()
        if self.count != self.desc["size"] or got != self.desc["digest"]:
            raise DigestMismatch(f"{self.what}: content does not match its digest (got "
                                 f"{got[:19]}..., {self.count} bytes; expected "
                                 f"{self.desc['digest'][:19]}..., {self.desc['size']} bytes): "
                                 "refusing it, nothing was stored")

    def read(self, n: int = -1) -> bytes:
        """Up to ``n`` bytes (all with -1); copies only what it returns (no O(n^2) slicing)."""
        want = -1 if n is None or n < 0 else n
        parts = []
        while want != 0:
            avail = len(self.buf) - self.pos
            if avail == 0:
                if self.eof or not self._more():
                    break
                continue
            take = avail if want < 0 else min(avail, want)
            parts.append(self.buf[self.pos:self.pos + take] if take < len(self.buf) else self.buf)
            self.pos += take
            if want > 0:
                want -= take
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def drain(self) -> None:
        while not self.eof and self._more():
            pass


def _fetch_layer(client: RegistryClient, ref: Reference, desc: dict[str, Any], diff_id: str,
                 ldir: Path, lblob: Path, prog: Progress, stop: threading.Event) -> int:
    what = f"{ref.repo} layer {desc['digest'][:19]}"
    prog.start("blob", desc["digest"], desc["size"])
    with client.blob(ref.path, desc["digest"]) as resp:
        reader = _BlobReader(resp.iter_bytes(1 << 20), desc, what, prog, stop)
        try:
            got, size = extract_layer(reader, ldir, copy_to=lblob)  # type: ignore[arg-type]
            reader.drain()
        except ArchiveError as exc:
            reader_ok = reader.eof
            if not reader_ok:  # a broken stream explains it better than the unpacker
                try:
                    reader.drain()
                except RegistryError:
                    raise
            raise ArchiveError(f"{what}: {exc}") from None
    if got != diff_id:
        raise DigestMismatch(f"{what}: unpacks to {got[:19]}..., the image config says "
                             f"{diff_id[:19]}...: refusing it")
    prog.done("blob", desc["digest"])
    return size
