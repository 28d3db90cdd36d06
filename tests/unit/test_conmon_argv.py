"""conmon's command line is built by a pure function: pin it."""

from __future__ import annotations

from pathlib import Path

from podium.engine.runtime.conmon import conmon_argv, runtime_error
from podium.engine.errors import CannotInvoke, CommandNotFound, RuntimeFailure


def test_conmon_argv() -> None:
    argv = conmon_argv(conmon="/usr/bin/conmon", cid="c" * 64, cuuid="c" * 24, name="web",
                       runtime_path="/usr/sbin/runc", runtime_root=Path("/run/podium/runc"),
                       bundle=Path("/run/podium/containers/x"), log_path=Path("/var/lib/podium/ctr.log"),
                       exit_dir=Path("/run/podium/exits"), persist_dir=Path("/run/podium/persist/x"),
                       socket_dir=Path("/run/podium/socks"), stdin=True,
                       exit_command=["/usr/bin/python3", "-m", "podium", "container", "cleanup", "x"])
    assert argv[:9] == ["/usr/bin/conmon", "--api-version", "1", "-c", "c" * 64, "-u", "c" * 24, "-n", "web"]
    assert "--runtime-arg" in argv and "--root=/run/podium/runc" in argv
    assert argv[argv.index("-l") + 1] == "k8s-file:/var/lib/podium/ctr.log"
    assert "-i" in argv and "-t" not in argv
    i = argv.index("--exit-command")
    assert argv[i + 1] == "/usr/bin/python3"
    assert argv[i + 2:].count("--exit-command-arg") == 5


def test_conmon_argv_terminal() -> None:
    argv = conmon_argv(conmon="/usr/bin/conmon", cid="c" * 64, cuuid="c" * 24, name="web",
                       runtime_path="/usr/sbin/runc", runtime_root=Path("/r"), bundle=Path("/b"),
                       log_path=Path("/l"), exit_dir=Path("/e"), persist_dir=Path("/p"), socket_dir=Path("/s"),
                       terminal=True)
    assert "-t" in argv and "-i" not in argv


def test_runtime_errors_map_to_podman_codes() -> None:
    e = runtime_error('runc create failed: unable to start container process: exec: "nope": '
                      'executable file not found in $PATH')
    assert isinstance(e, CommandNotFound) and e.exit_code == 127
    assert str(e).startswith('exec: "nope"')
    e = runtime_error("runc create failed: unable to start container process: exec: /x: permission denied")
    assert isinstance(e, CannotInvoke) and e.exit_code == 126
    assert type(runtime_error("something else")) is RuntimeFailure
