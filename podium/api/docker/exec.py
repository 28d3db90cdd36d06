"""``/containers/{id}/exec``, ``/exec/{id}/start``, ``/exec/{id}/json``: Docker's two-step exec.

Exec instances live in the service's memory, as in Docker's daemon. Start
runs ``engine.exec.exec_in`` in a thread with pipes for its stdio and frames
what comes out onto the hijacked connection; the exit code is recorded before
the stream ends, so a client's inspect right after it sees it.
"""

from __future__ import annotations

import os
import select
import socket
import threading

from podium.api.http import ApiError, Hijack, Response, bad_request
from podium.api.routes import route
from podium.api.docker import streams

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

TAG = "exec (Docker)"

_S = {"type": ["string", "null"]}
_B = {"type": ["boolean", "null"]}
_SL = {"type": ["array", "null"], "items": {"type": "string"}}
EXEC_SCHEMA = {
    "type": "object",
    "properties": {"AttachStdin": _B, "AttachStdout": _B, "AttachStderr": _B,
                   "ConsoleSize": {"type": ["array", "null"]}, "DetachKeys": _S, "Tty": _B,
                   "Env": _SL, "Cmd": _SL, "Privileged": _B, "User": _S, "WorkingDir": _S,
                   "Detach": _B, "Container": _S},
    "required": ["Cmd"],
    "additionalProperties": False,
}
START_SCHEMA = {
    "type": "object",
    "properties": {"Detach": _B, "Tty": _B, "ConsoleSize": {"type": ["array", "null"]}},
    "additionalProperties": False,
}


class ExecInstance:
    def __init__(self, eid: str, cid: str, body: dict[str, Any]) -> None:
        self.id = eid
        self.cid = cid
        self.cmd = list(body["Cmd"])
        self.env = {}
        for line in body.get("Env") or []:
            k, sep, v = line.partition("=")
            if not k or not sep:
                raise bad_request(f"invalid environment variable {line!r}: expected KEY=VALUE")
            self.env[k] = v
        self.user = body.get("User") or None
        self.workdir = body.get("WorkingDir") or None
        self.stdin = bool(body.get("AttachStdin"))
        self.stdout = body.get("AttachStdout", True) is not False
        self.stderr = body.get("AttachStderr", True) is not False
        self.running = False
        self.started = False
        self.exit_code: int | None = None
        self.lock = threading.Lock()

    def inspect(self) -> dict[str, Any]:
        return {"ID": self.id, "ContainerID": self.cid, "Running": self.running,
                "ExitCode": self.exit_code, "OpenStdin": self.stdin, "OpenStdout": self.stdout,
                "OpenStderr": self.stderr, "CanRemove": False, "DetachKeys": "", "Pid": 0,
                "ProcessConfig": {"entrypoint": self.cmd[0], "arguments": self.cmd[1:],
                                  "privileged": False, "tty": False, "user": self.user or ""}}


def _execs(ctx: Any) -> dict[str, ExecInstance]:
    return ctx.service.registry("execs", dict)


@route("POST", "/containers/{id}/exec", summary="Create an exec instance", tag=TAG, status=201,
       body=EXEC_SCHEMA)
def exec_create(ctx: Any, req: Any, id: str) -> Any:
    from podium.engine.errors import NotFound
    body = req.json(schema=EXEC_SCHEMA)
    if not body.get("Cmd"):
        raise bad_request("No exec command specified")
    if body.get("Tty"):
        raise bad_request("Tty=true is not supported over the API yet (drop -t; podium's own CLI has exec -t)")
    if body.get("Privileged"):
        raise bad_request("Privileged exec is not supported")
    try:
        c = ctx.engine.containers.get(id)
    except NotFound:
        raise ApiError(404, f"No such container: {id}") from None
    if c["state"]["status"] != "running":
        raise ApiError(409, f"Container {c['id']} is not running")
    eid = os.urandom(32).hex()
    inst = ExecInstance(eid, c["id"], body)
    execs = _execs(ctx)
    with ctx.service.lock:
        execs[eid] = inst
        if len(execs) > 1000:  # forget the oldest finished ones
            for old in [k for k, v in execs.items() if v.exit_code is not None][:len(execs) - 1000]:
                execs.pop(old, None)
    return {"Id": eid}


def _instance(ctx: Any, eid: str) -> ExecInstance:
    inst = _execs(ctx).get(eid)
    if inst is None:
        raise ApiError(404, f"No such exec instance: {eid}")
    return inst


@route("GET", "/exec/{id}/json", summary="Inspect an exec instance", tag=TAG)
def exec_inspect(ctx: Any, req: Any, id: str) -> Any:
    return _instance(ctx, id).inspect()


@route("POST", "/exec/{id}/start", summary="Start an exec instance (hijacked stream unless Detach)",
       tag=TAG, body=START_SCHEMA, produces="application/vnd.docker.multiplexed-stream")
def exec_start(ctx: Any, req: Any, id: str) -> Any:
    body = req.json(schema=START_SCHEMA, required=False)
    if body.get("Tty"):
        raise bad_request("Tty=true is not supported")
    inst = _instance(ctx, id)
    with inst.lock:
        if inst.started:
            raise ApiError(409, f"exec {id} has already been started")
        inst.started = True
        inst.running = True
    if body.get("Detach"):
        threading.Thread(target=_run, args=(ctx.service, inst, None, None, None), daemon=True).start()
        return Response(200, b"", content_type="")

    def run(client: socket.socket) -> None:
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        in_r = in_w = None
        if inst.stdin:
            in_r, in_w = os.pipe()
            threading.Thread(target=_feed, args=(client, in_w), daemon=True).start()
        worker = threading.Thread(target=_run, args=(ctx.service, inst, in_r, out_w, err_w), daemon=True)
        worker.start()
        _copy_out(client, out_r, err_r, inst)
        worker.join()
    return Hijack(run)


def _run(service: Any, inst: ExecInstance, stdin: int | None, stdout: int | None, stderr: int | None) -> None:
    from podium.engine.errors import PodiumError
    from podium.engine.exec import exec_in
    import subprocess
    eng = service.new_engine()
    null = None
    try:
        if stdout is None:
            null = os.open(os.devnull, os.O_RDWR)
        code = exec_in(eng, inst.cid, inst.cmd, env=inst.env, workdir=inst.workdir, user=inst.user,
                       stdin=stdin if stdin is not None else subprocess.DEVNULL,
                       stdout=stdout if stdout is not None else null,
                       stderr=stderr if stderr is not None else null)
    except PodiumError as exc:
        if stderr is not None:
            try:
                os.write(stderr, f"OCI runtime exec failed: {exc}\n".encode())
            except OSError:
                pass
        code = exc.exit_code if exc.exit_code in (126, 127) else 126
    except Exception as exc:  # noqa: BLE001 - the stream must end and the exit code be set
        if stderr is not None:
            try:
                os.write(stderr, f"exec failed: {type(exc).__name__}: {exc}\n".encode())
            except OSError:
                pass
        code = 126
    finally:
        eng.close()
        for fd in (stdin, stdout, stderr, null):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
    inst.exit_code = code
    inst.running = False


def _feed(client: socket.socket, fd: int) -> None:
    try:
        while True:
            data = client.recv(65536)
            if not data:
                break
            os.write(fd, data)
    except OSError:
        pass
    finally:
        try:
            os.close(fd)
        except OSError:
            pass


def _copy_out(client: socket.socket, out_r: int, err_r: int, inst: ExecInstance) -> None:
    fds = {out_r: streams.STDOUT, err_r: streams.STDERR}
    want = {out_r: inst.stdout, err_r: inst.stderr}
    try:
        while fds:
            ready, _, _ = select.select(list(fds), [], [])
            for fd in ready:
                data = os.read(fd, 65536)
                if not data:
                    fds.pop(fd)
                    os.close(fd)
                    continue
                if want[fd]:
                    try:
                        client.sendall(streams.frame(fds[fd], data))
                    except OSError:
                        want[out_r] = want[err_r] = False  # the client left: drain, do not stop the process
    finally:
        for fd in list(fds):
            try:
                os.close(fd)
            except OSError:
                pass
