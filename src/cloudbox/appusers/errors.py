"""Errors of a project's end users and their sign-up and sign-in.

Sign-in failures reuse the platform's `INVALID_CREDENTIALS`, `INVALID_TOKEN` and
`TOO_MANY_ATTEMPTS` so clients handle one vocabulary, and so a missing project, an
unknown email and a wrong password all produce the very same answer.
"""

from __future__ import annotations

from cloudbox.auth.errors import AccountLocked, InvalidCredentials, InvalidToken
from cloudbox.errors import AppError, Conflict, InvalidInput, NotFound

__all__ = [
    "AccountLocked",
    "AppUserExists",
    "AppUserNotFound",
    "EmailDomainNotAllowed",
    "EmailNotVerified",
    "InvalidCredentials",
    "InvalidToken",
    "PasswordTooShort",
    "SignupDisabled",
]


class AppUserNotFound(NotFound):
    code = "APP_USER_NOT_FOUND"
    message = "App user not found"


class AppUserExists(Conflict):
    code = "APP_USER_EXISTS"
    message = "A user with this email or username already exists in this project"


class SignupDisabled(AppError):
    """Also the answer for a project that does not exist, so sign-up reveals nothing
    about which project ids are real."""

    code = "SIGNUP_DISABLED"
    status = 403
    message = "Sign-up is not open for this project"


class EmailDomainNotAllowed(InvalidInput):
    code = "EMAIL_DOMAIN_NOT_ALLOWED"
    message = "This project does not accept sign-ups from this email domain"


class PasswordTooShort(InvalidInput):
    message = "The password is shorter than this project allows"


class EmailNotVerified(AppError):
    code = "EMAIL_NOT_VERIFIED"
    status = 403
    message = "The email address of this account has not been verified"
