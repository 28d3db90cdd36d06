"""Which compose files, which project directory, which environment, which project name.

Docker Compose's rules, in its order:

1. the environment: the process environment over the env files, which are
   ``--env-file`` (repeatable) or else ``.env`` in the project directory (a
   first look, before the files are known, uses ``--project-directory``, the
   first ``-f`` file's directory or the current directory, so that ``.env``
   can set ``COMPOSE_FILE``);
2. the files: ``-f`` (repeatable, ``-`` is stdin), else ``COMPOSE_FILE``
   (split on ``COMPOSE_PATH_SEPARATOR`` or ``os.pathsep``), else the first of
   ``compose.yaml``, ``compose.yml``, ``docker-compose.yaml``,
   ``docker-compose.yml`` in the current directory or its nearest parent that
   has one, plus its ``compose.override.yaml`` (or ``.yml``,
   ``docker-compose.override.*``) beside it;
3. the project directory: ``--project-directory``, else the first file's
   directory (the current directory for stdin);
4. the project name: ``-p``, else ``COMPOSE_PROJECT_NAME`` (both must already
   be valid), else the top-level ``name:``, else the project directory's
   name, both normalized (lowercase, only ``[a-z0-9_-]``, starting with a
   letter or digit).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Mapping

from podium.engine.errors import ConfigError

from .dotenv import read_env_file

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
OVERRIDE_FILES = ("compose.override.yaml", "compose.override.yml",
                  "docker-compose.override.yaml", "docker-compose.override.yml")

_VALID_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def normalize_project_name(name: str) -> str:
    """Lowercase, keep ``[a-z0-9_-]``, drop leading ``_``/``-``: ``"My App!"`` -> ``"myapp"``."""
    kept = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return kept.lstrip("_-")


def check_project_name(name: str, *, source: str) -> str:
    if not _VALID_NAME.match(name):
        raise ConfigError(
            f"invalid project name {name!r} from {source}: it must consist only of lowercase letters, digits, "
            "'-' and '_', and start with a letter or digit")
    return name


def find_default_files(start: str, warnings: list[str]) -> list[str]:
    """The compose file (and its override) in ``start`` or its nearest parent that has one."""
    d = os.path.abspath(start)
    while True:
        found = [n for n in DEFAULT_FILES if os.path.isfile(os.path.join(d, n))]
        if found:
            if len(found) > 1:
                warnings.append(f"found several compose files in {d}: {', '.join(found)}; using {found[0]}")
            files = [os.path.join(d, found[0])]
            overrides = [n for n in OVERRIDE_FILES if os.path.isfile(os.path.join(d, n))]
            if overrides:
                if len(overrides) > 1:
                    warnings.append(f"found several override files in {d}: {', '.join(overrides)}; using {overrides[0]}")
                files.append(os.path.join(d, overrides[0]))
            return files
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    raise ConfigError(
        f"no compose file found in {os.path.abspath(start)} or any parent directory "
        f"(looked for {', '.join(DEFAULT_FILES)}); name one with -f")


@dataclass
class Discovery:
    files: list[str]  # absolute paths, "-" for stdin
    project_dir: str
    environment: dict[str, str]  # env files under the process environment
    env_files: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_environment(env_files: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """Env files in order (later wins), then the process environment over all of them."""
    merged: dict[str, str] = {}
    for path in env_files:
        def lookup(name: str) -> str | None:
            return environ.get(name, merged.get(name))
        merged.update(read_env_file(path, lookup=lookup))
    merged.update(environ)
    return merged


def discover(files: list[str] | None, *, project_dir: str | None = None, env_files: list[str] | None = None,
             environ: Mapping[str, str] | None = None, cwd: str | None = None) -> Discovery:
    cwd = os.path.abspath(cwd or os.getcwd())
    environ = dict(os.environ if environ is None else environ)
    warnings: list[str] = []

    def here(p: str) -> str:
        return p if p == "-" else os.path.normpath(os.path.join(cwd, os.path.expanduser(p)))

    given = [here(f) for f in (files or [])]
    if project_dir is not None:
        workdir = here(project_dir)
        if not os.path.isdir(workdir):
            raise ConfigError(f"project directory {workdir} does not exist")
    else:
        first = next((f for f in given if f != "-"), None)
        workdir = os.path.dirname(first) if first else cwd

    def default_env_files(directory: str) -> list[str]:
        dotenv = os.path.join(directory, ".env")
        return [dotenv] if os.path.isfile(dotenv) and not _truthy(environ.get("COMPOSE_DISABLE_ENV_FILE")) else []

    if env_files:
        used = [here(p) for p in env_files]
        for p in used:
            if not os.path.isfile(p):
                raise ConfigError(f"env file {p} not found")
    else:
        used = default_env_files(workdir)
    env = load_environment(used, environ)

    if not given and env.get("COMPOSE_FILE"):
        sep = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        given = [here(p) for p in env["COMPOSE_FILE"].split(sep) if p]
    if not given:  # --project-directory is where Docker Compose looks for the default files
        given = find_default_files(workdir if project_dir is not None else cwd, warnings)
    for f in given:
        if f != "-" and not os.path.isfile(f):
            raise ConfigError(f"compose file {f} not found" if not os.path.isdir(f) else f"compose file {f} is a directory")

    if project_dir is None:
        first = next((f for f in given if f != "-"), None)
        final = os.path.dirname(first) if first else cwd
        if final != workdir and not env_files:
            # the files were found elsewhere (COMPOSE_FILE, a parent directory): their directory's .env counts
            workdir = final
            used = default_env_files(workdir)
            env = load_environment(used, environ)
    return Discovery(files=given, project_dir=workdir, environment=env, env_files=used, warnings=warnings)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def project_name(*, explicit: str | None, environment: Mapping[str, str], declared: str | None,
                 project_dir: str) -> str:
    """The project name by Docker Compose's precedence (see the module docstring)."""
    if explicit:
        return check_project_name(explicit, source="-p")
    from_env = environment.get("COMPOSE_PROJECT_NAME")
    if from_env:
        return check_project_name(from_env, source="COMPOSE_PROJECT_NAME")
    if declared:
        name = normalize_project_name(str(declared))
        if name:
            return name
    name = normalize_project_name(os.path.basename(os.path.normpath(project_dir)))
    if not name:
        raise ConfigError(
            f"cannot derive a project name from the directory {project_dir!r}; give one with -p or `name:`")
    return name
