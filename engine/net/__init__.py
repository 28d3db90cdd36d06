"""Networking: network modes, /etc/hosts and resolv.conf (bridges come later)."""
