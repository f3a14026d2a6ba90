"""Error codes of backup policies. Every one is stable and documented in
docs/automatic-backups.md."""

from __future__ import annotations

from cloudbox.errors import Conflict, InvalidInput, NotFound


class PolicyNotFound(NotFound):
    code = "POLICY_NOT_FOUND"
    message = "Backup policy not found"


class InvalidSchedule(InvalidInput):
    code = "INVALID_SCHEDULE"
    message = "The schedule is not a valid 5-field cron expression"


class InvalidTimezone(InvalidInput):
    code = "INVALID_TIMEZONE"
    message = "The time zone is not a known IANA time zone name"


class WebhookTargetForbidden(InvalidInput):
    code = "WEBHOOK_TARGET_FORBIDDEN"
    message = (
        "The webhook URL points at a loopback, private, link-local or otherwise non-public "
        "address; add the host to CLOUDBOX_WEBHOOK_ALLOWED_HOSTS to allow it"
    )


class InvalidWebhookUrl(InvalidInput):
    code = "INVALID_WEBHOOK_URL"
    message = "The webhook URL must be an http or https URL with a host name that resolves"


class PolicyLimitReached(Conflict):
    code = "POLICY_LIMIT_REACHED"
    message = "The project already has the maximum number of backup policies"
