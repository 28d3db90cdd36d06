"""The normalized compose project: pydantic models with one form per attribute.

Every short syntax is already expanded here: ports are mappings with
``target``/``published``/``host_ip``/``protocol``, volume mounts say their
``type``, ``depends_on`` is a map with a ``condition``, ``environment`` and
``labels`` are maps, durations are seconds (float) and sizes bytes (int),
relative host paths are absolute. ``Project.model_dump()`` is deterministic
(maps are sorted where order carries no meaning), so it can be hashed.

Names: ``Network.name``/``Volume.name`` are the names on the host
(``<project>_<key>`` unless ``name:`` or ``external``); a service refers to
them by key, as in the file.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Build(BaseModel):
    """``build``: the context is absolute (or a URL); unmodelled keys are kept as given."""

    model_config = ConfigDict(extra="allow")

    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: dict[str, str | None] = {}
    target: str | None = None
    labels: dict[str, str | None] = {}
    network: str | None = None
    cache_from: list[str] = []
    tags: list[str] = []
    platforms: list[str] = []
    shm_size: int | None = None


class Port(_Model):
    target: int
    published: str | None = None  # "8080" or a range "8000-8010"; None: any free port
    host_ip: str | None = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    mode: str = "ingress"
    name: str | None = None
    app_protocol: str | None = None


class BindOptions(_Model):
    propagation: str | None = None
    create_host_path: bool = False
    selinux: Literal["z", "Z"] | None = None
    recursive: str | None = None


class VolumeOptions(_Model):
    nocopy: bool = False
    subpath: str | None = None
    labels: dict[str, str | None] = {}


class TmpfsOptions(_Model):
    size: int | None = None
    mode: int | None = None


class VolumeMount(_Model):
    """One entry of a service's ``volumes``; ``source`` of a ``volume`` is the top-level key."""

    type: Literal["bind", "volume", "tmpfs", "npipe", "cluster", "image"]
    source: str | None = None
    target: str
    read_only: bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: dict[str, Any] | None = None


class ServiceNetwork(_Model):
    aliases: list[str] = []
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    mac_address: str | None = None
    interface_name: str | None = None
    link_local_ips: list[str] = []
    driver_opts: dict[str, str] = {}
    priority: float | None = None
    gw_priority: float | None = None


class DependsOn(_Model):
    condition: Literal["service_started", "service_healthy", "service_completed_successfully"] = "service_started"
    required: bool = True
    restart: bool = False


class Healthcheck(_Model):
    """``test`` is ``["CMD", ...]``, ``["CMD-SHELL", "..."]`` or ``["NONE"]``; times in seconds."""

    test: list[str] | None = None
    interval: float | None = None
    timeout: float | None = None
    retries: int | None = None
    start_period: float | None = None
    start_interval: float | None = None
    disable: bool = False


class ResourceSpec(_Model):
    cpus: float | None = None
    memory: int | None = None
    pids: int | None = None
    devices: list[dict[str, Any]] = []
    generic_resources: list[dict[str, Any]] = []


class Resources(_Model):
    limits: ResourceSpec | None = None
    reservations: ResourceSpec | None = None


class RestartPolicy(_Model):
    condition: str | None = None
    delay: float | None = None
    max_attempts: int | None = None
    window: float | None = None


class Deploy(_Model):
    mode: str | None = None
    replicas: int | None = None
    labels: dict[str, str | None] = {}
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    endpoint_mode: str | None = None
    placement: dict[str, Any] | None = None
    update_config: dict[str, Any] | None = None
    rollback_config: dict[str, Any] | None = None


class Ulimit(_Model):
    soft: int
    hard: int


class FileRef(_Model):
    """A service's use of a secret or config: mounted at ``target`` (always absolute here)."""

    source: str
    target: str
    uid: str | None = None
    gid: str | None = None
    mode: int | None = None


class Logging(_Model):
    driver: str | None = None
    options: dict[str, str | None] = {}


class EnvFile(_Model):
    path: str
    required: bool = True
    format: str | None = None


class Device(_Model):
    source: str
    target: str
    permissions: str = "rwm"


RestartValue = str  # "no" | "always" | "unless-stopped" | "on-failure[:N]"


class Service(_Model):
    name: str
    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: dict[str, str | None] = {}
    env_file: list[EnvFile] = []
    ports: list[Port] = []
    expose: list[str] = []
    volumes: list[VolumeMount] = []
    tmpfs: list[str] = []
    networks: dict[str, ServiceNetwork] = {}
    network_mode: str | None = None
    depends_on: dict[str, DependsOn] = {}
    healthcheck: Healthcheck | None = None
    restart: RestartValue | None = None
    deploy: Deploy | None = None
    scale: int = 1
    mem_limit: int | None = None
    memswap_limit: int | None = None
    mem_reservation: int | None = None
    shm_size: int | None = None
    cpus: float | None = None
    cpu_shares: int | None = None
    cpuset: str | None = None
    pids_limit: int | None = None
    user: str | None = None
    working_dir: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    extra_hosts: dict[str, list[str]] = {}
    dns: list[str] = []
    dns_search: list[str] = []
    dns_opt: list[str] = []
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    cap_add: list[str] = []
    cap_drop: list[str] = []
    privileged: bool = False
    read_only: bool = False
    init: bool | None = None
    tty: bool = False
    stdin_open: bool = False
    stop_signal: str | None = None
    stop_grace_period: float | None = None
    sysctls: dict[str, str] = {}
    ulimits: dict[str, Ulimit] = {}
    secrets: list[FileRef] = []
    configs: list[FileRef] = []
    pull_policy: str | None = None
    platform: str | None = None
    logging: Logging | None = None
    profiles: list[str] = []
    container_name: str | None = None
    security_opt: list[str] = []
    devices: list[Device] = []
    group_add: list[str] = []
    ipc: str | None = None
    pid: str | None = None
    userns_mode: str | None = None
    cgroup_parent: str | None = None
    runtime: str | None = None
    oom_score_adj: int | None = None
    links: list[str] = []
    volumes_from: list[str] = []


class IpamPool(_Model):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = {}


class Ipam(_Model):
    driver: str | None = None
    config: list[IpamPool] = []
    options: dict[str, str] = {}


class Network(_Model):
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = {}
    ipam: Ipam | None = None
    external: bool = False
    internal: bool = False
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    attachable: bool | None = None
    labels: dict[str, str] = {}


class Volume(_Model):
    name: str
    driver: str | None = None
    driver_opts: dict[str, str] = {}
    external: bool = False
    labels: dict[str, str] = {}


class Secret(_Model):
    """A secret's content comes from ``file`` (absolute), ``environment`` (a variable name) or ``content``."""

    name: str
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool = False
    labels: dict[str, str] = {}
    driver: str | None = None
    driver_opts: dict[str, str] = {}
    template_driver: str | None = None


class Config(Secret):
    pass


class Project(_Model):
    name: str
    working_dir: str
    config_files: list[str]
    services: dict[str, Service] = {}
    networks: dict[str, Network] = {}
    volumes: dict[str, Volume] = {}
    secrets: dict[str, Secret] = {}
    configs: dict[str, Config] = {}
    profiles: list[str] = []  # the active profiles
    disabled_services: list[str] = []  # services left out by profiles
    # Not part of the model's identity: the interpolation environment (may hold secrets) and load notes.
    environment: dict[str, str] = Field(default_factory=dict, exclude=True, repr=False)
    warnings: list[str] = Field(default_factory=list, exclude=True, repr=False)
    # every profile named by any service, enabled or not (`compose config --profiles`)
    all_profiles: list[str] = Field(default_factory=list, exclude=True, repr=False)
