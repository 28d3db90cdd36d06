r"""The one container state machine, and the one place it maps to Docker/Podman words.

    created --start--> running --exit/stop--> exited --start--> running
       |                  |  \--pause--> paused --unpause--> running
       +------rm----------+--(rm -f)--> removed

Every operation states which states it accepts (``require``) and raises
``InvalidState`` otherwise.
"""

from __future__ import annotations

from ..errors import InvalidState

CREATED = "created"
RUNNING = "running"
PAUSED = "paused"
STOPPING = "stopping"
EXITED = "exited"

ALL = (CREATED, RUNNING, PAUSED, STOPPING, EXITED)
ACTIVE = (RUNNING, PAUSED, STOPPING)


def require(name: str, status: str, allowed: tuple[str, ...], action: str) -> None:
    if status not in allowed:
        raise InvalidState(f"container {name} is {status}: cannot {action} a container in state {status}")


def docker_status(status: str) -> str:
    """Docker's State.Status vocabulary (created, running, paused, restarting, removing, exited, dead)."""
    return RUNNING if status == STOPPING else status
