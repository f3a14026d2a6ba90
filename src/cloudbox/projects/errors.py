from __future__ import annotations

from cloudbox.errors import Conflict, NotFound


class MemberNotFound(NotFound):
    code = "MEMBER_NOT_FOUND"
    message = "Member not found"


class UserNotFound(NotFound):
    code = "USER_NOT_FOUND"
    message = "No platform user has this email"


class AlreadyMember(Conflict):
    code = "ALREADY_MEMBER"
    message = "This user is already a member of the project"


class LastOwner(Conflict):
    code = "LAST_OWNER"
    message = "A project must keep at least one owner"
