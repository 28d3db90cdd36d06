"""Compose files -> one normalized ``Project``: the whole loading pipeline.

For each file given (or discovered), for each YAML document in it:

    read with positions -> interpolate -> validate (JSON Schema) -> canonical
    long forms -> resolve ``extends`` -> merge onto the files before it

then ``include`` (each included file is a project of its own, with its own
directory and ``.env``, whose resources are added; a name defined differently
on both sides is an error), then the project name, then ``normalize``:
profiles, env files, references, defaults, the pydantic model.

Every error is a ``ConfigError`` naming ``file:line:column`` and the field
path. Nothing here touches the engine.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Iterable, Mapping, TextIO

from podium.engine.errors import ConfigError

from . import discover as disc
from . import validate
from .canonical import canonicalize
from .interpolate import interpolate_tree
from .located import Locator, SourceFile, fmt_path
from .merge import dedupe, merge_documents, merge_service
from .outline import Outline, outline
from .yamlpos import Document, load_documents

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .model import Project


class _File:
    """One loaded file: its documents, interpolated, validated and canonical."""

    def __init__(self, path: str, docs: list[tuple[SourceFile, Document, dict[str, Any]]]) -> None:
        self.path = path
        self.docs = docs


class Loader:
    def __init__(self, *, warnings: list[str], locator: Locator, stdin: str | TextIO | None = None,
                 cwd: str | None = None) -> None:
        self.cwd = cwd
        self.warnings = warnings
        self.locator = locator
        self.stdin = stdin
        self._stdin_text: str | None = None
        self._extends_cache: dict[tuple[str, int], _ExtendsScope] = {}

    # -- reading ---------------------------------------------------------------

    def read(self, path: str) -> str:
        if path == "-":
            if self._stdin_text is None:
                src = self.stdin if self.stdin is not None else sys.stdin
                self._stdin_text = src if isinstance(src, str) else src.read()
            return self._stdin_text
        try:
            with open(path, encoding="utf-8") as f:
                return f.read()
        except FileNotFoundError:
            raise ConfigError(f"compose file {path} not found") from None
        except IsADirectoryError:
            raise ConfigError(f"compose file {path} is a directory") from None
        except UnicodeDecodeError:
            raise ConfigError(f"compose file {path} is not UTF-8 text") from None

    def parse(self, path: str, *, base_dir: str, env: Mapping[str, str]) -> _File:
        text = self.read(path)
        filename = "<stdin>" if path == "-" else path
        out = []
        for i, doc in enumerate(load_documents(text, filename, cwd=self.cwd)):
            source = SourceFile(filename, doc.positions, doc_index=i, cwd=self.cwd)
            if not isinstance(doc.data, dict):
                raise ConfigError("the top level of a compose file must be a mapping", where=source.where(()))
            data = interpolate_tree(_drop_nulls(doc.data), env.get, source=source, warnings=self.warnings)
            validate.check(data, source)
            canon = dedupe(canonicalize(data, source=source, base_dir=base_dir, warnings=self.warnings))
            out.append((source, doc, canon))
        return _File(path, out)

    # -- files and merge ---------------------------------------------------------

    def load_files(self, files: list[str], *, base_dir: str, env: Mapping[str, str],
                   include_stack: tuple[str, ...] = ()) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        for path in files:
            parsed = self.parse(path, base_dir=base_dir, env=env)
            for source, doc, canon in parsed.docs:
                self.locator.add(source)
                scope = _ExtendsScope(self, source, doc, canon, env)
                canon = scope.resolve_all()
                merged = merge_documents(merged, canon, resets=doc.resets, overrides=doc.overrides)
        includes = merged.pop("include", [])
        for inc in includes:
            self.include(merged, inc, env=env, include_stack=include_stack + tuple(files))
        return merged

    def include(self, merged: dict[str, Any], inc: dict[str, Any], *, env: Mapping[str, str],
                include_stack: tuple[str, ...]) -> None:
        paths = inc["path"]
        for p in paths:
            if p in include_stack:
                chain = " -> ".join((*include_stack, p))
                raise ConfigError(f"include cycle: {chain}", where=inc.get("where"))
            if not os.path.isfile(p):
                raise ConfigError(f"included file {p} not found", where=inc.get("where"))
        project_dir = inc.get("project_directory") or os.path.dirname(paths[0])
        env_files = inc.get("env_file")
        if env_files is None:
            dotenv = os.path.join(project_dir, ".env")
            env_files = [dotenv] if os.path.isfile(dotenv) else []
        for p in env_files:
            if not os.path.isfile(p):
                raise ConfigError(f"env file {p} not found", where=inc.get("where"))
        sub_env = disc.load_environment(env_files, env)
        known = len(self.locator.sources)
        sub = self.load_files(paths, base_dir=project_dir, env=sub_env, include_stack=include_stack)
        for kind in ("services", "networks", "volumes", "secrets", "configs"):
            for key, value in (sub.get(kind) or {}).items():
                mine = merged.setdefault(kind, {})
                if key in mine and mine[key] != value:
                    raise ConfigError(f"{kind[:-1]} {key!r} from included file {paths[0]} conflicts with "
                                      f"a different definition of {key!r} in this project",
                                      where=self.locator.where((kind, key), upto=known), field=fmt_path((kind, key)))
                mine[key] = value

    def extends_scope(self, path: str, env: Mapping[str, str]) -> list[_ExtendsScope]:
        """The documents of a file named by ``extends.file``, each resolvable on its own."""
        key = (path, id(env))
        if key not in self._extends_cache:
            parsed = self.parse(path, base_dir=os.path.dirname(path), env=env)
            scopes = [_ExtendsScope(self, source, doc, canon, env) for source, doc, canon in parsed.docs]
            self._extends_cache[key] = scopes  # type: ignore[assignment]
        return self._extends_cache[key]  # type: ignore[return-value]


def _drop_nulls(doc: dict[str, Any]) -> dict[str, Any]:
    """A null top-level section or service attribute means "nothing here" (and keeps the base in a merge)."""
    out = {k: v for k, v in doc.items() if v is not None}
    services = out.get("services")
    if isinstance(services, dict):
        out["services"] = {name: ({k: v for k, v in svc.items() if v is not None} if isinstance(svc, dict) else svc)
                           for name, svc in services.items()}
    return out


class _ExtendsScope:
    """The services of one document, with ``extends`` resolved lazily and cycles named."""

    def __init__(self, loader: Loader, source: SourceFile, doc: Document, canon: dict[str, Any],
                 env: Mapping[str, str]) -> None:
        self.loader = loader
        self.source = source
        self.doc = doc
        self.canon = canon
        self.env = env
        self.services: dict[str, Any] = canon.get("services") or {}
        self.resolved: dict[str, dict[str, Any]] = {}

    def resolve_all(self) -> dict[str, Any]:
        if not self.services:
            return self.canon
        out = dict(self.canon)
        out["services"] = {name: self.resolve(name, ()) for name in self.services}
        return out

    def resolve(self, name: str, chain: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        if name in self.resolved:
            return self.resolved[name]
        me = (self.source.display, name)
        if me in chain:
            names = " -> ".join(f"{svc} ({f})" for f, svc in (*chain[chain.index(me):], me))
            raise ConfigError(f"extends cycle: {names}", where=self.source.where(("services", name, "extends")),
                              field=fmt_path(("services", name, "extends")))
        svc = self.services[name]
        ext = svc.get("extends")
        if not ext:
            self.resolved[name] = svc
            return svc
        base_name = ext["service"]
        here = ("services", name, "extends")
        if ext.get("file"):
            other = ext["file"]
            if not os.path.isfile(other):
                raise self.source.error(f"extended file {other} not found", here)
            scopes = self.loader.extends_scope(other, self.env)
            scope = next((s for s in reversed(scopes) if base_name in s.services), None)
            if scope is None:
                raise self.source.error(f"service {base_name!r} not found in {other}", here)
        else:
            scope = self
            if base_name not in self.services:
                raise self.source.error(f"service {name!r} extends undefined service {base_name!r}", here)
        base = scope.resolve(base_name, chain + (me,))
        self.loader.locator.alias(("services", name), scope.source, ("services", base_name))
        own = {k: v for k, v in svc.items() if k != "extends"}
        merged = merge_service(base, own, name, resets=self.doc.resets, overrides=self.doc.overrides)
        self.resolved[name] = merged
        return merged


def _load_merged(files: list[str] | None, *, project_name: str | None, project_dir: str | None,
                 env_files: list[str] | None, environ: Mapping[str, str] | None, cwd: str | None,
                 stdin: str | TextIO | None) -> tuple[Any, dict[str, Any], str, list[str], Locator]:
    """Discovery, parse, interpolation, validation, extends, include and merge: the files as
    one checked document, and the project's name."""
    found = disc.discover(files, project_dir=project_dir, env_files=env_files, environ=environ, cwd=cwd)
    warnings = list(found.warnings)
    locator = Locator()
    loader = Loader(warnings=warnings, locator=locator, stdin=stdin, cwd=cwd)
    merged = loader.load_files(found.files, base_dir=found.project_dir, env=found.environment)
    if not any(merged.get(k) for k in ("services", "networks", "volumes", "secrets", "configs", "name")):
        raise ConfigError("empty compose file: no services", where=", ".join(
            "<stdin>" if f == "-" else f for f in found.files))
    name = disc.project_name(explicit=project_name, environment=found.environment, declared=merged.get("name"),
                             project_dir=found.project_dir)
    return found, merged, name, warnings, locator


def load_project(files: list[str] | None = None, *, project_name: str | None = None, project_dir: str | None = None,
                 env_files: list[str] | None = None, profiles: Iterable[str] | None = None,
                 environ: Mapping[str, str] | None = None, services: Iterable[str] | None = None,
                 cwd: str | None = None, stdin: str | TextIO | None = None) -> "Project":
    """Load a compose project the way Docker Compose does (see the module docstring).

    ``files``: the ``-f`` paths in order (``"-"`` reads ``stdin``); ``None`` or empty
    discovers them. ``profiles``: ``--profile`` values (``None`` reads
    ``COMPOSE_PROFILES``). ``services``: services named on the command line, enabled
    whatever their profiles. ``environ`` defaults to ``os.environ``, ``cwd`` to the
    current directory.
    """
    from .normalize import build_project  # the pydantic model: only where a full project is needed

    found, merged, name, warnings, locator = _load_merged(
        files, project_name=project_name, project_dir=project_dir, env_files=env_files, environ=environ,
        cwd=cwd, stdin=stdin)
    if profiles is None:
        raw = found.environment.get("COMPOSE_PROFILES", "")
        profiles = [p.strip() for p in raw.split(",") if p.strip()]
    config_files = ["-" if f == "-" else f for f in found.files]
    return build_project(merged, name=name, working_dir=found.project_dir, config_files=config_files,
                         environment=found.environment, profiles=list(profiles), wanted=list(services or []),
                         locator=locator, warnings=warnings)


def load_outline(files: list[str] | None = None, *, project_name: str | None = None,
                 project_dir: str | None = None, env_files: list[str] | None = None,
                 environ: Mapping[str, str] | None = None, cwd: str | None = None,
                 stdin: str | TextIO | None = None) -> Outline:
    """The project as far as the commands that act on existing containers need it (``down``,
    ``ps``, ``stop``, ``logs``...): its name, its services and their dependencies.

    The files are read, interpolated, validated and merged exactly as for
    ``load_project`` (a broken file is the same error), but no pydantic model is
    built: that is about 0.15 s of every such command.
    """
    found, merged, name, warnings, _ = _load_merged(
        files, project_name=project_name, project_dir=project_dir, env_files=env_files, environ=environ,
        cwd=cwd, stdin=stdin)
    return outline(merged, name=name, working_dir=found.project_dir, warnings=warnings)
