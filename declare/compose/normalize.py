"""The merged canonical dict of a project -> a ``Project`` model, checked as a whole.

What happens here needs the whole project: profiles pick the enabled services
(a service without ``profiles`` is always on; ``--profile``/``COMPOSE_PROFILES``
enable more, ``*`` all; a service named on the command line is on with its
profiles; a service that an enabled one depends on is pulled in);
``env_file`` contents and bare ``environment`` names are resolved; every
reference (``depends_on``, ``networks``, named volumes, secrets, configs,
``network_mode: service:x``, ``volumes_from``, ``links``) must name something
defined; ``depends_on`` must not form a cycle; a service gets the ``default``
network when it names none; networks, volumes, secrets and configs get their
host names (``<project>_<key>``) and unused ones are dropped; attributes
podium does not model are named in a warning and left out.
"""

from __future__ import annotations

import os
from typing import Any, Iterable

from pydantic import ValidationError

from podium.engine.errors import ConfigError

from . import model as m
from . import syntax
from .dotenv import read_env_file
from .located import Locator, Path

_SERVICE_FIELDS = set(m.Service.model_fields) - {"name"}
_CONSUMED = {"env_file", "label_file", "extends"}
_RESTART = ("no", "always", "unless-stopped", "on-failure")


def _sorted(d: dict[str, Any] | None) -> dict[str, Any]:
    return {k: d[k] for k in sorted(d or {})}


def _dependencies(name: str, svc: dict[str, Any]) -> list[str]:
    """Services ``svc`` needs started first: depends_on, network_mode/ipc/pid ``service:x``, volumes_from, links."""
    deps = list((svc.get("depends_on") or {}).keys())
    for key in ("network_mode", "ipc", "pid"):
        v = svc.get(key)
        if isinstance(v, str) and v.startswith("service:"):
            deps.append(v.split(":", 1)[1])
    for v in svc.get("volumes_from") or []:
        if not v.startswith("container:"):
            deps.append(v.split(":", 1)[0])
    for v in svc.get("links") or []:
        deps.append(v.split(":", 1)[0])
    return [d for d in dict.fromkeys(deps) if d != name]


class Normalizer:
    def __init__(self, doc: dict[str, Any], *, name: str, locator: Locator, environment: dict[str, str],
                 warnings: list[str], working_dir: str) -> None:
        self.doc = doc
        self.working_dir = working_dir
        self.name = name
        self.loc = locator
        self.env = environment
        self.warnings = warnings

    def fail(self, message: str, path: Path) -> ConfigError:
        return self.loc.error(message, path)

    # -- profiles ------------------------------------------------------------------

    def select(self, profiles: Iterable[str], wanted: Iterable[str]) -> tuple[list[str], list[str], list[str]]:
        """(enabled services, disabled services, active profiles)."""
        services = self.doc.get("services") or {}
        active = {p for p in profiles if p}
        wanted = list(wanted)
        for w in wanted:
            if w not in services:
                raise ConfigError(f"no such service: {w}")
            active.update(services[w].get("profiles") or [])
        everything = "*" in active
        enabled = {n for n, s in services.items()
                   if everything or n in wanted or not s.get("profiles") or active & set(s.get("profiles") or [])}
        todo = list(enabled)
        while todo:
            n = todo.pop()
            for dep in _dependencies(n, services[n]):
                if dep in services and dep not in enabled:
                    enabled.add(dep)
                    todo.append(dep)
        on = sorted(enabled)
        off = sorted(set(services) - enabled)
        return on, off, sorted(active)

    # -- services --------------------------------------------------------------------

    def environment(self, name: str, svc: dict[str, Any]) -> dict[str, str | None]:
        env: dict[str, str | None] = {}
        for i, ef in enumerate(svc.get("env_file") or []):
            path = ef["path"]
            if not os.path.isfile(path):
                if not ef.get("required", True):
                    continue
                raise self.fail(f"env file {path} not found", ("services", name, "env_file", i))
            if ef.get("format") not in (None, "", "dotenv"):
                raise self.fail(f"unsupported env_file format {ef['format']!r} (only dotenv)",
                                ("services", name, "env_file", i, "format"))
            env.update(read_env_file(path, lookup=self.env.get))
        for k, v in (svc.get("environment") or {}).items():
            if v is None:
                v = self.env.get(k)
            env[k] = v
        return _sorted(env)

    def labels(self, name: str, svc: dict[str, Any]) -> dict[str, str]:
        labels: dict[str, str] = {}
        for i, path in enumerate(svc.get("label_file") or []):
            if not os.path.isfile(path):
                raise self.fail(f"label file {path} not found", ("services", name, "label_file", i))
            labels.update(read_env_file(path))
        labels.update({k: ("" if v is None else v) for k, v in (svc.get("labels") or {}).items()})
        return _sorted(labels)

    def service(self, name: str, raw: dict[str, Any]) -> m.Service:
        p = ("services", name)
        svc = dict(raw)
        services = self.doc.get("services") or {}
        for key in sorted(svc):
            if key not in _SERVICE_FIELDS and key not in _CONSUMED:
                self.warnings.append(f"{self.loc.where(p + (key,))}: service {name!r}: {key!r} is not supported by "
                                     "podium and is ignored")
                svc.pop(key)
        svc.pop("extends", None)
        svc["environment"] = self.environment(name, svc)
        svc["labels"] = self.labels(name, svc)
        svc.pop("label_file", None)
        for key in ("annotations", "sysctls"):
            if key in svc:
                svc[key] = _sorted({k: ("" if v is None else v) for k, v in svc[key].items()})
        if svc.get("extra_hosts"):
            svc["extra_hosts"] = _sorted(svc["extra_hosts"])
        if svc.get("ulimits"):
            svc["ulimits"] = _sorted(svc["ulimits"])
        if svc.get("build") is not None and not svc["build"].get("context"):
            svc["build"] = {**svc["build"], "context": self.working_dir}
        if not svc.get("image") and not svc.get("build"):
            raise self.fail(f"service {name!r} has neither an image nor a build context", p)

        # networks
        mode = svc.get("network_mode")
        if mode and svc.get("networks"):
            raise self.fail(f"service {name!r} declares both network_mode and networks, which exclude each other",
                            p + ("network_mode",))
        if not mode and not svc.get("networks"):
            svc["networks"] = {"default": {}}
        declared_nets = self.doc.get("networks") or {}
        for net in svc.get("networks") or {}:
            if net != "default" and net not in declared_nets:
                raise self.fail(f"service {name!r} refers to undefined network {net!r}", p + ("networks", net))
        if svc.get("networks"):
            svc["networks"] = _sorted({k: {kk: vv for kk, vv in (v or {}).items()} for k, v in svc["networks"].items()})

        # dependencies
        deps = dict(svc.get("depends_on") or {})
        for dep in list(deps):
            if dep == name:
                raise self.fail(f"service {name!r} depends on itself", p + ("depends_on", dep))
            if dep not in services:
                if deps[dep].get("required", True):
                    raise self.fail(f"service {name!r} depends on undefined service {dep!r}", p + ("depends_on", dep))
                self.warnings.append(f"service {name!r}: optional dependency {dep!r} is not defined; ignored")
                deps.pop(dep)
        svc["depends_on"] = deps
        for dep in _dependencies(name, svc):
            if dep not in services:
                raise self.fail(f"service {name!r} refers to undefined service {dep!r}", p)
            deps.setdefault(dep, {"condition": "service_started", "required": True})
        svc["depends_on"] = _sorted(deps)

        # mounts
        volumes = self.doc.get("volumes") or {}
        for i, vol in enumerate(svc.get("volumes") or []):
            if vol.get("type") == "volume" and vol.get("source") and vol["source"] not in volumes:
                raise self.fail(f"service {name!r} refers to undefined volume {vol['source']!r}", p + ("volumes", i))
        for kind, default_dir in (("secrets", "/run/secrets"), ("configs", "")):
            defined = self.doc.get(kind) or {}
            refs = []
            for i, ref in enumerate(svc.get(kind) or []):
                if ref["source"] not in defined:
                    raise self.fail(f"service {name!r} refers to undefined {kind[:-1]} {ref['source']!r}", p + (kind, i))
                ref = dict(ref)
                target = ref.get("target") or ref["source"]
                if not target.startswith("/"):
                    target = f"{default_dir}/{target}"
                ref["target"] = target
                refs.append(ref)
            if kind in svc:
                svc[kind] = refs
        if svc.get("devices"):
            svc["devices"] = [self.device(d, p + ("devices", i)) for i, d in enumerate(svc["devices"])]

        # scale
        deploy = svc.get("deploy") or {}
        replicas = deploy.get("replicas")
        scale = svc.get("scale")
        if replicas is not None and scale is not None and replicas != scale:
            raise self.fail(f"service {name!r} sets scale {scale} and deploy.replicas {replicas}; set only one", p + ("scale",))
        svc["scale"] = replicas if replicas is not None else (scale if scale is not None else 1)
        if svc["scale"] < 0:
            raise self.fail("must not be negative", p + ("scale",))

        if svc.get("restart") is not None:
            svc["restart"] = self.restart(str(svc["restart"]), p + ("restart",))
        if svc.get("healthcheck"):
            svc["healthcheck"] = self.healthcheck(svc["healthcheck"], p + ("healthcheck",))
        if svc.get("oom_score_adj") is not None:
            svc["oom_score_adj"] = self.check(p + ("oom_score_adj",), syntax.parse_int, svc["oom_score_adj"], "oom_score_adj")
        if svc.get("cpu_shares") is not None:
            svc["cpu_shares"] = self.check(p + ("cpu_shares",), syntax.parse_int, svc["cpu_shares"], "cpu_shares")
        for key in ("group_add", "expose"):
            if key in svc:
                svc[key] = [syntax.scalar_str(v) for v in svc[key]]
        if svc.get("dns_opt") is not None:
            svc["dns_opt"] = [str(v) for v in svc["dns_opt"]]
        svc = {k: v for k, v in svc.items() if v is not None or k in ("command", "entrypoint")}
        try:
            return m.Service.model_validate({"name": name, **svc})
        except ValidationError as exc:
            raise self.pydantic_error(exc, p) from None

    def check(self, path: Path, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except ValueError as exc:
            raise self.fail(str(exc), path) from None

    def device(self, spec: Any, path: Path) -> dict[str, Any]:
        if isinstance(spec, dict):
            return {"source": spec["source"], "target": spec.get("target") or spec["source"],
                    "permissions": spec.get("permissions") or "rwm"}
        parts = str(spec).split(":")
        if len(parts) > 3 or not parts[0]:
            raise self.fail(f"invalid device {spec!r}: expected HOST[:CONTAINER[:PERMISSIONS]]", path)
        src = parts[0]
        dst = parts[1] if len(parts) > 1 and parts[1] else src
        perms = parts[2] if len(parts) > 2 else "rwm"
        return {"source": src, "target": dst, "permissions": perms}

    def restart(self, value: str, path: Path) -> str:
        base, _, count = value.partition(":")
        if base not in _RESTART or (count and (base != "on-failure" or not count.isdigit())):
            raise self.fail(f"invalid restart policy {value!r} (no, always, unless-stopped, on-failure[:N])", path)
        return value

    def healthcheck(self, hc: dict[str, Any], path: Path) -> dict[str, Any]:
        hc = dict(hc)
        test = hc.get("test")
        if test is not None:
            if not test:
                raise self.fail("an empty test; use [\"NONE\"] or disable: true to turn the check off", path + ("test",))
            kind = test[0]
            if kind not in ("NONE", "CMD", "CMD-SHELL"):
                raise self.fail(f"test must start with CMD, CMD-SHELL or NONE, not {kind!r}", path + ("test",))
            if kind == "NONE":
                hc["disable"] = True
            elif len(test) < 2:
                raise self.fail(f"{kind} needs a command", path + ("test",))
        if hc.get("disable"):
            hc["test"] = ["NONE"]
            hc["disable"] = True
        return hc

    def pydantic_error(self, exc: ValidationError, prefix: Path) -> ConfigError:
        first = exc.errors()[0]
        loc = tuple(x for x in first.get("loc", ()))
        return self.fail(first.get("msg", "invalid value"), prefix + loc)

    # -- top level ---------------------------------------------------------------------

    def top_level(self, kind: str, used: set[str], model: type) -> dict[str, Any]:
        declared = self.doc.get(kind) or {}
        out = {}
        for key in sorted(used):
            raw = dict(declared.get(key) or {})
            external = bool(raw.get("external"))
            host_name = raw.get("name") or (key if external else f"{self.name}_{key}")
            raw["name"] = host_name
            raw["external"] = external
            p = (kind, key)
            if kind in ("secrets", "configs") and not external:
                sources = [k for k in ("file", "environment", "content") if raw.get(k) is not None]
                if kind == "secrets" and "content" in sources:
                    raise self.fail("a secret takes file or environment, not content", p + ("content",))
                if len(sources) != 1:
                    raise self.fail(f"{kind[:-1]} {key!r} needs exactly one of "
                                    f"{'file, environment or content' if kind == 'configs' else 'file or environment'}", p)
            if kind == "networks" and isinstance(raw.get("ipam"), dict):
                ipam = {k: v for k, v in raw["ipam"].items() if not k.startswith("x-")}
                ipam["config"] = [{k: v for k, v in (c or {}).items() if not k.startswith("x-")}
                                  for c in ipam.get("config") or []]
                raw["ipam"] = ipam
            if raw.get("labels"):
                raw["labels"] = _sorted({k: ("" if v is None else v) for k, v in raw["labels"].items()})
            if raw.get("driver_opts"):
                raw["driver_opts"] = _sorted(raw["driver_opts"])
            raw = {k: v for k, v in raw.items() if v is not None}
            try:
                out[key] = model.model_validate(raw)
            except ValidationError as exc:
                raise self.pydantic_error(exc, p) from None
        return out

    def check_cycles(self, services: dict[str, m.Service]) -> None:
        state: dict[str, int] = {}
        stack: list[str] = []

        def visit(n: str) -> None:
            state[n] = 1
            stack.append(n)
            for dep in services[n].depends_on:
                if dep not in services:
                    continue
                if state.get(dep) == 1:
                    cycle = stack[stack.index(dep):] + [dep]
                    raise self.fail("dependency cycle: " + " -> ".join(cycle), ("services", n, "depends_on", dep))
                if dep not in state:
                    visit(dep)
            stack.pop()
            state[n] = 2

        for n in services:
            if n not in state:
                visit(n)


def build_project(doc: dict[str, Any], *, name: str, working_dir: str, config_files: list[str],
                  environment: dict[str, str], profiles: Iterable[str], wanted: Iterable[str], locator: Locator,
                  warnings: list[str]) -> m.Project:
    norm = Normalizer(doc, name=name, locator=locator, environment=environment, warnings=warnings,
                      working_dir=working_dir)
    enabled, disabled, active = norm.select(profiles, wanted)
    raw_services = doc.get("services") or {}
    services = {n: norm.service(n, raw_services[n]) for n in enabled}
    norm.check_cycles(services)

    used_nets: set[str] = set()
    used_vols: set[str] = set()
    used_secrets: set[str] = set()
    used_configs: set[str] = set()
    for s in services.values():
        used_nets.update(s.networks)
        used_vols.update(v.source for v in s.volumes if v.type == "volume" and v.source)
        used_secrets.update(r.source for r in s.secrets)
        used_configs.update(r.source for r in s.configs)
    all_profiles = sorted({p for s in raw_services.values() for p in (s.get("profiles") or [])})
    return m.Project(
        name=name,
        working_dir=working_dir,
        config_files=config_files,
        services=services,
        networks=norm.top_level("networks", used_nets, m.Network),
        volumes=norm.top_level("volumes", used_vols, m.Volume),
        secrets=norm.top_level("secrets", used_secrets, m.Secret),
        configs=norm.top_level("configs", used_configs, m.Config),
        profiles=active,
        disabled_services=disabled,
        environment=dict(environment),
        warnings=list(warnings),
        all_profiles=all_profiles,
    )
