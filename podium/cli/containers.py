"""Container commands: run, create, start, stop, kill, restart, rm, ps, logs, exec, wait,
inspect, port, top, cp, rename — Podman's names, flags and output."""

from __future__ import annotations

import argparse
import json
import os
import sys

from .command import Command, Parser, flag, kv, multi, parse_filters, print_error
from .format import emit, emit_inspect, table

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable


def _env(values: list[str], files: list[str]) -> dict[str, str]:
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


def container_options(p: Parser) -> None:
    """The flags ``create`` and ``run`` share (Podman's spelling)."""
    p.add_argument("--name", help="container name")
    multi(p, "-e", "--env", help="set environment variables (KEY=VALUE or KEY)")
    multi(p, "--env-file", help="read environment variables from a file")
    p.add_argument("-w", "--workdir", help="working directory inside the container")
    p.add_argument("-u", "--user", help="user (name|uid[:group|gid])")
    p.add_argument("--entrypoint", help="overwrite the image's ENTRYPOINT (string or JSON array)")
    multi(p, "-l", "--label", help="set metadata (KEY=VALUE)")
    multi(p, "-v", "--volume", help="bind mount HOST:CTR[:ro] or a volume NAME:CTR or CTR")
    multi(p, "--tmpfs", help="mount a tmpfs: /path[:options]")
    flag(p, "--read-only", help="mount the root filesystem read-only")
    multi(p, "--cap-add", help="add Linux capabilities")
    multi(p, "--cap-drop", help="drop Linux capabilities")
    flag(p, "--privileged", help="give extended privileges")
    p.add_argument("-m", "--memory", help="memory limit (e.g. 64m, 1g)")
    p.add_argument("--cpus", help="number of CPUs (e.g. 0.5)")
    p.add_argument("--pids-limit", help="limit the number of processes")
    p.add_argument("--shm-size", help="size of /dev/shm")
    p.add_argument("-h", "--hostname", help="container hostname")
    p.add_argument("--restart", help="restart policy: no, on-failure[:N], always, unless-stopped")
    flag(p, "--init", help="run catatonit as PID 1 (forwards signals, reaps zombies)")
    p.add_argument("--stop-signal", help="signal to stop the container")
    p.add_argument("--stop-timeout", help="seconds to wait before SIGKILL")
    flag(p, "-i", "--interactive", help="keep STDIN open")
    flag(p, "-t", "--tty", help="allocate a pseudo-terminal")
    multi(p, "--network", "--net", dest="network",
          help="networks to join (name, several), or bridge, none, host, container:NAME, ns:PATH")
    multi(p, "--network-alias", help="add a DNS alias on the container's networks")
    p.add_argument("--ip", help="static IPv4 address on the container's network")
    multi(p, "-p", "--publish", help="publish a port: [IP:][HOST:]CTR[/tcp|udp], ranges allowed")
    multi(p, "--mount", help="attach a mount: type=bind|volume|tmpfs,source=...,destination=...[,ro]")
    p.add_argument("--pod", help="run the container in this pod")
    p.add_argument("--pull", help="pull policy: always, missing (default), never, newer")
    p.add_argument("--health-cmd", help="command to check health ('CMD-SHELL ...' or a JSON array)")
    p.add_argument("--health-interval", help="time between checks (default 30s)")
    p.add_argument("--health-timeout", help="time a check may take (default 30s)")
    p.add_argument("--health-retries", help="failures in a row before unhealthy (default 3)")
    p.add_argument("--health-start-period", help="grace period before failures count (default 0s)")
    p.add_argument("--health-on-failure", help="none, kill, restart or stop when unhealthy")
    flag(p, "--no-healthcheck", help="disable the image's health check")
    multi(p, "--ulimit", help="ulimit: NAME=SOFT[:HARD]")
    multi(p, "--sysctl", help="namespaced kernel parameters KEY=VALUE")
    multi(p, "--add-host", help="add a line to /etc/hosts: HOST:IP")
    multi(p, "--dns", help="DNS server for /etc/resolv.conf (replaces the network's)")
    multi(p, "--dns-search", help="DNS search domain")
    multi(p, "--dns-option", help="resolv.conf option (ndots:2, ...)")
    multi(p, "--group-add", help="supplementary group (name or GID)")
    multi(p, "--security-opt", help="no-new-privileges, seccomp=unconfined|PROFILE.json, unmask=PATHS, label=disable")
    p.add_argument("--memory-reservation", help="memory soft limit (e.g. 256m)")
    multi(p, "--annotation", help="add an annotation KEY=VALUE")
    flag(p, "--rm", help="remove the container when it exits")
    p.add_argument("image", help="image name or ID")
    p.add_argument("command", nargs=argparse.REMAINDER, help="command and arguments")


def _int(value: str | None, what: str) -> int | None:
    from podium.engine.errors import ConfigError
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"invalid {what} {value!r}: expected a whole number") from None


def _spec(a: argparse.Namespace):  # noqa: ANN202
    from podium.engine.mounts import parse_mount
    from podium.engine.spec import ContainerSpec, parse_security_opts, parse_tmpfs
    entrypoint = None
    if a.entrypoint is not None:
        ep = a.entrypoint
        if ep.strip().startswith("["):
            try:
                entrypoint = [str(x) for x in json.loads(ep)]
            except ValueError:
                entrypoint = [ep]
        else:
            entrypoint = [ep] if ep else []
    return ContainerSpec(
        image=a.image, name=a.name, command=list(a.command) or None, entrypoint=entrypoint,
        env=_env(a.env, a.env_file), workdir=a.workdir, user=a.user,
        labels=kv(a.label, "label"), annotations=kv(a.annotation, "annotation"),
        volumes=list(a.volume), tmpfs=dict(parse_tmpfs(t) for t in a.tmpfs),
        read_only=a.read_only, cap_add=list(a.cap_add), cap_drop=list(a.cap_drop),
        privileged=a.privileged, memory=a.memory, cpus=a.cpus,
        pids_limit=_int(a.pids_limit, "pids limit"), shm_size=a.shm_size, hostname=a.hostname,
        restart=a.restart, init=a.init, stop_signal=a.stop_signal,
        stop_timeout=_int(a.stop_timeout, "stop timeout"), interactive=a.interactive, tty=a.tty,
        remove=a.rm, network=",".join(a.network) or None, ulimits=list(a.ulimit),
        sysctls=kv(a.sysctl, "sysctl"), ports=list(a.publish), network_aliases=list(a.network_alias),
        ip=a.ip, pod=a.pod, mounts=[parse_mount(m) for m in a.mount], health=_health(a),
        add_hosts=list(a.add_host), dns=list(a.dns) or None, dns_search=list(a.dns_search) or None,
        dns_options=list(a.dns_option), groups=list(a.group_add), memory_reservation=a.memory_reservation,
        **parse_security_opts(a.security_opt),
    )


def _health(a: argparse.Namespace) -> dict[str, Any] | None:
    keys = ("cmd", "interval", "timeout", "retries", "start_period", "on_failure")
    given = {k: getattr(a, "health_" + k) for k in keys if getattr(a, "health_" + k) is not None}
    if a.no_healthcheck:
        given["disable"] = True
    return given or None


def _pull_image(a: argparse.Namespace, g: Any) -> None:
    """``--pull``: fetch the image first as the policy says; a present image costs no
    registry code (httpx is imported only when a registry is asked)."""
    from podium.engine.errors import ImageNotFound
    if a.pull in (None, "missing"):
        try:
            g.engine.images.resolve(a.image)
            return
        except ImageNotFound:
            from podium.engine.registry.policy import check_pullable
            check_pullable(a.image)  # fails fast when no registry could have it
    from .registry import pull_options
    g.engine.images.ensure(a.image, a.pull or "missing", pull_options(a))


def do_create(a: argparse.Namespace, g: Any) -> int:
    _pull_image(a, g)
    c = g.engine.containers.create(_spec(a))
    print(c["id"])
    return 0


def _run_args(p: Parser) -> None:
    flag(p, "-d", "--detach", help="run in the background and print the container ID")
    container_options(p)


def do_run(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    from podium.engine.attach import run_attached
    from podium.engine.errors import PodiumError

    eng = g.engine
    _pull_image(a, g)
    c = eng.containers.create(_spec(a))
    if a.detach:
        try:
            lifecycle.start(eng, c["id"])
        except PodiumError:
            _discard_failed(eng, c)
            raise
        print(c["id"])
        return 0
    sys.stdout.flush()
    try:
        return run_attached(eng, c, stdin_fd=0 if a.interactive else None)
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


def bulk(refs: list[str], fn: Callable[[str], Any],
         show: Callable[[str, Any], str | None] = lambda ref, res: ref) -> int:
    """Per-item reports: print each success, one error line per failure, exit non-zero if any failed."""
    from podium.engine.errors import PodiumError
    code = 0
    for ref in refs:
        try:
            res = fn(ref)
        except PodiumError as exc:
            print_error(exc)
            code = code or exc.exit_code
            continue
        line = show(ref, res)
        if line is not None:
            print(line)
    return code


def _refs(a: argparse.Namespace, g: Any, *, running: bool) -> list[str]:
    from podium.engine.errors import ConfigError
    if getattr(a, "all", False):
        return [c["name"] for c in g.engine.containers.list(all=not running)]
    if not a.containers:
        raise ConfigError("you must provide at least one container name or ID")
    return a.containers


def _containers_arg(p: Parser, *, all_: bool = True) -> None:
    if all_:
        flag(p, "-a", "--all", help="act on all containers")
    p.add_argument("containers", nargs="*", help="container names or IDs")


def _start_args(p: Parser) -> None:
    flag(p, "-a", "--attach", help="attach to the container's output")
    flag(p, "-i", "--interactive", help="keep STDIN open")
    _containers_arg(p, all_=False)


def do_start(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    from podium.engine.attach import run_attached
    from podium.engine.errors import ConfigError
    eng = g.engine
    if a.attach:
        if len(a.containers) != 1:
            raise ConfigError("--attach takes exactly one container")
        return run_attached(eng, eng.containers.get(a.containers[0]),
                            stdin_fd=0 if a.interactive else None)
    return bulk(_refs(a, g, running=False), lambda r: lifecycle.start(eng, r))


def _stop_args(p: Parser) -> None:
    p.add_argument("-t", "--time", help="seconds to wait before killing")
    _containers_arg(p)


def do_stop(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    t = _int(a.time, "timeout")
    return bulk(_refs(a, g, running=True), lambda r: lifecycle.stop(g.engine, r, timeout=t))


def _kill_args(p: Parser) -> None:
    p.add_argument("-s", "--signal", default="KILL", help="signal to send (default KILL)")
    _containers_arg(p)


def do_kill(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    from podium.engine.spec import parse_signal
    parse_signal(a.signal)
    return bulk(_refs(a, g, running=True), lambda r: lifecycle.kill(g.engine, r, signal=a.signal))


def do_pause(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    return bulk(_refs(a, g, running=True), lambda r: lifecycle.pause(g.engine, r))


def do_unpause(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    from podium.engine.errors import ConfigError
    if getattr(a, "all", False):
        refs = [c["name"] for c in g.engine.containers.list() if c["state"]["status"] == "paused"]
    elif not a.containers:
        raise ConfigError("you must provide at least one container name or ID")
    else:
        refs = a.containers
    return bulk(refs, lambda r: lifecycle.unpause(g.engine, r))


def do_restart(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    t = _int(a.time, "timeout")
    return bulk(_refs(a, g, running=False), lambda r: lifecycle.restart(g.engine, r, timeout=t))


def _rm_args(p: Parser) -> None:
    flag(p, "-f", "--force", help="stop and remove running containers")
    flag(p, "-v", "--volumes", help="remove anonymous volumes too")
    flag(p, "-i", "--ignore", help="ignore containers that do not exist")
    p.add_argument("-t", "--time", help="seconds to wait before killing")
    _containers_arg(p)


def do_rm(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import NotFound
    eng = g.engine
    t = _int(a.time, "timeout")

    def remove(ref: str) -> str:
        try:
            return eng.containers.remove(ref, force=a.force, volumes=a.volumes, timeout=t)
        except NotFound:
            if a.ignore:
                return ""
            raise
    return bulk(_refs(a, g, running=False), remove, lambda ref, cid: cid or None)


FILTER_KEYS = ("label", "name", "status", "id", "ancestor", "exited", "health", "pod")


def match(c: dict[str, Any], entry: dict[str, Any], filters: list[tuple[str, str]],
          pod_names: dict[str, str] | None = None) -> bool:
    """Podman's filter logic: values of one key are OR-ed (labels AND-ed), keys AND-ed."""
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
            ok = val in (c["config"]["image"], c["image_id"], (c["image_id"] or "")[:12])
        elif key == "health":
            if not c["config"].get("healthcheck"):
                health = "none"
            elif c["state"]["status"] == "running":
                health = (c["state"].get("health") or {}).get("Status") or "starting"
            else:
                health = ""  # a stopped container has no health, as in Podman
            ok = health == val
        elif key == "pod":
            pid = c.get("pod_id") or ""
            ok = bool(pid) and (pid.startswith(val) or (pod_names or {}).get(pid) == val)
        else:  # exited
            ok = entry["Exited"] and str(entry["ExitCode"]) == val
        by_key.setdefault(key, []).append(ok)
    return all(all(v) if k == "label" else any(v) for k, v in by_key.items())


def _ps_args(p: Parser) -> None:
    flag(p, "-a", "--all", help="show all containers, not only running ones")
    flag(p, "-q", "--quiet", help="print only the IDs")
    multi(p, "-f", "--filter", help="label=, name=, status=, id=, ancestor=, exited=")
    p.add_argument("--format", help="json, or a Go template such as '{{.Names}}'")
    flag(p, "--no-trunc", help="do not truncate IDs and commands")
    p.add_argument("-n", "--last", type=int, default=-1, help="show the n last created containers")
    flag(p, "-l", "--latest", help="show the latest container")


def do_ps(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.inspect import ps_entry
    eng = g.engine
    flt = parse_filters(a.filter, FILTER_KEYS)
    last = 1 if a.latest else a.last
    rows = []
    pod_names = {p["id"]: p["name"] for p in eng.pods.list()} if any(k == "pod" for k, _ in flt) else None
    for c in eng.containers.list(all=a.all or bool(flt) or last > 0):
        entry = ps_entry(c)
        if match(c, entry, flt, pod_names):
            rows.append(entry)
    if last >= 0:
        rows = sorted(rows, key=lambda e: e["Created"], reverse=True)[:last]
    if a.quiet:
        for r in rows:
            print(r["Id"] if a.no_trunc else r["Id"][:12])
        return 0
    if a.format == "json":
        emit(rows, "json")
        return 0
    for r in rows:
        r["ID"] = r["Id"] if a.no_trunc else r["Id"][:12]
        r["Names"] = r["Names"][0]
        r["Command"] = " ".join(r["Command"])
        r["Ports"] = _ports_text(r["Ports"])
        r["Labels"] = r["Labels"] or {}

    def human(rows: list[dict[str, Any]]) -> None:
        table(["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"],
              [[r["ID"], r["Image"], _trunc(r["Command"], a.no_trunc), r["RunningFor"],
                r["Status"], r["Ports"], r["Names"]] for r in rows])
    emit(rows, a.format, table=human)
    return 0


def _trunc(cmd: str, no_trunc: bool) -> str:
    return cmd if no_trunc or len(cmd) <= 20 else cmd[:17] + "..."


def _ports_text(ports: list[dict[str, Any]] | None) -> str:
    return ", ".join(f"{p['host_ip'] or '0.0.0.0'}:{p['host_port']}->{p['container_port']}/{p['protocol']}"
                     for p in ports or [])


def _logs_args(p: Parser) -> None:
    flag(p, "-f", "--follow", help="follow the output")
    p.add_argument("--tail", type=int, default=-1, help="number of lines from the end (-1: all)")
    p.add_argument("--since", help="show logs since a time (10m, Unix time, RFC 3339)")
    p.add_argument("--until", help="show logs until a time")
    flag(p, "-t", "--timestamps", help="show timestamps")
    p.add_argument("containers", nargs="+", help="container names or IDs")


def do_logs(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import logs as logmod
    since = logmod.parse_since(a.since) if a.since else None
    until = logmod.parse_since(a.until) if a.until else None
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for ref in a.containers:
        for line in logmod.read(g.engine, ref, tail=None if a.tail < 0 else a.tail, since=since,
                                until=until, follow=a.follow):
            stream = err if line.stream == "stderr" else out
            prefix = (line.time + " ").encode() if a.timestamps else b""
            stream.write(prefix + line.text.encode() + (b"\n" if line.complete else b""))
            if a.follow:
                stream.flush()
    return 0


def _exec_args(p: Parser) -> None:
    multi(p, "-e", "--env", help="set environment variables")
    multi(p, "--env-file", help="read environment variables from a file")
    p.add_argument("-w", "--workdir", help="working directory")
    p.add_argument("-u", "--user", help="user (name|uid[:group|gid])")
    flag(p, "-i", "--interactive", help="keep STDIN open")
    flag(p, "-t", "--tty", help="allocate a pseudo-terminal")
    flag(p, "-d", "--detach", help="run in the background")
    p.add_argument("container")
    p.add_argument("command", nargs=argparse.REMAINDER)


def do_exec(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.exec import exec_in
    sys.stdout.flush()
    return exec_in(g.engine, a.container, list(a.command), env=_env(a.env, a.env_file),
                   workdir=a.workdir, user=a.user, interactive=a.interactive, detach=a.detach, tty=a.tty)


def _wait_args(p: Parser) -> None:
    multi(p, "--condition", help="state to wait for (default stopped)")
    p.add_argument("containers", nargs="+")


def do_wait(a: argparse.Namespace, g: Any) -> int:
    from podium.engine import lifecycle
    cond = tuple(a.condition) or ("stopped",)
    return bulk(a.containers, lambda r: lifecycle.wait(g.engine, r, conditions=cond),
                lambda ref, code: str(code))


def _inspect_args(p: Parser) -> None:
    p.add_argument("-f", "--format", help="json (default) or a Go template")
    p.add_argument("-t", "--type", default="all", choices=["all", "container", "image"])
    p.add_argument("refs", nargs="+")


def do_inspect(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.errors import NotFound, PodiumError
    from podium.engine.inspect import inspect as inspect_ctr
    eng = g.engine
    out, code = [], 0
    for ref in a.refs:
        try:
            if a.type in ("all", "container"):
                try:
                    out.append(inspect_ctr(eng, eng.containers.get(ref)))
                    continue
                except NotFound:
                    if a.type == "container":
                        raise
            out.append(eng.images.inspect(ref))
        except PodiumError as exc:
            sys.stderr.write(f"Error: {exc}\n")
            code = exc.exit_code
    emit_inspect(out, a.format)
    return code


def _port_args(p: Parser) -> None:
    p.add_argument("container")
    p.add_argument("private_port", nargs="?")


def do_port(a: argparse.Namespace, g: Any) -> int:
    c = g.engine.containers.get(a.container)
    for p in c["config"].get("ports", []):
        key = f"{p['container_port']}/{p.get('protocol', 'tcp')}"
        if a.private_port and a.private_port not in (key, str(p["container_port"])):
            continue
        host = f"{p.get('host_ip') or '0.0.0.0'}:{p['host_port']}"
        print(host if a.private_port else f"{key} -> {host}")
    return 0


def _top_args(p: Parser) -> None:
    p.add_argument("container")
    p.add_argument("descriptors", nargs="*")


def do_top(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.top import top
    headers, rows = top(g.engine, a.container, list(a.descriptors))
    table(headers, rows)
    return 0


def _cp_args(p: Parser) -> None:
    p.add_argument("src")
    p.add_argument("dst")


def do_cp(a: argparse.Namespace, g: Any) -> int:
    from podium.engine.copy import copy
    copy(g.engine, a.src, a.dst)
    return 0


def _rename_args(p: Parser) -> None:
    p.add_argument("container")
    p.add_argument("name")


def do_rename(a: argparse.Namespace, g: Any) -> int:
    g.engine.containers.rename(a.container, a.name)
    return 0


def _cleanup_args(p: Parser) -> None:
    p.add_argument("cid")


def do_cleanup(a: argparse.Namespace, g: Any) -> int:
    """conmon's exit command: record the exit, tidy up, restart or remove."""
    from podium.engine import lifecycle
    if not g.engine.paths.db.exists():
        return 0  # the store is gone (a removed temporary root): never make a new, empty one
    lifecycle.cleanup(g.engine, a.cid)
    return 0


COMMANDS: dict[str, Command] = {
    "run": Command(do_run, _run_args, "Run a command in a new container.", short_help=False),
    "create": Command(do_create, container_options, "Create a container without starting it.",
                      short_help=False),
    "start": Command(do_start, _start_args, "Start one or more containers."),
    "stop": Command(do_stop, _stop_args, "Stop one or more containers (stop signal, grace period, SIGKILL)."),
    "kill": Command(do_kill, _kill_args, "Send a signal to one or more containers."),
    "restart": Command(do_restart, _stop_args, "Restart one or more containers."),
    "pause": Command(do_pause, _containers_arg, "Pause all processes in one or more containers."),
    "unpause": Command(do_unpause, _containers_arg, "Unpause all processes in one or more containers."),
    "rm": Command(do_rm, _rm_args, "Remove one or more containers."),
    "ps": Command(do_ps, _ps_args, "List containers."),
    "logs": Command(do_logs, _logs_args, "Show a container's logs."),
    "exec": Command(do_exec, _exec_args, "Run a process in a running container."),
    "wait": Command(do_wait, _wait_args, "Wait for containers to stop; print their exit codes."),
    "inspect": Command(do_inspect, _inspect_args, "Show low-level information on containers or images."),
    "port": Command(do_port, _port_args, "List a container's published ports."),
    "top": Command(do_top, _top_args, "Show the processes of a container."),
    "cp": Command(do_cp, _cp_args, "Copy files between a container and the host (CONTAINER:PATH)."),
    "rename": Command(do_rename, _rename_args, "Rename a container."),
    "cleanup": Command(do_cleanup, _cleanup_args, "Clean up after a container exited (conmon's exit command)."),
}
