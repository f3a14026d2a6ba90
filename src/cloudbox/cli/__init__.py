"""The `cloudbox` command: server, worker and administration commands."""
