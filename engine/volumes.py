"""Named and anonymous volumes: directories under the storage root, tracked in the store.

A ``-v name:/path`` creates the named volume on first use (Podman's habit); an
anonymous volume (``-v /path`` or an image VOLUME) gets a random name and goes
away with ``rm -v``. Content under the mount point in the image is copied into
an empty volume the first time a container mounts it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3

from .errors import AlreadyExists, ConfigError, InUse, NotFound
from .names import NAME_RE
from .timeutil import now_iso

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

if TYPE_CHECKING:
    from .engine import Engine


class Volumes:
    def __init__(self, engine: "Engine") -> None:
        self.engine = engine
        self.store = engine.store
        self.paths = engine.paths

    def data_dir(self, name: str) -> str:
        return str(self.paths.volume_dir(name) / "_data")

    def get(self, name: str) -> dict[str, Any] | None:
        rows = self.store.query("SELECT * FROM volumes WHERE name=?", (name,))
        if not rows:
            return None
        return {"name": rows[0]["name"], "created": rows[0]["created"], **json.loads(rows[0]["config"])}

    def list(self) -> list[dict[str, Any]]:
        return [{"name": r["name"], "created": r["created"], **json.loads(r["config"])}
                for r in self.store.query("SELECT * FROM volumes ORDER BY name")]

    def create(self, name: str | None = None, *, labels: dict[str, str] | None = None,
               anonymous: bool = False, exist_ok: bool = False) -> dict[str, Any]:
        if name is None:
            name = os.urandom(32).hex()
        elif not NAME_RE.fullmatch(name):
            raise ConfigError(f"invalid volume name {name!r}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*")
        config = {"driver": "local", "labels": labels or {}, "anonymous": anonymous}
        data = self.paths.volume_dir(name) / "_data"
        try:
            with self.store.write() as db:
                db.execute("INSERT INTO volumes(name, created, config) VALUES (?,?,?)",
                           (name, now_iso(), json.dumps(config)))
                data.mkdir(parents=True, exist_ok=True)
        except sqlite3.IntegrityError:
            if exist_ok:
                return self.get(name) or {}
            raise AlreadyExists(f"volume with name {name} already exists: volume already exists") from None
        return {"name": name, **config}

    def users(self, name: str) -> list[str]:
        out = []
        for c in self.store.containers():
            if any(m.get("volume") == name for m in c["config"].get("mounts", [])):
                out.append(c["name"])
        return out

    def remove(self, name: str, *, force: bool = False) -> None:
        if self.get(name) is None:
            raise NotFound(f"no volume with name {name!r} found: no such volume")
        users = self.users(name)
        if users and not force:
            raise InUse(f"volume {name} is being used by the following container(s): {', '.join(users)}: volume is being used")
        with self.store.write() as db:
            db.execute("DELETE FROM volumes WHERE name=?", (name,))
        shutil.rmtree(self.paths.volume_dir(name), ignore_errors=True)
