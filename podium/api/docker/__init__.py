"""Docker Engine API handlers (``/containers``, ``/images``, ``/networks``, ``/volumes``, ``/exec``,
system endpoints), each a thin layer over podium's engine."""
