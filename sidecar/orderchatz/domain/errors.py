"""The one error type use cases raise for bad input or missing things; HTTP maps it to JSON."""
from __future__ import annotations


class DomainError(ValueError):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def positive_id(value, code: str, name: str, *, strip: str = "") -> int:
    """An id from a JSON body: a positive integer below 2^63, as a number or as ASCII digits
    (`str.isdigit` alone lets "²" through, which `int()` then refuses)."""
    text = str(value).lstrip(strip) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise DomainError(code, f"{name} must be a positive integer")
    return int(text)
