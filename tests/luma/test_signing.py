"""`luma.signing`: the scheme of `luma-api.md`, checked against an HMAC computed here."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from luma.signing import TOLERANCE_SECONDS, BadSignature, sign, verify

SECRET = "whsec_abc123"
BODY = b'{"type":"guest.updated","data":{"id":"gst-1"}}'
T = 1_780_000_000


def test_the_signature_is_hex_hmac_of_t_dot_body_keyed_with_the_secret_as_is() -> None:
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, T, BODY) == f"t={T},v1={expected}"
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T + TOLERANCE_SECONDS) == T
    assert verify(SECRET, sign(SECRET, T, BODY), BODY, now=T - TOLERANCE_SECONDS) == T


def test_several_v1_values_and_upper_case_hex() -> None:
    good = sign(SECRET, T, BODY).split("v1=")[1]
    header = f"t={T}, v1={'0' * 64}, v1={good.upper()}"
    assert verify(SECRET, header, BODY, now=T) == T


@pytest.mark.parametrize(
    ("header", "now", "why"),
    [
        (sign(SECRET, T, BODY), T + TOLERANCE_SECONDS + 1, "too old"),
        (sign(SECRET, T, BODY), T - TOLERANCE_SECONDS - 1, "too old"),
        (sign("whsec_other", T, BODY), T, "does not match"),
        (sign(SECRET, T + 1, BODY).replace(f"t={T + 1}", f"t={T}"), T, "does not match"),
        (f"v1={'a' * 64}", T, "not t="),
        (f"t={T}", T, "not t="),
        (f"t=-5,v1={'a' * 64}", T, "not t="),
        ("t=1," + "v1=a," * 300, T, "too long"),
    ],
)
def test_refusals(header: str, now: float, why: str) -> None:
    with pytest.raises(BadSignature, match=why):
        verify(SECRET, header, BODY, now=now)
