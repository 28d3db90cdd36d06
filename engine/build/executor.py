"""Runs a parsed Containerfile: stages in, one image in the store out.

Each stage starts from an image, ``scratch`` or an earlier stage, and walks
its instructions with a ``Stage`` value: the image config being built, the
layers so far, the ARGs in scope and a running digest of every instruction
(after substitution), which the layer cache keys on. Instructions that only
change the config (ENV, LABEL, USER, CMD...) cost nothing; RUN runs in a real
container created from an intermediate image through the engine (network
``none`` unless asked otherwise) and its changes are committed as a layer;
COPY, ADD and WORKDIR write into a scratch root filesystem whose changes
become a layer the same way. Only the stages the target needs are built.

Everything the file says is checked before the first step runs where it can
be (syntax, stage names, the target); a failure later leaves no image and no
name: intermediate images and containers are removed, and only layers of
steps that succeeded stay, as cache.
"""

from __future__ import annotations

import copy
import json
import os
import posixpath
import time

from ..errors import ConfigError, ImageNotFound, PodiumError
from . import cache as cachemod
from . import ignore, parser
from .shellwords import name_values, process_word, process_words, split_quoted

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from ..engine import Engine

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PROXY_ARGS = ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
              "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy")
NETWORKS = ("none", "host", "default", "bridge")
# flags the parser knows (so their errors are precise) that podium does not implement
UNSUPPORTED_FLAGS = {"COPY": ("parents", "exclude"), "ADD": ("checksum", "keep-git-dir"),
                     "RUN": ("mount", "security")}


class Stage:
    """The state of one stage while its instructions run."""

    def __init__(self, index: int, name: str | None) -> None:
        self.index, self.name = index, name
        self.config: dict[str, Any] = {}
        self.layers: list[tuple[str, int]] = []
        self.history: list[dict[str, Any]] = []
        self.args: dict[str, str | None] = {}
        self.meta = ""
        self.shell = list(DEFAULT_SHELL)
        self.cmd_from_base = False
        self.arch, self.os, self.variant = "", "linux", None
        self.author = ""

    def env(self) -> dict[str, str]:
        """What ``$VAR`` sees: ARGs in scope, overridden by ENV."""
        out = {k: v for k, v in self.args.items() if v is not None}
        for line in self.config.get("Env") or []:
            k, _, v = line.partition("=")
            out[k] = v
        return out

    def diff_ids(self) -> list[str]:
        return [d for d, _ in self.layers]


def _now() -> str:
    ns = time.time_ns()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns % 10**9:09d}Z"


def _platform_args() -> dict[str, str]:
    from ..storage.imagearchive import host_platform

    arch, variant = host_platform()
    plat = f"linux/{arch}" + (f"/{variant}" if variant else "")
    out = {}
    for pre in ("TARGET", "BUILD"):
        out.update({f"{pre}PLATFORM": plat, f"{pre}OS": "linux", f"{pre}ARCH": arch,
                    f"{pre}VARIANT": variant or ""})
    return out


class Builder:
    """One build (see ``podium.engine.build.build`` for the options)."""

    def __init__(self, engine: "Engine", context: str, *, containerfile: str | None = None,
                 tags: list[str] | None = None, build_args: dict[str, str] | None = None,
                 target: str | None = None, no_cache: bool = False,
                 labels: dict[str, str] | None = None,
                 progress: Callable[[str], None] | None = None,
                 network: str | None = None, pull: str = "missing") -> None:
        self.engine = engine
        self.context = context
        self.containerfile = containerfile
        self.tags = list(tags or [])
        self.build_args = dict(build_args or {})
        self.target = target
        self.no_cache = no_cache
        self.labels = dict(labels or {})
        self.say = progress or (lambda _line: None)
        self.network = network or "none"
        self.pull = pull
        self.used_args: set[str] = set()
        self.results: dict[int, Stage] = {}
        self.cache = cachemod.Cache(engine)

    # ---- inputs ---------------------------------------------------------------------
    def _files(self) -> tuple[str, str]:
        if not os.path.isdir(self.context):
            raise ConfigError(f"build context {self.context!r} is not a directory")
        if self.containerfile:
            path = self.containerfile
            if not os.path.exists(path) and not os.path.isabs(path) and \
                    os.path.exists(os.path.join(self.context, path)):
                path = os.path.join(self.context, path)
        else:
            for name in ("Containerfile", "Dockerfile"):
                path = os.path.join(self.context, name)
                if os.path.exists(path):
                    break
            else:
                raise ConfigError(f"no Containerfile or Dockerfile in {self.context}: "
                                  "use -f to name the build file")
        try:
            with open(path, encoding="utf-8") as f:
                return path, f.read()
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not a UTF-8 text file") from None
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror}") from None

    def _check_names(self) -> list[str]:
        from ..images import normalize_name

        names = []
        for t in self.tags:
            n = normalize_name(t)
            if "@" in n:
                raise ConfigError(f"{t}: an image cannot be tagged with a digest")
            names.append(n)
        return names

    # ---- the build --------------------------------------------------------------------
    def run(self) -> str:
        from .runner import reap_stale

        names = self._check_names()
        path, text = self._files()
        reap_stale(self.engine)
        try:
            return self._build(names, path, text)
        finally:
            if hasattr(self, "_heredoc_dir"):
                import shutil

                shutil.rmtree(self._heredoc_dir, ignore_errors=True)

    def _build(self, names: list[str], path: str, text: str) -> str:
        self.path = path
        cf = parser.parse(text, path)
        self.escape = cf.escape
        self.matcher = ignore.load(self.context, path if self.containerfile else None)
        self.meta_args = self._meta_args(cf)
        stages = cf.stages
        target = self._target(stages)
        bases = [self._expand(s.base, self.meta_args, s.from_instr) for s in stages]
        needed = self._needed(stages, bases, target)
        self.step_no = self.step_total = 0
        for i in sorted(needed):
            self.results[i] = self._build_stage(stages[i], bases[i], stages)
        unused = sorted(set(self.build_args) - self.used_args - set(PROXY_ARGS))
        if unused:
            self.say(f"[Warning] one or more build args were not consumed: {', '.join(unused)}")
        return self._commit(self.results[target], names)

    def _meta_args(self, cf: parser.Containerfile) -> dict[str, str]:
        """ARGs before the first FROM: usable in FROM lines, and by ``ARG NAME`` in a stage."""
        env = _platform_args()
        for instr in cf.meta_args:
            for name, default in self._arg_words(instr, env):
                value = self.build_args.get(name, default)
                if name in self.build_args:
                    self.used_args.add(name)
                if value is not None:
                    env[name] = value
                else:
                    env.pop(name, None)
        return env

    def _arg_words(self, instr: parser.Instruction, env: dict[str, str]
                   ) -> list[tuple[str, str | None]]:
        out = []
        for w in split_quoted(instr.args, self.escape):
            name, eq, default = w.partition("=")
            if not name or not all(c.isalnum() or c == "_" for c in name):
                raise ConfigError(f"ARG {w!r}: invalid name (letters, digits and _ only)",
                                  where=instr.where(self.path))
            out.append((name, self._expand(default, env, instr) if eq else None))
        return out

    def _expand(self, word: str, env: dict[str, str], instr: parser.Instruction) -> str:
        try:
            return process_word(word, env, self.escape)
        except ConfigError as exc:
            raise ConfigError(exc.message, where=instr.where(self.path)) from None

    def _target(self, stages: list[parser.Stage]) -> int:
        if self.target is None:
            return len(stages) - 1
        for s in stages:
            if s.name == self.target.lower():
                return s.index
        known = ", ".join(s.name for s in stages if s.name) or "none are named"
        raise ConfigError(f"target stage {self.target!r} not found in {self.path} "
                          f"(stages: {known})")

    def _stage_ref(self, ref: str, before: int) -> int | None:
        """An earlier stage named or numbered ``ref``, else None (an image)."""
        if ref.isdigit():
            n = int(ref)
            return n if n < before else None
        for i in range(before):
            if self._stages[i].name == ref.lower():
                return i
        return None

    def _needed(self, stages: list[parser.Stage], bases: list[str], target: int) -> set[int]:
        self._stages = stages
        deps: dict[int, set[int]] = {}
        for s in stages:
            d = set()
            ref = self._stage_ref(bases[s.index], s.index) if not bases[s.index].isdigit() \
                else None
            if ref is not None:
                d.add(ref)
            for instr in s.instructions:
                src = instr.flags.get("from")
                if instr.cmd == "COPY" and src:
                    src = self._expand(src, self.meta_args, instr)
                    r = self._stage_ref(src, s.index)
                    if r is None and src.isdigit():
                        raise ConfigError(f"COPY --from={src}: stage {src} is not an earlier stage",
                                          where=instr.where(self.path))
                    if r is not None:
                        d.add(r)
            deps[s.index] = d
        need: set[int] = set()
        todo = [target]
        while todo:
            i = todo.pop()
            if i not in need:
                need.add(i)
                todo.extend(deps[i])
        return need

    # ---- one stage --------------------------------------------------------------------
    def _announce(self, stage: Stage, instr: parser.Instruction) -> None:
        self.step_no += 1
        prefix = f"[{stage.index + 1}/{len(self._stages)}] " if len(self._stages) > 1 else ""
        self.say(f"{prefix}STEP {self.step_no}/{self.step_total}: {instr.original}")

    def _build_stage(self, ps: parser.Stage, base: str, stages: list[parser.Stage]) -> Stage:
        st = Stage(ps.index, ps.name)
        self.step_no, self.step_total = 0, 1 + len(ps.instructions)  # Podman counts per stage
        self._announce(st, ps.from_instr)
        platform = ps.from_instr.flags.get("platform")
        if platform:
            platform = self._expand(platform, self.meta_args, ps.from_instr)
            host = _platform_args()
            if platform not in (host["TARGETPLATFORM"], "linux/" + host["TARGETARCH"]):
                raise ConfigError(f"FROM --platform={platform}: podium builds only for this "
                                  f"host's platform, {host['TARGETPLATFORM']}",
                                  where=ps.from_instr.where(self.path))
        ref = self._stage_ref(base, ps.index)
        if ref is not None:
            src = self.results[ref]
            st.config = copy.deepcopy(src.config)
            st.layers = list(src.layers)
            st.history = copy.deepcopy(src.history)
            st.arch, st.os, st.variant = src.arch, src.os, src.variant
            st.shell = list(src.shell)
            st.meta = cachemod.key("FROM-stage", src.meta)
        elif base.lower() == "scratch":
            from ..storage.imagearchive import host_platform

            st.arch, st.variant = host_platform()
            st.config = {"Env": [DEFAULT_PATH]}  # as BuildKit gives a scratch image
            st.meta = cachemod.key("FROM", "scratch")
        else:
            img = self._from_image(base, ps.from_instr)
            cfg = img["config"]
            st.config = copy.deepcopy(cfg.get("config") or {})
            st.layers = [(d, self._layer_size(d)) for d in
                         (cfg.get("rootfs") or {}).get("diff_ids") or []]
            st.history = copy.deepcopy(cfg.get("history") or [])
            st.arch, st.os = cfg.get("architecture", ""), cfg.get("os", "linux")
            st.variant = cfg.get("variant")
            st.meta = cachemod.key("FROM", img["id"])
        st.cmd_from_base = bool(st.config.get("Cmd"))
        triggers = st.config.pop("OnBuild", None) or []
        for t in triggers:
            instr = parser.parse_instruction(t, ps.from_instr.line, self.path)
            self._step(st, instr)
        for instr in ps.instructions:
            self._announce(st, instr)
            self._step(st, instr)
        return st

    def _layer_size(self, diff_id: str) -> int:
        try:
            return os.path.getsize(self.engine.paths.blob(diff_id))
        except OSError:
            return 0

    def _from_image(self, ref: str, instr: parser.Instruction) -> dict[str, Any]:
        ims = self.engine.images
        what = "FROM " if instr.cmd == "FROM" else f"{instr.cmd} --from="
        if self.pull in ("missing", "never"):
            try:
                return ims.resolve(ref)
            except ImageNotFound:
                if self.pull == "never":
                    raise ImageNotFound(f"{instr.where(self.path)}: {what}{ref}: image not known "
                                        "locally, and --pull=never: pull it or build it first"
                                        ) from None
            except ConfigError as exc:
                raise ConfigError(f"{what}{ref}: {exc.message}",
                                  where=instr.where(self.path)) from None
        ensure = getattr(ims, "ensure", None)
        if ensure is None:
            from .. import images as images_mod

            ensure = getattr(images_mod, "ensure", None)
        if ensure is not None:
            try:
                got = ensure(ref, self.pull)
            except ImageNotFound as exc:
                raise ImageNotFound(f"{instr.where(self.path)}: {what}{ref}: {exc}: pull it "
                                    "(podium pull) or build it first") from None
            except PodiumError as exc:  # registry errors: keep their class (and exit code)
                exc.message = f"{instr.where(self.path)}: {what}{ref}: {exc}"
                exc.args = (exc.message,)
                raise
            if isinstance(got, dict) and "id" in got:
                return got
            return ims.resolve(ref)
        if self.pull not in ("missing", "never"):
            raise ConfigError(f"--pull={self.pull}: this podium has no registry client")
        raise ImageNotFound(f"{instr.where(self.path)}: {what}{ref}: image not known locally: "
                            "pull it (podium pull) or build it first")

    def _step(self, st: Stage, instr: parser.Instruction) -> None:
        unsupported = UNSUPPORTED_FLAGS.get(instr.cmd, ())
        for flag in instr.flags:
            if flag in unsupported:
                raise ConfigError(f"{instr.cmd} --{flag} is not supported by podium build",
                                  where=instr.where(self.path))
        handler = getattr(self, "_i_" + instr.cmd.lower())
        try:
            handler(st, instr)
        except ConfigError as exc:
            if exc.where or exc.message.startswith(instr.where(self.path) + ":"):
                raise
            raise ConfigError(exc.message, where=instr.where(self.path)) from None

    def _note(self, st: Stage, text: str) -> None:
        """Record a config-only step in the history and the running digest."""
        st.meta = cachemod.key(st.meta, text)
        st.history.append({"created": _now(), "created_by": f"/bin/sh -c #(nop) {text}",
                           "empty_layer": True})

    # ---- config-only instructions -------------------------------------------------------
    def _i_arg(self, st: Stage, instr: parser.Instruction) -> None:
        for name, default in self._arg_words(instr, st.env()):
            if name in self.build_args:
                value: str | None = self.build_args[name]
                self.used_args.add(name)
            elif default is not None:
                value = default
            else:
                value = self.meta_args.get(name)
            st.args[name] = value
            st.meta = cachemod.key(st.meta, "ARG", name, value)

    def _set_env(self, st: Stage, pairs: list[tuple[str, str]]) -> None:
        env = list(st.config.get("Env") or [])
        for k, v in pairs:
            env = [e for e in env if e.partition("=")[0] != k] + [f"{k}={v}"]
        st.config["Env"] = env

    def _i_env(self, st: Stage, instr: parser.Instruction) -> None:
        pairs = name_values(instr.args, st.env(), self.escape, "ENV")
        self._set_env(st, pairs)
        self._note(st, "ENV " + " ".join(f"{k}={v}" for k, v in pairs))

    def _i_label(self, st: Stage, instr: parser.Instruction) -> None:
        pairs = name_values(instr.args, st.env(), self.escape, "LABEL")
        st.config.setdefault("Labels", {}).update(dict(pairs))
        self._note(st, "LABEL " + " ".join(f"{k}={v}" for k, v in pairs))

    def _i_maintainer(self, st: Stage, instr: parser.Instruction) -> None:
        st.author = instr.args
        self._note(st, "MAINTAINER " + instr.args)

    def _command(self, st: Stage, instr: parser.Instruction) -> list[str]:
        if instr.json is not None:
            return list(instr.json)
        return [*st.shell, instr.args]

    def _i_cmd(self, st: Stage, instr: parser.Instruction) -> None:
        st.config["Cmd"] = self._command(st, instr) if instr.args else None
        st.cmd_from_base = False
        self._note(st, f"CMD {json.dumps(st.config['Cmd'])}")

    def _i_entrypoint(self, st: Stage, instr: parser.Instruction) -> None:
        st.config["Entrypoint"] = self._command(st, instr) if instr.args else None
        if st.cmd_from_base:  # Docker: a new ENTRYPOINT drops the base image's CMD
            st.config["Cmd"] = None
            st.cmd_from_base = False
        self._note(st, f"ENTRYPOINT {json.dumps(st.config['Entrypoint'])}")

    def _i_shell(self, st: Stage, instr: parser.Instruction) -> None:
        st.shell = list(instr.json or [])
        self._note(st, f"SHELL {json.dumps(st.shell)}")

    def _i_user(self, st: Stage, instr: parser.Instruction) -> None:
        user = self._expand(instr.args, st.env(), instr).strip()
        if not user:
            raise ConfigError("USER needs a user name or id")
        st.config["User"] = user
        self._note(st, f"USER {user}")

    def _i_expose(self, st: Stage, instr: parser.Instruction) -> None:
        ports = st.config.setdefault("ExposedPorts", {})
        added = []
        for w in process_words(instr.args, st.env(), self.escape):
            port, _, proto = w.partition("/")
            proto = (proto or "tcp").lower()
            lo, _, hi = port.partition("-")
            if proto not in ("tcp", "udp", "sctp") or not lo.isdigit() or (hi and not hi.isdigit()):
                raise ConfigError(f"EXPOSE {w!r}: expected PORT[/tcp|udp|sctp] or a range A-B")
            first, last = int(lo), int(hi or lo)
            if not 0 < first <= last <= 65535:
                raise ConfigError(f"EXPOSE {w!r}: port out of range 1-65535")
            for p in range(first, last + 1):
                ports[f"{p}/{proto}"] = {}
                added.append(f"{p}/{proto}")
        self._note(st, "EXPOSE " + " ".join(added))

    def _i_volume(self, st: Stage, instr: parser.Instruction) -> None:
        env = st.env()
        vols = ([self._expand(v, env, instr) for v in instr.json] if instr.json is not None
                else process_words(instr.args, env, self.escape))
        if not vols or any(not v.strip() for v in vols):
            raise ConfigError("VOLUME needs at least one non-empty path")
        for v in vols:
            st.config.setdefault("Volumes", {})[v] = {}
        self._note(st, f"VOLUME {json.dumps(vols)}")

    def _i_stopsignal(self, st: Stage, instr: parser.Instruction) -> None:
        from ..spec import parse_signal

        sig = self._expand(instr.args, st.env(), instr).strip()
        parse_signal(sig)
        st.config["StopSignal"] = sig
        self._note(st, f"STOPSIGNAL {sig}")

    def _i_healthcheck(self, st: Stage, instr: parser.Instruction) -> None:
        from ..health import parse_duration

        word, _, rest = instr.args.partition(" ")
        if word.upper() == "NONE":
            st.config["Healthcheck"] = {"Test": ["NONE"]}
        else:
            rest = rest.strip()
            test = (["CMD", *(parser._json_list(rest) or [])] if parser._json_list(rest)
                    else ["CMD-SHELL", rest])
            check: dict[str, Any] = {"Test": test}
            names = {"interval": "Interval", "timeout": "Timeout",
                     "start-period": "StartPeriod", "start-interval": "StartInterval"}
            for flag, value in instr.flags.items():
                if flag == "retries":
                    if not (value or "").isdigit():
                        raise ConfigError(f"HEALTHCHECK --retries={value}: expected a number")
                    check["Retries"] = int(value or 0)
                else:
                    check[names[flag]] = parse_duration(value or "", what=f"HEALTHCHECK --{flag}")
            st.config["Healthcheck"] = check
        self._note(st, f"HEALTHCHECK {json.dumps(st.config['Healthcheck'], sort_keys=True)}")

    def _i_onbuild(self, st: Stage, instr: parser.Instruction) -> None:
        parser.parse_instruction(instr.args, instr.line, self.path)  # a bad trigger fails now
        st.config.setdefault("OnBuild", []).append(instr.args)
        self._note(st, f"ONBUILD {instr.args}")

    # ---- instructions that make layers ----------------------------------------------------
    def _cached(self, st: Stage, text: str, inputs: str) -> tuple[str, dict[str, Any] | None]:
        k = cachemod.key("layer", st.diff_ids(), st.meta, text, inputs)
        if self.no_cache:
            return k, None
        return k, self.cache.get(k)

    def _add_layer(self, st: Stage, k: str, text: str, created_by: str,
                   layer: tuple[str, int] | None, *, cached: bool) -> None:
        if not cached:
            self.cache.put(k, {"layer": layer[0], "size": layer[1]} if layer else {"empty": True})
        if layer is not None:
            st.layers.append(layer)
            st.history.append({"created": _now(), "created_by": created_by})
        else:
            st.history.append({"created": _now(), "created_by": created_by, "empty_layer": True})
        st.meta = cachemod.key(st.meta, text)
        if cached:
            self.say(f"--> Using cache {layer[0][7:19] if layer else '(no change)'}")
        else:
            self.say(f"--> {layer[0][7:19] if layer else '(no change)'}")

    def _hit(self, entry: dict[str, Any] | None) -> tuple[bool, tuple[str, int] | None]:
        if entry is None:
            return False, None
        if entry.get("empty"):
            return True, None
        return True, (entry["layer"], int(entry.get("size", 0)))

    def _i_workdir(self, st: Stage, instr: parser.Instruction) -> None:
        path = self._expand(instr.args, st.env(), instr).strip()
        path = posixpath.normpath(posixpath.join(st.config.get("WorkingDir") or "/", path))
        st.config["WorkingDir"] = path
        user = st.config.get("User") or ""
        text = f"WORKDIR {path} (user {user})"
        k, entry = self._cached(st, text, "")
        hit, layer = self._hit(entry)
        if not hit:
            from . import context as ctx
            from .rootfs import Workspace
            from ..runtime.users import resolve_user

            with Workspace(self.engine, st.diff_ids()) as ws:
                if not ctx.is_dir_in(str(ws.merged), path):
                    ids = resolve_user(user, str(ws.merged)) if user else {"uid": 0, "gid": 0}
                    ctx.make_dirs(str(ws.merged), path, ids["uid"], ids["gid"])
                    layer = ws.commit()
        self._add_layer(st, k, text, f"/bin/sh -c #(nop) WORKDIR {path}", layer, cached=hit)

    def _i_copy(self, st: Stage, instr: parser.Instruction) -> None:
        self._copy(st, instr, add=False)

    def _i_add(self, st: Stage, instr: parser.Instruction) -> None:
        self._copy(st, instr, add=True)

    def _copy(self, st: Stage, instr: parser.Instruction, *, add: bool) -> None:
        from . import context as ctx
        from .rootfs import Workspace

        env = st.env()
        docs = {h.marker: h for h in instr.heredocs}
        words = ([self._expand(w, env, instr) for w in instr.json] if instr.json is not None
                 else [w if w in docs else self._expand(w, env, instr)
                       for w in instr.args.split()])
        *srcs, dest = words
        what = instr.cmd
        if not dest:
            raise ConfigError(f"{what}: empty destination")
        dest_dir = dest.endswith("/") or dest.endswith("/.") or dest in (".", "..")
        dest = posixpath.normpath(posixpath.join(st.config.get("WorkingDir") or "/", dest))
        chown = self._expand(instr.flags["chown"] or "", env, instr) if instr.flags.get("chown") \
            else None
        chmod = None
        if instr.flags.get("chmod"):
            raw = instr.flags["chmod"] or ""
            if not raw or any(c not in "01234567" for c in raw) or int(raw, 8) > 0o7777:
                raise ConfigError(f"{what} --chmod={raw}: expected an octal mode such as 0755")
            chmod = int(raw, 8)
        src_from = instr.flags.get("from")
        src_stage: Stage | None = None
        src_image: dict[str, Any] | None = None
        if src_from:
            src_from = self._expand(src_from, self.meta_args, instr)
            ref = self._stage_ref(src_from, st.index)
            if ref is not None:
                src_stage = self.results[ref]
            else:
                src_image = self._from_image(src_from, instr)
        if any(w.startswith(("http://", "https://", "git@", "git://")) for w in srcs):
            raise ConfigError(f"{what}: remote sources are not supported (podium builds without "
                              "network access): download the file into the context and COPY it")
        if docs and (src_stage is not None or src_image is not None):
            raise ConfigError(f"{what} --from cannot take heredoc sources")
        if src_stage is None and src_image is None:
            found = [s for w in srcs if w in docs
                     for s in [self._heredoc_source(docs[w], env)]]
            found += ctx.sources(self.context, [w for w in srcs if w not in docs],
                                 matcher=self.matcher, context=True, what=what)
            if len(found) > 1 and not dest_dir:
                raise ConfigError(f"{what} with more than one source: the destination {dest!r} "
                                  "must be a directory ending with /")
            entries = ctx.collect(found, matcher=self.matcher, dest_is_dir=dest_dir, archives=add)
            inputs = ctx.digest(entries, keep_owner=True)  # as tarsum did
            src_layers: list[str] = []
        else:
            src_layers = (src_stage.diff_ids() if src_stage is not None else
                          list((src_image["config"].get("rootfs") or {}).get("diff_ids") or []))
            inputs = cachemod.key("from", src_layers, srcs)
        text = (f"{what} " + " ".join(f"--{k}={v}" for k, v in sorted(instr.flags.items())
                                      if k in ("chown", "chmod"))
                + f" {json.dumps(srcs)} {dest}{'/' if dest_dir and dest != '/' else ''}")
        k, entry = self._cached(st, text, inputs)
        hit, layer = self._hit(entry)
        if not hit:
            with Workspace(self.engine, st.diff_ids()) as ws:
                root = str(ws.merged)
                into_dir = dest_dir or ctx.is_dir_in(root, dest)
                owner = self._owner(chown, root) if chown else None
                if src_stage is not None or src_image is not None:
                    with Workspace(self.engine, src_layers) as src_ws:
                        found = ctx.sources(str(src_ws.merged), srcs, matcher=None, context=False,
                                            what=what)
                        if len(found) > 1 and not dest_dir:
                            raise ConfigError(f"{what} with more than one source: the destination "
                                              f"{dest!r} must be a directory ending with /")
                        entries = ctx.collect(found, matcher=None, dest_is_dir=into_dir)
                        ctx.apply(root, dest, entries, owner=owner, chmod=chmod,
                                  tmpdir=ws.scratch())
                else:
                    entries = ctx.collect(found, matcher=self.matcher, dest_is_dir=into_dir,
                                          archives=add)
                    ctx.apply(root, dest, entries, owner=owner or (0, 0), chmod=chmod,
                              tmpdir=ws.scratch(), archive_owner=owner)
                layer = ws.commit()
        self._add_layer(st, k, text, f"/bin/sh -c #(nop) {text}", layer, cached=hit)

    def _heredoc_source(self, doc: Any, env: dict[str, str]) -> Any:
        """``COPY <<NAME dest``: the body as a file named NAME (0644), $VARS expanded
        unless the marker was quoted, as BuildKit does."""
        import tempfile

        from . import context as ctx
        from .shellwords import expand_heredoc

        if not hasattr(self, "_heredoc_dir"):
            self.engine.paths.ensure()
            self._heredoc_dir = tempfile.mkdtemp(prefix="heredoc-", dir=self.engine.paths.tmp)
        d = tempfile.mkdtemp(dir=self._heredoc_dir)
        host = os.path.join(d, doc.name)
        with open(host, "w", encoding="utf-8") as f:
            f.write(expand_heredoc(doc.content, env, self.escape) if doc.expand else doc.content)
        os.chmod(host, 0o644)
        os.utime(host, (0, 0))
        return ctx.Source(doc.marker, host, False, doc.name, doc.name)

    @staticmethod
    def _owner(chown: str, rootfs: str) -> tuple[int, int]:
        from ..runtime.users import resolve_user

        user, sep, group = chown.partition(":")
        if not user:
            raise ConfigError(f"--chown={chown}: expected USER[:GROUP]")
        ids = resolve_user(user, rootfs)
        gid = ids["uid"] if not sep else resolve_user(f"0:{group}", rootfs)["gid"]
        return ids["uid"], gid

    def _i_run(self, st: Stage, instr: parser.Instruction) -> None:
        network = instr.flags.get("network") or self.network
        if network not in NETWORKS:
            raise ConfigError(f"RUN --network={network}: use none, host or default")
        argv = self._command(st, instr)
        if instr.json is None and not instr.args.strip():
            raise ConfigError("RUN needs a command")
        if instr.heredocs:
            first = instr.heredocs[0]
            if instr.args.strip() == first.marker and len(instr.heredocs) == 1:
                argv = [*st.shell, first.content]  # RUN <<EOF: the body is the script
            else:  # the shell reads the heredocs itself (and expands unquoted ones)
                argv = [*st.shell, instr.args + "\n" + "".join(
                    h.content + h.name + "\n" for h in instr.heredocs)]
        env = {k: v for k, v in st.args.items() if v is not None}
        env.update({k: v for k, v in self.build_args.items() if k in PROXY_ARGS})
        text = f"RUN {json.dumps(argv)} network={network} args={json.dumps(sorted(env.items()))}"
        k, entry = self._cached(st, text, "")
        hit, layer = self._hit(entry)
        if not hit:
            layer = self._run(st, instr, argv, env, network)
        args_note = "".join(f" {k}={v}" for k, v in sorted(st.args.items()) if v is not None)
        created_by = (f"|{len(args_note.split())}{args_note} " if args_note else "") + \
            (" ".join(argv) if instr.json is None else json.dumps(argv))
        self._add_layer(st, k, text, created_by, layer, cached=hit)

    def _run(self, st: Stage, instr: parser.Instruction, argv: list[str], arg_env: dict[str, str],
             network: str) -> tuple[str, int]:
        from .runner import run_step

        config_env = {line.partition("=")[0] for line in st.config.get("Env") or []}
        env = {k: v for k, v in arg_env.items() if k not in config_env}
        return run_step(self.engine, st, argv, env=env, network=network, say=self.say,
                        where=instr.where(self.path), text=instr.args)

    # ---- the image ------------------------------------------------------------------------
    def _commit(self, st: Stage, names: list[str]) -> str:
        from ..image_io import _commit, _Pending, _staging, _rmtree

        inner = copy.deepcopy(st.config)
        if self.labels:
            inner.setdefault("Labels", {}).update(self.labels)
        inner = {k: v for k, v in inner.items() if v is not None}
        k = cachemod.key("image", st.diff_ids(), st.meta, inner, st.author)
        entry = None if self.no_cache else self.cache.get(k)
        ims = self.engine.images
        if entry is not None:
            iid = entry["image"]
            with self.engine.store.write():
                for n in names:
                    self.engine.store.tag_image(n, iid)
                ims.events.record("image", "build", "sha256:" + iid, names[0] if names else "")
            self.say(f"--> Using cache {iid[:12]}")
            return iid
        config: dict[str, Any] = {"created": _now(), "architecture": st.arch}
        if st.variant:
            config["variant"] = st.variant
        if st.author:
            config["author"] = st.author
        config.update({"os": st.os or "linux", "config": inner,
                       "rootfs": {"type": "layers", "diff_ids": st.diff_ids()},
                       "history": st.history})
        cbytes = json.dumps(config, separators=(",", ":")).encode()
        staging = _staging(ims, "build")
        try:
            img = _commit(ims, [_Pending(cbytes, list(st.layers), names, {})], {}, staging,
                          action="build")[0]
        finally:
            _rmtree(staging)
        self.cache.put(k, {"image": img["id"]})
        self.say(f"COMMIT {names[0] if names else ''}".rstrip())
        self.say(f"--> {img['id'][:12]}")
        return img["id"]
