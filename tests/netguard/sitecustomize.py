"""A network guard for test subprocesses. Python imports `sitecustomize` at start-up from the first
folder on its path that has one, so every process started with this folder first on PYTHONPATH
(the end-to-end test's `dvc repro` and each stage it runs) refuses the network and appends each
attempt to the file named by $NETGUARD_LOG. tests/conftest.py's `no_network` uses `block` in-process."""
import os
import socket


def block(record, patch=setattr) -> None:
    """Refuse every connect, connect_ex, create_connection and host lookup (AF_UNIX sockets still
    work), calling record(what) first: a library that swallows the refusal still leaves a trace."""
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def refuse(what: str, error=ConnectionRefusedError):
        record(what)
        raise error(f"network access in an offline test: {what}")

    def connect(sock, address):
        if sock.family == socket.AF_UNIX:
            return real_connect(sock, address)
        refuse(f"connect {address!r}")

    def connect_ex(sock, address):
        if sock.family == socket.AF_UNIX:
            return real_connect_ex(sock, address)
        refuse(f"connect_ex {address!r}")

    patch(socket.socket, "connect", connect)
    patch(socket.socket, "connect_ex", connect_ex)
    patch(socket, "create_connection", lambda address, *a, **k: refuse(f"create_connection {address!r}"))
    patch(socket, "getaddrinfo", lambda host, *a, **k: refuse(f"getaddrinfo {host!r}", socket.gaierror))


def _append_to_log(what: str) -> None:
    with open(os.environ["NETGUARD_LOG"], "a", encoding="utf-8") as log:
        log.write(f"pid {os.getpid()}: {what}\n")


if os.environ.get("NETGUARD_LOG"):
    block(_append_to_log)
