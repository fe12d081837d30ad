"""A small bounded HTTP/1.1 load generator for the data-plane benchmark, and the gateway's CPU counters.

Threads with blocking sockets (OpenSSL releases the GIL during handshakes and I/O). Each worker either keeps
one connection for all its requests ("kept-alive", what a sidecar's pool does) or opens a new TCP+TLS
connection per request and closes it ("new per request", what an app that reconnects does when nothing
pools for it). The load stops after ``duration`` seconds or ``max_requests`` requests, whichever is first;
every socket has a timeout, so a broken proxy fails the run instead of hanging it. Loopback only.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

_CLK_TCK = os.sysconf("SC_CLK_TCK")
SOCKET_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Target:
    port: int
    host: str
    """Host header and SNI."""
    tls: ssl.SSLContext | None


@dataclass
class Load:
    latencies_s: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0


def client_context(ca: Path, *, cert: Path | None = None, key: Path | None = None,
                   check_hostname: bool = True) -> ssl.SSLContext:
    """A client TLS context trusting ``ca`` only; a client certificate when given."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca))
    # Mesh certificates carry a SPIFFE URI, not a DNS name: a sidecar checks the URI, Python cannot.
    ctx.check_hostname = check_hostname
    if cert is not None and key is not None:
        ctx.load_cert_chain(str(cert), str(key))
    return ctx


def _connect(target: Target) -> socket.socket:
    raw = socket.create_connection(("127.0.0.1", target.port), timeout=SOCKET_TIMEOUT_S)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if target.tls is None:
        return raw
    try:
        return target.tls.wrap_socket(raw, server_hostname=target.host)
    except BaseException:
        raw.close()
        raise


def _request(sock: socket.socket, reader: _Reader, request: bytes) -> None:
    sock.sendall(request)
    status = reader.line()
    if not status.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected status line {status[:80]!r}")
    length = -1
    while True:
        header = reader.line()
        if header in (b"\r\n", b""):
            break
        name, _, value = header.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    if length < 0:
        raise RuntimeError("response without content-length")
    reader.exactly(length)


class _Reader:
    """Line and fixed-length reads over a socket, with one buffer (makefile is slower on SSL sockets)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed mid-response")
        self.buf += chunk

    def line(self) -> bytes:
        while (end := self.buf.find(b"\n")) < 0:
            self._fill()
        out, self.buf = self.buf[: end + 1], self.buf[end + 1 :]
        return out

    def exactly(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def run(target: Target, *, keepalive: bool, concurrency: int, duration_s: float, max_requests: int,
        rate: float | None = None) -> Load:
    """Drive ``target`` with ``concurrency`` workers until the duration or the request budget runs out.

    With ``rate`` (requests per second, all workers together), request i starts no earlier than
    i / rate seconds into the run, so every configuration gets the same offered load: CPU per request
    then does not depend on how fast the slowest party (often this Python client) is. Without it, the
    workers go as fast as they can (closed loop).
    """
    request = f"GET / HTTP/1.1\r\nHost: {target.host}\r\nUser-Agent: dataplane-bench\r\n\r\n".encode()
    load = Load()
    lock = threading.Lock()
    issued = [0]
    start = time.perf_counter()
    stop_at = start + duration_s

    def take() -> bool:
        with lock:
            if issued[0] >= max_requests or time.perf_counter() >= stop_at:
                return False
            issued[0] += 1
            due = start + (issued[0] - 1) / rate if rate else 0.0
        if due > stop_at:
            return False
        wait = due - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        return True

    def worker() -> None:
        sock: socket.socket | None = None
        reader: _Reader | None = None
        mine: list[float] = []
        errors: list[str] = []
        try:
            while take():
                t0 = time.perf_counter()
                try:
                    if sock is None:
                        sock = _connect(target)
                        reader = _Reader(sock)
                    assert reader is not None
                    _request(sock, reader, request)
                    if not keepalive:
                        sock.close()
                        sock = None
                    mine.append(time.perf_counter() - t0)
                except (OSError, RuntimeError, ssl.SSLError) as err:
                    errors.append(f"{type(err).__name__}: {err}")
                    if sock is not None:
                        sock.close()
                    sock = None
        finally:
            if sock is not None:
                sock.close()
            with lock:
                load.latencies_s.extend(mine)
                load.errors.extend(errors)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        # Bounded even if a socket misbehaves: every blocking call has SOCKET_TIMEOUT_S.
        thread.join(duration_s + 3 * SOCKET_TIMEOUT_S)
    load.elapsed_s = time.perf_counter() - start
    if any(thread.is_alive() for thread in threads):
        load.errors.append("a load worker did not stop in time")
    return load


@dataclass(frozen=True)
class CpuSample:
    ticks_s: float
    """utime + stime of /proc/<pid>/stat, in seconds (resolution 1/CLK_TCK)."""
    runtime_s: float | None
    """The same run time at nanosecond resolution, summed over /proc/<pid>/task/*/sched, when exposed."""

    @property
    def best_s(self) -> float:
        return self.runtime_s if self.runtime_s is not None else self.ticks_s


def cpu(pid: int) -> CpuSample:
    """The process's CPU time so far (all threads, exited ones included for the stat figure)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    ticks = (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime: fields 14 and 15 of proc(5)
    runtime = 0.0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            for line in (task / "sched").read_text().splitlines():
                if line.startswith("se.sum_exec_runtime"):
                    runtime += float(line.split(":", 1)[1]) / 1000.0  # milliseconds
                    break
            else:
                return CpuSample(ticks, None)
    except OSError:
        return CpuSample(ticks, None)
    return CpuSample(ticks, runtime)
