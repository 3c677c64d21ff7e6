"""Helpers shared by the test layers (no fixtures here; see conftest.py)."""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_FIXTURES = Path(os.environ.get("ORDERCHATZ_SHARED_FIXTURES", REPO.parent / "shared" / "fixtures"))


def shared_fixture(relpath: str) -> Path:
    """Path of a file in ../shared/fixtures; skips the test, naming the file, when absent."""
    path = SHARED_FIXTURES / relpath
    if not path.exists():
        pytest.skip(f"shared fixture missing: {path}")
    return path


def load_shared_json(relpath: str):
    return json.loads(shared_fixture(relpath).read_text(encoding="utf-8"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
