"""registries.conf, read as containers/image reads it, into where a reference is pulled from.

Files: ``$CONTAINERS_REGISTRIES_CONF`` alone when set (as Podman does);
otherwise ``$XDG_CONFIG_HOME/containers/registries.conf`` (or ``~/.config``)
when it exists, else ``/etc/containers/registries.conf``, each followed by its
``registries.conf.d/*.conf`` drop-ins in name order. Later files override the
keys they set; ``[[registry]]`` tables merge by prefix.

What podium honours: ``unqualified-search-registries`` (short names), ``[aliases]``
(short-name aliases), and per-``[[registry]]`` ``prefix``/``location``,
``insecure`` (plain HTTP or unverified TLS allowed), ``blocked`` and
``[[registry.mirror]]`` (``location``, ``insecure``, ``pull-from-mirror``).
``sources`` turns one reference into the ordered list of places to try.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .reference import Reference, is_short_name, parse, qualify

SYSTEM_CONF = "/etc/containers/registries.conf"


@dataclass(frozen=True)
class Mirror:
    location: str
    insecure: bool = False
    pull_from_mirror: str = "all"  # all | digest-only | tag-only


@dataclass(frozen=True)
class RegistryEntry:
    prefix: str
    location: str
    insecure: bool = False
    blocked: bool = False
    mirrors: tuple[Mirror, ...] = ()


@dataclass(frozen=True)
class Source:
    """One place to try: the reference rewritten onto a location, and whether TLS may be skipped."""

    ref: Reference
    insecure: bool
    mirror: bool = False


@dataclass
class RegistriesConf:
    search: list[str] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    registries: list[RegistryEntry] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def entry_for(self, ref: Reference) -> RegistryEntry | None:
        """The [[registry]] whose prefix matches ``ref`` longest (containers' rule)."""
        name = str(ref)
        best: RegistryEntry | None = None
        for e in self.registries:
            p = e.prefix
            if name == p or name.startswith(p) and name[len(p)] in "/:@" or \
                    p.startswith("*.") and ref.domain.endswith(p[1:]):
                if best is None or len(p) > len(best.prefix):
                    best = e
        return best

    def insecure(self, domain: str) -> bool:
        e = self.entry_for(Reference(domain, "x"))
        return bool(e and e.insecure)

    def sources(self, ref: Reference) -> list[Source]:
        """Mirrors first (those allowed for this kind of reference), then the registry itself."""
        e = self.entry_for(ref)
        if e is None:
            return [Source(ref, False)]
        if e.blocked:
            raise ConfigError(f"registry {e.prefix} is blocked in {self.where()}")
        out = []
        by_digest = ref.digest is not None
        for m in e.mirrors:
            if (m.pull_from_mirror == "digest-only" and not by_digest) or \
                    (m.pull_from_mirror == "tag-only" and by_digest):
                continue
            out.append(Source(_rewrite(ref, e.prefix, m.location), m.insecure, mirror=True))
        out.append(Source(_rewrite(ref, e.prefix, e.location), e.insecure))
        return out

    def candidates(self, name: str) -> list[Reference]:
        """The fully qualified references a user's name stands for, in the order to try.

        A qualified name is itself; a short name is its alias if one is
        configured, else one candidate per unqualified-search registry. None
        configured is a clear error, not a guess (Podman's rule).
        """
        name = name.strip()
        if name.startswith("docker://"):
            name = name[len("docker://"):]
        if not is_short_name(name):
            return [parse(name)]
        bare, _, digest = name.partition("@")
        tag = None
        colon = bare.rfind(":")
        if colon > bare.rfind("/"):
            bare, tag = bare[:colon], bare[colon + 1:]
        alias = self.aliases.get(bare)
        if alias:
            return [parse(alias + (f":{tag}" if tag else "") + (f"@{digest}" if digest else ""))]
        if not self.search:
            raise ConfigError(
                f"short-name {name!r} did not resolve to an alias and no unqualified-search "
                f"registries are defined in {self.where()}: use a fully qualified name such as "
                f"registry.example.com/{name}")
        return [qualify(name, reg) for reg in self.search]

    def where(self) -> str:
        return ", ".join(self.files) if self.files else SYSTEM_CONF + " (absent)"


def _rewrite(ref: Reference, prefix: str, location: str) -> Reference:
    if prefix.startswith("*.") or not location or location == prefix:
        return ref
    rest = str(ref)[len(prefix):]
    return parse(location.rstrip("/") + rest)


def conf_files() -> list[Path]:
    env = os.environ.get("CONTAINERS_REGISTRIES_CONF")
    if env:
        return [Path(env)]
    cfg_home = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    user = Path(cfg_home) / "containers" / "registries.conf"
    main = user if user.is_file() else Path(SYSTEM_CONF)
    dropins: list[Path] = []
    for d in (Path(SYSTEM_CONF + ".d"), Path(cfg_home) / "containers" / "registries.conf.d"):
        if d.is_dir():
            dropins += sorted(d.glob("*.conf"))
    return [main, *dropins]


def load(files: list[Path] | None = None) -> RegistriesConf:
    """Read and merge the registries.conf files (missing ones are skipped)."""
    import tomllib

    conf = RegistriesConf()
    entries: dict[str, RegistryEntry] = {}
    for path in conf_files() if files is None else files:
        try:
            data = tomllib.loads(Path(path).read_text())
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from None
        conf.files.append(str(path))
        _merge(conf, entries, data, str(path))
    conf.registries = list(entries.values())
    return conf


def _merge(conf: RegistriesConf, entries: dict[str, RegistryEntry], data: dict,
           path: str) -> None:
    if "unqualified-search-registries" in data:
        search = data["unqualified-search-registries"]
        if not isinstance(search, list) or not all(isinstance(s, str) for s in search):
            raise ConfigError(f"{path}: unqualified-search-registries must be a list of strings")
        conf.search = list(search)
    aliases = data.get("aliases") or {}
    if not isinstance(aliases, dict):
        raise ConfigError(f"{path}: [aliases] must be a table")
    conf.aliases.update({str(k): str(v) for k, v in aliases.items()})
    regs = data.get("registry") or []
    if not isinstance(regs, list):
        raise ConfigError(f"{path}: [[registry]] must be an array of tables")
    for i, r in enumerate(regs):
        where = f"{path}: registry[{i}]"
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: not a table")
        location = str(r.get("location") or "")
        prefix = str(r.get("prefix") or location)
        if not prefix:
            raise ConfigError(f"{where}: needs a location or a prefix")
        mirrors = []
        for j, m in enumerate(r.get("mirror") or []):
            if not isinstance(m, dict) or not m.get("location"):
                raise ConfigError(f"{where}.mirror[{j}]: needs a location")
            pfm = str(m.get("pull-from-mirror") or "all")
            if pfm not in ("all", "digest-only", "tag-only"):
                raise ConfigError(f"{where}.mirror[{j}]: pull-from-mirror must be all, "
                                  "digest-only or tag-only")
            mirrors.append(Mirror(str(m["location"]), bool(m.get("insecure", False)), pfm))
        entries[prefix] = RegistryEntry(prefix, location or prefix, bool(r.get("insecure", False)),
                                        bool(r.get("blocked", False)), tuple(mirrors))
