"""Project backups: background creation of streaming archives, download, import, verify."""
