"""Platform users: registration, sign-in, bearer sessions."""
