"""One interpolated, validated compose document -> its canonical (long-form) dict.

Run on each file before merging, so that merge rules see one shape per
attribute (lists of ``KEY=VALUE`` become maps, ``"8080:80"`` becomes a port
mapping, durations become seconds, sizes bytes) and so that a bad short syntax
is reported at its own file, line and path. Relative host paths (bind mounts,
``build``, ``env_file``, secret and config files, ``extends.file``,
``include``) become absolute against ``base_dir``: the project directory for
the files given with ``-f``, the file's own directory for extended and
included files.
"""

from __future__ import annotations

import os
import posixpath
from typing import Any, Callable

from . import syntax
from .located import Path, SourceFile

DURATION_KEYS = ("interval", "timeout", "start_period", "start_interval")
SIZE_KEYS = ("mem_limit", "memswap_limit", "mem_reservation", "shm_size")
BOOL_KEYS = ("privileged", "read_only", "init", "tty", "stdin_open", "oom_kill_disable")


def is_remote(ref: str) -> bool:
    return "://" in ref or ref.startswith("git@") or ref.startswith("github.com/")


class Canon:
    """Canonicalizes one document; ``warnings`` collects notes such as an obsolete ``version``."""

    def __init__(self, source: SourceFile, base_dir: str, warnings: list[str]) -> None:
        self.source = source
        self.base_dir = base_dir
        self.warnings = warnings

    def check(self, path: Path, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except ValueError as exc:
            raise self.source.error(str(exc), path) from None

    def same_place(self, new: Path, old: Path) -> None:
        """A list entry that became a map entry keeps its position (``[db]`` -> ``{db: ...}``)."""
        pos = self.source.positions.get(old)
        if pos is not None:
            self.source.positions.setdefault(new, pos)

    def abspath(self, p: str) -> str:
        return syntax.resolve_host_path(p, self.base_dir)

    # -- generic shapes --------------------------------------------------------

    def kv(self, value: Any, path: Path, *, bare: str | None) -> dict[str, str | None]:
        """A list of ``KEY=VALUE`` or a map -> ``{key: str | None}``; a bare ``KEY`` maps to ``bare``."""
        out: dict[str, str | None] = {}
        if value is None:
            return out
        if isinstance(value, dict):
            for k, v in value.items():
                out[str(k)] = None if v is None else syntax.scalar_str(v)
            return out
        for i, item in enumerate(value):
            text = str(item)
            if "=" in text:
                k, v = text.split("=", 1)
            else:
                k, v = text, bare
            out[k] = v
            self.same_place(path + (k,), path + (i,))
        return out

    def str_list(self, value: Any) -> list[str]:
        if value is None:
            return []
        if isinstance(value, list):
            return [syntax.scalar_str(v) for v in value]
        return [syntax.scalar_str(value)]

    # -- document --------------------------------------------------------------

    def document(self, doc: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in doc.items():
            path = (key,)
            if key.startswith("x-"):
                continue
            if key == "version":
                self.warnings.append(f"{self.source.where(path)}: the attribute `version` is obsolete and ignored")
                continue
            if key == "services":
                out[key] = {name: self.service(svc or {}, ("services", name)) for name, svc in (value or {}).items()}
            elif key in ("networks", "volumes"):
                out[key] = {n: self.resource(v, (key, n)) for n, v in (value or {}).items()}
            elif key in ("secrets", "configs"):
                out[key] = {n: self.file_object(v or {}, (key, n)) for n, v in (value or {}).items()}
            elif key == "include":
                out[key] = [self.include(e, (key, i)) for i, e in enumerate(value or [])]
            else:
                out[key] = value
        return out

    def resource(self, value: Any, path: Path) -> dict[str, Any]:
        res = dict(value or {})
        ext = res.get("external")
        if isinstance(ext, dict):
            if ext.get("name") and not res.get("name"):
                res["name"] = ext["name"]
            res["external"] = True
        elif ext is not None:
            res["external"] = self.check(path + ("external",), syntax.parse_bool, ext, "external")
        for flag in ("internal", "attachable", "enable_ipv6", "enable_ipv4"):
            if flag in res:
                res[flag] = self.check(path + (flag,), syntax.parse_bool, res[flag], flag)
        if "labels" in res:
            res["labels"] = self.kv(res["labels"], path + ("labels",), bare="")
        if "driver_opts" in res:
            res["driver_opts"] = {str(k): syntax.scalar_str(v) for k, v in (res["driver_opts"] or {}).items()}
        return {k: v for k, v in res.items() if not k.startswith("x-")}

    def file_object(self, value: dict[str, Any], path: Path) -> dict[str, Any]:
        res = self.resource(value, path)
        if res.get("file"):
            res["file"] = self.abspath(str(res["file"]))
        return res

    def include(self, entry: Any, path: Path) -> dict[str, Any]:
        if isinstance(entry, str):
            entry = {"path": entry}
        paths = entry.get("path")
        if paths is None:
            raise self.source.error("an include needs a 'path'", path)
        paths = [paths] if isinstance(paths, str) else list(paths)
        out: dict[str, Any] = {"path": [self.abspath(p) for p in paths]}
        if entry.get("project_directory"):
            out["project_directory"] = self.abspath(entry["project_directory"])
        if entry.get("env_file") is not None:
            env = entry["env_file"]
            out["env_file"] = [self.abspath(p) for p in ([env] if isinstance(env, str) else env)]
        out["where"] = self.source.where(path)
        return out

    # -- services ----------------------------------------------------------------

    def service(self, svc: dict[str, Any], path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in svc.items():
            if key.startswith("x-"):
                continue
            p = path + (key,)
            handler = getattr(self, "svc_" + key, None)
            if handler is not None:
                value = handler(value, p)
            elif key in SIZE_KEYS:
                value = None if value is None else self.check(p, syntax.parse_size, value)
            elif key in BOOL_KEYS:
                value = None if value is None else self.check(p, syntax.parse_bool, value, key)
            out[key] = value
        return out

    def svc_build(self, value: Any, path: Path) -> dict[str, Any]:
        build = {"context": value} if isinstance(value, str) else dict(value or {})
        if build.get("context") is not None:  # no default here: an override may set only args
            ctx = str(build["context"])
            build["context"] = ctx if is_remote(ctx) else self.abspath(ctx)
        for k in ("args", "labels", "additional_contexts"):
            if k in build:
                build[k] = self.kv(build[k], path + (k,), bare=None if k == "args" else "")
        if "shm_size" in build:
            build["shm_size"] = self.check(path + ("shm_size",), syntax.parse_size, build["shm_size"])
        return {k: v for k, v in build.items() if not k.startswith("x-")}

    def svc_command(self, value: Any, path: Path) -> list[str] | None:
        return self.check(path, syntax.split_command, value)

    svc_entrypoint = svc_command

    def svc_environment(self, value: Any, path: Path) -> dict[str, str | None]:
        return self.kv(value, path, bare=None)

    def svc_labels(self, value: Any, path: Path) -> dict[str, str | None]:
        return {k: ("" if v is None else v) for k, v in self.kv(value, path, bare="").items()}

    svc_annotations = svc_labels

    def svc_sysctls(self, value: Any, path: Path) -> dict[str, str | None]:
        return self.kv(value, path, bare="")

    def svc_env_file(self, value: Any, path: Path) -> list[dict[str, Any]]:
        items = [value] if isinstance(value, str) else list(value or [])
        out = []
        for i, item in enumerate(items):
            entry = {"path": item} if isinstance(item, str) else dict(item)
            p = path + (i,) if not isinstance(value, str) else path
            entry["path"] = self.abspath(str(entry["path"]))
            entry["required"] = self.check(p, syntax.parse_bool, entry.get("required", True), "required")
            out.append({k: v for k, v in entry.items() if v is not None})
        return out

    def svc_label_file(self, value: Any, path: Path) -> list[str]:
        return [self.abspath(p) for p in self.str_list(value)]

    def svc_ports(self, value: Any, path: Path) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for i, item in enumerate(value or []):
            p = path + (i,)
            if isinstance(item, dict):
                out.append(self.check(p, syntax.long_port, item))
            else:
                out.extend(self.check(p, syntax.parse_port, item))
        return out

    def svc_expose(self, value: Any, path: Path) -> list[str]:
        return self.str_list(value)

    def svc_volumes(self, value: Any, path: Path) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(value or []):
            p = path + (i,)
            if isinstance(item, str):
                out.append(self.check(p, syntax.parse_volume, item, self.base_dir))
                continue
            vol = {k: v for k, v in dict(item).items() if not k.startswith("x-")}
            vtype = vol.get("type")
            if vtype != "tmpfs" and not vol.get("target"):
                raise self.source.error("a volume mount needs a 'target'", p)
            if vol.get("target"):
                vol["target"] = posixpath.normpath(str(vol["target"]))
            if vtype == "bind":
                if not vol.get("source"):
                    raise self.source.error("a bind mount needs a 'source'", p)
                vol["source"] = self.abspath(str(vol["source"]))
            vol["read_only"] = self.check(p + ("read_only",), syntax.parse_bool, vol.get("read_only", False), "read_only")
            for sub, keys in (("bind", ("create_host_path",)), ("volume", ("nocopy",))):
                if isinstance(vol.get(sub), dict):
                    vol[sub] = {k: v for k, v in vol[sub].items() if not k.startswith("x-")}
                    for k in keys:
                        if k in vol[sub]:
                            vol[sub][k] = self.check(p + (sub, k), syntax.parse_bool, vol[sub][k], k)
            if isinstance(vol.get("tmpfs"), dict):
                tmpfs = {k: v for k, v in vol["tmpfs"].items() if not k.startswith("x-")}
                if "size" in tmpfs:
                    tmpfs["size"] = self.check(p + ("tmpfs", "size"), syntax.parse_size, tmpfs["size"])
                if "mode" in tmpfs and isinstance(tmpfs["mode"], str):
                    tmpfs["mode"] = self.check(p + ("tmpfs", "mode"), _octal, tmpfs["mode"])
                vol["tmpfs"] = tmpfs
            out.append(vol)
        return out

    def svc_tmpfs(self, value: Any, path: Path) -> list[str]:
        return self.str_list(value)

    svc_dns = svc_tmpfs
    svc_dns_search = svc_tmpfs

    def svc_networks(self, value: Any, path: Path) -> dict[str, dict[str, Any]]:
        if isinstance(value, list):
            for i, n in enumerate(value):
                self.same_place(path + (str(n),), path + (i,))
            return {str(n): {} for n in value}
        out = {}
        for name, conf in (value or {}).items():
            conf = {k: v for k, v in dict(conf or {}).items() if not k.startswith("x-")}
            out[name] = conf
        return out

    def svc_depends_on(self, value: Any, path: Path) -> dict[str, dict[str, Any]]:
        if isinstance(value, list):
            for i, n in enumerate(value):
                self.same_place(path + (str(n),), path + (i,))
            return {str(n): {"condition": "service_started", "required": True} for n in value}
        out = {}
        for name, conf in (value or {}).items():
            conf = {k: v for k, v in dict(conf or {}).items() if not k.startswith("x-")}
            conf.setdefault("condition", "service_started")
            conf["required"] = self.check(path + (name, "required"), syntax.parse_bool, conf.get("required", True), "required")
            if "restart" in conf:
                conf["restart"] = self.check(path + (name, "restart"), syntax.parse_bool, conf["restart"], "restart")
            out[name] = conf
        return out

    def svc_extra_hosts(self, value: Any, path: Path) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        if isinstance(value, dict):
            for host, ips in value.items():
                for ip in ([ips] if isinstance(ips, str) else list(ips or [])):
                    h, addr = self.check(path + (host,), syntax.parse_extra_host, f"{host}={ip}")
                    out.setdefault(h, [])
                    if addr not in out[h]:
                        out[h].append(addr)
            return out
        for i, item in enumerate(value or []):
            h, addr = self.check(path + (i,), syntax.parse_extra_host, item)
            out.setdefault(h, [])
            if addr not in out[h]:
                out[h].append(addr)
        return out

    def svc_secrets(self, value: Any, path: Path) -> list[dict[str, Any]]:
        out = []
        for i, item in enumerate(value or []):
            entry = {"source": item} if isinstance(item, str) else {k: v for k, v in dict(item).items() if not k.startswith("x-")}
            if not entry.get("source"):
                raise self.source.error("needs a 'source'", path + (i,))
            if isinstance(entry.get("mode"), str):
                entry["mode"] = self.check(path + (i, "mode"), _octal, entry["mode"])
            elif isinstance(entry.get("mode"), float):
                entry["mode"] = int(entry["mode"])
            out.append(entry)
        return out

    svc_configs = svc_secrets

    def svc_ulimits(self, value: Any, path: Path) -> dict[str, dict[str, int]]:
        out = {}
        for name, lim in (value or {}).items():
            p = path + (name,)
            if isinstance(lim, dict):
                soft = self.check(p + ("soft",), syntax.parse_int, lim.get("soft"), "soft limit")
                hard = self.check(p + ("hard",), syntax.parse_int, lim.get("hard"), "hard limit")
                if soft > hard and hard != -1:
                    raise self.source.error(f"soft limit {soft} is above hard limit {hard}", p)
            else:
                soft = hard = self.check(p, syntax.parse_int, lim, "ulimit")
            out[name] = {"soft": soft, "hard": hard}
        return out

    def svc_healthcheck(self, value: Any, path: Path) -> dict[str, Any]:
        hc = {k: v for k, v in dict(value or {}).items() if not k.startswith("x-")}
        if isinstance(hc.get("test"), str):
            hc["test"] = ["CMD-SHELL", hc["test"]]
        for k in DURATION_KEYS:
            if hc.get(k) is not None:
                hc[k] = self.check(path + (k,), syntax.parse_duration, hc[k])
        if hc.get("retries") is not None:
            hc["retries"] = self.check(path + ("retries",), syntax.parse_int, hc["retries"], "retries")
        if "disable" in hc:
            hc["disable"] = self.check(path + ("disable",), syntax.parse_bool, hc["disable"], "disable")
        return hc

    def svc_stop_grace_period(self, value: Any, path: Path) -> float | None:
        return None if value is None else self.check(path, syntax.parse_duration, value)

    def svc_deploy(self, value: Any, path: Path) -> dict[str, Any]:
        dep = {k: v for k, v in dict(value or {}).items() if not k.startswith("x-")}
        if dep.get("replicas") is not None:
            dep["replicas"] = self.check(path + ("replicas",), syntax.parse_int, dep["replicas"], "replicas")
        if "labels" in dep:
            dep["labels"] = self.kv(dep["labels"], path + ("labels",), bare="")
        res = dep.get("resources")
        if isinstance(res, dict):
            res = {k: v for k, v in res.items() if not k.startswith("x-")}
            for part in ("limits", "reservations"):
                lim = res.get(part)
                if not isinstance(lim, dict):
                    continue
                lim = {k: v for k, v in lim.items() if not k.startswith("x-")}
                p = path + ("resources", part)
                if lim.get("cpus") is not None:
                    lim["cpus"] = self.check(p + ("cpus",), syntax.parse_float, lim["cpus"], "cpus")
                if lim.get("memory") is not None:
                    lim["memory"] = self.check(p + ("memory",), syntax.parse_size, lim["memory"])
                if lim.get("pids") is not None:
                    lim["pids"] = self.check(p + ("pids",), syntax.parse_int, lim["pids"], "pids")
                res[part] = lim
            dep["resources"] = res
        rp = dep.get("restart_policy")
        if isinstance(rp, dict):
            rp = {k: v for k, v in rp.items() if not k.startswith("x-")}
            for k in ("delay", "window"):
                if rp.get(k) is not None:
                    rp[k] = self.check(path + ("restart_policy", k), syntax.parse_duration, rp[k])
            if rp.get("max_attempts") is not None:
                rp["max_attempts"] = self.check(path + ("restart_policy", "max_attempts"), syntax.parse_int,
                                                rp["max_attempts"], "max_attempts")
            dep["restart_policy"] = rp
        return dep

    def svc_scale(self, value: Any, path: Path) -> int | None:
        return None if value is None else self.check(path, syntax.parse_int, value, "scale")

    def svc_cpus(self, value: Any, path: Path) -> float | None:
        return None if value is None else self.check(path, syntax.parse_float, value, "cpus")

    def svc_pids_limit(self, value: Any, path: Path) -> int | None:
        return None if value is None else self.check(path, syntax.parse_int, value, "pids_limit")

    def svc_logging(self, value: Any, path: Path) -> dict[str, Any]:
        log = {k: v for k, v in dict(value or {}).items() if not k.startswith("x-")}
        if "options" in log:
            log["options"] = {str(k): (None if v is None else syntax.scalar_str(v)) for k, v in (log["options"] or {}).items()}
        return log

    def svc_extends(self, value: Any, path: Path) -> dict[str, Any]:
        ext = {"service": value} if isinstance(value, str) else dict(value)
        if ext.get("file"):
            ext["file"] = self.abspath(str(ext["file"]))
        return ext

    def svc_profiles(self, value: Any, path: Path) -> list[str]:
        return self.str_list(value)


def _octal(text: str) -> int:
    s = text.strip()
    try:
        return int(s, 8)
    except ValueError:
        raise ValueError(f"invalid file mode {text!r}: must be octal, like '0440'") from None


def canonicalize(doc: dict[str, Any], *, source: SourceFile, base_dir: str, warnings: list[str]) -> dict[str, Any]:
    return Canon(source, os.path.abspath(base_dir), warnings).document(doc)
