from __future__ import annotations

from cloudbox.errors import AppError, Conflict, Unauthorized


class InvalidCredentials(Unauthorized):
    code = "INVALID_CREDENTIALS"
    message = "Invalid email or password"


class InvalidToken(Unauthorized):
    code = "INVALID_TOKEN"
    message = "The token is invalid, expired or revoked"


class EmailTaken(Conflict):
    code = "EMAIL_TAKEN"
    message = "An account with this email already exists"


class AccountLocked(AppError):
    code = "TOO_MANY_ATTEMPTS"
    status = 429
    message = "Too many failed sign-in attempts; try again later"
