"""Paths on the command line -> the stack's input files, rendered and sorted into kube and compose.

``collect`` walks files and directories (recursively, hidden entries skipped,
sorted so the result never depends on the file system's order), keeps
``*.yaml``, ``*.yml`` and ``*.j2`` templates, renders each template with jinja2
(``StrictUndefined``: an undefined variable is an error naming the file and the
line, never an empty string), then decides what each file is:

* compose, by name (``compose.yaml``, ``docker-compose.yml``, their overrides,
  ``*.compose.yaml``, ``compose.*.yaml``) or by content (a mapping with
  ``services``/``networks``/``volumes``/``secrets``/``configs``/``include`` and
  no ``apiVersion``);
* Kubernetes, by content (every document has ``apiVersion`` and ``kind``);
* anything else is an error naming the file: a stray file in a GitOps
  directory must not be silently ignored.

Compose files of one directory form one compose project (overrides after
their base), as ``docker compose`` run in that directory would see them.
Nothing here touches the engine.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field

from podium.engine.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable, Mapping

SUFFIXES = (".yaml", ".yml", ".j2")
COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
COMPOSE_OVERRIDES = ("compose.override.yaml", "compose.override.yml",
                     "docker-compose.override.yaml", "docker-compose.override.yml")
_COMPOSE_NAME_RE = re.compile(r"^(?:.+[.-])?(?:docker-)?compose(?:[.-].+)?\.ya?ml$")
COMPOSE_KEYS = ("services", "networks", "volumes", "secrets", "configs", "include")


@dataclass
class Source:
    """One input file: where it is, its (rendered) text and what it is."""

    path: str               # as the user reaches it (relative paths kept relative)
    text: str
    kind: str = ""          # "kube" | "compose"
    template: bool = False

    @property
    def name(self) -> str:
        """The file's name without ``.j2``: what decides compose-by-name."""
        base = os.path.basename(self.path)
        return base[:-3] if base.endswith(".j2") else base


@dataclass
class ComposeGroup:
    """The compose files of one directory: one project."""

    directory: str
    files: list[Source] = field(default_factory=list)


@dataclass
class Inputs:
    kube: list[Source] = field(default_factory=list)
    compose: list[ComposeGroup] = field(default_factory=list)
    files: list[str] = field(default_factory=list)   # every file read, in order


# ---- walking --------------------------------------------------------------------------------

def walk(paths: Iterable[str], *, skip: Iterable[str] = ()) -> list[str]:
    """The input files under ``paths``: files as given, directories recursively, sorted."""
    skipped = {os.path.realpath(p) for p in skip}
    out: list[str] = []
    seen: set[str] = set()

    def add(p: str) -> None:
        real = os.path.realpath(p)
        if real in seen or real in skipped:
            return
        seen.add(real)
        out.append(p)

    for p in paths:
        if os.path.isdir(p):
            found = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for n in sorted(files):
                    if not n.startswith(".") and n.endswith(SUFFIXES):
                        found.append(os.path.join(root, n))
            if not found:
                raise ConfigError(f"{p}: the directory holds no .yaml, .yml or .j2 files")
            for f in sorted(found, key=lambda x: os.path.relpath(x, p).split(os.sep)):
                add(f)
        elif os.path.isfile(p):
            add(p)
        else:
            raise ConfigError(f"{p}: no such file or directory")
    if not out:
        raise ConfigError("no input files: name files or directories with -f")
    return out


def read(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


# ---- templates ------------------------------------------------------------------------------

def load_values(files: Iterable[str], sets: Iterable[str]) -> dict[str, Any]:
    """``--values`` YAML files merged in order, then ``--set a.b=c`` on top (dotted keys nest)."""
    from podium.declare.yamlload import load_documents

    values: dict[str, Any] = {}
    for path in files:
        docs = load_documents(read(path), path)
        for doc in docs:
            if not isinstance(doc.data, dict):
                raise ConfigError(f"{path}: a values file must be a mapping of names to values")
            _merge(values, doc.data)
    for item in sets:
        key, sep, value = item.partition("=")
        if not sep or not key or any(not part for part in key.split(".")):
            raise ConfigError(f"invalid --set {item!r}: expected KEY=VALUE (KEY may be dotted: a.b=c)")
        node = values
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = node[part] = {}
            node = nxt
        node[parts[-1]] = value
    return values


def _merge(into: dict[str, Any], other: Mapping[str, Any]) -> None:
    for k, v in other.items():
        if isinstance(v, dict) and isinstance(into.get(k), dict):
            _merge(into[k], v)
        else:
            into[k] = v


def render(path: str, text: str, values: Mapping[str, Any]) -> str:
    """A jinja2 template with ``values``; an undefined name or a syntax error names file:line."""
    import jinja2

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             loader=jinja2.FileSystemLoader(os.path.dirname(os.path.abspath(path)) or "."),
                             autoescape=False)
    try:
        template = env.from_string(text)
        template.filename = path
        return template.render(**values)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"template syntax error: {exc.message}", where=f"{path}:{exc.lineno}") from None
    except jinja2.UndefinedError as exc:
        line = _template_line(exc, path)
        raise ConfigError(f"undefined template variable: {exc.message} (set it with --values FILE or "
                          f"--set KEY=VALUE)", where=f"{path}:{line}" if line else path) from None
    except jinja2.TemplateError as exc:
        raise ConfigError(f"template error: {exc}", where=path) from None


def _template_line(exc: BaseException, path: str) -> int | None:
    import traceback
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename in (path, "<template>"):
            line = frame.lineno
    return line


# ---- kinds ----------------------------------------------------------------------------------

def detect(src: Source) -> str:
    """``kube`` or ``compose``; anything else is a ConfigError naming the file."""
    from podium.declare.yamlload import load_documents

    name = src.name
    if name in COMPOSE_NAMES or name in COMPOSE_OVERRIDES or _COMPOSE_NAME_RE.match(name):
        return "compose"
    docs = load_documents(src.text, src.path)
    if not docs:
        raise ConfigError(f"{src.path}: the file is empty: it is neither Kubernetes YAML nor a compose file")
    data = [d.data for d in docs]
    if all(isinstance(d, dict) and "apiVersion" in d and "kind" in d for d in data):
        return "kube"
    if len(data) == 1 and isinstance(data[0], dict) and "apiVersion" not in data[0] \
            and any(k in data[0] for k in COMPOSE_KEYS):
        return "compose"
    raise ConfigError(f"{src.path}: neither Kubernetes YAML (every document needs apiVersion and kind) nor a "
                      "compose file (a mapping with services:); move it out of the stack's directory")


def collect(paths: Iterable[str], *, values_files: Iterable[str] = (), sets: Iterable[str] = ()) -> Inputs:
    """Walk, render and sort the stack's files (see the module docstring)."""
    values_files = list(values_files)
    sets = list(sets)
    files = walk(paths, skip=values_files)
    values: dict[str, Any] | None = None
    inputs = Inputs(files=files)
    groups: dict[str, ComposeGroup] = {}
    for path in files:
        text = read(path)
        src = Source(path, text, template=path.endswith(".j2"))
        if src.template:
            if values is None:
                values = load_values(values_files, sets)
            src.text = render(path, text, values)
        src.kind = detect(src)
        if src.kind == "kube":
            inputs.kube.append(src)
        else:
            d = os.path.dirname(os.path.abspath(path))
            if d not in groups:
                groups[d] = ComposeGroup(d)
                inputs.compose.append(groups[d])
            groups[d].files.append(src)
    if values is None and (values_files or sets):
        load_values(values_files, sets)  # still report a broken values file
    for g in inputs.compose:
        g.files.sort(key=lambda s: (_is_override(s.name), s.path))
    return inputs


def _is_override(name: str) -> bool:
    return name in COMPOSE_OVERRIDES or ".override." in name


def default_stack_name(paths: Iterable[str]) -> str:
    """The first path's directory name (a file's parent), normalized as compose project names are."""
    first = next(iter(paths), ".")
    p = os.path.abspath(first)
    if not os.path.isdir(p):
        p = os.path.dirname(p)
    return normalize_name(os.path.basename(p.rstrip("/")) or "default")


def normalize_name(name: str) -> str:
    kept = re.sub(r"[^a-z0-9_-]", "", name.lower()).lstrip("_-")
    return kept or "default"


def check_stack_name(name: str) -> str:
    if not re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,62}", name):
        raise ConfigError(f"invalid stack name {name!r}: use lowercase letters, digits, '-' and '_', "
                          "starting with a letter or digit")
    return name
