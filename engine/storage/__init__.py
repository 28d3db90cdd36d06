"""Layers, root filesystems and image archives on disk."""
