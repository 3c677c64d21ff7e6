"""The one error type use cases raise for bad input or missing things; HTTP maps it to JSON."""
from __future__ import annotations


class DomainError(ValueError):
    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
