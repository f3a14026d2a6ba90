"""Backup policies: schedules, retention, storage usage, failure notifications and
restore drills for automatic backups (docs/automatic-backups.md)."""
