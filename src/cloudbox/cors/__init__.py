"""Per-project CORS settings, applied to requests that carry the project's API key."""
