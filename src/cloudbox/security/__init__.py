"""Passwords, tokens and secret encryption. Imports nothing of the domains."""
