"""Container commands: run, create, start, stop, kill, restart, rm, ps, logs, exec, wait,
inspect, port, top, cp, rename — Podman's names, flags and output."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import click

from .format import emit, table

CONTEXT = {"help_option_names": ["-h", "--help"]}
ARGS_CONTEXT = {**CONTEXT, "allow_interspersed_args": False}
# -h is --hostname for create/run, as in Podman
RUN_CONTEXT = {"help_option_names": ["--help"], "allow_interspersed_args": False}


def _engine(ctx: click.Context):  # noqa: ANN202
    return ctx.find_root().obj.engine


def _kv(values: tuple[str, ...], what: str) -> dict[str, str]:
    from podium.engine.errors import ConfigError
    out = {}
    for v in values:
        k, sep, val = v.partition("=")
        if not k:
            raise ConfigError(f"invalid {what} {v!r}: expected KEY=VALUE")
        out[k] = val
    return out


def _env(values: tuple[str, ...], files: tuple[str, ...]) -> dict[str, str]:
    from podium.engine.spec import parse_env_line, read_env_file
    env: dict[str, str] = {}
    for line in [ln for f in files for ln in read_env_file(f)] + list(values):
        k, v = parse_env_line(line)
        if v is None:
            if k in os.environ:
                env[k] = os.environ[k]
        else:
            env[k] = v
    return env


def container_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The flags ``create`` and ``run`` share (Podman's spelling)."""
    opts = [
        click.option("--name", help="Container name."),
        click.option("-e", "--env", "env", multiple=True, help="Set environment variables (KEY=VALUE or KEY)."),
        click.option("--env-file", multiple=True, help="Read environment variables from a file."),
        click.option("-w", "--workdir", help="Working directory inside the container."),
        click.option("-u", "--user", help="User (name|uid[:group|gid])."),
        click.option("--entrypoint", help="Overwrite the image's ENTRYPOINT (string or JSON array)."),
        click.option("-l", "--label", multiple=True, help="Set metadata (KEY=VALUE)."),
        click.option("-v", "--volume", multiple=True, help="Bind mount HOST:CTR[:ro] or volume."),
        click.option("--tmpfs", multiple=True, help="Mount a tmpfs: /path[:options]."),
        click.option("--read-only", is_flag=True, help="Mount the root filesystem read-only."),
        click.option("--cap-add", multiple=True, help="Add Linux capabilities."),
        click.option("--cap-drop", multiple=True, help="Drop Linux capabilities."),
        click.option("--privileged", is_flag=True, help="Give extended privileges."),
        click.option("-m", "--memory", help="Memory limit (e.g. 64m, 1g)."),
        click.option("--cpus", help="Number of CPUs (e.g. 0.5)."),
        click.option("--pids-limit", type=int, help="Limit the number of processes."),
        click.option("--shm-size", help="Size of /dev/shm."),
        click.option("-h", "--hostname", help="Container hostname."),
        click.option("--restart", help="Restart policy: no, on-failure[:N], always, unless-stopped."),
        click.option("--init", is_flag=True, help="Run catatonit as PID 1 to reap zombies."),
        click.option("--stop-signal", help="Signal to stop the container."),
        click.option("--stop-timeout", type=int, help="Seconds to wait before SIGKILL."),
        click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open."),
        click.option("--network", "--net", "network", help="Network mode: none, host, ns:PATH."),
        click.option("--ulimit", multiple=True, help="Ulimit: NAME=SOFT[:HARD]."),
        click.option("--sysctl", multiple=True, help="Namespaced kernel parameters KEY=VALUE."),
        click.option("--annotation", multiple=True, help="Add an annotation KEY=VALUE."),
        click.option("--rm", "remove", is_flag=True, help="Remove the container when it exits."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def _spec(image: str, command: tuple[str, ...], o: dict[str, Any]):  # noqa: ANN202
    from podium.engine.spec import ContainerSpec, parse_tmpfs
    entrypoint = None
    if o["entrypoint"] is not None:
        ep = o["entrypoint"]
        if ep.strip().startswith("["):
            try:
                entrypoint = [str(x) for x in json.loads(ep)]
            except ValueError:
                entrypoint = [ep]
        else:
            entrypoint = [ep] if ep else []
    return ContainerSpec(
        image=image, name=o["name"], command=list(command) or None, entrypoint=entrypoint,
        env=_env(o["env"], o["env_file"]), workdir=o["workdir"], user=o["user"],
        labels=_kv(o["label"], "label"), annotations=_kv(o["annotation"], "annotation"),
        volumes=list(o["volume"]), tmpfs=dict(parse_tmpfs(t) for t in o["tmpfs"]),
        read_only=o["read_only"], cap_add=list(o["cap_add"]), cap_drop=list(o["cap_drop"]),
        privileged=o["privileged"], memory=o["memory"], cpus=o["cpus"], pids_limit=o["pids_limit"],
        shm_size=o["shm_size"], hostname=o["hostname"], restart=o["restart"], init=o["init"],
        stop_signal=o["stop_signal"], stop_timeout=o["stop_timeout"], interactive=o["interactive"],
        remove=o["remove"], network=o["network"], ulimits=list(o["ulimit"]),
        sysctls=_kv(o["sysctl"], "sysctl"),
    )


@click.command(context_settings=RUN_CONTEXT)
@container_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def create(ctx: click.Context, image: str, command: tuple[str, ...], **o: Any) -> int:
    """Create a container without starting it."""
    c = _engine(ctx).containers.create(_spec(image, command, o))
    click.echo(c["id"])
    return 0


@click.command(context_settings=RUN_CONTEXT)
@container_options
@click.option("-d", "--detach", is_flag=True, help="Run in the background and print the ID.")
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run(ctx: click.Context, image: str, command: tuple[str, ...], detach: bool, **o: Any) -> int:
    """Run a command in a new container."""
    from podium.engine import lifecycle
    from podium.engine.attach import run_attached
    from podium.engine.errors import PodiumError

    eng = _engine(ctx)
    c = eng.containers.create(_spec(image, command, o))
    if detach:
        try:
            lifecycle.start(eng, c["id"])
        except PodiumError:
            _discard_failed(eng, c)
            raise
        click.echo(c["id"])
        return 0
    sys.stdout.flush()
    try:
        return run_attached(eng, c, stdin_fd=0 if o["interactive"] else None)
    except PodiumError:
        _discard_failed(eng, c)
        raise


def _discard_failed(eng: Any, c: dict[str, Any]) -> None:
    """A ``run --rm`` that never started leaves nothing behind (Podman's habit)."""
    if c["config"].get("remove"):
        try:
            eng.containers.remove(c["id"], force=True, volumes=True)
        except Exception:  # noqa: BLE001 - best effort; the original error is what matters
            pass


def _bulk(ctx: click.Context, refs: tuple[str, ...], fn: Callable[[str], Any],
          show: Callable[[str, Any], str | None] = lambda ref, res: ref) -> int:
    """Per-item reports: print each success, one error line per failure, exit non-zero if any failed."""
    from podium.engine.errors import PodiumError
    code = 0
    for ref in refs:
        try:
            res = fn(ref)
        except PodiumError as exc:
            click.echo(f"Error: {exc}", err=True)
            code = code or exc.exit_code
            continue
        line = show(ref, res)
        if line is not None:
            click.echo(line)
    return code


def _all_or_refs(ctx: click.Context, refs: tuple[str, ...], all_: bool, *, running: bool) -> tuple[str, ...]:
    from podium.engine.errors import ConfigError
    if all_:
        eng = _engine(ctx)
        return tuple(c["name"] for c in eng.containers.list(all=not running))
    if not refs:
        raise ConfigError("you must provide at least one container name or ID")
    return refs


@click.command(context_settings=CONTEXT)
@click.option("-a", "--attach", is_flag=True, help="Attach to the container's output.")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open.")
@click.argument("containers", nargs=-1)
@click.pass_context
def start(ctx: click.Context, containers: tuple[str, ...], attach: bool, interactive: bool) -> int:
    """Start one or more containers."""
    from podium.engine import lifecycle
    from podium.engine.attach import run_attached
    eng = _engine(ctx)
    if attach:
        if len(containers) != 1:
            raise click.UsageError("--attach takes exactly one container")
        c = eng.containers.get(containers[0])
        return run_attached(eng, c, stdin_fd=0 if interactive else None)
    return _bulk(ctx, _all_or_refs(ctx, containers, False, running=False),
                 lambda r: lifecycle.start(eng, r))


@click.command(context_settings=CONTEXT)
@click.option("-a", "--all", "all_", is_flag=True, help="Stop all running containers.")
@click.option("-t", "--time", "timeout", type=int, help="Seconds to wait before killing.")
@click.argument("containers", nargs=-1)
@click.pass_context
def stop(ctx: click.Context, containers: tuple[str, ...], all_: bool, timeout: int | None) -> int:
    """Stop one or more containers (stop signal, grace period, then SIGKILL)."""
    from podium.engine import lifecycle
    eng = _engine(ctx)
    return _bulk(ctx, _all_or_refs(ctx, containers, all_, running=True),
                 lambda r: lifecycle.stop(eng, r, timeout=timeout))


@click.command(context_settings=CONTEXT)
@click.option("-s", "--signal", default="KILL", help="Signal to send (default KILL).")
@click.option("-a", "--all", "all_", is_flag=True)
@click.argument("containers", nargs=-1)
@click.pass_context
def kill(ctx: click.Context, containers: tuple[str, ...], signal: str, all_: bool) -> int:
    """Send a signal to one or more containers."""
    from podium.engine import lifecycle
    from podium.engine.spec import parse_signal
    parse_signal(signal)
    eng = _engine(ctx)
    return _bulk(ctx, _all_or_refs(ctx, containers, all_, running=True),
                 lambda r: lifecycle.kill(eng, r, signal=signal))


@click.command(context_settings=CONTEXT)
@click.option("-t", "--time", "timeout", type=int)
@click.option("-a", "--all", "all_", is_flag=True)
@click.argument("containers", nargs=-1)
@click.pass_context
def restart(ctx: click.Context, containers: tuple[str, ...], timeout: int | None, all_: bool) -> int:
    """Restart one or more containers."""
    from podium.engine import lifecycle
    eng = _engine(ctx)
    return _bulk(ctx, _all_or_refs(ctx, containers, all_, running=False),
                 lambda r: lifecycle.restart(eng, r, timeout=timeout))


@click.command(context_settings=CONTEXT)
@click.option("-f", "--force", is_flag=True, help="Stop and remove running containers.")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes too.")
@click.option("-a", "--all", "all_", is_flag=True)
@click.option("-t", "--time", "timeout", type=int)
@click.option("-i", "--ignore", is_flag=True, help="Ignore containers that do not exist.")
@click.argument("containers", nargs=-1)
@click.pass_context
def rm(ctx: click.Context, containers: tuple[str, ...], force: bool, volumes: bool, all_: bool,
       timeout: int | None, ignore: bool) -> int:
    """Remove one or more containers."""
    from podium.engine.errors import NotFound
    eng = _engine(ctx)

    def remove(ref: str) -> str:
        try:
            return eng.containers.remove(ref, force=force, volumes=volumes, timeout=timeout)
        except NotFound:
            if ignore:
                return ""
            raise
    return _bulk(ctx, _all_or_refs(ctx, containers, all_, running=False), remove,
                 lambda ref, cid: cid or None)


def _filters(values: tuple[str, ...]) -> list[tuple[str, str]]:
    from podium.engine.errors import ConfigError
    out = []
    for v in values:
        k, sep, val = v.partition("=")
        if not sep or k not in ("label", "name", "status", "id", "ancestor", "exited", "label!"):
            raise ConfigError(f"invalid filter {v!r}: use label=, name=, status=, id=, ancestor= or exited=")
        out.append((k, val))
    return out


def _match(c: dict[str, Any], entry: dict[str, Any], filters: list[tuple[str, str]]) -> bool:
    import re
    by_key: dict[str, list[bool]] = {}
    for key, val in filters:
        if key == "label":
            k, sep, v = val.partition("=")
            labels = c["config"].get("labels", {})
            ok = k in labels and (not sep or labels[k] == v)
        elif key == "name":
            ok = re.search(val, c["name"]) is not None
        elif key == "status":
            ok = entry["State"] == val
        elif key == "id":
            ok = c["id"].startswith(val)
        elif key == "ancestor":
            ok = val in (c["config"]["image"], c["image_id"], c["image_id"][:12])
        elif key == "exited":
            ok = entry["Exited"] and str(entry["ExitCode"]) == val
        else:
            ok = True
        by_key.setdefault(key, []).append(ok)
    # Podman: values of one key are OR-ed, except label (AND); different keys AND-ed.
    return all(all(v) if k == "label" else any(v) for k, v in by_key.items())


@click.command(context_settings=CONTEXT)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers, not only running ones.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the IDs.")
@click.option("-f", "--filter", "filters", multiple=True, help="label=, name=, status=, id=, ancestor=")
@click.option("--format", "fmt", help="json, or a Go template such as '{{.Names}}'.")
@click.option("--no-trunc", is_flag=True)
@click.option("-n", "--last", type=int, default=-1)
@click.option("-l", "--latest", is_flag=True)
@click.pass_context
def ps(ctx: click.Context, all_: bool, quiet: bool, filters: tuple[str, ...], fmt: str | None,
       no_trunc: bool, last: int, latest: bool) -> int:
    """List containers."""
    from podium.engine.inspect import ps_entry
    eng = _engine(ctx)
    flt = _filters(filters)
    rows = []
    for c in eng.containers.list(all=all_ or bool(flt) or last > 0 or latest):
        entry = ps_entry(c, {})
        if _match(c, entry, flt):
            rows.append(entry)
    if latest:
        last = 1
    if last >= 0:
        rows = sorted(rows, key=lambda e: e["Created"], reverse=True)[:last] if last else []
    if quiet:
        for r in rows:
            click.echo(r["Id"] if no_trunc else r["Id"][:12])
        return 0
    for r in rows:
        r["ID"] = r["Id"] if no_trunc else r["Id"][:12]
        r["Names"] = r["Names"][0]
        r["Command"] = " ".join(r["Command"])
        r["RunningFor"] = r["Status"]
        r["Ports"] = _ports_text(r["Ports"])
        r["Labels"] = r["Labels"] or {}
    if fmt == "json":
        for r in rows:
            r["Names"] = [r["Names"]]
            r["Command"] = r["Command"].split(" ") if r["Command"] else []
            del r["ID"], r["RunningFor"]
            r["Ports"] = None if not r["Ports"] else r["Ports"]

    def human(rows: list[dict[str, Any]]) -> None:
        from podium.engine.timeutil import human_duration
        import time
        now = time.time()
        table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
              [[r["ID"], r["Image"], _trunc(r["Command"], no_trunc),
                human_duration(now - r["Created"]) + " ago", r["Status"], r["Ports"], r["Names"]]
               for r in rows])
    emit(rows, fmt, table=human)
    return 0


def _trunc(cmd: str, no_trunc: bool) -> str:
    return cmd if no_trunc or len(cmd) <= 20 else cmd[:17] + "..."


def _ports_text(ports: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{p['host_ip'] or '0.0.0.0'}:{p['host_port']}->{p['container_port']}/{p['protocol']}"
                     for p in ports or [])


@click.command(context_settings=CONTEXT)
@click.option("-f", "--follow", is_flag=True, help="Follow the output.")
@click.option("--tail", type=int, default=-1, help="Number of lines from the end (-1: all).")
@click.option("--since", help="Show logs since a time (10m, Unix time, RFC 3339).")
@click.option("--until", help="Show logs until a time.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def logs(ctx: click.Context, containers: tuple[str, ...], follow: bool, tail: int,
         since: str | None, until: str | None, timestamps: bool) -> int:
    """Show a container's logs."""
    from podium.engine import logs as logmod
    eng = _engine(ctx)
    since_t = logmod.parse_since(since) if since else None
    until_t = logmod.parse_since(until) if until else None
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for ref in containers:
        for line in logmod.read(eng, ref, tail=None if tail < 0 else tail, since=since_t,
                                until=until_t, follow=follow):
            stream = err if line.stream == "stderr" else out
            prefix = (line.time + " ").encode() if timestamps else b""
            stream.write(prefix + line.text.encode() + (b"\n" if line.complete else b""))
            if follow:
                stream.flush()
    return 0


@click.command("exec", context_settings=ARGS_CONTEXT)
@click.option("-e", "--env", "env", multiple=True)
@click.option("--env-file", multiple=True)
@click.option("-w", "--workdir")
@click.option("-u", "--user")
@click.option("-i", "--interactive", is_flag=True)
@click.option("-d", "--detach", is_flag=True)
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_(ctx: click.Context, container: str, command: tuple[str, ...], env: tuple[str, ...],
          env_file: tuple[str, ...], workdir: str | None, user: str | None, interactive: bool,
          detach: bool) -> int:
    """Run a process in a running container."""
    from podium.engine.exec import exec_in
    sys.stdout.flush()
    return exec_in(_engine(ctx), container, list(command), env=_env(env, env_file), workdir=workdir,
                   user=user, interactive=interactive, detach=detach)


@click.command(context_settings=CONTEXT)
@click.option("--condition", multiple=True, default=("stopped",))
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait(ctx: click.Context, containers: tuple[str, ...], condition: tuple[str, ...]) -> int:
    """Wait for containers to stop and print their exit codes."""
    from podium.engine import lifecycle
    eng = _engine(ctx)
    return _bulk(ctx, containers, lambda r: lifecycle.wait(eng, r, conditions=condition),
                 lambda ref, code: str(code))


@click.command(context_settings=CONTEXT)
@click.option("-f", "--format", "fmt", help="json (default) or a Go template.")
@click.option("-t", "--type", "kind", type=click.Choice(["all", "container", "image"]), default="all")
@click.argument("refs", nargs=-1, required=True)
@click.pass_context
def inspect(ctx: click.Context, refs: tuple[str, ...], fmt: str | None, kind: str) -> int:
    """Show low-level information on containers or images."""
    from podium.engine.errors import NotFound, PodiumError
    from podium.engine.inspect import inspect as inspect_ctr
    eng = _engine(ctx)
    out, code = [], 0
    for ref in refs:
        try:
            if kind in ("all", "container"):
                try:
                    out.append(inspect_ctr(eng, eng.containers.get(ref)))
                    continue
                except NotFound:
                    if kind == "container":
                        raise
            out.append(eng.images.inspect(ref))
        except PodiumError as exc:
            click.echo(f"Error: {exc}", err=True)
            code = 125
    if fmt and fmt != "json":
        emit(out, fmt)
    else:
        click.echo(json.dumps(out, indent=4))
    return code


@click.command(context_settings=CONTEXT)
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_context
def port(ctx: click.Context, container: str, private_port: str | None) -> int:
    """List a container's published ports."""
    c = _engine(ctx).containers.get(container)
    for p in c["config"].get("ports", []):
        key = f"{p['container_port']}/{p.get('protocol', 'tcp')}"
        if private_port and private_port not in (key, str(p["container_port"])):
            continue
        host = f"{p.get('host_ip') or '0.0.0.0'}:{p['host_port']}"
        click.echo(host if private_port else f"{key} -> {host}")
    return 0


@click.command(context_settings=ARGS_CONTEXT)
@click.argument("container")
@click.argument("descriptors", nargs=-1)
@click.pass_context
def top(ctx: click.Context, container: str, descriptors: tuple[str, ...]) -> int:
    """Show the processes of a container."""
    from podium.engine.top import top as top_
    headers, rows = top_(_engine(ctx), container, list(descriptors))
    table(headers, rows)
    return 0


@click.command(context_settings=CONTEXT)
@click.argument("src")
@click.argument("dst")
@click.pass_context
def cp(ctx: click.Context, src: str, dst: str) -> int:
    """Copy files between a container and the host (CONTAINER:PATH)."""
    from podium.engine.copy import copy
    copy(_engine(ctx), src, dst)
    return 0


@click.command(context_settings=CONTEXT)
@click.argument("container")
@click.argument("name")
@click.pass_context
def rename(ctx: click.Context, container: str, name: str) -> int:
    """Rename a container."""
    _engine(ctx).containers.rename(container, name)
    return 0


@click.command(context_settings=CONTEXT, hidden=True)
@click.argument("cid")
@click.pass_context
def cleanup(ctx: click.Context, cid: str) -> int:
    """Clean up after a container exited (conmon's exit command)."""
    from podium.engine import lifecycle
    lifecycle.cleanup(_engine(ctx), cid)
    return 0


@click.group(context_settings=CONTEXT)
def container() -> None:
    """Manage containers."""


for _cmd, _name in ((run, "run"), (create, "create"), (start, "start"), (stop, "stop"),
                    (kill, "kill"), (restart, "restart"), (rm, "rm"), (ps, "ps"), (ps, "list"),
                    (ps, "ls"), (logs, "logs"), (exec_, "exec"), (wait, "wait"),
                    (inspect, "inspect"), (port, "port"), (top, "top"), (cp, "cp"),
                    (rename, "rename"), (cleanup, "cleanup")):
    container.add_command(_cmd, _name)
