"""Project API keys: scoped credentials that act on one project only."""
