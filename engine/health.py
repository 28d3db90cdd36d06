"""Health checks without a daemon, without systemd, and without a Python process per container.

Three pieces, each turning one thing into another:

``config_from_spec``
    ``--health-*`` flags (or a compose/kube healthcheck in the same dict shape)
    and the image's ``Healthcheck`` -> the frozen config fragment
    ``{"healthcheck": {Test, Interval, Timeout, StartPeriod, Retries} | None,
    "health_on_failure": "none|kill|restart|stop"}`` (durations in ns, Docker's shape).

``start_checker`` / ``stop_checker``
    A running container with a check gets one *checker*: a detached static
    busybox shell loop (~200 KB private memory, no Python) that waits with the
    shell builtin ``read -t`` on a FIFO nobody writes to, then runs
    ``podium healthcheck run --from-checker ID`` and waits again. Its pid, process
    group and start time live in ``BUNDLE/healthcheck.pid``; ``stop_checker`` kills
    exactly that process group after checking ``/proc/PID`` is still our loop
    (same start time, our marker and the container id in its cmdline). The loop
    ends by itself when conmon's exit file appears or when the check reports
    ``CHECKER_DONE`` (container gone, not running, or the loop is stale).

``run``
    One check: ``runc exec`` of the test command with the container's process
    settings, output to a file (at most 4 KiB kept), SIGKILL on timeout. The
    result is recorded with the container lock held (lock, reload, act) into
    ``state["health"] = {Status, FailingStreak, Log[-5:]}`` and, when the
    container is unhealthy, the on-failure action runs under the same lock.
    A Python process therefore exists only while a check runs.

See docs/health-checks.md for the design and its measured cost.
"""

from __future__ import annotations

import os
import re

from .errors import ConfigError, InvalidState, NotFound, PodiumError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .engine import Engine
    from .spec import ContainerSpec

SECOND = 1_000_000_000
DEFAULT_INTERVAL = 30 * SECOND
DEFAULT_TIMEOUT = 30 * SECOND
DEFAULT_START_PERIOD = 0
DEFAULT_RETRIES = 3
ON_FAILURE = ("none", "kill", "restart", "stop")
MAX_LOG_ENTRIES = 5        # Docker's and Podman's
MAX_OUTPUT = 4096          # Docker's maxOutputLen

STARTING, HEALTHY, UNHEALTHY = "starting", "healthy", "unhealthy"
CHECKER_DONE = 3           # ``healthcheck run --from-checker`` exit code: the loop should end
CHECKER_MARK = "podium-healthcheck"
PID_FILE = "healthcheck.pid"
FIFO = "healthcheck.fifo"
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")


class CheckerDone(PodiumError):
    """The checker loop that asked has nothing left to do (container gone or loop stale)."""


# ---- durations ----------------------------------------------------------------------

_DURATION_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": SECOND,
                   "m": 60 * SECOND, "h": 3600 * SECOND}
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(value: str | int | float, *, what: str) -> int:
    """Go's duration syntax (``30s``, ``1m30s``, ``500ms``) -> nanoseconds.

    Numbers (int/float) are seconds, for callers that already hold numbers (kube
    probes' ``periodSeconds``).
    """
    if isinstance(value, bool):
        raise ConfigError(f"invalid {what} {value!r}: use a duration such as 30s, 1m30s or 500ms")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ConfigError(f"invalid {what} {value!r}: must not be negative")
        return int(value * SECOND)
    text = str(value).strip()
    if text == "0":
        return 0
    body = text[1:] if text[:1] in "+-" else text
    total, pos = 0.0, 0
    for m in _DURATION_PART.finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise ConfigError(f"invalid {what} {value!r}: use a duration such as 30s, 1m30s or 500ms")
    if text.startswith("-") and total:
        raise ConfigError(f"invalid {what} {value!r}: must not be negative")
    return int(round(total))


def format_duration(ns: int) -> str:
    """Nanoseconds -> Go's ``Duration.String()`` for the common cases (``30s``, ``1m30s``, ``1.5s``)."""
    if ns == 0:
        return "0s"
    if ns < SECOND:
        return f"{ns / 10**6:g}ms" if ns >= 10**6 else f"{ns}ns"
    h, rest = divmod(ns, 3600 * SECOND)
    m, rest = divmod(rest, 60 * SECOND)
    s = f"{rest / SECOND:.9f}".rstrip("0").rstrip(".")
    return (f"{h}h" if h else "") + (f"{m}m" if h or m else "") + f"{s}s"


def _seconds_arg(ns: int) -> str:
    """A duration as the seconds argument of ``read -t``/``sleep`` (``1``, ``1.5``)."""
    return f"{ns / SECOND:.3f}".rstrip("0").rstrip(".") or "0"


# ---- config ---------------------------------------------------------------------------


def parse_test(cmd: str | list[str]) -> list[str]:
    """``--health-cmd`` -> Docker's ``Test`` (Podman's rules).

    A JSON array stays an exec form (``["CMD", ...]``; without a keyword, more
    than one element gets ``CMD`` put in front); any other string is a shell
    command (``["CMD-SHELL", "..."]``); ``CMD ...``/``CMD-SHELL ...`` spelt out
    are kept; ``NONE`` disables.
    """
    import json

    is_array = isinstance(cmd, (list, tuple))
    raw = "" if is_array else str(cmd).strip()
    if is_array:
        arr = list(cmd)
    else:
        arr = None
        if raw.startswith("["):
            try:
                arr = json.loads(raw)
                is_array = True
            except ValueError:
                arr = None
        if arr is None:
            arr = raw.split(None, 1)
    if not isinstance(arr, list) or not all(isinstance(x, str) for x in arr):
        raise ConfigError(f"invalid health command {cmd!r}: a JSON array must hold strings only")
    if not arr or not arr[0]:
        raise ConfigError("invalid health command: it must not be empty")
    head = arr[0].upper()
    if head == "NONE":
        return ["NONE"]
    if head == "CMD":
        arr = ["CMD"] + (arr[1:] if is_array else raw.split()[1:])
        if len(arr) < 2 or not arr[1]:
            raise ConfigError(f"invalid health command {cmd!r}: CMD needs a command to run")
    elif head == "CMD-SHELL":
        arr = ["CMD-SHELL", " ".join(arr[1:])]
        if not arr[1].strip():
            raise ConfigError(f"invalid health command {cmd!r}: CMD-SHELL needs a command to run")
    elif is_array and len(arr) > 1:
        arr = ["CMD"] + arr
    else:
        arr = ["CMD-SHELL", " ".join(arr)]
    return arr


def _image_check(icfg: dict[str, Any]) -> dict[str, Any] | None:
    hc = icfg.get("Healthcheck") or None
    if not isinstance(hc, dict):
        return None
    test = [str(x) for x in hc.get("Test") or []]
    if not test or test[0].upper() == "NONE":
        return None
    if test[0].upper() in ("CMD", "CMD-SHELL"):
        test[0] = test[0].upper()
    else:  # not Docker's shape: run it as given
        test = ["CMD"] + test
    if len(test) < 2:
        return None

    def ns(key: str, default: int) -> int:
        v = hc.get(key)
        # an image's 0 means "the default"; below a second is clamped so the checker stays cheap
        return max(int(v), SECOND) if isinstance(v, (int, float)) and v > 0 else default

    retries = hc.get("Retries")
    return {"Test": test, "Interval": ns("Interval", DEFAULT_INTERVAL),
            "Timeout": ns("Timeout", DEFAULT_TIMEOUT),
            "StartPeriod": int(hc["StartPeriod"]) if isinstance(hc.get("StartPeriod"), int)
            and hc["StartPeriod"] > 0 else DEFAULT_START_PERIOD,
            "Retries": int(retries) if isinstance(retries, int) and retries > 0 else DEFAULT_RETRIES}


def config_from_spec(spec: "ContainerSpec", image_config: dict[str, Any]) -> dict[str, Any]:
    """The health fragment of a container's frozen config (flags override the image, field by field)."""
    h = dict(spec.health or {})
    on_failure = str(h.get("on_failure") or "none").lower()
    if on_failure not in ON_FAILURE:
        raise ConfigError(f"invalid --health-on-failure {h.get('on_failure')!r}: "
                          f"use one of {', '.join(ON_FAILURE)}")
    cmd = h.get("cmd")
    test = parse_test(cmd) if cmd not in (None, "") else None
    if h.get("disable"):
        if test is not None and test != ["NONE"]:
            raise ConfigError("--no-healthcheck and --health-cmd conflict: give one of them")
        return {"healthcheck": None, "health_on_failure": on_failure}
    if test == ["NONE"]:
        return {"healthcheck": None, "health_on_failure": on_failure}
    base = _image_check(image_config)
    if test is not None:
        base = {**(base or {}), "Test": test}
    if base is None:
        return {"healthcheck": None, "health_on_failure": on_failure}

    interval = base.get("Interval", DEFAULT_INTERVAL)
    if h.get("interval") not in (None, ""):
        if str(h["interval"]).strip().lower() == "disable":
            interval = 0
        else:
            interval = parse_duration(h["interval"], what="health interval")
            if interval < SECOND:
                raise ConfigError(f"invalid health interval {h['interval']!r}: must be at least 1 second")
    timeout = base.get("Timeout", DEFAULT_TIMEOUT)
    if h.get("timeout") not in (None, ""):
        timeout = parse_duration(h["timeout"], what="health timeout")
        if timeout < SECOND:
            raise ConfigError(f"invalid health timeout {h['timeout']!r}: must be at least 1 second")
    start_period = base.get("StartPeriod", DEFAULT_START_PERIOD)
    if h.get("start_period") not in (None, ""):
        start_period = parse_duration(h["start_period"], what="health start period")
    retries = base.get("Retries", DEFAULT_RETRIES)
    if h.get("retries") not in (None, ""):
        try:
            retries = int(h["retries"])
        except (TypeError, ValueError):
            raise ConfigError(f"invalid health retries {h['retries']!r}: expected a whole number") from None
        if retries < 1:
            raise ConfigError(f"invalid health retries {h['retries']!r}: must be greater than 0")
    return {"healthcheck": {"Test": list(base["Test"]), "Interval": interval, "Timeout": timeout,
                            "StartPeriod": start_period, "Retries": retries},
            "health_on_failure": on_failure}


def command_of(test: list[str]) -> list[str]:
    """Docker's ``Test`` -> the argv run inside the container."""
    if test and test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    if test and test[0] == "CMD":
        return list(test[1:])
    return list(test)


# ---- state ----------------------------------------------------------------------------


def initial_state(previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """The health of a container that just started: ``starting``, keeping the old log."""
    log = list((previous or {}).get("Log") or [])
    return {"Status": STARTING, "FailingStreak": 0, "Log": log[-MAX_LOG_ENTRIES:]}


def record(health: dict[str, Any] | None, hc: dict[str, Any], result: dict[str, Any], *,
           in_start_period: bool) -> dict[str, Any]:
    """Fold one result into the health state (Podman's rules); returns the new state.

    A pass makes the container healthy and resets the streak; a failure counts
    (unless the start period still runs) and ``Retries`` failures in a row make
    it unhealthy.
    """
    new = dict(health or initial_state())
    new.setdefault("Status", STARTING)
    streak = int(new.get("FailingStreak") or 0)
    if result["ExitCode"] == 0:
        new["Status"], streak = HEALTHY, 0
    elif not in_start_period:
        streak += 1
        if streak >= int(hc.get("Retries") or DEFAULT_RETRIES):
            new["Status"] = UNHEALTHY
    new["FailingStreak"] = streak
    new["Log"] = (list(new.get("Log") or []) + [result])[-MAX_LOG_ENTRIES:]
    return new


# ---- the checker loop -----------------------------------------------------------------


def find_shell() -> tuple[str, bool]:
    """(path, is_busybox): static busybox when present (its ``read -t`` waits without a child)."""
    for p in BUSYBOX_CANDIDATES:
        if os.access(p, os.X_OK):
            return p, True
    return "/bin/sh", False


def checker_script(*, podium: list[str], cid: str, exit_file: str, fifo: str, first_ns: int,
                   interval_ns: int, busybox: str | None) -> str:
    """The loop's shell text (pure; unit tests pin it).

    With busybox the waits are the ``read -t`` builtin on a FIFO held open
    read-write (never any data, never EOF): no ``sleep`` child. The check itself
    starts in its own session (``setsid``) so that stopping the loop's process
    group never kills a check that is busy restarting the container.
    """
    import shlex

    def wait(ns: int) -> str:
        return f"read -t {_seconds_arg(ns)} _ <&3" if busybox else f"sleep {_seconds_arg(ns)}"

    setsid = f"{shlex.quote(busybox)} setsid" if busybox else "setsid"
    check = " ".join(shlex.quote(a) for a in [*podium, "healthcheck", "run", "--from-checker", cid])
    opener = f"exec 3<>{shlex.quote(fifo)} || exit 1; " if busybox else ""
    first = f"{wait(first_ns)}; " if first_ns > 0 else ""
    return (f"{opener}{first}"
            f"while [ ! -e {shlex.quote(exit_file)} ]; do "
            f"{setsid} {check} </dev/null >/dev/null 2>&1 3<&-; "
            f"[ $? -eq {CHECKER_DONE} ] && break; "
            f"{wait(interval_ns)}; "
            "done")


def _proc_stat(pid: int) -> tuple[str, int, int] | None:
    """(state, pgid, start time in clock ticks) of a process, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[2]), int(fields[19])


def _is_checker(pid: int, start: int, cid: str) -> int | None:
    """The process group of ``pid`` if it is still the checker loop of ``cid``, else None."""
    st = _proc_stat(pid)
    if st is None or st[0] == "Z" or st[2] != start:
        return None
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return None
    if CHECKER_MARK.encode() not in argv or cid.encode() not in argv:
        return None
    return st[1]


def read_pid_file(path: os.PathLike[str] | str) -> tuple[int, int] | None:
    """(pid, start time) from a checker's pid file."""
    try:
        with open(path) as f:
            parts = f.read().split()
        return int(parts[0]), int(parts[1])
    except (OSError, ValueError, IndexError):
        return None


def checker_pid(engine: "Engine", cid: str) -> int | None:
    """The pid of the container's live checker loop, if there is one."""
    got = read_pid_file(engine.paths.bundle(cid) / PID_FILE)
    if got and _is_checker(got[0], got[1], cid) is not None:
        return got[0]
    return None


def start_checker(engine: "Engine", c: dict[str, Any]) -> None:
    """Reset the health to ``starting`` and spawn the checker loop (container lock held)."""
    hc = c["config"].get("healthcheck")
    if not hc:
        return
    stop_checker(engine, c)
    c["state"]["health"] = initial_state(c["state"].get("health"))
    with engine.store.write():
        engine.store.set_container_state(c["id"], c["state"])
    if not hc.get("Interval"):
        return  # interval "disable": checks run only when asked (podium healthcheck run)
    try:
        _spawn_checker(engine, c["id"], hc)
    except OSError:
        pass  # the container runs regardless; its health stays "starting"


def _spawn_checker(engine: "Engine", cid: str, hc: dict[str, Any]) -> None:
    import subprocess

    bundle = engine.paths.bundle(cid)
    shell, is_busybox = find_shell()
    fifo = bundle / FIFO
    if is_busybox:
        try:
            os.unlink(fifo)
        except OSError:
            pass
        os.mkfifo(fifo, 0o600)
    loop = checker_script(podium=engine.self_command(), cid=cid,
                          exit_file=str(engine.paths.exit_file(cid)), fifo=str(fifo),
                          first_ns=0, interval_ns=hc["Interval"],
                          busybox=shell if is_busybox else None)
    # The outer shell backgrounds the loop and prints its pid: the loop is
    # nobody's child once the outer shell exits (a double fork without fork()
    # in a possibly threaded Python), in a session and process group of its own.
    outer = f"( {loop} ) </dev/null >/dev/null 2>&1 & echo $!"
    argv = [shell, "sh", "-c", outer, CHECKER_MARK, cid] if is_busybox else \
        [shell, "-c", outer, CHECKER_MARK, cid]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, cwd="/", start_new_session=True,
                            close_fds=True)
    out, _ = proc.communicate(timeout=10)
    try:
        pid = int(out.split()[0])
    except (IndexError, ValueError):
        return
    st = _proc_stat(pid)
    if st is None:
        return  # already over (the container exited at once)
    tmp = bundle / (PID_FILE + ".tmp")
    tmp.write_text(f"{pid} {st[2]}\n")
    os.replace(tmp, bundle / PID_FILE)


def stop_checker(engine: "Engine", c: dict[str, Any]) -> None:
    """Kill the container's checker loop, exactly it (idempotent, safe after a reboot)."""
    import signal

    bundle = engine.paths.bundle(c["id"])
    pidfile = bundle / PID_FILE
    got = read_pid_file(pidfile)
    if got is not None:
        pgid = _is_checker(got[0], got[1], c["id"])
        if pgid is not None:
            # The loop's group (led by the outer shell, gone by now) holds only the
            # loop and its waits; a pgid stays reserved while a member lives, so it
            # names nobody else. Checks run in sessions of their own and survive.
            try:
                if pgid > 1 and pgid != os.getpgrp():
                    os.killpg(pgid, signal.SIGKILL)
                else:
                    os.kill(got[0], signal.SIGKILL)
            except OSError:
                pass
    for p in (pidfile, bundle / FIFO):
        try:
            os.unlink(p)
        except OSError:
            pass


# ---- one check --------------------------------------------------------------------------


def run(engine: "Engine", ref: str, *, from_checker: bool = False) -> str:
    """Run the container's check once, record it, act on failure; returns healthy/unhealthy.

    ``from_checker``: called by the checker loop, which ends when this raises
    ``CheckerDone`` (container removed or not running, no check, or the loop is
    not the container's current checker).
    """
    from .state import status as st
    from .timeutil import parse_iso

    ctrs = engine.containers
    try:
        c = ctrs.get(ref)
    except NotFound:
        if from_checker:
            raise CheckerDone(f"container {ref} is gone") from None
        raise
    cid, hc = c["id"], c["config"].get("healthcheck")
    if c["state"]["status"] != st.RUNNING:
        # paused or stopping: skip this check; created or exited: the loop is over
        if from_checker and c["state"]["status"] not in st.ACTIVE:
            raise CheckerDone(f"container {c['name']} is not running")
        raise InvalidState(f"container {c['name']} is not running")
    if not hc:
        if from_checker:
            raise CheckerDone(f"container {c['name']} has no defined healthcheck")
        raise ConfigError(f"container {c['name']} has no defined healthcheck")
    if from_checker:
        mine = read_pid_file(engine.paths.bundle(cid) / PID_FILE)
        if mine is None or mine[0] != os.getppid():
            raise CheckerDone(f"container {c['name']}: this checker loop is stale")
    started_at = c["state"].get("started_at", "")
    result = execute(engine, c, hc)
    passed = result["ExitCode"] == 0
    if engine.store.container(cid) is None:  # removed meanwhile: do not leave a lock file behind
        raise CheckerDone(f"container {c['name']} is gone") if from_checker else \
            NotFound(f"container {c['name']} was removed during its health check")
    with ctrs.lock(cid):
        c = engine.store.container(cid)
        if c is None or ctrs.sync(c)["state"]["status"] != st.RUNNING \
                or c["state"].get("started_at", "") != started_at:
            # stopped, paused or restarted while the check ran: the result belongs to no current run
            over = c is None or c["state"]["status"] not in st.ACTIVE \
                or c["state"].get("started_at", "") != started_at
            if from_checker and over:
                raise CheckerDone(f"container {ref} stopped during its health check")
            raise InvalidState(f"container {ref} stopped during its health check")
        started = parse_iso(started_at)
        in_start = bool(hc.get("StartPeriod")) and \
            parse_iso(result["Start"]) < started + hc["StartPeriod"] / SECOND
        health = record(c["state"].get("health"), hc, result, in_start_period=in_start)
        c["state"]["health"] = health
        with engine.store.write():
            engine.store.set_container_state(cid, c["state"])
        action = c["config"].get("health_on_failure") or "none"
        if health["Status"] == UNHEALTHY and not passed and action != "none":
            _on_failure(engine, c, action)
    return HEALTHY if passed else UNHEALTHY


def _wait(p: "subprocess.Popen[bytes]", timeout: float) -> int:
    """``p.wait(timeout)`` that wakes the moment ``p`` exits.

    Popen.wait with a timeout polls with growing sleeps (up to 50 ms each), which
    delayed every check's verdict, and so every ``service_healthy`` gate, by tens of
    milliseconds; a pidfd becomes readable exactly when the process exits.
    """
    import subprocess

    from .runtime.conmon import pidfd_exited

    try:
        fd = os.pidfd_open(p.pid)
    except (AttributeError, OSError):
        return p.wait(timeout=timeout)
    try:
        if not pidfd_exited(fd, timeout):
            raise subprocess.TimeoutExpired(p.args, timeout)
    finally:
        os.close(fd)
    return p.wait()


def execute(engine: "Engine", c: dict[str, Any], hc: dict[str, Any]) -> dict[str, Any]:
    """Run the test command in the container: {Start, End, ExitCode, Output} (Podman's log entry).

    ``runc exec`` in the foreground with the container's process settings; output
    goes to a file (a pipe could be held open by a child the check left behind).
    On timeout the process gets SIGKILL (its host pid comes from ``--pid-file``)
    and the result is a failure with exit code -1.
    """
    import json
    import signal
    import subprocess

    from .errors import RuntimeFailure
    from .exec import _check_command
    from .runtime.oci import ENV as RUNTIME_ENV
    from .runtime.users import resolve_in_root
    from .timeutil import now_iso

    bundle = engine.paths.bundle(c["id"])
    argv = command_of(hc["Test"])
    start = now_iso()
    try:
        with open(bundle / "config.json") as f:
            spec = json.load(f)
    except (OSError, ValueError) as exc:
        return {"Start": start, "End": now_iso(), "ExitCode": 1,
                "Output": f"cannot read the container's runtime config: {exc}"}
    proc = spec["process"]
    proc["args"], proc["terminal"] = argv, False
    env = dict(line.split("=", 1) for line in proc.get("env", []) if "=" in line)
    try:
        _check_command(argv[0], env.get("PATH", ""), spec["root"]["path"], proc.get("cwd", "/"),
                       resolve_in_root)
    except RuntimeFailure as exc:
        return {"Start": start, "End": now_iso(), "ExitCode": exc.exit_code, "Output": str(exc)}
    tag = os.urandom(6).hex()
    pfile, pidf, outf = (bundle / f"hc-{tag}.json", bundle / f"hc-{tag}.pid", bundle / f"hc-{tag}.out")
    timeout = hc.get("Timeout") or DEFAULT_TIMEOUT
    timed_out = False
    try:
        pfile.write_text(json.dumps(proc))
        with open(outf, "wb") as out:
            runtime = engine.runtime
            p = subprocess.Popen(runtime.argv("exec", "--process", str(pfile), "--pid-file", str(pidf),
                                              c["id"]),
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 env=RUNTIME_ENV, cwd="/")
            try:
                code = _wait(p, timeout / SECOND)
            except subprocess.TimeoutExpired:
                timed_out = True
                try:
                    os.kill(int(pidf.read_text().strip()), signal.SIGKILL)
                except (OSError, ValueError):
                    pass
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
                code = -1
        with open(outf, "rb") as f:
            output = f.read(MAX_OUTPUT).decode("utf-8", "replace")
    finally:
        for leftover in (pfile, pidf, outf):
            try:
                os.unlink(leftover)
            except OSError:
                pass
    if timed_out:
        output += ("" if not output or output.endswith("\n") else "\n") + \
            f"healthcheck command exceeded timeout of {format_duration(timeout)}"
    return {"Start": start, "End": now_iso(), "ExitCode": code, "Output": output}


def _on_failure(engine: "Engine", c: dict[str, Any], action: str) -> None:
    """kill, stop or restart an unhealthy container (its lock held). Podman's actions."""
    from . import lifecycle

    cid = c["id"]
    if action == "kill":
        lifecycle._set_state(engine, c, stopped_by_user=True)
        engine.runtime.kill(cid, "KILL")
        return
    lifecycle.stop_locked(engine, c)
    lifecycle.cleanup_locked(engine, cid, restart=False)
    if action != "restart":
        return
    c = engine.store.container(cid)
    if c is None:  # --rm: cleanup removed it
        return
    c["state"]["restart_count"] = int(c["state"].get("restart_count") or 0) + 1
    launched, _ = lifecycle.start_locked(engine, c)
    launched.close()
