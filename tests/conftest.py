import os
import socket
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # tests never reach for the Hub

# The original raw files (never copied into the repository); CI has ../shared beside the clone.
RAW_DIR = Path(os.environ.get("ENCODER_FT_RAW_DIR", REPO.parent / "shared" / "datasets")).resolve()


@pytest.fixture(scope="session")
def raw_dir() -> Path:
    if not (RAW_DIR / "rotten_tomatoes").is_dir():
        pytest.fail(f"raw datasets not found at {RAW_DIR}; set ENCODER_FT_RAW_DIR")
    return RAW_DIR


@pytest.fixture
def no_network(monkeypatch) -> list[str]:
    """Cut this process off the network: every connect, connect_ex, create_connection and host
    lookup is refused (as on a machine without a network) and recorded; AF_UNIX sockets still
    work. Yields the recorded attempts: assert it stays empty, so that a library which swallows the
    refusal and falls back still fails the test."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(what: str, error=ConnectionRefusedError):
        attempts.append(what)
        raise error(f"network access in an offline test: {what}")

    def connect(sock, address):
        if sock.family == socket.AF_UNIX:
            return real_connect(sock, address)
        refuse(f"connect {address!r}")

    def connect_ex(sock, address):
        if sock.family == socket.AF_UNIX:
            return real_connect_ex(sock, address)
        refuse(f"connect_ex {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "create_connection",
                        lambda address, *a, **k: refuse(f"create_connection {address!r}"))
    monkeypatch.setattr(socket, "getaddrinfo",
                        lambda host, *a, **k: refuse(f"getaddrinfo {host!r}", socket.gaierror))
    return attempts
