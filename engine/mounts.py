"""``--mount type=bind|volume|tmpfs,...``: Docker's long mount syntax into podium's mount dicts.

The result has the same shape ``-v`` and ``--tmpfs`` produce, so the container
layer handles all three alike.
"""

from __future__ import annotations

from .errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_TRUE = ("", "true", "1", "yes")


def parse_mount(value: str) -> dict[str, Any]:
    fields: dict[str, str] = {}
    for part in value.split(","):
        if not part:
            continue
        key, sep, val = part.partition("=")
        fields[key.strip().lower()] = val.strip() if sep else ""
    mtype = fields.pop("type", "volume")
    src = fields.pop("source", fields.pop("src", ""))
    dst = fields.pop("destination", fields.pop("dst", fields.pop("target", "")))
    if not dst.startswith("/"):
        raise ConfigError(f"invalid mount {value!r}: destination must be an absolute path")
    ro = False
    for key in ("readonly", "ro"):
        if key in fields:
            ro = fields.pop(key).lower() in _TRUE
    if "rw" in fields:
        ro = not (fields.pop("rw").lower() in _TRUE)
    if mtype == "bind":
        if not src:
            raise ConfigError(f"invalid mount {value!r}: a bind mount needs source=")
        opts = ["rbind"]
        prop = fields.pop("bind-propagation", "")
        if prop:
            if prop not in ("private", "rprivate", "shared", "rshared", "slave", "rslave"):
                raise ConfigError(f"invalid mount {value!r}: bad bind-propagation {prop!r}")
            opts.append(prop)
        fields.pop("relabel", None)
        create = fields.pop("bind-create-host-path", None)
        _no_extra(value, fields)
        return {"type": "bind", "source": src, "destination": dst, "rw": not ro,
                "options": opts + (["ro"] if ro else []),
                "create_host_path": create is not None and create.lower() in _TRUE}
    if mtype == "volume":
        fields.pop("volume-nocopy", None)
        _no_extra(value, fields)
        return {"type": "volume", "volume": src or None, "anonymous": not src, "destination": dst,
                "rw": not ro}
    if mtype == "tmpfs":
        opts = ["rw", "noexec", "nosuid", "nodev"]
        if "tmpfs-size" in fields:
            opts.append(f"size={fields.pop('tmpfs-size')}")
        if "tmpfs-mode" in fields:
            opts.append(f"mode={fields.pop('tmpfs-mode')}")
        _no_extra(value, fields)
        if ro:
            opts[0] = "ro"
        return {"type": "tmpfs", "source": "tmpfs", "destination": dst, "options": opts, "rw": not ro}
    raise ConfigError(f"invalid mount {value!r}: type must be bind, volume or tmpfs")


def _no_extra(value: str, fields: dict[str, str]) -> None:
    if fields:
        raise ConfigError(f"invalid mount {value!r}: unknown option {sorted(fields)[0]!r}")
