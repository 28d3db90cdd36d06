"""podium's REST API: the Docker Engine API and Podman-style native endpoints over one socket.

``podium system service`` serves it (``server.py``). Requests are routed by
``routes.py`` to thin handlers (``docker/*`` for Docker's paths, ``libpod.py``
for ``/v*/libpod/...``) that call the same engine and declare functions as the
CLI, and turn their results into Docker's or Podman's JSON (``shapes.py``).
Nothing here is imported by the CLI's hot path.
"""
