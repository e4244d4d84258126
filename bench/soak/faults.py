"""The two faults of the soak, and the processes they hit.

Killing a worker mid-sync. To be sure the worker dies *inside* a sync's transaction (not before it began or
after it committed), the injector takes a row lock that the sync must wait for: `SELECT … FOR UPDATE` on a
loan that the victim's sync repays. A repayment writes ledger entries that point at the loan, and the
foreign key check needs a share lock on that row, so the sync blocks there, after it has opened the meeting,
signed the presentielijst and flushed its deposits, holding the cycle's row lock. The injector finds the
blocked backend in pg_stat_activity (`pg_blocking_pids`), maps its client port to the uvicorn worker
that owns that socket (/proc/net/tcp and /proc/<pid>/fd), sends that worker SIGKILL, and then releases the
lock. PostgreSQL finds the client gone and rolls the sync's transaction back.

Restarting PostgreSQL. `pg_ctl stop -m fast` (every session is terminated, the server shuts down cleanly),
a pause with nothing listening, then `pg_ctl start`. Meanwhile /health is polled to see what it reports.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx

if TYPE_CHECKING:
    from bench.soak.phone import Phone, Plan


def children(pid: int) -> list[int]:
    """The live child processes of `pid` (uvicorn's workers are children of its supervisor)."""
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return sorted(found)


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def workers(master: int) -> list[int]:
    """uvicorn's worker processes: the supervisor's children that run multiprocessing's spawn_main
    (multiprocessing's resource tracker, if there is one, is left out)."""
    return [p for p in children(master) if "spawn_main" in cmdline(p) and "resource_tracker" not in cmdline(p)]


def socket_inodes(local_port: int, remote_port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            local, remote, inode = parts[1], parts[2], parts[9]
            if int(local.rsplit(":", 1)[1], 16) == local_port and int(remote.rsplit(":", 1)[1], 16) == remote_port:
                inodes.add(inode)
    return inodes


def owner_of_socket(pids: list[int], local_port: int, remote_port: int) -> int | None:
    """Which of `pids` holds the TCP socket local_port -> remote_port."""
    wanted = {f"socket:[{inode}]" for inode in socket_inodes(local_port, remote_port)}
    if not wanted:
        return None
    for pid in pids:
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                try:
                    if os.readlink(fd.path) in wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class Faults:
    dsn: str  # asyncpg DSN of the soak database
    pg_port: int
    base_url: str
    master_pid: int
    pg_ctl: Callable[..., list[str]]  # pg_ctl's arguments -> the command that runs it as the cluster's owner
    pgdata: str
    pg_log: str
    clock: Any  # () -> seconds since the start of the run
    events: dict[str, Any] = field(default_factory=dict)
    health: list[dict[str, Any]] = field(default_factory=list)  # /health as polled around the faults
    _want_victim: bool = False
    _killed: asyncio.Event = field(default_factory=asyncio.Event)

    # --- a worker killed with SIGKILL while a sync is inside its transaction -------------------------------
    def take_victim(self, phone: Phone, plan: Plan) -> Awaitable[None] | None:
        """Called by an offline phone before it sends a sync: when a victim is wanted and this sync repays a
        loan, the lock is taken and the phone sends its sync once it is held."""
        if not self._want_victim or not plan.repayments:
            return None
        self._want_victim = False
        loan_id = plan.repayments[0].loan_id
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        asyncio.get_running_loop().create_task(self._hold_and_kill(phone, plan, str(loan_id), ready))
        return ready

    async def kill_worker_mid_sync(self, timeout: float = 60) -> None:
        """Wait (at most `timeout` s) for an offline phone's sync that repays a loan, and kill its worker."""
        self.events["kill_wanted_at"] = round(self.clock(), 3)
        self._want_victim = True
        try:
            await asyncio.wait_for(self._killed.wait(), timeout=timeout)
        except TimeoutError:
            self._want_victim = False
            self.events["kill_failed"] = f"no worker was killed within {timeout:.0f} s"

    async def _hold_and_kill(self, phone: Phone, plan: Plan, loan_id: str, ready: asyncio.Future[None]) -> None:
        conn = await asyncpg.connect(self.dsn)
        watch = await asyncpg.connect(self.dsn)  # its own: pg_stat_activity is read once per transaction
        try:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("SELECT 1 FROM loans WHERE id = $1 FOR UPDATE", loan_id)
            me = await conn.fetchval("SELECT pg_backend_pid()")
            ready.set_result(None)  # the phone sends its sync now
            blocked = None
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and blocked is None:
                blocked = await watch.fetchrow(
                    "SELECT pid, client_port, left(query, 80) AS query, wait_event_type, wait_event, "
                    "clock_timestamp() - xact_start AS in_tx FROM pg_stat_activity "
                    "WHERE $1 = ANY(pg_blocking_pids(pid))", me)
                if blocked is None:
                    await asyncio.sleep(0.005)
            if blocked is None:
                self.events.setdefault("kill_attempts", []).append("the sync never waited on the lock")
                await transaction.rollback()
                self._want_victim = True  # try the next sync
                return
            worker_pids = workers(self.master_pid)
            victim = owner_of_socket(worker_pids, blocked["client_port"], self.pg_port)
            if victim is None:
                self.events.setdefault("kill_attempts", []).append("no worker owns the blocked connection")
                await transaction.rollback()
                self._want_victim = True
                return
            in_tx = blocked["in_tx"]
            os.kill(victim, signal.SIGKILL)
            self.events.update(
                kill_at=round(self.clock(), 3), killed_worker=victim, workers_before=worker_pids,
                victim_client=phone.kring.client, victim_meeting_id=plan.meeting_id, victim_sync_key=phone.in_flight_sync,
                victim_loan_id=loan_id, blocked_statement=blocked["query"], blocked_backend=blocked["pid"],
                blocked_wait=f"{blocked['wait_event_type']}/{blocked['wait_event']}",
                sync_transaction_age_ms=round(in_tx.total_seconds() * 1000, 1) if in_tx is not None else None)
            await asyncio.sleep(0.3)  # the worker is gone before its transaction may go on
            await transaction.rollback()
            self.events["lock_released_at"] = round(self.clock(), 3)
            self._killed.set()
            asyncio.get_running_loop().create_task(self._watch_replacement(worker_pids, victim))
        finally:
            if not ready.done():
                ready.set_result(None)
            await conn.close()
            await watch.close()

    async def _watch_replacement(self, before: list[int], killed: int) -> None:
        """Does uvicorn's supervisor start a new worker for the killed one? It checks every 0.5 s."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            now = workers(self.master_pid)
            new = sorted(set(now) - set(before))
            if new:
                self.events.update(replacement_worker=new[0], replacement_seen_at=round(self.clock(), 3),
                                   workers_after=now)
                return
            await asyncio.sleep(0.1)
        self.events["replacement_worker"] = None
        self.events["workers_after"] = workers(self.master_pid)

    # --- PostgreSQL restarted -------------------------------------------------------------------------------
    async def pg_ctl_run(self, *args: str) -> tuple[int, str]:
        proc = await asyncio.create_subprocess_exec(*self.pg_ctl(*args), stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.STDOUT)
        out, _ = await proc.communicate()
        return proc.returncode or 0, out.decode(errors="replace").strip()

    async def restart_postgres(self, outage_seconds: float) -> None:
        poller = asyncio.get_running_loop().create_task(self._poll_health(outage_seconds + 30))
        self.events["pg_stop_issued"] = round(self.clock(), 3)
        rc, out = await self.pg_ctl_run("stop", "-D", self.pgdata, "-m", "fast", "-w")
        self.events["pg_stopped"] = round(self.clock(), 3)
        if rc != 0:
            self.events["pg_stop_error"] = out
        await asyncio.sleep(outage_seconds)
        self.events["pg_start_issued"] = round(self.clock(), 3)
        rc, out = await self.pg_ctl_run("start", "-D", self.pgdata, "-l", self.pg_log, "-w")
        self.events["pg_started"] = round(self.clock(), 3)
        if rc != 0:
            self.events["pg_start_error"] = out
        await poller

    async def _poll_health(self, seconds: float) -> None:
        """GET /health every 0.2 s from the stop until it has answered 200 for 2 s after the start."""
        deadline = time.monotonic() + seconds
        ok_since: float | None = None
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            while time.monotonic() < deadline:
                t = self.clock()
                try:
                    r = await http.get("/health")
                    body = r.json()
                    sample = {"t": round(t, 3), "status": r.status_code, "database": body.get("database"),
                              "code": body.get("code")}
                except (httpx.HTTPError, ValueError) as error:
                    sample = {"t": round(t, 3), "status": 0, "error": type(error).__name__}
                self.health.append(sample)
                if sample["status"] == 200 and "pg_started" in self.events:
                    if ok_since is None:
                        ok_since = t
                        self.events["health_ok_again_at"] = round(t, 3)
                    elif t - ok_since > 2:
                        return
                elif sample["status"] != 200:
                    ok_since = None
                    self.events.pop("health_ok_again_at", None)
                await asyncio.sleep(0.2)
