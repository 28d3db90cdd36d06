"""Pods: a group of containers sharing namespaces held by an infra container.

The infra container runs catatonit in pause mode (``-P``), as Podman's does,
from a tiny local image podium builds from the host's static catatonit the
first time it needs one (no registry is reachable). Containers join the
infra's network, IPC and UTS namespaces (PID too with ``--share pid``), so they
reach each other on localhost and share the hostname; ports and networks
belong to the pod and are set up on the infra container.

A pod's status is derived from its containers, as Podman derives it.
"""

from __future__ import annotations

import json
import os
import sqlite3

from .errors import AlreadyExists, ConfigError, InvalidState, NotFound, PodiumError
from .names import check_name
from .state import status as st
from .timeutil import now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .engine import Engine
    from .spec import ContainerSpec

INFRA_IMAGE = "localhost/podium-pause:1"
CATATONIT = "/usr/bin/catatonit"
SHAREABLE = ("net", "ipc", "uts", "pid")
DEFAULT_SHARE = ("net", "ipc", "uts")
KIND = {"net": "network", "ipc": "ipc", "uts": "uts", "pid": "pid"}
# container annotations that make up a pod's Ready condition (kube readiness and startup probes)
READINESS = "io.podium.readiness"   # JSON {"test": Docker's Test, "timeout": seconds, ...}: run on demand
STARTUP = "io.podium.startup"       # "true": the health check begins with a startup probe


def parse_share(value: str | None) -> list[str]:
    if value is None or value == "":
        return list(DEFAULT_SHARE)
    out = []
    for part in value.split(","):
        part = part.strip()
        if part == "cgroup":
            continue  # the cgroup namespace is not shared on cgroup v1 hosts
        if part not in SHAREABLE:
            raise ConfigError(f"invalid --share {value!r}: use net, ipc, uts, pid")
        out.append(part)
    return out


def pod_status(statuses: list[str]) -> str:
    """Podman's derivation: all created/running/paused/exited, else Degraded."""
    if not statuses:
        return "Created"
    counts = {s: statuses.count(s) for s in set(statuses)}
    n = len(statuses)
    running = counts.get(st.RUNNING, 0) + counts.get(st.STOPPING, 0)
    if running == n:
        return "Running"
    if counts.get(st.PAUSED, 0) == n:
        return "Paused"
    if counts.get(st.EXITED, 0) == n:
        return "Exited"
    if counts.get(st.CREATED, 0) == n:
        return "Created"
    if counts.get(st.EXITED, 0) + counts.get(st.CREATED, 0) == n:
        return "Exited" if counts.get(st.EXITED) else "Created"
    return "Degraded"


def _named_networks(network: str | None) -> bool:
    """True when ``network`` names bridge networks (where DNS aliases mean something)."""
    if not network:
        return False
    return not (network in ("host", "none", "private") or network.startswith(("ns:", "container:")))


class Pods:
    """The pods of one engine; methods take pod names, ids or unique id prefixes."""

    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.store = engine.store

    # ---- look-up ------------------------------------------------------------------
    @staticmethod
    def _row(r: sqlite3.Row) -> dict[str, Any]:
        return {"id": r["id"], "name": r["name"], "created": r["created"],
                "config": json.loads(r["config"]), "infra_id": r["infra_id"]}

    def list(self) -> list[dict[str, Any]]:
        return [self._row(r) for r in self.store.query("SELECT * FROM pods ORDER BY created")]

    def get(self, ref: str) -> dict[str, Any]:
        rows = self.store.query("SELECT * FROM pods WHERE name=? OR id=?", (ref, ref))
        if not rows and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.store.query("SELECT * FROM pods WHERE id LIKE ?", (ref + "%",))
        if not rows:
            raise NotFound(f"no pod with name or ID {ref} found: no such pod")
        if len(rows) > 1:
            raise ConfigError(f"more than one pod matches {ref!r}: use a longer ID")
        return self._row(rows[0])

    def members(self, pod: dict[str, Any], *, infra: bool = True) -> list[dict[str, Any]]:
        ctrs = self.engine.containers
        rows = self.store.query("SELECT id FROM containers WHERE pod_id=? ORDER BY created", (pod["id"],))
        out = [ctrs.sync(c) for c in (self.store.container(r[0]) for r in rows) if c is not None]
        if not infra:  # a create killed before it recorded infra_id still marks the container
            out = [c for c in out if c["id"] != pod["infra_id"] and not c["config"].get("infra")]
        return out

    def status(self, pod: dict[str, Any]) -> str:
        return pod_status([c["state"]["status"] for c in self.members(pod)])

    # ---- create -------------------------------------------------------------------
    def create(self, *, name: str | None = None, hostname: str | None = None,
               share: str | None = None, labels: dict[str, str] | None = None,
               ports: list[str] | None = None, network: str | None = None,
               network_aliases: list[str] | None = None, infra_image: str | None = None,
               infra_name: str | None = None, annotations: dict[str, str] | None = None,
               add_hosts: list[str] | None = None, dns: list[str] | None = None,
               dns_search: list[str] | None = None, dns_options: list[str] | None = None,
               reserve_ip: bool = False, ipc: str | None = None) -> dict[str, Any]:
        """Make the pod and its infra container (which holds the shared namespaces).

        ``add_hosts`` and the ``dns*`` options go to the infra container, whose
        /etc/hosts and resolv.conf every member sharing the network sees;
        ``ipc="host"`` puts the infra (and so every member that joins its IPC
        namespace) in the host's IPC namespace.
        ``reserve_ip`` allocates the pod's addresses now rather than at its
        first start, so that they are known before anything runs (kube's
        ``fieldRef: status.podIP``); they are held until the pod is removed.
        """
        from .names import generate_name
        from .spec import ContainerSpec

        shared = parse_share(share)
        if "net" not in shared and (ports or network):
            raise ConfigError("a pod that does not share the network namespace cannot publish ports or join networks")
        pid = os.urandom(32).hex()
        pname = check_name(name) if name else generate_name()
        config = {"hostname": hostname or pname, "share": shared, "labels": dict(labels or {}),
                  "ports": list(ports or []), "network": network,
                  "annotations": dict(annotations or {})}
        try:
            with self.store.write():
                self.store.db.execute("INSERT INTO pods(id, name, created, config, infra_id) VALUES (?,?,?,?,NULL)",
                                      (pid, pname, now_iso(), json.dumps(config)))
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"a pod named {pname!r} already exists: name in use") from None
        try:
            image = infra_image or self._infra_image()
            spec = ContainerSpec(image, name=infra_name or f"{pid[:12]}-infra", hostname=config["hostname"],
                                 ports=list(ports or []), network=network,
                                 # the pod is reachable by its name on its networks (Podman's habit)
                                 network_aliases=([pname] if _named_networks(network) else [])
                                 + list(network_aliases or []),
                                 labels={"io.podium.pod": pname, **(labels or {})},
                                 command=None if infra_image else None,
                                 add_hosts=add_hosts, dns=dns, dns_search=dns_search,
                                 dns_options=dns_options, ipc=ipc)
            infra = self.engine.containers.create(spec, pod_id=pid, infra=True)
            if reserve_ip:
                try:
                    self._reserve(infra)
                except BaseException:
                    self.engine.containers.remove(infra["id"], force=True, infra_ok=True)
                    raise
            with self.store.write():
                self.store.db.execute("UPDATE pods SET infra_id=? WHERE id=?", (infra["id"], pid))
                self.engine.events.record("pod", "create", pid, pname, config["labels"])
        except BaseException:
            with self.store.write():
                self.store.db.execute("DELETE FROM pods WHERE id=?", (pid,))
            raise
        return self.get(pid)

    def _reserve(self, infra: dict[str, Any]) -> None:
        """Allocate the infra container's addresses now; its first start finds and keeps them."""
        from .net import ipam
        from .networks import Networks
        nets = Networks(self.engine)
        for name, entry in (infra["config"].get("networks") or {}).items():
            ipam.allocate(self.engine, nets.get(name), infra["id"], want=entry.get("ip"),
                          extra={"aliases": entry.get("aliases", [])})

    def addresses(self, pod: dict[str, Any]) -> dict[str, str]:
        """The pod's address per network: allocated (at create with ``reserve_ip``, else at start)."""
        if not pod.get("infra_id"):
            return {}
        rows = self.store.query("SELECT network, ip FROM net_attachments WHERE container_id=?",
                                (pod["infra_id"],))
        return {r[0]: r[1] for r in rows}

    def _infra_image(self) -> str:
        """The pause image, built once per store from the host's static catatonit."""
        images = self.engine.images
        try:
            images.resolve(INFRA_IMAGE)
            return INFRA_IMAGE
        except NotFound:
            pass
        import io
        import tarfile
        if not os.access(CATATONIT, os.X_OK):
            raise NotFound(f"{CATATONIT} not found: install catatonit (apt-get install catatonit)")
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            for d in ("dev", "proc", "sys", "etc", "run", "tmp"):
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            tf.add(CATATONIT, arcname="catatonit")
        buf.seek(0)
        images.import_rootfs(buf, INFRA_IMAGE, changes=['ENTRYPOINT ["/catatonit", "-P"]'],
                             message="podium pod infra (catatonit pause)")
        return INFRA_IMAGE

    def membership(self, spec: "ContainerSpec") -> dict[str, Any]:
        """What a container created with ``--pod`` takes from its pod (namespaces, hostname)."""
        pod = self.get(spec.pod)  # type: ignore[arg-type]
        if spec.ports:
            raise ConfigError("published ports must be set when the pod is created (podium pod create -p)")
        shared = pod["config"]["share"]
        if "net" in shared and spec.network:
            raise ConfigError("a container in a pod that shares the network cannot set --network")
        joins = {KIND[k]: pod["infra_id"] for k in shared if k != "net"}
        return {"pod_id": pod["id"], "hostname": pod["config"]["hostname"] if "uts" in shared else None,
                "network": f"container:{pod['infra_id']}" if "net" in shared else spec.network,
                "join_namespaces": joins}

    # ---- lifecycle ----------------------------------------------------------------
    def start(self, ref: str) -> str:
        from . import lifecycle
        pod = self.get(ref)
        if pod["infra_id"]:
            lifecycle.start(self.engine, pod["infra_id"])
        errors = []
        for c in self.members(pod, infra=False):
            try:
                lifecycle.start(self.engine, c["id"])
            except PodiumError as exc:
                errors.append(f"{c['name']}: {exc}")
        self.engine.events.record("pod", "start", pod["id"], pod["name"])
        if errors:
            raise InvalidState(f"pod {pod['name']}: some containers failed to start: " + "; ".join(errors))
        return pod["id"]

    def stop(self, ref: str, *, timeout: int | None = None) -> str:
        """Stop the running members all at once (each waits out its own grace period), then the infra.

        One after the other, a pod of N containers that ignore SIGTERM took N
        grace periods to stop; Podman stops a pod's containers in parallel too.
        """
        from . import lifecycle
        pod = self.get(ref)
        members = list(reversed(self.members(pod, infra=False)))
        running = [c["id"] for c in members if c["state"]["status"] in st.ACTIVE]
        errors = [f"{cid[:12]}: {e}" for cid, e in in_parallel(
            self.engine, running, lambda eng, cid: lifecycle.stop(eng, cid, timeout=timeout)) if e]
        for c in members:  # the exited ones: their runtime state is tidied as before
            if c["id"] not in running:
                lifecycle.stop(self.engine, c["id"], timeout=timeout)
        if pod["infra_id"]:
            lifecycle.stop(self.engine, pod["infra_id"], timeout=timeout)
        if errors:
            raise InvalidState(f"pod {pod['name']}: some containers failed to stop: " + "; ".join(errors))
        self.engine.events.record("pod", "stop", pod["id"], pod["name"])
        return pod["id"]

    def restart(self, ref: str, *, timeout: int | None = None) -> str:
        self.stop(ref, timeout=timeout)
        return self.start(ref)

    def kill(self, ref: str, *, signal: str = "KILL") -> str:
        from . import lifecycle
        pod = self.get(ref)
        killed = 0
        for c in self.members(pod):
            if c["state"]["status"] in st.ACTIVE:
                lifecycle.kill(self.engine, c["id"], signal=signal)
                killed += 1
        if not killed:
            raise InvalidState(f"pod {pod['name']} has no running containers to kill")
        self.engine.events.record("pod", "kill", pod["id"], pod["name"])
        return pod["id"]

    def remove(self, ref: str, *, force: bool = False, timeout: int | None = None) -> str:
        pod = self.get(ref)
        members = self.members(pod, infra=False)
        running = [c["name"] for c in members if c["state"]["status"] in st.ACTIVE]
        if running and not force:
            raise InvalidState(f"pod {pod['name']} has running containers ({', '.join(running)}): "
                               "stop them first or use -f")
        for c in reversed(members):
            self.engine.containers.remove(c["id"], force=force, volumes=True, timeout=timeout)
        infras = [c["id"] for c in self.members(pod) if c["config"].get("infra")]
        for cid in dict.fromkeys(([pod["infra_id"]] if pod["infra_id"] else []) + infras):
            self.engine.containers.remove(cid, force=True, volumes=True, timeout=timeout, infra_ok=True)
        with self.store.write():
            self.store.db.execute("DELETE FROM pods WHERE id=?", (pod["id"],))
            self.engine.events.record("pod", "remove", pod["id"], pod["name"])
        return pod["id"]

    # ---- reports ------------------------------------------------------------------
    def inspect(self, ref: str) -> dict[str, Any]:
        pod = self.get(ref)
        members = self.members(pod)
        shared = pod["config"]["share"]
        infra = next((c for c in members if c["id"] == pod["infra_id"]), None)
        ports: dict[str, Any] = {}
        if infra:
            for p in infra["config"].get("ports", []):
                ports.setdefault(f"{p['container_port']}/{p.get('protocol', 'tcp')}", []).append(
                    {"HostIp": p.get("host_ip", ""), "HostPort": str(p["host_port"])})
        return {
            "Id": pod["id"], "Name": pod["name"], "Created": pod["created"],
            "State": pod_status([c["state"]["status"] for c in members]),
            "Hostname": pod["config"]["hostname"], "Labels": pod["config"]["labels"],
            "Annotations": pod["config"].get("annotations") or {},
            "CreateInfra": True, "InfraContainerId": pod["infra_id"] or "",
            "SharedNamespaces": [{"net": "net", "ipc": "ipc", "uts": "uts", "pid": "pid"}[s] for s in shared],
            "Conditions": [{"Type": "Ready", "Status": "True" if self.ready(pod, members) else "False"}],
            "NumContainers": len(members),
            "InfraConfig": {"PortBindings": ports, "HostNetwork": False,
                            "Networks": sorted((infra or {}).get("config", {}).get("networks", {}) or [])},
            "Containers": [{"Id": c["id"], "Name": c["name"], "State": st.docker_status(c["state"]["status"])}
                           for c in members],
        }

    def ready(self, pod: dict[str, Any], members: list[dict[str, Any]] | None = None) -> bool:
        """The pod's Ready condition, as Kubernetes defines it, checked now.

        Every member running, its startup probe passed (its health check has been
        healthy) and its readiness check (annotation ``io.podium.readiness``)
        passing when run once now: no daemon probes readiness in the background,
        so it is probed when asked.
        """
        import json as _json

        from . import health
        members = [c for c in (members if members is not None else self.members(pod))
                   if c["id"] != pod["infra_id"]]
        if not members:
            return False
        for c in members:
            if c["state"]["status"] != st.RUNNING:
                return False
            ann = c["config"].get("annotations") or {}
            if ann.get(STARTUP) == "true" and (c["state"].get("health") or {}).get("Status") != health.HEALTHY:
                return False
            if ann.get(READINESS):
                check = _json.loads(ann[READINESS])
                result = health.execute(self.engine, c, {"Test": list(check["test"]),
                                                         "Timeout": int(check.get("timeout") or 1) * health.SECOND})
                if result.get("ExitCode") != 0:
                    return False
        return True

    def ps_entry(self, pod: dict[str, Any]) -> dict[str, Any]:
        members = self.members(pod)
        return {
            "Id": pod["id"], "Name": pod["name"], "Created": pod["created"],
            "Status": pod_status([c["state"]["status"] for c in members]),
            "InfraId": pod["infra_id"] or "", "Labels": pod["config"]["labels"],
            "Networks": sorted(((next((c for c in members if c["id"] == pod["infra_id"]), {}) or {})
                                .get("config", {}).get("networks") or {})),
            "Containers": [{"Id": c["id"], "Names": c["name"], "Status": st.docker_status(c["state"]["status"])}
                           for c in members],
        }


def in_parallel(engine: "Engine", items: list[str], fn: Any) -> list[tuple[str, PodiumError | None]]:
    """Run ``fn(engine, item)`` for every item at once, each thread with its own engine.

    The store's SQLite connection serves one thread at a time (a transaction
    belongs to the connection), so every worker opens its own on the same root;
    the per-container file locks and SQLite's locking keep them apart. Meant for
    a pod's members, which own no network set-up (they join the infra's
    namespace): a network teardown forks, and a child forked while another
    thread holds a host lock would inherit that lock.
    """
    if len(items) <= 1:
        out: list[tuple[str, PodiumError | None]] = []
        for item in items:
            try:
                fn(engine, item)
                out.append((item, None))
            except PodiumError as exc:
                out.append((item, exc))
        return out
    import threading

    from .engine import Engine
    results: dict[str, PodiumError | None] = {}

    def work(item: str) -> None:
        eng = Engine(root=str(engine.paths.root), runroot=str(engine.paths.runroot),
                     runtime=engine.runtime_override)
        try:
            fn(eng, item)
            results[item] = None
        except PodiumError as exc:
            results[item] = exc
        except Exception as exc:  # noqa: BLE001 - reported with the item, never lost in a thread
            results[item] = PodiumError(f"{type(exc).__name__}: {exc}")
        finally:
            eng.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [(i, results.get(i)) for i in items]
