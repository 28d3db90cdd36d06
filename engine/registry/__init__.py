"""Images from and to registries: the OCI distribution protocol, natively, on httpx."""
