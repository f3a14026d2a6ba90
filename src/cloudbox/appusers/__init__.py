"""A project's own end users, their sign-up and sign-in, and the project's auth settings."""
