"""What the benchmarks share about processes: start servers in their own session, stop them (and only
them) on exit or on a signal, find a free port, log with a prefix, export the commit to measure."""

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


class CpuWatch:
    """CPU that processes outside this benchmark used meanwhile (other people's tests on a shared machine),
    in % of one core. Ours: this process's group, the servers we started, PostgreSQL's shared processes and
    its backends of our database. A process that ends in between is missed: a lower bound."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, db: str) -> None:
        self.db = db
        self.started = time.monotonic()
        self.before = self._snapshot()

    def _ours(self, pgrp: int, cmdline: str) -> bool:
        if pgrp == os.getpgrp() or pgrp in {p.pid for p in children}:
            return True
        if cmdline.startswith("postgres: "):
            parts = cmdline.split()
            backend = len(parts) >= 4 and ("(" in parts[3] or parts[3] == "[local]")
            return not backend or parts[2] == self.db
        return cmdline.startswith("/usr/lib/postgresql/")

    def _snapshot(self) -> dict[int, tuple[int, bool]]:
        seen: dict[int, tuple[int, bool]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            seen[int(entry.name)] = (int(fields[11]) + int(fields[12]), self._ours(int(fields[2]), cmdline))
        return seen

    def stop(self) -> float:
        after, elapsed = self._snapshot(), time.monotonic() - self.started
        ticks = sum(t - self.before.get(pid, (0, False))[0] for pid, (t, ours) in after.items() if not ours)
        return 100 * ticks / self.TICK / max(elapsed, 1e-6)


def export_ref(ref: str, into: Path, who: str = "bench") -> str:
    """The tree of a commit (git archive: the repository is only read), so edits going on in the work tree
    while a benchmark runs don't change what is measured. Answers the commit's short hash."""
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", f"{ref}^{{commit}}"], capture_output=True,
                         text=True, check=False)
    if sha.returncode != 0:
        raise SystemExit(f"{who}: --git-ref {ref}: {sha.stderr.strip()}")
    into.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", "--format=tar", sha.stdout.strip()],
                               stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait() != 0:
        raise SystemExit(f"{who}: git archive {ref} failed")
    return sha.stdout.strip()
