"""The one exception tree of podium, with an exit code and an HTTP status per class.

Every failure that a user can cause or meet surfaces as a ``PodiumError``; the
front doors translate it once (CLI: one line on stderr and ``exit_code``; REST:
``http_status`` and ``{"message": ...}``). Third-party and OS errors are
translated where they are caught, never leaked.

    PodiumError (125, 500)
    ├── NotFound (125, 404)
    │   └── ImageNotFound
    ├── AlreadyExists (125, 409)
    ├── InvalidState (125, 409)  (e.g. start of a running container: 304 in Docker's API)
    ├── InUse (125, 409)
    ├── ConfigError (125, 400)   (bad input: flags, files, values; carries file/line/field)
    ├── ArchiveError (125, 400)  (hostile or broken image archives)
    ├── StoreError (125, 500)    (the SQLite store)
    └── RuntimeFailure (125, 500) (runc / crun / conmon failed)
        ├── CannotInvoke (126)
        └── CommandNotFound (127)
"""

from __future__ import annotations


class PodiumError(Exception):
    """Root of every error podium reports to a user."""

    exit_code: int = 125
    http_status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(PodiumError):
    http_status = 404


class ImageNotFound(NotFound):
    pass


class AlreadyExists(PodiumError):
    http_status = 409


class InvalidState(PodiumError):
    http_status = 409


class InUse(PodiumError):
    http_status = 409


class ConfigError(PodiumError):
    """Bad input. ``where`` is ``file:line:column`` and ``field`` the dotted path, when known."""

    http_status = 400

    def __init__(self, message: str, *, where: str | None = None, field: str | None = None) -> None:
        self.where = where
        self.field = field
        prefix = ""
        if where:
            prefix += f"{where}: "
        if field:
            prefix += f"{field}: "
        super().__init__(prefix + message)


class ArchiveError(PodiumError):
    http_status = 400


class StoreError(PodiumError):
    pass


class RuntimeFailure(PodiumError):
    pass


class CannotInvoke(RuntimeFailure):
    exit_code = 126


class CommandNotFound(RuntimeFailure):
    exit_code = 127
