"""K3 Cloud signatures, as the reference records the SDKs compute them.

Two mechanisms (`kingdee-yonyou-mes.md` §1.2, trap §7.3):
- `LoginBySign`'s `sign`: lowercase hex SHA-256 of the ordinal-sorted
  concatenation of acctID, username, appId, appSecret and the unix seconds.
- The SDK 8.x signed headers, sent on every call instead of a login. Two
  details are easy to get wrong and are kept exact here: each HMAC is base64
  of the *hex string* of the digest (not of its raw bytes), and the gateway
  key (clientSec) is the appId suffix base64-decoded, XOR-ed with a fixed
  ASCII key and base64-encoded again. Timestamps are unix seconds, as the
  Python SDK sends them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from urllib.parse import quote

__all__ = ["client_secret", "kd_hmac", "login_sign", "signed_headers"]

_GATEWAY_XOR_KEY = b"0054f397c6234378b09ca7d3e5debce7"


def kd_hmac(key: str, message: str) -> str:
    """HMAC-SHA256 as the SDKs render it: base64 of the lowercase hex digest."""
    digest = hmac.new(key.encode(), message.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(digest.encode("ascii")).decode("ascii")


def client_secret(app_id: str) -> str:
    """The gateway HMAC key hidden in the appId's 32-character suffix.

    Raises ValueError when the appId is not `<clientId>_<32 base64 characters>`:
    without that suffix there is no key to sign with.
    """
    client_id, _, suffix = app_id.partition("_")
    if not client_id or len(suffix) != 32:
        msg = "app_id must look like '<client id>_<32 characters>' to sign headers"
        raise ValueError(msg)
    try:
        raw = base64.b64decode(suffix, validate=True)
    except binascii.Error:
        msg = "the part of app_id after '_' is not base64, so no header key derives from it"
        raise ValueError(msg) from None
    mixed = bytes(b ^ _GATEWAY_XOR_KEY[i] for i, b in enumerate(raw))
    return base64.b64encode(mixed).decode("ascii")


def login_sign(
    acct_id: str, username: str, app_id: str, app_secret: str, timestamp: str
) -> str:
    """`LoginBySign`'s sign: SHA-256 hex of the ordinal-sorted concatenation."""
    parts = sorted([acct_id, username, app_id, app_secret, timestamp])
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def signed_headers(
    *,
    path: str,
    acct_id: str,
    username: str,
    app_id: str,
    app_secret: str,
    lcid: int,
    org: str,
    timestamp: str,
) -> dict[str, str]:
    """The headers that authenticate one POST to `path` without a login.

    `path` is the URL path after the host (`/k3cloud/Kingdee...kdsvc`); it is
    signed percent-encoded with '/' written as %2F.
    """
    app_data = f"{acct_id},{username},{lcid},{org}"
    message = (
        f"POST\n{quote(path, safe='')}\n\n"
        f"x-api-nonce:{timestamp}\nx-api-timestamp:{timestamp}\n"
    )
    return {
        "X-Api-ClientID": app_id.partition("_")[0],
        "X-Api-Auth-Version": "2.0",
        "x-api-timestamp": timestamp,
        "x-api-nonce": timestamp,
        "x-api-signheaders": "x-api-timestamp,x-api-nonce",
        "X-Api-Signature": kd_hmac(client_secret(app_id), message),
        "X-Kd-Appkey": app_id,
        "X-Kd-Appdata": base64.b64encode(app_data.encode("utf-8")).decode("ascii"),
        "X-Kd-Signature": kd_hmac(app_secret, app_id + app_data),
    }
