"""Generic webhook: JSON signed as Standard Webhooks v1 prescribes.

Headers `webhook-id` (the message id, the same on every retry so the
receiver can drop duplicates), `webhook-timestamp` (unix seconds, fresh on
every attempt) and `webhook-signature: v1,<base64 HMAC-SHA256>` over
`{id}.{timestamp}.{raw body}`, keyed with the Base64 part of the
`whsec_…` secret. Any Standard Webhooks library verifies it. 2xx is
success, 410 means the endpoint is gone, 429/502/504 ask us to slow down.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import Field, SecretStr, field_validator
from typing_extensions import override

from stockbridge.alerts.channel_base import (
    DEFAULT_THROTTLE_WAIT,
    Channel,
    ChannelOptions,
    Outcome,
    OutgoingRequest,
    RateLimit,
    Verdict,
    compact_json,
    http_verdict,
    retry_after,
    short_text,
)
from stockbridge.alerts.messages import RenderedNotice
from stockbridge.config.errors import config_problem

__all__ = ["WebhookChannel", "WebhookOptions", "standard_webhook_signature"]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_KEY_BYTES = 24


class WebhookOptions(ChannelOptions):
    secret: SecretStr
    max_per_minute: int = Field(default=60, gt=0)
    """The receiver's rate limit, if it has one."""

    @field_validator("secret")
    @classmethod
    def _standard_secret(cls, value: SecretStr) -> SecretStr:
        try:
            _signing_key(value.get_secret_value())
        except ValueError:
            raise config_problem(
                f"a Standard Webhooks secret: {SECRET_PREFIX} then the Base64 of "
                f"at least {MIN_KEY_BYTES} random bytes",
                "a value that is not shown (it is a secret)",
                'Generate one with: python -c "import base64, os; '
                "print('whsec_' + base64.b64encode(os.urandom(32)).decode())\"",
            ) from None
        return value


def _signing_key(secret: str) -> bytes:
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except binascii.Error as error:
        raise ValueError(str(error)) from None
    if len(key) < MIN_KEY_BYTES:
        msg = "signing key too short"
        raise ValueError(msg)
    return key


def standard_webhook_signature(
    secret: str, message_id: str, timestamp: int, body: bytes
) -> str:
    """The `webhook-signature` value: `v1,` and the Base64 HMAC-SHA256."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(_signing_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


class WebhookChannel(Channel):
    kind = "webhook"
    options_model = WebhookOptions
    options: WebhookOptions

    @property
    @override
    def rate_limits(self) -> tuple[RateLimit, ...]:
        return (RateLimit(self.options.max_per_minute, timedelta(minutes=1)),)

    @override
    def build(
        self, notice: RenderedNotice, *, message_id: str, now: datetime
    ) -> OutgoingRequest:
        payload = {
            "type": "stockbridge.alerts",
            "timestamp": now.isoformat().replace("+00:00", "Z"),
            "data": {
                "message_id": message_id,
                "lang": notice.lang,
                "title": notice.title,
                "severity": notice.severity,
                "link": notice.link,
                "alerts": [
                    {
                        **raw.to_json(),
                        "headline": item.headline,
                        "link": item.link,
                    }
                    for raw, item in zip(notice.source.items, notice.items, strict=True)
                ],
            },
        }
        body = compact_json(payload)
        timestamp = int(now.timestamp())
        signature = standard_webhook_signature(
            self.options.secret.get_secret_value(), message_id, timestamp, body
        )
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
        }
        return OutgoingRequest(self.options.url.get_secret_value(), body, headers)

    @override
    def judge(self, status: int, headers: Mapping[str, str], body: bytes) -> Verdict:
        if 200 <= status < 300:
            return Verdict(Outcome.SENT, f"HTTP {status}")
        text = short_text(body)
        if status in {502, 504}:
            wait = retry_after(headers) or DEFAULT_THROTTLE_WAIT
            return Verdict(Outcome.THROTTLED, f"HTTP {status} {text}".strip(), wait)
        if status == 410:
            return Verdict(Outcome.FAILED, f"HTTP 410 endpoint gone {text}".strip())
        return http_verdict(status, headers, text)
