"""Restores: atomic, all-or-nothing replacement of a project's contents from a backup."""
