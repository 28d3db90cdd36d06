#!/usr/bin/env python3
"""Pods side by side: podium and Podman, plus the run --rm / ps comparisons of run_bench.py.

Run from the repository root with the project's venv (never through a pyenv shim):

    .venv/bin/python bench/pod_bench.py [--runs N] [--pod-runs N] [--json OUT]

One invocation, one private temporary directory (see run_bench.py), and, for each
comparison, ONE hyperfine run with all its rows:

1. ``run --rm busybox true`` and ``ps -a`` exactly as run_bench.py does them (its
   tables and peak-RSS rows are printed too).
2. A pod cycle as one shell command per iteration: ``pod create`` + two
   ``run -d --pod P busybox sleep 300`` + ``pod rm -f -t 0 P``, for podium and
   Podman on their default bridge networks and again with ``--network none``.
3. Idle footprint: a pod with two ``sleep 300`` containers plus one standalone
   ``sleep 300`` container with ``--health-cmd true --health-interval 30s``;
   after a settle time, the RSS / PSS / private memory (``/proc/PID/smaps_rollup``)
   of every process left running for the tool, except the containers' own
   workloads. Each tool is measured alone, then its containers are removed.
4. Leak checks after ``pod rm -f``: processes, network namespaces, podium's
   netns records, IP claims, veths and nftables port elements (one extra pod
   with a published port on 127.0.0.1).

podium's network backend is its default unless ``--podium-network-backend``
(or PODIUM_NETWORK_BACKEND in the environment) says otherwise; the report says
which one the containers' network records name.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import run_bench as rb
from run_bench import IMAGE, Bench, log, ms, sh

GOAL_POD_VS_PODMAN = 0.5
POD = "pdbpod"          # the timed pod cycle
FP_POD = "pdbfp"        # footprint pod
FP_HC = "pdbhc"         # footprint container with a health check
PROBE_POD = "pdbprobe"  # leak probe with a published port
DNS_NET = "pdbdns"      # leak probe: a podium network with DNS (aardvark-dns)
DNS_POD = "pdbdnspod"


def podium_net_dir() -> str:
    return os.environ.get("PODIUM_NET_DIR", "/run/podium-net")


def read_procs() -> dict[int, dict]:
    """pid -> {pid, ppid, comm, cmd} for every process we can read."""
    out: dict[int, dict] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        comm = st[st.index("(") + 1:st.rindex(")")]
        ppid = int(st[st.rindex(")") + 2:].split()[1])
        out[int(d)] = {"pid": int(d), "ppid": ppid, "comm": comm, "argv": argv, "cmd": " ".join(argv)}
    return out


def smaps_rollup(pid: int) -> dict[str, int] | None:
    """RSS, PSS and private (USS) in KiB, or None if the process is gone."""
    vals: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
                    vals[key] = int(rest.split()[0])
    except (OSError, ValueError):
        return None
    if "Rss" not in vals:
        return None
    return {"rss": vals["Rss"], "pss": vals.get("Pss", 0),
            "uss": vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0)}


def pid_from_file(path: str) -> int | None:
    try:
        pid = int(Path(path).read_text().split()[0])
        os.kill(pid, 0)
        return pid
    except (OSError, ValueError, IndexError):
        return None


def running(pid: int) -> bool:
    """Alive and not a zombie (an exited daemon waits as a zombie until init reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return False
    return st[st.rindex(")") + 2:].split()[0] not in ("Z", "X")


def veths() -> dict[str, str]:
    """veth name -> master bridge ('' if none)."""
    out: dict[str, str] = {}
    p = subprocess.run(["ip", "-o", "link", "show", "type", "veth"], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        parts = line.split()
        if len(parts) < 2:
            continue
        name = parts[1].rstrip(":").split("@")[0]
        master = parts[parts.index("master") + 1] if "master" in parts else ""
        out[name] = master
    return out


def netns_entries() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except OSError:
        return set()


class PodBench(Bench):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.footprints: dict[str, dict] = {}
        self.leaks: list[str] = []
        self.leak_checks: list[str] = []
        self.backend_seen: set[str] = set()
        self.dns_probe_rss: dict[str, int] | None = None
        self.known_podium_ids: set[str] = set()
        self.veths_before = veths()
        self.netns_before = netns_entries()

    # ---- environment ----------------------------------------------------------
    def bench_env(self) -> dict[str, str]:
        env = super().bench_env()
        if self.args.podium_network_backend:
            env["PODIUM_NETWORK_BACKEND"] = self.args.podium_network_backend
        return env

    def backend_requested(self) -> str:
        return self.bench_env().get("PODIUM_NETWORK_BACKEND") or "(default)"

    def private_dirs(self, tool: str) -> list[str]:
        if tool == "podium":
            return [str(self.p_root), str(self.p_runroot)]
        return [str(self.m_root), str(self.m_runroot), str(self.m_tmp)]

    def names_private_dir(self, tool: str, cmd: str) -> bool:
        cmd = cmd + " "
        return any(d + "/" in cmd or d + " " in cmd or "=" + d + " " in cmd for d in self.private_dirs(tool))

    def tool(self, tool: str, *a: str) -> list[str]:
        return self.podium(*a) if tool == "podium" else self.podman(*a)

    # ---- setup: one pod cycle per tool (builds the pause images) ---------------
    def setup(self) -> None:
        super().setup()
        env = self.bench_env()
        for tool in ("podium", "podman"):
            for net in (None, "none"):
                sh(["sh", "-ec", self.pod_cycle_script(tool, net)], env=env, timeout=120)
        log("pod cycle smoke tests passed")

    def pod_cycle_script(self, tool: str, network: str | None) -> str:
        create = ["pod", "create", "--name", POD] + (["--network", network] if network else [])
        steps = [self.tool(tool, *create),
                 self.tool(tool, "run", "-d", "--pod", POD, IMAGE, "sleep", "300"),
                 self.tool(tool, "run", "-d", "--pod", POD, IMAGE, "sleep", "300"),
                 self.tool(tool, "pod", "rm", "-f", "-t", "0", POD)]
        # stdout goes nowhere (hyperfine discards it); stderr is kept for a failure report;
        # `&&` so that a failure stops the cycle
        err = self.base / f"pod-{tool}-{network or 'bridge'}.err"
        return f"exec 2>>{shlex.quote(str(err))}; " + " && ".join(shlex.join(s) for s in steps)

    # ---- 1. pod cycle ---------------------------------------------------------
    def bench_pod(self) -> list[dict]:
        rows = []
        for net, label in ((None, "bridge"), ("none", "--network none")):
            for tool in ("podium", "podman"):
                rows.append((f"{tool} pod cycle ({label})", ["sh", "-ec", self.pod_cycle_script(tool, net)]))
        try:
            return self.hyperfine("pod", rows, gap=self.args.gap, runs=self.args.pod_runs)
        except RuntimeError:
            for f in sorted(self.base.glob("pod-*.err")):
                tail = f.read_text(errors="replace").strip().splitlines()[-15:]
                if tail:
                    log(f"{f.name} (last lines):\n  " + "\n  ".join(tail))
            raise

    # ---- 2. idle footprint ----------------------------------------------------
    def start_footprint_set(self, tool: str) -> None:
        env = self.bench_env()
        sh(self.tool(tool, "pod", "create", "--name", FP_POD), env=env)
        for _ in range(2):
            sh(self.tool(tool, "run", "-d", "--pod", FP_POD, IMAGE, "sleep", "300"), env=env)
        sh(self.tool(tool, "run", "-d", "--name", FP_HC, "--health-cmd", "true", "--health-interval", "30s",
                     IMAGE, "sleep", "300"), env=env)

    def remove_footprint_set(self, tool: str) -> None:
        env = self.bench_env()
        sh(self.tool(tool, "pod", "rm", "-f", "-t", "0", FP_POD), env=env, check=False)
        sh(self.tool(tool, "rm", "-f", "-t", "0", FP_HC), env=env, check=False)

    def container_ids(self, tool: str) -> list[str]:
        return sh(self.tool(tool, "ps", "-a", "-q", "--no-trunc"), env=self.bench_env()).stdout.split()

    def tool_processes(self, tool: str, ids: list[str]) -> list[dict]:
        """Every process running for ``tool``: role, counted or not, memory."""
        procs = read_procs()
        children: dict[int, list[int]] = {}
        for p in procs.values():
            children.setdefault(p["ppid"], []).append(p["pid"])

        def subtree(pid: int) -> list[int]:
            out, stack = [], list(children.get(pid, []))
            while stack:
                q = stack.pop()
                out.append(q)
                stack.extend(children.get(q, []))
            return out

        rows: list[dict] = []
        seen: set[int] = set()

        def add(pid: int, role: str, counted: bool) -> None:
            if pid in seen or pid not in procs:
                return
            seen.add(pid)
            mem = smaps_rollup(pid)
            if mem is None:
                return
            p = procs[pid]
            rows.append({"pid": pid, "role": role, "counted": counted, "comm": p["comm"],
                         "cmd": p["cmd"][:300], **mem})

        me = os.getpid()
        for p in sorted(procs.values(), key=lambda p: p["pid"]):
            if p["pid"] == me or not p["argv"]:
                continue
            if os.path.basename(p["argv"][0]) == "conmon" and self.names_private_dir(tool, p["cmd"]):
                add(p["pid"], "conmon", True)
                for child in children.get(p["pid"], []):
                    c = procs[child]
                    if c["comm"] == "catatonit":
                        add(child, "pod infra (catatonit -P)", True)
                        for q in subtree(child):
                            add(q, "pod infra child", True)
                    else:
                        add(child, f"container workload ({c['comm']}), excluded", False)
                        for q in subtree(child):
                            add(q, "container workload child, excluded", False)
        for p in sorted(procs.values(), key=lambda p: p["pid"]):
            if "podium-healthcheck" in p["cmd"] and self.names_private_dir(tool, p["cmd"]):
                add(p["pid"], "health-check loop", True)
                for q in subtree(p["pid"]):
                    add(q, "health check in progress", True)
        # aardvark-dns, from its pid file
        if tool == "podium":
            add_pid = pid_from_file(str(self.p_runroot / "netavark" / "aardvark-dns" / "aardvark.pid"))
            if add_pid:
                add(add_pid, "aardvark-dns", True)
        else:
            # rootful Podman shares /run/containers/networks between all its stores: count the
            # aardvark there only if it serves one of our containers
            adir = Path("/run/containers/networks/aardvark-dns")
            add_pid = pid_from_file(str(adir / "aardvark.pid"))
            if add_pid:
                try:
                    text = "".join(f.read_text() for f in adir.iterdir()
                                   if f.is_file() and not f.name.endswith(".pid"))
                except OSError:
                    text = ""
                mine = any(cid in text for cid in ids)
                if mine:
                    add(add_pid, "aardvark-dns", True)
        # anything else whose command line names the tool's private dirs (a stray exit command, ...)
        for p in sorted(procs.values(), key=lambda p: p["pid"]):
            if p["pid"] != me and p["pid"] not in seen and self.names_private_dir(tool, p["cmd"]):
                add(p["pid"], "other (command line names the private dirs)", True)
        return rows

    def footprint(self, tool: str) -> dict:
        self.start_footprint_set(tool)
        try:
            ids = self.container_ids(tool)
            if tool == "podium":
                self.known_podium_ids.update(ids)
                for cid in ids:
                    rec = self.p_runroot / "netns" / f"{cid}.json"
                    if rec.exists():
                        self.backend_seen.add(json.loads(rec.read_text()).get("backend", "?"))
            time.sleep(self.args.settle)
            samples = []
            for i in range(self.args.fp_samples):
                if i:
                    time.sleep(0.5)
                samples.append(self.tool_processes(tool, ids))
            return {"containers": len(ids), "samples": samples}
        finally:
            self.remove_footprint_set(tool)

    def bench_footprint(self) -> dict[str, dict]:
        for tool in ("podium", "podman"):
            log(f"idle footprint: {tool}")
            self.footprints[tool] = self.footprint(tool)
        return self.footprints

    # ---- 3. leak checks -------------------------------------------------------
    def probe_ports(self) -> None:
        """One podium pod with a published port: its veth, nft element, record and claims must go."""
        from engine.net.fastpath import veth_name  # REPO is on sys.path after setup()

        env = self.bench_env()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        sh(self.podium("pod", "create", "--name", PROBE_POD, "-p", f"127.0.0.1:{port}:80"), env=env)
        cid = sh(self.podium("run", "-d", "--pod", PROBE_POD, IMAGE, "sleep", "300"), env=env).stdout.split()[-1]
        infra = json.loads(sh(self.podium("pod", "inspect", PROBE_POD), env=env).stdout)
        if isinstance(infra, list):
            infra = infra[0]
        infra_id = infra["InfraContainerId"]
        self.known_podium_ids.update([cid, infra_id])
        veth = veth_name(infra_id, "podium")
        rec = self.p_runroot / "netns" / f"{infra_id}.json"
        if rec.exists():
            self.backend_seen.add(json.loads(rec.read_text()).get("backend", "?"))
        nft_before = sh(["nft", "list", "table", "ip", "podium"], check=False).stdout
        def has_port(text: str) -> bool:
            return re.search(rf"\b{port}\b", text) is not None
        up = [veth in veths(), has_port(nft_before), rec.exists()]
        sh(self.podium("pod", "rm", "-f", "-t", "0", PROBE_POD), env=env)
        time.sleep(0.5)
        nft_after = sh(["nft", "list", "table", "ip", "podium"], check=False).stdout
        down = [veth in veths(), has_port(nft_after), rec.exists()]
        what = ["veth " + veth, f"nft element for port {port}", "netns record " + rec.name[:12]]
        self.leak_checks.append(
            "port probe (pod with -p 127.0.0.1:%d:80): while up: %s; after pod rm -f: %s" % (
                port, ", ".join(f"{w} {'present' if u else 'MISSING'}" for w, u in zip(what, up)),
                ", ".join(f"{w} {'LEFT' if d else 'gone'}" for w, d in zip(what, down))))
        for w, d in zip(what, down):
            if d:
                self.leaks.append(f"podium: {w} left after pod rm -f")

    def probe_dns(self) -> None:
        """A pod on a DNS-enabled podium network: aardvark-dns must start, then go with the pod."""
        env = self.bench_env()
        aconf = self.p_runroot / "netavark" / "aardvark-dns"
        sh(self.podium("network", "create", DNS_NET), env=env)
        net = json.loads(sh(self.podium("network", "inspect", DNS_NET), env=env).stdout)
        net = net[0] if isinstance(net, list) else net
        bridge = net.get("network_interface") or ""
        subnet = ((net.get("subnets") or [{}])[0]).get("subnet", "")
        try:
            sh(self.podium("pod", "create", "--name", DNS_POD, "--network", DNS_NET), env=env)
            sh(self.podium("run", "-d", "--pod", DNS_POD, IMAGE, "sleep", "300"), env=env)
            ids = self.container_ids("podium")
            self.known_podium_ids.update(ids)
            pid = pid_from_file(str(aconf / "aardvark.pid"))
            up = (f"aardvark-dns pid {pid} running, names file {'present' if (aconf / DNS_NET).exists() else 'MISSING'}"
                  if pid else "aardvark-dns NOT running")
            if pid:
                self.dns_probe_rss = smaps_rollup(pid)
            sh(self.podium("pod", "rm", "-f", "-t", "0", DNS_POD), env=env)
            deadline = time.monotonic() + 5
            while pid and running(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            alive = bool(pid) and running(pid)
            left_pid = pid_from_file(str(aconf / "aardvark.pid"))
            left_pid = left_pid if left_pid and running(left_pid) else None
            left_file = (aconf / DNS_NET).exists()
        finally:
            sh(self.podium("network", "rm", DNS_NET), env=env, check=False)
        time.sleep(0.3)
        br_left = bool(bridge) and subprocess.run(["ip", "link", "show", bridge], capture_output=True).returncode == 0
        nft_left = bool(subnet) and subnet in sh(["nft", "list", "table", "ip", "podium"], check=False).stdout
        self.leak_checks.append(
            f"DNS probe (pod on network {DNS_NET}, bridge {bridge}): while up: {up}; after pod rm -f: "
            f"aardvark-dns {'STILL RUNNING' if alive or left_pid else 'exited'}, names file "
            f"{'LEFT' if left_file else 'gone'}; after network rm: bridge {bridge} {'LEFT' if br_left else 'gone'}, "
            f"nft elements for {subnet} {'LEFT' if nft_left else 'gone'}")
        if not pid:
            self.leaks.append("podium: aardvark-dns did not start for a DNS-enabled network")
        if alive or left_pid:
            self.leaks.append(f"podium: aardvark-dns (pid {pid}) still running after the last container left")
        if left_file:
            self.leaks.append(f"podium: aardvark-dns names file for {DNS_NET} left")
        if br_left:
            self.leaks.append(f"podium: bridge {bridge} left after network rm")
        if nft_left:
            self.leaks.append(f"podium: nft elements for {subnet} left after network rm")

    def check_leaks(self) -> None:
        env = self.bench_env()
        # processes: exit commands may still be running for a moment after pod rm -f
        deadline = time.monotonic() + 10
        while True:
            left = {t: [p for p in read_procs().values() if p["pid"] != os.getpid()
                        and self.names_private_dir(t, p["cmd"])] for t in ("podium", "podman")}
            if not any(left.values()) or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        for t, ps_ in left.items():
            for p in ps_:
                self.leaks.append(f"{t}: process {p['pid']} ({p['comm']}) still running: {p['cmd'][:160]}")
        self.leak_checks.append("processes naming either tool's private dirs (conmon, checker loops, "
                                "exit commands, aardvark-dns): " + ("none" if not any(left.values()) else "SOME"))
        # store contents
        for t in ("podium", "podman"):
            ctrs = sh(self.tool(t, "ps", "-a", "-q"), env=env, check=False).stdout.split()
            pods = sh(self.tool(t, "pod", "ps", "-q"), env=env, check=False).stdout.split()
            if ctrs or pods:
                self.leaks.append(f"{t}: {len(ctrs)} containers and {len(pods)} pods left in the store")
        self.leak_checks.append("containers and pods left in either store: "
                                + ("none" if not any("left in the store" in x for x in self.leaks) else "SOME"))
        # podium's network state
        nsdir = self.p_runroot / "netns"
        files = sorted(os.listdir(nsdir)) if nsdir.exists() else []
        if files:
            self.leaks.append(f"podium: {len(files)} files left in RUNROOT/netns: {', '.join(f[:16] for f in files[:6])}")
        nsfs = [ln.split()[4] for ln in open("/proc/self/mountinfo")
                if ln.split()[4].startswith(str(self.base) + "/") and " nsfs " in ln]
        if nsfs:
            self.leaks.append(f"network namespace bind mounts left: {nsfs}")
        self.leak_checks.append(f"podium RUNROOT/netns files and nsfs mounts under the work dir: "
                                f"{len(files)} / {len(nsfs)}")
        claims = []
        for f in Path(podium_net_dir()).glob("claims/*/*"):
            try:
                if json.loads(f.read_text()).get("root") == str(self.p_root):
                    claims.append(f.name)
            except (OSError, ValueError):
                continue
        if claims:
            self.leaks.append(f"podium: {len(claims)} IP/subnet claims of this root left in "
                              f"{podium_net_dir()}/claims: {', '.join(claims[:6])}")
        self.leak_checks.append(f"podium claims in {podium_net_dir()}/claims naming this root: {len(claims)}")
        # veths of podium containers whose ids we know
        from engine.net.fastpath import veth_name
        now = veths()
        mine = sorted(v for v in (veth_name(c, "podium") for c in self.known_podium_ids) if v in now)
        if mine:
            self.leaks.append(f"podium: veths of removed containers left: {', '.join(mine)}")
        new = {v: m for v, m in now.items() if v not in self.veths_before}
        self.leak_checks.append(f"veths of the {len(self.known_podium_ids)} podium containers with known ids: "
                                f"{len(mine)} left; veths present now that were not there at the start: {len(new)}"
                                + (" (" + ", ".join(f"{v}->{m or '-'}" for v, m in sorted(new.items())) + ")" if new else ""))
        if new and not self.leaks:
            self.leak_checks.append("(a veth whose peer is in a removed namespace disappears with it; with no "
                                    "process and no nsfs mount of this bench left, new veths belong to other "
                                    "users of the shared bridge)")
        new_ns = sorted(netns_entries() - self.netns_before)
        self.leak_checks.append(f"/run/netns entries that appeared during the bench (Podman's; any owner): "
                                f"{len(new_ns)}" + (f" ({', '.join(new_ns)})" if new_ns else ""))

    # ---- cleanup ----------------------------------------------------------------
    def cleanup(self) -> None:
        env = self.bench_env()
        for t, root in (("podium", self.p_root), ("podman", self.m_root)):
            if root.exists():
                try:
                    sh(self.tool(t, "pod", "rm", "-a", "-f", "-t", "0"), env=env, check=False, timeout=300)
                    if t == "podium":
                        sh(self.podium("network", "rm", "-f", DNS_NET), env=env, check=False, timeout=120)
                except (OSError, subprocess.TimeoutExpired) as exc:
                    log(f"cleanup: {exc}")
        super().cleanup()


# ---- reporting --------------------------------------------------------------

def mib(kib: float) -> str:
    return f"{kib / 1024:.1f}"


def report_pod(b: PodBench, pod: list[dict]) -> str:
    lines: list[str] = []
    w = lines.append
    by = {r["command"]: r for r in pod}
    spacing = (f"{b.args.gap:g} s pause before each run" if b.args.gap > 0 else "back to back")
    w(f"### Pod cycle: `pod create` + 2 × `run -d --pod P {IMAGE} sleep 300` + `pod rm -f -t 0 P` "
      f"({b.args.pod_runs} runs, {b.args.warmup} warm-up, {spacing}, one hyperfine run{rb.load_note(b, 'pod')})")
    w("")
    w("| command | median ms | mean ± σ ms | min ms | max ms | × podman (same network) |")
    w("| --- | ---: | ---: | ---: | ---: | ---: |")
    for r in pod:
        tool, rest = r["command"].split(" ", 1)
        ref = by["podman " + rest]
        w(f"| {r['command']} | {ms(r['median'])} | {ms(r['mean'])} ± {ms(r['stddev'])} | {ms(r['min'])} "
          f"| {ms(r['max'])} | {r['median'] / ref['median']:.2f} |")
    w("")
    w("Each iteration is one `sh -ec` command line; podium's and Podman's `container cleanup` exit "
      "commands (run by conmon when the containers die) overlap the next iteration for both tools.")
    w("")
    return "\n".join(lines)


def fp_totals(sample: list[dict]) -> dict[str, int]:
    counted = [r for r in sample if r["counted"]]
    return {k: sum(r[k] for r in counted) for k in ("rss", "pss", "uss")} | {"n": len(counted)}


def report_footprint(b: PodBench) -> str:
    lines: list[str] = []
    w = lines.append
    w(f"### Idle footprint: a pod with 2 × `sleep 300` + 1 container with `--health-cmd true "
      f"--health-interval 30s` ({b.args.settle:g} s settle, {b.args.fp_samples} samples 0.5 s apart, "
      "last sample listed)")
    w("")
    w("| tool | pid | process | counted | RSS KiB | PSS KiB | private KiB |")
    w("| --- | ---: | --- | --- | ---: | ---: | ---: |")
    for tool in ("podium", "podman"):
        fp = b.footprints.get(tool)
        if not fp:
            continue
        for r in fp["samples"][-1]:
            w(f"| {tool} | {r['pid']} | {r['role']} | {'yes' if r['counted'] else 'no'} | {r['rss']} "
              f"| {r['pss']} | {r['uss']} |")
    w("")
    w("| tool | processes counted | RSS MiB (median of samples) | PSS MiB | private MiB |")
    w("| --- | ---: | ---: | ---: | ---: |")
    tot = {}
    for tool in ("podium", "podman"):
        fp = b.footprints.get(tool)
        if not fp:
            continue
        ts = [fp_totals(s) for s in fp["samples"]]
        tot[tool] = {k: statistics.median(t[k] for t in ts) for k in ("rss", "pss", "uss", "n")}
        t = tot[tool]
        w(f"| {tool} | {t['n']:g} | {mib(t['rss'])} | {mib(t['pss'])} | {mib(t['uss'])} |")
    w("")
    if "podium" in tot and "podman" in tot:
        p, m = tot["podium"], tot["podman"]
        w("| goal | podium | podman | ratio | |")
        w("| --- | ---: | ---: | ---: | --- |")
        for k, label in (("rss", "RSS"), ("pss", "PSS")):
            w(f"| idle {label} total ≤ Podman's | {mib(p[k])} MiB | {mib(m[k])} MiB | {p[k] / m[k]:.2f} "
              f"| {rb.goal_mark(p[k] <= m[k])} |")
        w("")
    w("Counted: conmon processes whose command line names the tool's private root/run root/tmp dir; "
      "their catatonit children (pod infra); podium's health-check loops (`podium-healthcheck` plus the "
      "root on the command line); aardvark-dns from its pid file (none: the default networks have DNS "
      "off); anything else naming the private dirs. Not counted: the containers' `sleep`s. PSS depends "
      "on what else shares the same pages on the host (other conmons, busybox shells), private does not. "
      "Podman without systemd runs no health-check scheduler (it logs `unable to get systemd connection "
      "to add healthchecks` and the container stays `starting`).")
    w("")
    return "\n".join(lines)


def report_leaks(b: PodBench) -> str:
    lines = ["### Leak checks after `pod rm -f` (every timed cycle, the footprint sets, a port probe, a DNS probe)", ""]
    for c in b.leak_checks:
        lines.append(f"- {c}")
    if b.dns_probe_rss:
        r = b.dns_probe_rss
        lines.append(f"- (for reference) aardvark-dns serving the DNS probe's pod: RSS {r['rss']} KiB, "
                     f"PSS {r['pss']} KiB, private {r['uss']} KiB")
    lines.append("")
    lines.append("**Leaks: none.**" if not b.leaks else "**Leaks found:**\n\n" + "\n".join(f"- {x}" for x in b.leaks))
    lines.append("")
    return "\n".join(lines)


def goals_pod(pod: list[dict]) -> str:
    by = {r["command"]: r for r in pod}
    lines = ["### Pod goal (ratio of medians)", "", "| goal | target | measured | |", "| --- | ---: | ---: | --- |"]
    for label in ("bridge", "--network none"):
        r = by[f"podium pod cycle ({label})"]["median"] / by[f"podman pod cycle ({label})"]["median"]
        lines.append(f"| podium pod cycle / podman pod cycle ({label}) | ≤ {GOAL_POD_VS_PODMAN} | {r:.2f} | "
                     f"{rb.goal_mark(r <= GOAL_POD_VS_PODMAN)} |")
    lines.append("")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=30, help="hyperfine runs per run --rm / ps command (default 30)")
    ap.add_argument("--pod-runs", type=int, default=20, help="hyperfine runs per pod-cycle command (default 20)")
    ap.add_argument("--warmup", type=int, default=3, help="hyperfine warm-up runs (default 3)")
    ap.add_argument("--ps-count", type=int, default=50, help="containers created for the ps bench (default 50)")
    ap.add_argument("--rss-runs", type=int, default=5, help="fresh processes per peak-RSS row (default 5)")
    ap.add_argument("--gap", type=float, default=0.0,
                    help="seconds of pause before each timed run --rm and pod cycle (default 0: back to back)")
    ap.add_argument("--settle", type=float, default=2.0, help="seconds before the footprint is read (default 2)")
    ap.add_argument("--fp-samples", type=int, default=3, help="footprint samples, 0.5 s apart (default 3)")
    ap.add_argument("--podium-network-backend", choices=("fast", "netavark"),
                    help="set PODIUM_NETWORK_BACKEND for podium (default: podium's default)")
    ap.add_argument("--inherit-bytecode-env", action="store_true",
                    help="run podium with this shell's PYTHONDONTWRITEBYTECODE/PYTHONPYCACHEPREFIX as they are")
    ap.add_argument("--skip-run-ps", action="store_true", help="only the pod comparisons (quicker)")
    ap.add_argument("--json", help="write all raw results to this file")
    args = ap.parse_args()

    if os.geteuid() != 0:
        print("pod_bench.py needs root (runc, conmon, overlay mounts, bridges)", file=sys.stderr)
        return 2
    for t in ("runc", "conmon", "podman", "hyperfine", "tar", "nft", "ip"):
        if not shutil.which(t):
            print(f"pod_bench.py needs {t} on PATH", file=sys.stderr)
            return 2

    def _term(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, _term)
    signal.signal(signal.SIGHUP, _term)

    env = rb.environment()
    b = PodBench(args)
    run = ps = rss = None
    try:
        b.setup()
        if not args.skip_run_ps:
            run = b.bench_run()
        pod = b.bench_pod()
        b.bench_footprint()
        b.probe_ports()
        b.probe_dns()
        b.check_leaks()
        if not args.skip_run_ps:
            ps = b.bench_ps()
            rss = b.bench_rss()
    finally:
        b.cleanup()

    backend = ", ".join(sorted(b.backend_seen)) or "?"
    parts = []
    if run is not None:
        parts.append(rb.report(b, run, ps, rss))
    parts += [report_pod(b, pod), goals_pod(pod), report_footprint(b), report_leaks(b)]
    text = "\n\n".join(x.strip("\n") for x in parts) + "\n"
    print(f"podium benchmark, {env['date']}; {env['cpus']} CPUs, kernel {env['kernel']}, Python {env['python']}, "
          f"{env['runc']}, {env['conmon']}, {env['podman']}, {env['hyperfine']}\n")
    print(f"podium code measured: {env['podium_tree']}\n")
    print(f"podium network backend: {backend} (PODIUM_NETWORK_BACKEND {b.backend_requested()}); "
          f"Podman: netavark, default network `podman`; podium: default network `podium` (podium0)\n")
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "environment": env, "args": vars(args), "podman_storage_driver": b.m_driver,
            "podium_network_backend": backend, "hyperfine": b.hyperfine_json, "rss_kib": rss,
            "footprint": b.footprints, "aardvark_dns_probe_kib": b.dns_probe_rss, "leak_checks": b.leak_checks, "leaks": b.leaks, "notes": b.notes,
            "create_seconds_per_call": getattr(b, "create_times", None), "markdown": text,
        }, indent=2))
    return 1 if b.leaks else 0


if __name__ == "__main__":
    sys.exit(main())
