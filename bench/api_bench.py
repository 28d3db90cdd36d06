"""REST API latency, podium against Podman, with the same docker-py calls against each socket.

    .venv/bin/python bench/api_bench.py [--list-runs 40] [--run-runs 15] [--network none|bridge]

Starts ``podium system service`` and ``podman system service`` (each on a
private --root/--runroot and its own unix socket, Podman with a private
containers.conf as bench/run_bench.py sets it up), imports the same busybox
rootfs into both, then times, alternating between the two services:

- ``containers.list()`` with a few containers present, and
- ``containers.run(IMAGE, "true", remove=True)`` (create, start, wait, logs, remove).

Prints medians (and min/max) in ms and the podium/Podman ratio; ``--json`` writes
them to a file. Nothing outside the temporary directory is touched, both
services are stopped by PID, and their containers removed.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

IMAGE = "localhost/busybox"


def log(msg: str) -> None:
    print(f"[api-bench] {msg}", file=sys.stderr, flush=True)


def wait_socket(path: Path, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}")
        if path.exists():
            import docker
            try:
                c = docker.DockerClient(base_url=f"unix://{path}", timeout=10)
                c.ping()
                c.close()
                return
            except Exception:  # noqa: BLE001 - not up yet
                pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up on {path}")


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.base = Path(tempfile.mkdtemp(prefix="pdmapib", dir="/tmp"))
        self.p_root, self.p_run = self.base / "p-root", self.base / "p-run"
        self.m_root, self.m_run = self.base / "m-root", self.base / "m-run"
        self.m_tmp, self.m_net, self.m_conf = self.base / "m-tmp", self.base / "m-net", self.base / "containers.conf"
        self.p_sock, self.m_sock = self.base / "podium.sock", self.base / "podman.sock"
        self.procs: list[subprocess.Popen[bytes]] = []

    def podium(self, *a: str) -> list[str]:
        return [sys.executable, "-m", "podium", "--root", str(self.p_root), "--runroot", str(self.p_run), *a]

    def podman(self, *a: str) -> list[str]:
        return ["podman", "--root", str(self.m_root), "--runroot", str(self.m_run), "--tmpdir", str(self.m_tmp), *a]

    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.m_conf)}

    def setup(self) -> None:
        from tests.rootfs import write_rootfs_tar
        tar = write_rootfs_tar(self.base / "busybox.tar")
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard == resource.RLIM_INFINITY:
            hard = 1048576
        for d in (self.m_tmp, self.m_net):
            d.mkdir()
        self.m_conf.write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={hard}:{hard}", "nproc=1000:1000"]\n'
            "[engine]\n" 'runtime = "runc"\n' f'tmp_dir = "{self.m_tmp}"\n' 'events_logger = "file"\n'
            f'events_logfile_path = "{self.m_tmp}/events.log"\n'
            "[network]\n" f'network_config_dir = "{self.m_net}"\n')
        env = self.env()
        subprocess.run(self.podium("import", str(tar), "busybox", "--change", 'CMD ["sh"]'), env=env,
                       check=True, capture_output=True, cwd=REPO)
        subprocess.run(self.podman("import", str(tar), IMAGE, "--change", 'CMD ["sh"]'), env=env,
                       check=True, capture_output=True)
        p = subprocess.Popen(self.podium("system", "service", "--time", "0", f"unix://{self.p_sock}"), env=env,
                             cwd=REPO, stdout=subprocess.DEVNULL, stderr=open(self.base / "podium.log", "wb"))
        self.procs.append(p)
        m = subprocess.Popen(self.podman("system", "service", "--time", "0", f"unix://{self.m_sock}"), env=env,
                             stdout=subprocess.DEVNULL, stderr=open(self.base / "podman.log", "wb"))
        self.procs.append(m)
        wait_socket(self.p_sock, p, "podium system service")
        wait_socket(self.m_sock, m, "podman system service")

    def measure(self) -> dict[str, dict[str, float]]:
        import docker
        clients = {"podium": docker.DockerClient(base_url=f"unix://{self.p_sock}", timeout=120),
                   "podman": docker.DockerClient(base_url=f"unix://{self.m_sock}", timeout=120)}
        net = None if self.args.network == "bridge" else "none"
        out: dict[str, dict[str, float]] = {}
        try:
            # a few containers to list, and one warm-up run each
            for name, c in clients.items():
                for i in range(self.args.containers):
                    c.containers.create(IMAGE, "true", name=f"bench{i}", network_mode=net)
                c.containers.run(IMAGE, "true", remove=True, network_mode=net)
            samples: dict[str, list[float]] = {}
            for _ in range(self.args.list_runs):
                for name, c in clients.items():
                    t0 = time.perf_counter()
                    c.containers.list(all=True)
                    samples.setdefault(f"{name} containers.list()", []).append(time.perf_counter() - t0)
            for _ in range(self.args.run_runs):
                for name, c in clients.items():
                    t0 = time.perf_counter()
                    c.containers.run(IMAGE, "true", remove=True, network_mode=net)
                    samples.setdefault(f"{name} containers.run(remove=True)", []).append(time.perf_counter() - t0)
            for key, vals in samples.items():
                ms = [v * 1000 for v in vals]
                out[key] = {"median": statistics.median(ms), "min": min(ms), "max": max(ms), "n": len(ms)}
        finally:
            for c in clients.values():
                try:
                    for ctr in c.containers.list(all=True):
                        ctr.remove(force=True)
                except Exception as exc:  # noqa: BLE001
                    log(f"cleanup: {exc}")
                c.close()
        return out

    def cleanup(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        env = self.env()
        subprocess.run(self.podium("rm", "-a", "-f"), env=env, capture_output=True, cwd=REPO)
        subprocess.run(self.podman("rm", "-a", "-f"), env=env, capture_output=True)
        subprocess.run(self.podman("rmi", "-a", "-f"), env=env, capture_output=True)
        with open("/proc/self/mountinfo") as f:
            mounts = [ln.split()[4] for ln in f if ln.split()[4].startswith(str(self.base))]
        for mp in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--list-runs", type=int, default=40)
    ap.add_argument("--run-runs", type=int, default=15)
    ap.add_argument("--containers", type=int, default=5, help="containers present while listing")
    ap.add_argument("--network", choices=("none", "bridge"), default="none")
    ap.add_argument("--json", help="write the results to this file")
    args = ap.parse_args()
    if shutil.which("podman") is None:
        log("podman is not installed")
        return 2
    b = Bench(args)
    try:
        b.setup()
        res = b.measure()
    finally:
        b.cleanup()
    print(f"| call (network {args.network}) | podium median ms | podman median ms | podium / podman |")
    print("| --- | --- | --- | --- |")
    for call in ("containers.list()", "containers.run(remove=True)"):
        p, m = res[f"podium {call}"], res[f"podman {call}"]
        print(f"| {call} | {p['median']:.1f} (min {p['min']:.1f}, max {p['max']:.1f}) | "
              f"{m['median']:.1f} (min {m['min']:.1f}, max {m['max']:.1f}) | {p['median'] / m['median']:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
