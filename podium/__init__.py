"""podium: a daemonless, declarative container tool."""

__version__ = "0.1.0"
