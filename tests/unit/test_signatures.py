"""HMAC request signatures: each way a signature can be wrong is refused, and says which way."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from memvault.signatures import (
    SIGNATURE_HEADER,
    SignatureError,
    SignatureProblem,
    sign,
    verify,
)

SECRET = "a-long-shared-webhook-token"
BODY = b'{"id":"6f1c","content":"remember this","tags":["auth"]}'


def refusal(body: bytes, header: str | None, secret: str | None) -> SignatureProblem:
    with pytest.raises(SignatureError) as caught:
        verify(body, header, secret)
    return caught.value.problem


def test_sign_matches_rfc_4231_test_case_2() -> None:
    # RFC 4231 section 4.3: key "Jefe", data "what do ya want for nothing?", HMAC-SHA-256.
    expected = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    assert sign(b"what do ya want for nothing?", "Jefe") == "sha256=" + expected


def test_sign_matches_an_independently_computed_hmac() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert sign(BODY, SECRET) == f"sha256={digest}"


def test_valid_signature_is_accepted() -> None:
    verify(BODY, sign(BODY, SECRET), SECRET)
    verify(b"", sign(b"", SECRET), SECRET)


def test_header_name_is_the_documented_one() -> None:
    assert SIGNATURE_HEADER == "X-Webhook-Signature"


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header(header: str | None) -> None:
    assert refusal(BODY, header, SECRET) is SignatureProblem.MISSING


def _digest() -> str:
    return sign(BODY, SECRET).removeprefix("sha256=")


@pytest.mark.parametrize(
    "header",
    [
        pytest.param(_digest(), id="no-prefix"),
        pytest.param("sha1=" + _digest(), id="other-algorithm"),
        pytest.param("SHA256=" + _digest(), id="uppercase-prefix"),
        pytest.param("sha256=", id="prefix-only"),
        pytest.param("sha256=" + _digest()[:-1], id="63-digits"),
        pytest.param("sha256=" + _digest() + "0", id="65-digits"),
        pytest.param("sha256=" + _digest().upper(), id="uppercase-hex"),
        pytest.param("sha256=" + "g" * 64, id="non-hex"),
        pytest.param("sha256=" + _digest()[:32] + " " + _digest()[33:], id="inner-space"),
        pytest.param("sha256:" + _digest(), id="wrong-separator"),
    ],
)
def test_malformed_header(header: str) -> None:
    assert refusal(BODY, header, SECRET) is SignatureProblem.MALFORMED


def test_wrong_key() -> None:
    assert refusal(BODY, sign(BODY, "another-token"), SECRET) is SignatureProblem.MISMATCH


@pytest.mark.parametrize("position", [0, len(BODY) // 2, len(BODY) - 1])
def test_body_altered_by_one_byte(position: int) -> None:
    header = sign(BODY, SECRET)
    altered = bytearray(BODY)
    altered[position] ^= 0x01
    assert refusal(bytes(altered), header, SECRET) is SignatureProblem.MISMATCH


def test_body_with_a_byte_appended() -> None:
    assert refusal(BODY + b"\n", sign(BODY, SECRET), SECRET) is SignatureProblem.MISMATCH


@pytest.mark.parametrize("position", [0, 31, 63])
def test_header_altered_by_one_hex_digit(position: int) -> None:
    digest = _digest()
    flipped = "0" if digest[position] != "0" else "1"
    header = "sha256=" + digest[:position] + flipped + digest[position + 1 :]
    assert refusal(BODY, header, SECRET) is SignatureProblem.MISMATCH


@pytest.mark.parametrize("secret", [None, ""])
def test_not_configured_refuses_even_a_correct_signature(secret: str | None) -> None:
    assert refusal(BODY, sign(BODY, SECRET), secret) is SignatureProblem.NOT_CONFIGURED
    assert refusal(BODY, None, secret) is SignatureProblem.NOT_CONFIGURED


def test_each_problem_has_its_own_message_naming_what_to_fix() -> None:
    messages = {
        SignatureProblem.NOT_CONFIGURED: str(SignatureError(SignatureProblem.NOT_CONFIGURED)),
        SignatureProblem.MISSING: str(SignatureError(SignatureProblem.MISSING)),
        SignatureProblem.MALFORMED: str(SignatureError(SignatureProblem.MALFORMED)),
        SignatureProblem.MISMATCH: str(SignatureError(SignatureProblem.MISMATCH)),
    }
    assert len(set(messages.values())) == len(SignatureProblem)
    assert "MEMORY_WEBHOOK_TOKEN" in messages[SignatureProblem.NOT_CONFIGURED]
    assert SIGNATURE_HEADER in messages[SignatureProblem.MISSING]
    assert "sha256=" in messages[SignatureProblem.MALFORMED]
    assert "64 lowercase hex" in messages[SignatureProblem.MALFORMED]
    assert "raw bytes" in messages[SignatureProblem.MISMATCH]
