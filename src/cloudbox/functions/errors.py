"""Errors of functions and function domains; codes are part of the API contract."""

from __future__ import annotations

from cloudbox.errors import Conflict, InvalidInput, NotFound


class FunctionNotFound(NotFound):
    code = "FUNCTION_NOT_FOUND"
    message = "Function not found"


class FunctionExists(Conflict):
    code = "FUNCTION_EXISTS"
    message = "A function with this name already exists in the project"


class FunctionInUse(Conflict):
    code = "FUNCTION_IN_USE"
    message = "The function still has domains; delete or move them first"


class FunctionDomainNotFound(NotFound):
    code = "FUNCTION_DOMAIN_NOT_FOUND"
    message = "Function domain not found"


class DomainTaken(Conflict):
    # Deliberately says nothing about who holds the domain: it may be another tenant.
    code = "DOMAIN_TAKEN"
    message = "This domain is already in use on this server"


class InvalidReference(InvalidInput):
    code = "INVALID_REFERENCE"
    message = "The request refers to something that does not exist in this project"
