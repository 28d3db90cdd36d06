"""Pull and push against a real registry (Debian's docker-registry) on 127.0.0.1.

Each test starts its own registry with private storage (tests/registry_server.py)
and uses the real `podium` CLI on a private root, with its own auth file and
registries.conf, so nothing here reads the host's configuration or sends a
packet beyond the loopback interface.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import Podium, need
from tests.integration.test_interop import Podman, podman  # noqa: F401 - the fixture
from tests.registry_server import (PASSWORD, USER, Registry, auth_registry, layer_tar,  # noqa: F401
                                   registry, token_registry, upload_image, upload_index)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


@pytest.fixture
def pod(podium: Podium) -> Podium:
    """The podium fixture with its own auth file and an empty registries.conf."""
    conf = podium.base / "registries.conf"
    conf.write_text("")
    podium.env["REGISTRY_AUTH_FILE"] = str(podium.base / "auth.json")
    podium.env["CONTAINERS_REGISTRIES_CONF"] = str(conf)
    return podium


def store_state(p: Podium) -> dict[str, list[str]]:
    """What a failed pull must not change: images, layer dirs, blobs, staging."""
    root = p.root
    listing = {d: sorted(os.listdir(root / d)) if (root / d).exists() else []
               for d in ("layers", "blobs/sha256", "tmp")}
    listing["images"] = p("images", "-q", "--no-trunc").stdout.split()
    return listing


def busybox_layer(rootfs_tar: Path) -> bytes:
    return rootfs_tar.read_bytes()


# ---- round trips ---------------------------------------------------------------------------

def test_push_pull_round_trip_chunked(pod: Podium, image: str, registry: Registry,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Push in small chunks (several PATCHes per layer), pull it back into a fresh root, run it."""
    from podium.engine.registry import client as client_mod
    from podium.engine.registry.push import PushOptions

    patches: list[str] = []
    real = client_mod.RegistryClient.request

    def counting(self, method, path, scope, **kw):  # noqa: ANN001, ANN202
        if method == "PATCH":
            patches.append(path)
        return real(self, method, path, scope, **kw)

    monkeypatch.setattr(client_mod.RegistryClient, "request", counting)
    monkeypatch.setenv("CONTAINERS_REGISTRIES_CONF", pod.env["CONTAINERS_REGISTRIES_CONF"])
    monkeypatch.setenv("REGISTRY_AUTH_FILE", pod.env["REGISTRY_AUTH_FILE"])
    eng = pod.engine()
    try:
        dest = f"{registry.host}/test/busybox:1"
        digest = eng.images.push("busybox", dest, PushOptions(tls_verify=False, chunk_size=256 << 10))
    finally:
        eng.close()
    assert len(patches) >= 3, "a ~1 MB compressed layer in 256 kB chunks takes several PATCHes"
    with registry.client() as c:
        r = c.get(f"/v2/test/busybox/manifests/1",
                  headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
        assert r.status_code == 200
        assert "sha256:" + hashlib.sha256(r.content).hexdigest() == digest
        assert r.json()["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"

    pod("rmi", "busybox")
    out = pod("pull", "--tls-verify=false", dest)
    iid = out.stdout.strip()
    assert len(iid) == 64
    assert "Copying blob" in out.stderr and "Writing manifest" in out.stderr
    assert pod("run", "--rm", dest, "cat", "/etc/motd").stdout == "podium test image\n"
    info = json.loads(pod("image", "inspect", dest).stdout)[0]
    assert info["Digest"] == digest
    assert f"{registry.host}/test/busybox@{digest}" in info["RepoDigests"]
    # by digest, too: found locally, and pullable
    assert pod("run", "--rm", "--pull=never", f"{registry.host}/test/busybox@{digest}",
               "true").returncode == 0
    # a second pull fetches no layer again
    again = pod("pull", "--tls-verify=false", dest)
    assert again.stdout.strip() == iid
    assert "skipped: already exists" in again.stderr
    events = pod("events", "--stream=false", "--filter", "type=image", "--format",
                 "{{.Status}} {{.Name}}").stdout.splitlines()
    assert f"push {dest}" in events and f"pull {dest}" in events, events
    # pulled by digest alone: listed without a tag, found by digest, RepoDigests as Podman's
    by_digest = f"{registry.host}/test/busybox@{digest}"
    pod("rmi", dest)
    assert pod("pull", "-q", "--tls-verify=false", by_digest).stdout.strip() == iid
    rows = pod("images", "--format", "{{.Repository}} {{.Tag}}").stdout.splitlines()
    assert rows == [f"{registry.host}/test/busybox <none>"]
    info = json.loads(pod("image", "inspect", by_digest).stdout)[0]
    assert info["RepoTags"] == [] and info["RepoDigests"] == [by_digest]
    # rmi removes everything the pull stored
    pod("rmi", by_digest)
    assert store_state(pod)["images"] == []
    assert store_state(pod)["layers"] == [] and store_state(pod)["blobs/sha256"] == []


def test_round_trip_with_htpasswd(pod: Podium, image: str, auth_registry: Registry) -> None:
    reg = auth_registry
    dest = f"{reg.host}/secure/busybox:latest"
    denied = pod("push", "--tls-verify=false", "busybox", dest, check=False)
    assert denied.returncode == 125
    assert "authentication required" in denied.stderr and f"podium login {reg.host}" in denied.stderr

    wrong = pod("login", "--tls-verify=false", "-u", USER, "--password-stdin", reg.host,
                input="not-the-password\n", check=False)
    assert wrong.returncode == 125 and "login refused" in wrong.stderr
    assert not Path(pod.env["REGISTRY_AUTH_FILE"]).exists()

    ok = pod("login", "--tls-verify=false", "-u", USER, "--password-stdin", reg.host,
             input=PASSWORD + "\n")
    assert "Login Succeeded" in ok.stdout
    stored = json.loads(Path(pod.env["REGISTRY_AUTH_FILE"]).read_text())
    assert reg.host in stored["auths"]
    pod("push", "--tls-verify=false", "busybox", dest)
    pod("rmi", "busybox")
    pod("logout", reg.host)
    before = store_state(pod)
    anon = pod("pull", "--tls-verify=false", dest, check=False)
    assert anon.returncode == 125 and "authentication required" in anon.stderr
    assert store_state(pod) == before
    # --creds, then Docker's config.json as the only source of credentials
    pod("pull", "--tls-verify=false", "--creds", f"{USER}:{PASSWORD}", dest)
    pod("rmi", dest)
    docker = pod.base / "docker"
    docker.mkdir()
    (docker / "config.json").write_text(json.dumps({"auths": {f"http://{reg.host}": {
        "auth": __import__("base64").b64encode(f"{USER}:{PASSWORD}".encode()).decode()}}}))
    pod.env["DOCKER_CONFIG"] = str(docker)
    pod.env["XDG_CONFIG_HOME"] = str(pod.base / "xdg")
    pod("pull", "--tls-verify=false", dest)
    assert pod("run", "--rm", dest, "cat", "/etc/motd").stdout == "podium test image\n"


def test_bearer_token_auth_and_cross_repository_mount(pod: Podium, image: str,
                                                      token_registry: Registry) -> None:
    """distribution with Docker token auth: anonymous pull tokens, scoped push tokens, mounts."""
    reg = token_registry
    base = f"{reg.host}/team/base:1"
    pod("login", "--tls-verify=false", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n")
    pod("push", "--tls-verify=false", "busybox", base)
    pod("logout", reg.host)
    anon_push = pod("push", "--tls-verify=false", "busybox", f"{reg.host}/team/app:1", check=False)
    assert anon_push.returncode == 125 and "authentication required" in anon_push.stderr
    wrong = pod("login", "--tls-verify=false", "-u", USER, "--password-stdin", reg.host,
                input="nope\n", check=False)
    assert wrong.returncode == 125 and "login refused" in wrong.stderr
    pod("login", "--tls-verify=false", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n")
    reg.tokens.requests.clear()
    out = pod("push", "--tls-verify=false", "busybox", f"{reg.host}/team/app:1")
    assert "mounted from team/base" in out.stderr  # known from the first push (blobinfo)
    scopes = [q.get("scope") for q in reg.tokens.requests]
    assert ["repository:team/app:pull,push", "repository:team/base:pull"] in scopes
    pod("logout", reg.host)
    pod("rmi", "busybox")
    pod("pull", "--tls-verify=false", f"{reg.host}/team/app:1")  # an anonymous pull token
    assert reg.tokens.requests[-1].get("account") is None
    assert pod("run", "--rm", f"{reg.host}/team/app:1", "cat", "/etc/motd").stdout == "podium test image\n"


# ---- manifest lists, compression -----------------------------------------------------------

def test_manifest_list_platform_choice(pod: Podium, registry: Registry) -> None:
    per_arch = {}
    for arch in ("amd64", "arm64"):
        raw = layer_tar({"etc/arch": arch.encode() + b"\n"})
        desc = upload_image(registry, "multi/img", None, [raw], arch=arch)
        per_arch[arch] = ("sha256:" + hashlib.sha256(raw).hexdigest(), desc)
    index = upload_index(registry, "multi/img", "latest", [per_arch["arm64"][1], per_arch["amd64"][1]])
    ref = f"{registry.host}/multi/img:latest"
    # pinned by the index's digest: the host's image, found again by that reference
    pinned = f"{registry.host}/multi/img@{index['digest']}"
    iid = pod("pull", "-q", "--tls-verify=false", pinned).stdout.strip()
    assert json.loads(pod("image", "inspect", pinned).stdout)[0]["Id"] == iid
    assert json.loads(pod("image", "inspect", pinned).stdout)[0]["Architecture"] == "amd64"
    pod("rmi", pinned)

    def pulled(*flags: str) -> dict:
        iid = pod("pull", "--tls-verify=false", *flags, ref).stdout.strip()
        return json.loads(pod("image", "inspect", iid).stdout)[0]

    host = pulled()
    assert host["Architecture"] == "amd64" and host["RootFS"]["Layers"] == [per_arch["amd64"][0]]
    assert host["Digest"] == per_arch["amd64"][1]["digest"]
    arm = pulled("--arch", "arm64")
    assert arm["Architecture"] == "arm64" and arm["RootFS"]["Layers"] == [per_arch["arm64"][0]]
    assert pulled("--platform", "linux/amd64")["Id"] == host["Id"]
    assert pulled("--platform", "linux/arm64")["Id"] == arm["Id"]
    missing = pod("pull", "--tls-verify=false", "--arch", "s390x", ref, check=False)
    assert missing.returncode == 125
    assert "no image for platform linux/s390x" in missing.stderr and "linux/arm64" in missing.stderr


def test_zstd_and_docker_schema2_layers(pod: Podium, registry: Registry, rootfs_tar: Path) -> None:
    """A zstd busybox layer (made with the zstd program) and a schema2 image with gzip layers."""
    extra = layer_tar({"etc/motd": b"zstd layer\n"})
    upload_image(registry, "z/box", "zstd", [busybox_layer(rootfs_tar), extra], compression="zstd",
                 cmd=["cat", "/etc/motd"])
    upload_image(registry, "z/box", "docker", [busybox_layer(rootfs_tar)], compression="gzip",
                 docker_types=True, cmd=["cat", "/etc/motd"])
    ref = f"{registry.host}/z/box:zstd"
    pod("pull", "--tls-verify=false", ref)
    assert pod("run", "--rm", ref).stdout == "zstd layer\n"
    info = json.loads(pod("image", "inspect", ref).stdout)[0]
    assert info["ManifestType"] == "application/vnd.oci.image.manifest.v1+json"
    dref = f"{registry.host}/z/box:docker"
    out = pod("pull", "--tls-verify=false", dref)
    assert "skipped: already exists" in out.stderr  # the busybox layer, already unpacked from zstd
    assert pod("run", "--rm", dref).stdout == "podium test image\n"
    info = json.loads(pod("image", "inspect", dref).stdout)[0]
    assert info["ManifestType"] == "application/vnd.docker.distribution.manifest.v2+json"


# ---- failures leave nothing ----------------------------------------------------------------

def test_corrupted_blob_is_refused(pod: Podium, registry: Registry, rootfs_tar: Path) -> None:
    upload_image(registry, "bad/box", "latest", [busybox_layer(rootfs_tar)])
    ref = f"{registry.host}/bad/box:latest"
    with registry.client() as c:
        manifest = c.get("/v2/bad/box/manifests/latest",
                         headers={"Accept": "application/vnd.oci.image.manifest.v1+json"}).json()
    blob = registry.blob_path(manifest["layers"][0]["digest"])
    data = bytearray(blob.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 16] = bytes(b ^ 0xFF for b in data[mid:mid + 16])
    blob.write_bytes(bytes(data))  # same size, other content: only the digest can tell
    pod("images")  # creates the store, so that the state compared is a real one
    before = store_state(pod)
    r = pod("pull", "--tls-verify=false", ref, check=False)
    assert r.returncode == 125
    err = r.stderr.strip().splitlines()[-1]
    assert err.startswith("Error: ") and ("does not match its digest" in err or "corrupt" in err), err
    assert store_state(pod) == before


class CuttingProxy:
    """A TCP proxy in front of the registry that kills it once ``cut_after`` bytes went by."""

    def __init__(self, reg: Registry) -> None:
        self.reg, self.cut_after, self.sent = reg, 0, 0
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        self.cut = threading.Event()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.reg.port), timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, True), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, down: bool) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
                if down:
                    with self.lock:
                        self.sent += len(data)
                        if self.cut_after and self.sent > self.cut_after and not self.cut.is_set():
                            self.cut.set()
                            self.reg.kill()  # the registry dies in the middle of a layer
                            for s in self.conns:
                                try:
                                    s.shutdown(socket.SHUT_RDWR)
                                except OSError:
                                    pass
                            return
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        with self.lock:
            for s in self.conns:
                try:
                    s.close()
                except OSError:
                    pass


def test_interrupted_pull_leaves_nothing_and_retry_completes(pod: Podium, registry: Registry,
                                                            rootfs_tar: Path) -> None:
    noise = os.urandom(6 << 20)  # incompressible: the transfer takes a while even on loopback
    upload_image(registry, "cut/box", "latest",
                 [busybox_layer(rootfs_tar), layer_tar({"noise.bin": noise})])
    proxy = CuttingProxy(registry)
    try:
        ref = f"127.0.0.1:{proxy.port}/cut/box:latest"
        pod("images")
        before = store_state(pod)
        proxy.cut_after = 2 << 20
        r = pod("pull", "--tls-verify=false", ref, check=False)
        assert proxy.cut.is_set(), "the registry was not stopped midway"
        assert r.returncode == 125
        assert "Error: " in r.stderr
        assert store_state(pod) == before, "an interrupted pull left something behind"
        proxy.cut_after = 0
        registry.start()  # same storage, new port, behind the same proxy address
        out = pod("pull", "--tls-verify=false", ref)
        assert len(out.stdout.strip()) == 64
        assert pod("run", "--rm", ref, "cat", "/etc/motd").stdout == "podium test image\n"
    finally:
        proxy.close()


# ---- registries.conf: short names, mirrors, insecure ----------------------------------------

def test_short_names_mirrors_and_insecure_from_registries_conf(pod: Podium, image: str,
                                                              registry: Registry) -> None:
    conf = Path(pod.env["CONTAINERS_REGISTRIES_CONF"])
    short = pod("pull", "library-box", check=False)
    assert short.returncode == 125
    assert "no unqualified-search registries are defined" in short.stderr
    pod("push", "--tls-verify=false", "busybox", f"{registry.host}/library-box:v1")
    conf.write_text(f"""
unqualified-search-registries = ["{registry.host}"]

[[registry]]
location = "{registry.host}"
insecure = true

[[registry]]
prefix = "mirrored.invalid"
location = "mirrored.invalid"
[[registry.mirror]]
location = "{registry.host}"
insecure = true
""")
    iid = pod("pull", "library-box:v1").stdout.strip()  # short name, insecure from the conf
    names = pod("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert f"{registry.host}/library-box:v1" in names
    # the mirror serves a name whose own registry cannot even be resolved
    assert pod("pull", "mirrored.invalid/library-box:v1").stdout.strip() == iid
    assert "mirrored.invalid/library-box:v1" in pod("images", "--format",
                                                    "{{.Repository}}:{{.Tag}}").stdout.split()
    assert pod("run", "--rm", "library-box:v1", "cat", "/etc/motd").stdout == "podium test image\n"


# ---- pull policies -------------------------------------------------------------------------

def test_run_pull_policies(pod: Podium, image: str, registry: Registry, rootfs_tar: Path) -> None:
    ref = f"{registry.host}/pol/box:latest"
    pod("push", "--tls-verify=false", "busybox", ref)
    conf = Path(pod.env["CONTAINERS_REGISTRIES_CONF"])
    conf.write_text(f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')
    never = pod("run", "--rm", "--pull=never", ref, "true", check=False)
    assert never.returncode == 125 and "image not known" in never.stderr
    assert pod("run", "--rm", ref, "cat", "/etc/motd").stdout == "podium test image\n"  # missing
    first = json.loads(pod("image", "inspect", ref).stdout)[0]["Id"]
    # a new image under the same tag: missing keeps the old one, newer and always take the new
    pod("import", "--change", 'CMD ["sh"]', "--message", "v2", str(rootfs_tar), "v2img")
    pod("push", "--tls-verify=false", "v2img", ref)
    pod("rmi", "v2img")
    pod("run", "--rm", ref, "true")
    assert json.loads(pod("image", "inspect", ref).stdout)[0]["Id"] == first
    pod("run", "--rm", "--pull=newer", ref, "true")
    second = json.loads(pod("image", "inspect", ref).stdout)[0]["Id"]
    assert second != first
    out = pod("create", "--pull=always", ref, "true")
    assert "Copying" in out.stderr
    bad = pod("run", "--rm", "--pull=sometimes", ref, "true", check=False)
    assert bad.returncode == 125 and "invalid pull policy" in bad.stderr


# ---- bad input -----------------------------------------------------------------------------

def test_bad_input_is_one_clear_error(pod: Podium, registry: Registry) -> None:
    pod("images")
    before = store_state(pod)
    unknown = pod("pull", "nonexistent.invalid/foo/bar:1", check=False)
    assert unknown.returncode == 125
    assert unknown.stderr.strip().splitlines()[-1] == \
        "Error: cannot reach registry nonexistent.invalid: the host name does not resolve"
    missing = pod("pull", "--tls-verify=false", f"{registry.host}/no/such:tag", check=False)
    assert missing.returncode == 125 and "not found" in missing.stderr
    bad = pod("pull", "--tls-verify=false", f"{registry.host}/Upper/Case", check=False)
    assert bad.returncode == 125 and "must be lowercase" in bad.stderr
    plat = pod("pull", "--platform", "linux", f"{registry.host}/x", check=False)
    assert plat.returncode == 125 and "expected OS/ARCH" in plat.stderr
    nologin = pod("logout", registry.host, check=False)
    assert nologin.returncode == 125 and "not logged into" in nologin.stderr
    for r in (unknown, missing, bad, plat):
        assert "Traceback" not in r.stderr
    assert store_state(pod) == before


# ---- Podman interop ------------------------------------------------------------------------

@pytest.mark.podman
def test_podman_and_podium_share_a_registry(pod: Podium, image: str, registry: Registry,
                                            rootfs_tar: Path, podman: Podman) -> None:  # noqa: F811
    ours = f"{registry.host}/interop/from-podium:1"
    pod("push", "--tls-verify=false", "busybox", ours)
    pod("rmi", "busybox")
    pod("pull", "--tls-verify=false", ours)
    assert pod("run", "--rm", ours, "cat", "/etc/motd").stdout == "podium test image\n"
    podman("pull", "-q", "--tls-verify=false", ours)
    r = podman("run", "--rm", "--network", "none", ours, "cat", "/etc/motd")
    assert r.stdout == "podium test image\n"
    podium_id = json.loads(pod("image", "inspect", ours).stdout)[0]["Id"]
    podman_id = podman("image", "inspect", "--format", "{{.Id}}", ours).stdout.strip()
    assert podium_id == podman_id  # the same config, byte for byte

    theirs = f"{registry.host}/interop/from-podman:zstd"
    podman("import", "--change", 'CMD ["cat", "/etc/motd"]', str(rootfs_tar), "pbox")
    podman("push", "-q", "--tls-verify=false", "--compression-format", "zstd",
           "localhost/pbox:latest", theirs)
    pod("pull", "--tls-verify=false", theirs)
    assert pod("run", "--rm", theirs).stdout == "podium test image\n"


# ---- pull policies in kube and compose files ------------------------------------------------

def test_kube_image_pull_policy_and_compose_pull_policy(pod: Podium, image: str, registry: Registry,
                                                       tmp_path: Path) -> None:
    ref = f"{registry.host}/decl/box:1"
    pod("push", "--tls-verify=false", "busybox", ref)
    Path(pod.env["CONTAINERS_REGISTRIES_CONF"]).write_text(
        f'[[registry]]\nlocation = "{registry.host}"\ninsecure = true\n')

    def kube(policy: str) -> Path:
        f = tmp_path / f"pod-{policy}.yaml"
        f.write_text(f"""apiVersion: v1
kind: Pod
metadata:
  name: pulled-{policy.lower()}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: {ref}
    imagePullPolicy: {policy}
    command: ["cat", "/etc/motd"]
""")
        return f

    never = pod("play", "kube", str(kube("Never")), check=False)
    assert never.returncode == 125
    assert "not found in local storage and not pulled" in never.stderr and "never" in never.stderr
    assert ref not in pod("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    pod("play", "kube", str(kube("IfNotPresent")))
    assert ref in pod("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    pod("kube", "down", "--force", str(kube("IfNotPresent")))
    pod("rmi", ref)

    compose = tmp_path / "compose.yaml"
    compose.write_text(f"""services:
  web:
    image: {ref}
    pull_policy: always
    command: ["sleep", "300"]
""")
    try:
        pod("compose", "-f", str(compose), "-p", "pulltest", "up", "-d")
        assert ref in pod("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    finally:
        pod("compose", "-f", str(compose), "-p", "pulltest", "down", "-t", "0", check=False)
