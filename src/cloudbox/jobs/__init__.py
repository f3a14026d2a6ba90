"""Background jobs: the Huey queue, per-project job locks, durable progress and recovery.

Huey only dispatches; the job rows (backups, restores) hold the truth (DESIGN §5, §2.8).
"""
