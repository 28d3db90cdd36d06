"""Canonical compose dicts merged as the compose specification's merge rules say.

Used for several ``-f`` files (each one overrides the ones before it) and for
``extends`` (the extending service overrides its base). Inputs are canonical
(see ``canonical.py``), so each attribute has one shape:

- mappings merge key by key, recursively; a ``null`` override keeps the base;
- ``command``, ``entrypoint``, ``healthcheck.test`` and each ``ulimits`` entry
  are replaced, not merged;
- ``environment``, ``labels``, ``annotations``, ``sysctls``, ``build.args``,
  ``deploy.labels`` and resource ``labels`` merge by key (an override of
  ``null`` wins: the variable is then taken from the environment);
- sequences are appended, then kept unique by key: ``ports`` by
  (host_ip, published, target, protocol), ``volumes``/``secrets``/``configs``/
  ``devices`` by container target, ``env_file`` by path, ``networks.*.ipam.config``
  by subnet, plain string lists (``dns``, ``cap_add``, ``expose``, ...) by their
  text up to ``=``; an entry with a key already present replaces it in place;
- ``extra_hosts`` merge per host name; ``logging`` merges only when both sides
  use the same driver (or one names none), else the override replaces it;
- the tags ``!reset`` (remove from the base) and ``!override`` (replace
  wholesale, no merge) of the overriding file are honoured.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

from .located import Path
from .syntax import port_key

_KV = {
    ("services", "*", k) for k in ("environment", "labels", "annotations", "sysctls")
} | {
    ("services", "*", "build", "args"), ("services", "*", "build", "labels"),
    ("services", "*", "build", "additional_contexts"), ("services", "*", "deploy", "labels"),
    ("networks", "*", "labels"), ("volumes", "*", "labels"), ("secrets", "*", "labels"), ("configs", "*", "labels"),
    ("services", "*", "logging", "options"),
}

_REPLACE = {
    ("services", "*", "command"), ("services", "*", "entrypoint"),
    ("services", "*", "healthcheck", "test"), ("services", "*", "ulimits", "*"),
}


def _text_key(item: Any) -> Any:
    if isinstance(item, str):
        return item.split("=", 1)[0]
    return repr(item)


def _mount_key(default_dir: str) -> Callable[[Any], Any]:
    def key(item: Any) -> Any:
        if isinstance(item, dict):
            target = item.get("target")
            if target:
                return target if target.startswith("/") or not default_dir else f"{default_dir}/{target}"
            return f"{default_dir}/{item.get('source')}"
        return f"{default_dir}/{item}"
    return key


def _field_key(name: str) -> Callable[[Any], Any]:
    return lambda item: item.get(name) if isinstance(item, dict) else item


_UNIQUE: dict[Path, Callable[[Any], Any]] = {
    ("services", "*", "ports"): lambda p: port_key(p) if isinstance(p, dict) else p,
    ("services", "*", "volumes"): _field_key("target"),
    ("services", "*", "devices"): lambda d: d.get("target") or d.get("source") if isinstance(d, dict) else (d.split(":") + [d])[1],
    ("services", "*", "secrets"): _mount_key("/run/secrets"),
    ("services", "*", "configs"): _mount_key(""),
    ("services", "*", "env_file"): _field_key("path"),
    ("networks", "*", "ipam", "config"): _field_key("subnet"),
    ("services", "*", "networks", "*", "aliases"): _text_key,
    ("services", "*", "networks", "*", "link_local_ips"): _text_key,
}
for _k in ("expose", "dns", "dns_opt", "dns_search", "cap_add", "cap_drop", "tmpfs", "profiles", "links",
           "external_links", "security_opt", "group_add", "volumes_from", "label_file", "device_cgroup_rules"):
    _UNIQUE[("services", "*", _k)] = _text_key


def _matches(path: Path, pattern: Path) -> bool:
    if len(path) != len(pattern):
        return False
    return all(p == "*" or p == x for x, p in zip(path, pattern))


def _rule(path: Path, table: Any) -> Any:
    for pattern in table:
        if _matches(path, pattern):
            return table[pattern] if isinstance(table, dict) else pattern
    return None


def unique(items: list[Any], key: Callable[[Any], Any]) -> list[Any]:
    """Keep one entry per key; a later entry replaces the earlier one in place."""
    out: list[Any] = []
    index: dict[Any, int] = {}
    for item in items:
        k = key(item)
        try:
            hash(k)
        except TypeError:
            k = repr(k)
        if k in index:
            out[index[k]] = item
        else:
            index[k] = len(out)
            out.append(item)
    return out


class Merger:
    def __init__(self, *, overrides: list[Path] | None = None) -> None:
        self.overrides = {tuple(p) for p in (overrides or [])}

    def merge(self, base: Any, over: Any, path: Path) -> Any:
        if path in self.overrides:
            return copy.deepcopy(over)
        if _rule(path, _REPLACE):
            return copy.deepcopy(over)
        if _rule(path, _KV) and isinstance(base, dict) and isinstance(over, dict):
            merged = dict(base)
            merged.update(over)
            return merged
        if over is None:
            return base
        if _matches(path, ("services", "*", "extra_hosts")) and isinstance(base, dict) and isinstance(over, dict):
            merged = {h: list(ips) for h, ips in base.items()}
            for host, ips in over.items():
                merged.setdefault(host, [])
                merged[host] += [ip for ip in ips if ip not in merged[host]]
            return merged
        if _matches(path, ("services", "*", "logging")) and isinstance(base, dict) and isinstance(over, dict):
            if base.get("driver") and over.get("driver") and base["driver"] != over["driver"]:
                return copy.deepcopy(over)
        if isinstance(base, dict) and isinstance(over, dict):
            merged = dict(base)
            for k, v in over.items():
                merged[k] = self.merge(base[k], v, path + (k,)) if k in base else copy.deepcopy(v)
            return merged
        if isinstance(base, list) and isinstance(over, list):
            key = _rule(path, _UNIQUE)
            combined = list(base) + copy.deepcopy(over)
            return unique(combined, key) if key else combined
        return copy.deepcopy(over)


def apply_resets(doc: dict[str, Any], resets: list[Path], *, prefix: Path = ()) -> None:
    """Remove each ``!reset`` path (relative to ``prefix``) from ``doc``, in place."""
    for path in resets:
        path = tuple(path)
        if path[: len(prefix)] != tuple(prefix):
            continue
        rel = path[len(prefix):]
        node: Any = doc
        for part in rel[:-1]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            else:
                node = None
                break
        if rel and isinstance(node, dict):
            node.pop(rel[-1], None)


def merge_documents(base: dict[str, Any], over: dict[str, Any], *, resets: list[Path] = (),
                    overrides: list[Path] = ()) -> dict[str, Any]:
    """``over`` (a later file) merged onto ``base``; neither input is modified."""
    base = copy.deepcopy(base)
    apply_resets(base, list(resets))
    merged = Merger(overrides=list(overrides)).merge(base, over, ())
    return dedupe(merged)


def merge_service(base: dict[str, Any], over: dict[str, Any], name: str, *, resets: list[Path] = (),
                  overrides: list[Path] = ()) -> dict[str, Any]:
    """For ``extends``: service ``name`` (``over``) merged onto the service it extends (``base``)."""
    prefix = ("services", name)
    base = copy.deepcopy(base)
    apply_resets(base, list(resets), prefix=prefix)
    merged = Merger(overrides=list(overrides)).merge(base, over, prefix)
    return dedupe({"services": {name: merged}})["services"][name]


def dedupe(doc: dict[str, Any]) -> dict[str, Any]:
    """Enforce the uniqueness rules inside one document (also after a single file)."""
    def walk(node: Any, path: Path) -> Any:
        if isinstance(node, dict):
            return {k: walk(v, path + (k,)) for k, v in node.items()}
        if isinstance(node, list):
            key = _rule(path, _UNIQUE)
            return unique(node, key) if key else node
        return node
    return walk(doc, ())
