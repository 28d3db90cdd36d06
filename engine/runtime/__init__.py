"""The OCI runtime side: config.json generation, runc/crun and conmon driving."""
