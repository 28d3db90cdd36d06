"""The engine facade's public names are pinned, the layers are enforced, and start-up stays lean."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import podium.engine as engine
from tests.conftest import REPO

EXPECTED = {
    "AlreadyExists", "ArchiveError", "CannotInvoke", "CommandNotFound", "ConfigError",
    "ContainerSpec", "Engine", "ImageNotFound", "InUse", "InvalidState", "NotFound",
    "PodiumError", "RuntimeFailure", "StoreError",
}


def test_exports_are_pinned() -> None:
    assert set(engine.__all__) == EXPECTED
    for name in EXPECTED:
        assert getattr(engine, name) is not None
    with pytest.raises(AttributeError):
        getattr(engine, "Nope")


def test_error_exit_codes() -> None:
    assert engine.PodiumError("x").exit_code == 125
    assert engine.CannotInvoke("x").exit_code == 126
    assert engine.CommandNotFound("x").exit_code == 127
    assert engine.NotFound("x").http_status == 404
    assert engine.ConfigError("bad", where="f.yaml:3:5", field="spec.x").message == "f.yaml:3:5: spec.x: bad"


def test_import_layers() -> None:
    exe = shutil.which("lint-imports", path=os.path.dirname(sys.executable))
    assert exe, "import-linter is a test dependency"
    proc = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


HEAVY = ("networkx", "jsonschema", "httpx", "pydantic", "ruamel", "yaml", "click", "jinja2", "rich",
         "dataclasses", "tarfile")


def test_ps_start_up_imports_nothing_heavy(tmp_path) -> None:  # noqa: ANN001
    code = (
        "import sys, io, contextlib\n"
        "from podium.cli.main import main\n"
        "out = io.StringIO()\n"
        "try:\n"
        "    with contextlib.redirect_stdout(out):\n"
        "        main(['--root', sys.argv[1], '--runroot', sys.argv[2], 'ps', '-a'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "import json; print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r"), str(tmp_path / "rr")],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    mods = json.loads(proc.stdout.strip().splitlines()[-1])
    heavy = [m for m in mods if m.split(".")[0] in HEAVY]
    assert heavy == [], heavy


def test_unexpected_errors_are_one_line(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """A missing host tool or a bug surfaces as one Error: line and exit 125, never a traceback."""
    code = (
        "import sys\n"
        "import podium.cli.main as m\n"
        "def boom(argv):\n"
        "    raise FileNotFoundError(2, 'No such file or directory', '/usr/sbin/nft')\n"
        "m.dispatch = boom\n"
        "m.main(['ps'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PODIUM_DEBUG"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 125
    assert proc.stderr.strip().splitlines() == [
        "Error: /usr/sbin/nft: not found (is the package that provides it installed?)"]
    proc = subprocess.run([sys.executable, "-c", code.replace("FileNotFoundError(2, 'No such file or directory', '/usr/sbin/nft')", "KeyError('x')")],
                          capture_output=True, text=True, cwd=REPO, env=env)
    assert proc.returncode == 125 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("Error: internal error: KeyError")


def test_group_members_that_live_in_other_modules(capsys) -> None:  # noqa: ANN001
    """`podium image build|pull|push` reach the build and registry commands."""
    import pytest

    from podium.cli.main import dispatch
    for sub, flag in (("build", "--build-arg"), ("pull", "--platform"), ("push", "--tls-verify")):
        with pytest.raises(SystemExit) as exc:
            dispatch(["image", sub, "--help"])
        assert exc.value.code == 0
        out = capsys.readouterr().out
        assert out.startswith(f"usage: podium image {sub}") and flag in out, out
