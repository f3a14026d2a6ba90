"""CloudBox: a self-hosted backend-as-a-service whose backups never lose data."""

__version__ = "0.1.0"
