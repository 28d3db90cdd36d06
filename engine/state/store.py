"""SQLite access for one storage root.

Podium is daemonless: many CLI processes read and write one store at once. WAL
lets readers run beside a writer; every write runs in ``BEGIN IMMEDIATE`` (the
write lock is taken up front, so read-then-write sequences cannot interleave)
and a busy timeout makes concurrent writers queue instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import contextmanager
from pathlib import Path

from ..errors import StoreError
from .schema import MIGRATIONS

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Iterator

BUSY_TIMEOUT_S = 60.0


class Store:
    """A connection to ``podium.db`` with typed helpers for the engine's tables."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.db = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                      check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            if self.db.execute("PRAGMA user_version").fetchone()[0] != len(MIGRATIONS):
                self._migrate()
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open store {path}: {exc}") from exc

    def _migrate(self) -> None:
        self.db.execute("PRAGMA journal_mode=WAL")
        with self.write():
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(
                    f"store {self.path} has schema version {version}, newer than this podium "
                    f"({len(MIGRATIONS)}); upgrade podium"
                )
            for script in MIGRATIONS[version:]:
                for stmt in script.split(";"):
                    if stmt.strip():
                        self.db.execute(stmt)
            self.db.execute(f"PRAGMA user_version={len(MIGRATIONS)}")

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction: all of it lands, or none of it."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"store is locked: {exc}") from exc
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        else:
            self.db.execute("COMMIT")

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.db.execute(sql, args).fetchall()

    # ---- containers -------------------------------------------------------------
    @staticmethod
    def _container(row: sqlite3.Row) -> dict[str, Any]:
        return {
            "id": row["id"], "name": row["name"], "image_id": row["image_id"],
            "pod_id": row["pod_id"], "created": row["created"],
            "config": json.loads(row["config"]), "state": json.loads(row["state"]),
        }

    def containers(self) -> list[dict[str, Any]]:
        return [self._container(r) for r in self.query("SELECT * FROM containers ORDER BY created")]

    def container(self, cid: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM containers WHERE id=?", (cid,))
        return self._container(rows[0]) if rows else None

    def find_containers(self, ref: str) -> list[dict[str, Any]]:
        """Exact name, exact id, then unique id prefix (as Podman resolves them)."""
        rows = self.query("SELECT * FROM containers WHERE name=? OR id=?", (ref, ref))
        if not rows and ref and all(c in "0123456789abcdef" for c in ref):
            rows = self.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
        return [self._container(r) for r in rows]

    def insert_container(self, c: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO containers(id, name, image_id, pod_id, created, config, state)"
            " VALUES (?,?,?,?,?,?,?)",
            (c["id"], c["name"], c["image_id"], c.get("pod_id"), c["created"],
             json.dumps(c["config"]), json.dumps(c["state"])),
        )

    def set_container_state(self, cid: str, state: dict[str, Any]) -> None:
        self.db.execute("UPDATE containers SET state=? WHERE id=?", (json.dumps(state), cid))

    def rename_container(self, cid: str, name: str) -> None:
        self.db.execute("UPDATE containers SET name=? WHERE id=?", (name, cid))

    def delete_container(self, cid: str) -> None:
        self.db.execute("DELETE FROM containers WHERE id=?", (cid,))

    # ---- images -----------------------------------------------------------------
    @staticmethod
    def _image(row: sqlite3.Row, names: list[str]) -> dict[str, Any]:
        return {
            "id": row["id"], "digest": row["digest"], "created": row["created"],
            "size": row["size"], "manifest": json.loads(row["manifest"]),
            "config": json.loads(row["config"]), "names": names,
        }

    def image_names(self, image_id: str) -> list[str]:
        return [r[0] for r in self.query(
            "SELECT name FROM image_names WHERE image_id=? ORDER BY name", (image_id,))]

    def images(self) -> list[dict[str, Any]]:
        names: dict[str, list[str]] = {}
        for r in self.query("SELECT name, image_id FROM image_names ORDER BY name"):
            names.setdefault(r[1], []).append(r[0])
        return [self._image(r, names.get(r["id"], []))
                for r in self.query("SELECT * FROM images ORDER BY created DESC")]

    def image(self, image_id: str) -> dict[str, Any] | None:
        rows = self.query("SELECT * FROM images WHERE id=?", (image_id,))
        return self._image(rows[0], self.image_names(image_id)) if rows else None

    def image_id_by_name(self, name: str) -> str | None:
        rows = self.query("SELECT image_id FROM image_names WHERE name=?", (name,))
        return rows[0][0] if rows else None

    def image_ids_by_prefix(self, prefix: str) -> list[str]:
        return [r[0] for r in self.query("SELECT id FROM images WHERE id LIKE ?", (prefix + "%",))]

    def insert_image(self, img: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO images(id, digest, created, size, manifest, config)"
            " VALUES (?,?,?,?,?,?)",
            (img["id"], img["digest"], img["created"], img["size"],
             json.dumps(img["manifest"]), json.dumps(img["config"])),
        )

    def tag_image(self, name: str, image_id: str) -> str | None:
        """Point ``name`` at ``image_id``; returns the image the name left, if any."""
        old = self.image_id_by_name(name)
        self.db.execute("INSERT OR REPLACE INTO image_names(name, image_id) VALUES (?,?)",
                        (name, image_id))
        return old if old != image_id else None

    def untag_image(self, name: str) -> None:
        self.db.execute("DELETE FROM image_names WHERE name=?", (name,))

    def delete_image(self, image_id: str) -> None:
        self.db.execute("DELETE FROM image_names WHERE image_id=?", (image_id,))
        self.db.execute("DELETE FROM images WHERE id=?", (image_id,))

    def containers_using_image(self, image_id: str) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM containers WHERE image_id=?", (image_id,))]

    # ---- layers -----------------------------------------------------------------
    def has_layer(self, diff_id: str) -> bool:
        return bool(self.query("SELECT 1 FROM layers WHERE diff_id=?", (diff_id,)))

    def insert_layer(self, diff_id: str, size: int, created: str) -> None:
        self.db.execute("INSERT OR IGNORE INTO layers(diff_id, size, created) VALUES (?,?,?)",
                        (diff_id, size, created))

    def all_layer_ids(self) -> list[str]:
        return [r[0] for r in self.query("SELECT diff_id FROM layers")]

    def delete_layer(self, diff_id: str) -> None:
        self.db.execute("DELETE FROM layers WHERE diff_id=?", (diff_id,))
