from __future__ import annotations

from cloudbox.errors import NotFound


class ApiKeyNotFound(NotFound):
    code = "API_KEY_NOT_FOUND"
    message = "API key not found"
