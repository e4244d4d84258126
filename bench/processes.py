"""What the benchmarks share about processes: start servers in their own session, stop them (and only
them) on exit or on a signal, find a free port, log with a prefix."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

children: list[subprocess.Popen[bytes]] = []


def logger(prefix: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"[{prefix} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
    return log


def stop_children(timeout: float = 10) -> None:
    while children:
        proc = children.pop()
        if proc.poll() is not None:
            continue
        try:
            os.killpg(proc.pid, signal.SIGTERM)  # started in its own session: uvicorn and what it forked
        except ProcessLookupError:
            continue
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


def on_signal(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks and atexit


def start(cmd: list[str], env: dict[str, str], logfile: Path, cwd: Path = ROOT) -> subprocess.Popen[bytes]:
    out = logfile.open("wb")
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    children.append(proc)
    return proc


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
