"""HMAC-SHA256 request signatures: `X-Webhook-Signature: sha256=<hex digest of the raw body>`."""

from __future__ import annotations

import hashlib
import hmac
import re
from enum import StrEnum

from memvault.errors import MemvaultError

SIGNATURE_HEADER = "X-Webhook-Signature"
_PREFIX = "sha256="
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class SignatureProblem(StrEnum):
    """Why a signature was refused; each has its own message for the caller."""

    NOT_CONFIGURED = "not_configured"
    MISSING = "missing"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


_MESSAGES = {
    SignatureProblem.NOT_CONFIGURED: (
        "signed requests are refused: MEMORY_WEBHOOK_TOKEN is not set on this server"
    ),
    SignatureProblem.MISSING: f"the {SIGNATURE_HEADER} header is missing",
    SignatureProblem.MALFORMED: (
        f"the {SIGNATURE_HEADER} header must be 'sha256=' followed by 64 lowercase hex digits"
    ),
    SignatureProblem.MISMATCH: (
        "the signature does not match the body: sign the exact raw bytes with MEMORY_WEBHOOK_TOKEN"
    ),
}


class SignatureError(MemvaultError):
    """A request's signature was refused; `problem` says which way."""

    def __init__(self, problem: SignatureProblem) -> None:
        self.problem = problem
        super().__init__(_MESSAGES[problem])


def sign(body: bytes, secret: str) -> str:
    """The header value for `body`: `sha256=<hex>`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return _PREFIX + digest


def verify(body: bytes, header: str | None, secret: str | None) -> None:
    """Accept `header` as the signature of `body`, or raise SignatureError saying why not.

    The digest comparison is constant-time (hmac.compare_digest).
    """
    if not secret:
        raise SignatureError(SignatureProblem.NOT_CONFIGURED)
    if header is None or not header.strip():
        raise SignatureError(SignatureProblem.MISSING)
    value = header.strip()
    if not value.startswith(_PREFIX) or not _HEX_DIGEST.match(value[len(_PREFIX) :]):
        raise SignatureError(SignatureProblem.MALFORMED)
    if not hmac.compare_digest(value.encode("ascii"), sign(body, secret).encode("ascii")):
        raise SignatureError(SignatureProblem.MISMATCH)
