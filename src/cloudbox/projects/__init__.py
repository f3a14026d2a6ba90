"""Projects, memberships and roles."""
