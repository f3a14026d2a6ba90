"""Failure notifications: signed JSON events POSTed to a policy's webhook, with retries,
and the address checks that keep a webhook from reaching inside the network (SSRF).

A target is checked when the policy is saved and again at every attempt, on the
addresses the request then really connects to (the connection goes to the checked IP,
with the original Host header and TLS server name), so a DNS answer that changes
between check and use cannot point a delivery at a private address. Redirects are not
followed.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import SplitResult, urlsplit

import httpx
from sqlalchemy.orm import Session

from cloudbox import __version__
from cloudbox.db.ids import new_id
from cloudbox.db.types import utcnow
from cloudbox.policies import repository as repo
from cloudbox.policies.errors import InvalidWebhookUrl, WebhookTargetForbidden
from cloudbox.policies.models import BackupPolicy, WebhookDelivery

if TYPE_CHECKING:
    from cloudbox.runtime import Runtime

log = logging.getLogger(__name__)

URL_PURPOSE = "backup_policies.webhook_url"
SECRET_PURPOSE = "backup_policies.webhook_secret"
SIGNATURE_HEADER = "X-CloudBox-Signature"
TIMESTAMP_HEADER = "X-CloudBox-Timestamp"
EVENT_HEADER = "X-CloudBox-Event"
DELIVERY_HEADER = "X-CloudBox-Delivery"

EVENT_BACKUP_FAILED = "backup.failed"
EVENT_VERIFY_FAILED = "backup.verify_failed"
EVENT_DRILL_FAILED = "backup.drill_failed"
EVENT_STALE = "backup.stale"

PENDING, DELIVERED, FAILED = "pending", "delivered", "failed"

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Target:
    url: SplitResult
    host: str
    port: int

    @property
    def origin(self) -> str:
        default = 443 if self.url.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = "" if self.port == default else f":{self.port}"
        return f"{self.url.scheme}://{host}{port}"


def parse_target(url: str) -> Target:
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidWebhookUrl(details={"field": "webhook_url"}) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidWebhookUrl(details={"field": "webhook_url"})
    if parts.username is not None or parts.password is not None:
        raise InvalidWebhookUrl(
            "The webhook URL must not carry a user name or password",
            details={"field": "webhook_url"},
        )
    host = parts.hostname.rstrip(".").lower()
    return Target(parts, host, port or (443 if parts.scheme == "https" else 80))


def _as_address(text: str) -> Address:
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: Address) -> bool:
    """Globally routable unicast: not loopback, private, link-local, shared (CGNAT),
    multicast, reserved, unspecified or documentation space."""
    return address.is_global and not address.is_multicast


def _allowed(target: Target, address: Address, allowed_hosts: Iterable[str]) -> bool:
    for entry in allowed_hosts:
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == target.host:
            return True
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_target(
    url: str, allowed_hosts: Iterable[str], resolver: Resolver = system_resolver
) -> tuple[Target, list[str]]:
    """The parsed target and the addresses it may be reached at; refuses any URL one of
    whose addresses is not public, unless the allow-list names the host or address."""
    target = parse_target(url)
    allowed = tuple(allowed_hosts)
    try:
        literal: Address | None = _as_address(target.host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = list(resolver(target.host, target.port))
        except (OSError, UnicodeError):
            raise InvalidWebhookUrl(
                "The webhook host name does not resolve", details={"field": "webhook_url"}
            ) from None
        if not addresses:
            raise InvalidWebhookUrl(
                "The webhook host name does not resolve", details={"field": "webhook_url"}
            )
    checked: list[str] = []
    for text in addresses:
        address = _as_address(text)
        if not is_public(address) and not _allowed(target, address, allowed):
            raise WebhookTargetForbidden(details={"field": "webhook_url", "host": target.host})
        checked.append(str(address))
    return target, checked


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + HMAC-SHA256 over `<timestamp>.<body>` with the policy's secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def encode_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, default=str).encode()


def _iso(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def queue_event(
    db: Session,
    policy: BackupPolicy,
    event: str,
    data: dict[str, Any],
    now: datetime | None = None,
) -> str | None:
    """Insert the event's delivery row (the caller commits, then `enqueue`s it); None
    when the policy has no webhook."""
    if not policy.webhook_url_encrypted:
        return None
    delivery_id = new_id()
    created = now or utcnow()
    payload = {
        "id": delivery_id,
        "type": event,
        "created_at": _iso(created),
        "project_id": policy.project_id,
        "policy": {"id": policy.id, "name": policy.name},
        "data": data,
    }
    db.add(
        WebhookDelivery(
            project_id=policy.project_id,
            id=delivery_id,
            policy_id=policy.id,
            event=event,
            payload=json.loads(json.dumps(payload, default=str)),
            status=PENDING,
            attempts=0,
            created_at=created,
        )
    )
    db.flush()
    return delivery_id


def enqueue(runtime: Runtime, project_id: int, delivery_ids: Iterable[str | None]) -> None:
    for delivery_id in delivery_ids:
        if delivery_id is None:
            continue
        try:
            runtime.enqueue("policy_webhook", project_id, delivery_id)
        except Exception:
            log.exception("could not queue webhook delivery %s", delivery_id)


Poster = Callable[..., httpx.Response]


def _post(
    target: Target,
    address: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
) -> httpx.Response:
    """POST to the checked address itself, naming the real host for HTTP and TLS."""
    ip_host = f"[{address}]" if ":" in address else address
    path = target.url.path or "/"
    url = f"{target.url.scheme}://{ip_host}:{target.port}{path}"
    if target.url.query:
        url += f"?{target.url.query}"
    default = 443 if target.url.scheme == "https" else 80
    host_header = target.host if ":" not in target.host else f"[{target.host}]"
    if target.port != default:
        host_header += f":{target.port}"
    extensions = {"sni_hostname": target.host} if target.url.scheme == "https" else {}
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        request = client.build_request(
            "POST",
            url,
            content=body,
            headers={**headers, "Host": host_header},
            extensions=extensions,
        )
        return client.send(request)


@dataclass(frozen=True)
class Attempt:
    delivered: bool
    retry_in: float | None  # seconds until the next attempt; None: no further attempt


def backoff(base: float, attempts: int) -> float:
    """base, 2·base, 4·base, ... capped at one hour."""
    return float(min(base * 2 ** max(attempts - 1, 0), 3600.0))


def deliver(
    runtime: Runtime,
    project_id: int,
    delivery_id: str,
    *,
    resolver: Resolver = system_resolver,
    post: Poster = _post,
) -> Attempt:
    """One attempt at one delivery; the job's own transactions. Says whether to retry."""
    settings = runtime.settings
    with runtime.db.session() as db:
        row = db.get(WebhookDelivery, (project_id, delivery_id))
        if row is None or row.status != PENDING:
            return Attempt(delivered=row is not None and row.status == DELIVERED, retry_in=None)
        policy = db.get(BackupPolicy, (project_id, row.policy_id))
        body = encode_payload(row.payload)
        event = row.event
        url = secret = None
        if policy is not None and policy.webhook_url_encrypted:
            url = runtime.secrets.decrypt_text(policy.webhook_url_encrypted, URL_PURPOSE)
            secret = (
                runtime.secrets.decrypt_text(policy.webhook_secret_encrypted or "", SECRET_PURPOSE)
                if policy.webhook_secret_encrypted
                else ""
            )
    status: int | None = None
    error: str | None = None
    if url is None or secret is None:
        error = "the policy or its webhook was removed"
        final = True
    else:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"CloudBox-Webhook/{__version__}",
            EVENT_HEADER: event,
            DELIVERY_HEADER: delivery_id,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
        }
        final = False
        try:
            target, addresses = check_target(url, settings.webhook_allowed_hosts, resolver)
            response = post(target, addresses[0], body, headers, settings.webhook_timeout_seconds)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"the receiver answered HTTP {status}"
        except (WebhookTargetForbidden, InvalidWebhookUrl) as exc:
            error = exc.message[:300]
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: could not reach the receiver"
    with runtime.db.transaction() as db:
        row = repo.get_delivery(db, project_id, delivery_id)
        if row is None or row.status != PENDING:
            return Attempt(delivered=False, retry_in=None)
        row.attempts += 1
        row.last_attempt_at = utcnow()
        row.response_status = status
        if error is None:
            row.status = DELIVERED
            row.delivered_at = row.last_attempt_at
            row.last_error = None
            return Attempt(delivered=True, retry_in=None)
        row.last_error = error
        if final or row.attempts >= settings.webhook_max_attempts:
            row.status = FAILED
            log.warning("webhook delivery %s failed for good: %s", delivery_id, error)
            return Attempt(delivered=False, retry_in=None)
        return Attempt(
            delivered=False, retry_in=backoff(settings.webhook_retry_base_seconds, row.attempts)
        )
