"""podium's embedded engine (import name ``podium.engine``)."""
