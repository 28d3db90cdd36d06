"""The store's schema as an ordered list of migrations.

``PRAGMA user_version`` records how many have run; a newer podium migrates an
older store forward inside one IMMEDIATE transaction, so two processes that open
an old store at once cannot both migrate it. Config and state are JSON columns
(frozen at create vs. mutable), next to the few columns queries filter on.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: images, names, layers, containers, volumes
    """
    CREATE TABLE images (
        id       TEXT PRIMARY KEY,          -- config digest hex (Docker/Podman image id)
        digest   TEXT NOT NULL,             -- manifest digest sha256:...
        created  TEXT NOT NULL,
        size     INTEGER NOT NULL,
        manifest TEXT NOT NULL,             -- OCI manifest JSON
        config   TEXT NOT NULL              -- OCI image config JSON
    );
    CREATE TABLE image_names (
        name     TEXT PRIMARY KEY,          -- fully qualified: localhost/busybox:latest
        image_id TEXT NOT NULL REFERENCES images(id)
    );
    CREATE INDEX image_names_image ON image_names(image_id);
    CREATE TABLE layers (
        diff_id  TEXT PRIMARY KEY,          -- sha256:<uncompressed digest>
        size     INTEGER NOT NULL,
        created  TEXT NOT NULL
    );
    CREATE TABLE containers (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        image_id TEXT,
        pod_id   TEXT,
        created  TEXT NOT NULL,
        config   TEXT NOT NULL,             -- frozen at create
        state    TEXT NOT NULL              -- status, pid, exit code, times
    );
    CREATE INDEX containers_image ON containers(image_id);
    CREATE INDEX containers_pod ON containers(pod_id);
    CREATE TABLE volumes (
        name     TEXT PRIMARY KEY,
        created  TEXT NOT NULL,
        config   TEXT NOT NULL
    );
    """,
    # 2: networks, per-container network attachments, pods
    """
    CREATE TABLE networks (
        name     TEXT PRIMARY KEY,
        id       TEXT NOT NULL UNIQUE,
        created  TEXT NOT NULL,
        config   TEXT NOT NULL              -- netavark network JSON plus podium's labels/options
    );
    CREATE TABLE net_attachments (
        container_id TEXT NOT NULL,
        network      TEXT NOT NULL REFERENCES networks(name),
        ip           TEXT NOT NULL,
        config       TEXT NOT NULL,         -- aliases, mac, interface name, status
        PRIMARY KEY (container_id, network)
    );
    CREATE UNIQUE INDEX net_attachments_ip ON net_attachments(network, ip);
    CREATE TABLE pods (
        id       TEXT PRIMARY KEY,
        name     TEXT NOT NULL UNIQUE,
        created  TEXT NOT NULL,
        config   TEXT NOT NULL,             -- frozen at create: shared namespaces, labels, ports
        infra_id TEXT
    );
    """,
    # 3: the event log (engine/events.py)
    """
    CREATE TABLE events (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        time_ns  INTEGER NOT NULL,
        type     TEXT NOT NULL,             -- container, image, network, volume, pod
        action   TEXT NOT NULL,             -- Docker's words: create, start, die, destroy, ...
        actor    TEXT NOT NULL,             -- the object's id
        attrs    TEXT NOT NULL              -- JSON: name, image, labels, exitCode, ...
    );
    CREATE INDEX events_time ON events(time_ns);
    """,
]
