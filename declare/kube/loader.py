"""Kubernetes YAML files -> typed objects, each remembering the document it came from.

``load(paths)`` reads files, directories and ``-`` (stdin), splits them into
documents, checks each against its kind's JSON Schema (schema.py) and builds
the pydantic model (models.py). Unknown kinds and unsupported fields follow
``validate``: ``ignore`` drops them silently, ``warn`` (the default) reports
each by name, ``strict`` refuses the input. Every error is a ``ConfigError``
located at ``file:line:column`` with the field path.
"""

from __future__ import annotations

from podium.engine.errors import ConfigError

from . import schema

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterable

    from podium.declare.yamlload import Document

VALIDATE_MODES = ("ignore", "warn", "strict")


class KubeObject:
    """One loaded object: its kind, name, model and the document that declared it."""

    __slots__ = ("kind", "name", "model", "doc")

    def __init__(self, kind: str, name: str, model: Any, doc: "Document") -> None:
        self.kind = kind
        self.name = name
        self.model = model
        self.doc = doc

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} from {self.doc.source}>"


class Loaded:
    """All objects of one play, in input order, plus the warnings met on the way."""

    def __init__(self) -> None:
        self.objects: list[KubeObject] = []
        self.warnings: list[str] = []

    def of(self, *kinds: str) -> list[KubeObject]:
        return [o for o in self.objects if o.kind in kinds]


def _notice(loaded: Loaded, validate: str, doc: "Document", path: tuple[Any, ...], message: str) -> None:
    if validate == "ignore":
        return
    err = doc.error(path, message, key=True)
    if validate == "strict":
        raise ConfigError(message.replace(" (ignored)", "") + " (refused by --validate=strict)",
                          where=err.where, field=err.field)
    loaded.warnings.append(str(err))


def load_documents(docs: "Iterable[Document]", *, validate: str = "warn",
                   loaded: Loaded | None = None) -> Loaded:
    from pydantic import ValidationError

    from .models import MODELS

    if validate not in VALIDATE_MODES:
        raise ConfigError(f"invalid --validate {validate!r}: use ignore, warn or strict")
    loaded = loaded if loaded is not None else Loaded()
    for doc in docs:
        data = doc.data
        if not isinstance(data, dict):
            raise doc.error((), "expected a Kubernetes object (a mapping with apiVersion and kind)")
        kind = data.get("kind")
        if "kind" not in data:
            raise doc.error((), "missing required field 'kind'")
        if not isinstance(kind, str):
            raise doc.error(("kind",), "expected string")
        if "apiVersion" not in data:
            raise doc.error((), "missing required field 'apiVersion'")
        if kind not in schema.KINDS:
            _notice(loaded, validate, doc, ("kind",), f"unsupported kind {kind!r} (ignored)")
            continue
        if data.get("apiVersion") != schema.KINDS[kind]:
            raise doc.error(("apiVersion",), f"unsupported apiVersion {data.get('apiVersion')!r} for "
                                             f"{kind}: expected {schema.KINDS[kind]!r}")
        schema.check(doc, kind)
        for path, note in schema.unsupported(doc, kind):
            _notice(loaded, validate, doc, path, f"{note} (ignored)")
        try:
            model = MODELS[kind].model_validate(data)
        except ValidationError as exc:  # the schema should have caught it; still locate it
            e = exc.errors()[0]
            raise doc.error(tuple(e.get("loc", ())), e.get("msg", "invalid value")) from None
        name = model.metadata.name
        if not name:
            raise doc.error(("metadata",), "missing required field 'name'")
        for other in loaded.objects:
            if other.kind == kind and other.name == name:
                raise doc.error(("metadata", "name"), f"{kind} {name!r} is declared twice "
                                                      f"(first at {other.doc.where(('metadata', 'name'))})")
        loaded.objects.append(KubeObject(kind, name, model, doc))
    return loaded


def load(paths: "Iterable[str]", *, validate: str = "warn", configmaps: "Iterable[str]" = (),
         stdin: Any = None) -> Loaded:
    """Load the play's files and the ``--configmap`` files (ConfigMaps and Secrets only)."""
    from podium.declare.yamlload import load_paths

    paths = list(paths)
    if not paths:
        raise ConfigError("no Kubernetes YAML given: name a file, a directory or - for stdin")
    loaded = load_documents(load_paths(paths, stdin=stdin), validate=validate)
    main = {(o.kind, o.name) for o in loaded.objects}
    for path in configmaps:
        extra = load_documents(load_paths([path]), validate=validate)
        for o in extra.objects:
            if o.kind not in ("ConfigMap", "Secret"):
                raise o.doc.error(("kind",), f"--configmap files may hold ConfigMaps and Secrets only, "
                                             f"not {o.kind}")
            if (o.kind, o.name) in main:
                raise o.doc.error(("metadata", "name"), f"ambiguous configuration: {o.kind} {o.name!r} is "
                                                        f"also declared in the played YAML")
            main.add((o.kind, o.name))
            loaded.objects.append(o)
        loaded.warnings += extra.warnings
    return loaded


class _Names:
    """Just what ``kube down`` reads of a workload: ``spec.replicas`` and ``spec.completions``."""

    def __init__(self, data: dict[str, Any]) -> None:
        spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
        self.replicas = spec.get("replicas", 1) if isinstance(spec.get("replicas", 1), int) else 1
        self.completions = spec.get("completions", 1) if isinstance(spec.get("completions", 1), int) else 1


class _Light:
    def __init__(self, data: dict[str, Any]) -> None:
        self.spec = _Names(data)


def load_names(paths: "Iterable[str]", *, stdin: Any = None) -> Loaded:
    """The kinds and names of the objects only (``kube down``): no schema, no pydantic models.

    Taking a file down must not cost the ~0.7 s of building the models and
    validators; whatever the play accepted names its pods the same way here.
    A document without a usable kind or name is passed over.
    """
    from podium.declare.yamlload import load_paths

    paths = list(paths)
    if not paths:
        raise ConfigError("no Kubernetes YAML given: name a file, a directory or - for stdin")
    loaded = Loaded()
    for doc in load_paths(paths, stdin=stdin):
        data = doc.data
        if not isinstance(data, dict) or data.get("kind") not in schema.KINDS:
            continue
        meta = data.get("metadata")
        name = meta.get("name") if isinstance(meta, dict) else None
        if isinstance(name, str) and name:
            loaded.objects.append(KubeObject(data["kind"], name, _Light(data), doc))
    return loaded
