"""The append-only audit log of every change to a project."""
