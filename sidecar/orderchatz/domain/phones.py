"""Taiwanese phone numbers in any format → one canonical national form.

`0912-345-678`, `0912 345 678`, `+886 912 345 678`, `886-912-345-678` → `0912345678`;
`(02) 2345-6789`, `+886-2-2345-6789` → `0223456789`.
"""
from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"\D+")


def normalize_phone(raw) -> str | None:
    """Canonical national digits, or None when the text cannot be a phone number."""
    if raw is None:
        return None
    digits = _NON_DIGITS.sub("", str(raw))
    if digits.startswith("00886"):
        digits = digits[5:]
    elif digits.startswith("886") and len(digits) >= 11:
        digits = digits[3:]
    if digits and not digits.startswith("0") and len(digits) in (8, 9):
        digits = "0" + digits  # the +886 form drops the trunk 0
    if not 9 <= len(digits) <= 10 or not digits.startswith("0"):
        return None
    return digits
