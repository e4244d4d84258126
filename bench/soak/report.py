"""The soak's report: throughput, latency, errors by status and phase, the faults' timeline, the verdict."""

from __future__ import annotations

import argparse
import json
import os
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from bench.soak.check import classify, read_jsonl

KILL_PHASE_SECONDS = 5.0
OUTAGE_GRACE = 5.0


def pct(values: list[float], p: float) -> float:
    """Nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5))) - 1]


def ms(value: float) -> str:
    if value != value:  # nan
        return "–"
    return f"{value:.1f}" if value < 100 else f"{value:,.0f}"


def phases(events: dict[str, Any]) -> list[tuple[str, float, float]]:
    """(name, from, to) in seconds since the start, in order; faults that did not happen leave theirs out."""
    start, stop = events.get("start", 0.0), events.get("stop", 0.0)
    cuts: list[tuple[str, float]] = [("before the faults", start)]
    if "kill_at" in events:
        cuts += [("worker kill (5 s)", events["kill_at"]), ("between", events["kill_at"] + KILL_PHASE_SECONDS)]
    if "pg_stop_issued" in events:
        back = events.get("health_ok_again_at") or events.get("pg_started") or events["pg_stop_issued"]
        cuts += [("PostgreSQL outage", events["pg_stop_issued"]), ("after the outage", back + OUTAGE_GRACE)]
    cuts.append(("drain", stop))
    out = []
    for (name, begin), (_, end) in zip(cuts, cuts[1:] + [("", events.get("drained", stop))], strict=True):
        if end > begin:
            out.append((name, begin, end))
    return out


def phase_of(t: float, spans: list[tuple[str, float, float]]) -> str:
    for name, begin, end in spans:
        if begin <= t < end:
            return name
    return spans[-1][0] if spans and t >= spans[-1][2] else spans[0][0] if spans else "?"


def outcome_label(r: dict[str, Any]) -> str:
    if r["s"] == 0:
        return f"connection: {r.get('err')}"
    return f"{r['s']} {r.get('code') or ''}".strip()


def server_log_summary(path: Path) -> dict[str, Any]:
    counts: Counter[str] = Counter()
    after_response: Counter[str] = Counter()
    logged: dict[str, int] = {}  # request id -> the status the request log wrote
    if not path.exists():
        return {}
    lines = path.read_text(errors="replace").splitlines()
    for i, line in enumerate(lines):
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("logger") == "kringkas.requests" and record.get("request_id"):
                logged[record["request_id"]] = record.get("status", 0)
            if record.get("logger") == "kringkas.problems":
                counts[f"{record.get('level')}: {record.get('message')}"] += 1
            elif record.get("level") in ("ERROR", "CRITICAL"):
                counts[f"{record.get('level')}: {record.get('message')} {record.get('error') or ''}".strip()] += 1
            elif record.get("logger") == "kringkas.requests" and record.get("status", 0) >= 500:
                counts[f"request log: status {record['status']}"] += 1
        elif "Exception in ASGI application" in line:
            counts["uvicorn: Exception in ASGI application"] += 1
            tail = next((x for x in lines[i + 1:i + 400] if re.match(r"^[A-Za-z_.]+(Error|Exception)\b", x)), "?")
            after_response[tail[:160]] += 1
        elif "Child process" in line or "Started server process" in line or "Waiting for" in line:
            counts[re.sub(r"\[\d+\]", "[pid]", line.split(":", 1)[-1].strip())] += 1
    return {"counts": dict(counts), "asgi_exceptions": dict(after_response), "logged": logged}


def render(args: argparse.Namespace, notes: dict[str, str], outcome: dict[str, Any], verdict: dict[str, Any],
           run_dir: Path, elapsed: float) -> str:
    events, health, phones = outcome["events"], outcome["health"], outcome["phones"]
    requests = read_jsonl(run_dir / "requests.jsonl")
    acks = read_jsonl(run_dir / "journal.jsonl")
    spans = phases(events)
    load_seconds = events["stop"] - events["start"]
    in_load = [r for r in requests if r["t"] < events["stop"]]
    answered_ok = [r for r in requests if 200 <= r["s"] < 300]
    lines = [f"# Soak: Kringkas under load with faults, {notes['date']}", ""]
    lines += [f"- {k}: {v}" for k, v in notes.items() if k != "date"]
    lines += [f"- load: {args.clients} phones ({sum(p['offline'] for p in phones)} offline, sending each meeting as one "
              f"sync), {getattr(args, 'kringen_per_phone', 1)} spaarkringen per phone (the next when a cycle's {getattr(args, 'planned', '?')} "
              f"planned meetings run out) of {args.members} members, {args.workers} uvicorn workers, {args.minutes:g} min, think "
              f"time {args.think:g} s; whole run {elapsed:.0f} s",
              f"- CPU during the load, in % of one core (the machine has {os.cpu_count() * 100}%): this soak's "
              f"processes (phones, server, PostgreSQL) {events.get('cpu', {}).get('ours', '?')}%, everyone else's "
              f"{events.get('cpu', {}).get('others', '?')}% (a lower bound: short-lived processes are missed)",
              f"- run directory: `{run_dir}` (journal, request log, events, server log)", ""]

    lines += ["## Verdict", "", f"**{'PASS' if verdict['ok'] else 'FAIL'}**: {verdict['acknowledged_writes']:,} "
              f"acknowledged writes checked, **{verdict['lost']} lost**; {verdict['syncs_acknowledged']:,} of "
              f"{verdict['syncs_planned']:,} syncs acknowledged; {verdict['meetings_closed']:,} meetings closed; "
              f"{verdict['ledger_entries']:,} ledger entries, {verdict['loans']:,} loans.", "",
              "| check | result | checked | notes |", "|---|---|---:|---|"]
    for c in verdict["checks"]:
        note = "; ".join(n if isinstance(n, str) else json.dumps(n, default=str) for n in c["notes"][:1])
        if not c["ok"]:
            note = f"{c['failures_total']} failed, e.g. {json.dumps(c['failures'][0], default=str)[:200]}" + (
                f"; {note}" if note else "")
        lines.append(f"| {c['name']} | {'pass' if c['ok'] else '**FAIL**'} | {c['checked']:,} | {note} |")

    lines += ["", "## Throughput and latency", "",
              f"{len(in_load):,} HTTP requests in {load_seconds:.0f} s of load: **{len(in_load) / load_seconds:,.0f} "
              f"requests/s**, of which {sum(1 for r in in_load if 200 <= r['s'] < 300):,} answered 2xx; "
              f"{sum(p['meetings'] for p in phones):,} meetings held "
              f"({sum(p['meetings'] for p in phones if p['offline']):,} as one sync). Latency of every answered "
              "request (ms, client side, loopback):", "",
              "| requests | count | p50 | p95 | p99 | max |", "|---|---:|---:|---:|---:|---:|"]
    groups: dict[str, list[float]] = defaultdict(list)
    for r in answered_ok:
        groups[r["op"]].append(r["ms"])
    everything = [r["ms"] for r in answered_ok]
    lines.append(f"| all 2xx | {len(everything):,} | {ms(pct(everything, 50))} | {ms(pct(everything, 95))} | "
                 f"{ms(pct(everything, 99))} | {ms(max(everything, default=float('nan')))} |")
    for op in sorted(groups, key=lambda o: -len(groups[o])):
        v = groups[op]
        lines.append(f"| {op} | {len(v):,} | {ms(pct(v, 50))} | {ms(pct(v, 95))} | {ms(pct(v, 99))} | {ms(max(v))} |")

    lines += ["", "## By phase", "", "Requests by when their answer came (or the connection failed). The kill phase is the 5 s after the SIGKILL; the "
              f"outage runs from `pg_ctl stop` until {OUTAGE_GRACE:g} s after /health answered 200 again.", "",
              "| phase | from s | to s | requests | req/s | 2xx | p50 | p95 | p99 |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    by_phase: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in requests:
        by_phase[phase_of(r["t"] + r["ms"] / 1000, spans)].append(r)
    for name, begin, end in spans:
        rs = by_phase.get(name, [])
        ok = [r["ms"] for r in rs if 200 <= r["s"] < 300]
        lines.append(f"| {name} | {begin:.1f} | {end:.1f} | {len(rs):,} | {len(rs) / max(end - begin, 1e-9):,.0f} | "
                     f"{len(ok):,} | {ms(pct(ok, 50))} | {ms(pct(ok, 95))} | {ms(pct(ok, 99))} |")

    lines += ["", "Answers other than 2xx, by phase:", ""]
    labels = sorted({outcome_label(r) for r in requests if not 200 <= r["s"] < 300})
    if labels:
        names = [n for n, _, _ in spans]
        lines += ["| answer | " + " | ".join(names) + " | total |", "|---|" + "---:|" * (len(names) + 1)]
        for label in labels:
            counts = [sum(1 for r in by_phase.get(n, []) if not 200 <= r["s"] < 300 and outcome_label(r) == label)
                      for n in names]
            lines.append(f"| {label} | " + " | ".join(f"{c:,}" if c else "" for c in counts) + f" | {sum(counts):,} |")
    else:
        lines.append("none.")
    classes = Counter(classify(r, events) for r in requests)
    lines += ["", "Every answer, as the checker classifies it:", "", "| class | requests |", "|---|---:|"]
    lines += [f"| {label} | {n:,} |" for label, n in classes.most_common()]

    lines += ["", "## The faults", ""]
    if "kill_at" in events:
        victim = events.get("victim_client")
        lines += [f"- **Worker killed** at t = {events['kill_at']:.1f} s: SIGKILL to worker {events['killed_worker']} (of "
                  f"{events.get('workers_before')}) while phone {victim}'s sync was inside its transaction, "
                  f"{events.get('sync_transaction_age_ms')} ms old, waiting for the injector's row lock "
                  f"({events.get('blocked_wait')}; pg_stat_activity's last statement: `{events.get('blocked_statement')}`)."]
        if events.get("replacement_worker"):
            lines.append(f"- uvicorn's supervisor started worker {events['replacement_worker']} in its place; it was "
                         f"seen {events['replacement_seen_at'] - events['kill_at']:.1f} s after the kill. Workers at the "
                         f"end: {events.get('workers_at_end')}.")
        else:
            lines.append(f"- No replacement worker appeared: the others carried the load ({events.get('workers_after')}).")
        hit = next((r for r in requests if r["c"] == victim and r["op"] == "sync"
                    and r["t"] <= events["kill_at"] <= r["t"] + r["ms"] / 1000 + 0.5), None)
        tried = [r for r in requests if hit and (r["c"], r["first"]) == (victim, hit["first"])]
        if tried:
            first = tried[0]["first"]
            last = tried[-1]
            seq = Counter(outcome_label(r) for r in tried)
            lines.append(f"- The victim sync: {len(tried)} attempts over {last['t'] + last['ms'] / 1000 - first:.1f} s "
                         f"({', '.join(f'{n}× {label}' for label, n in seq.items())}); acknowledged "
                         f"{'yes' if 200 <= last['s'] < 300 else 'no'}.")
    elif events.get("kill_failed"):
        lines.append(f"- Worker kill: {events['kill_failed']} ({events.get('kill_attempts')})")
    if "pg_stop_issued" in events:
        back = events.get("health_ok_again_at")
        lines.append(f"- **PostgreSQL restarted**: `pg_ctl stop -m fast` issued at t = {events['pg_stop_issued']:.1f} s, "
                     f"down at {events['pg_stopped']:.1f} s; `pg_ctl start` at {events['pg_start_issued']:.1f} s, "
                     f"accepting at {events['pg_started']:.1f} s; /health 200 again at "
                     f"{back if back is None else f'{back:.1f}'} s.")
        runs: list[list[Any]] = []
        for h in health:
            label = f"{h['status']} {h.get('database') or h.get('error') or ''}".strip()
            if runs and runs[-1][0] == label:
                runs[-1][2] = h["t"]
                runs[-1][3] += 1
            else:
                runs.append([label, h["t"], h["t"], 1])
        lines.append("- /health, polled every 0.2 s: " + "; ".join(
            f"{a:.1f}–{b:.1f} s: {label} ×{n}" for label, a, b, n in runs) + ".")
    logical: dict[tuple[int, float], list[dict[str, Any]]] = defaultdict(list)
    for r in requests:
        logical[(r["c"], r["first"])].append(r)
    slow = sorted(((rs[-1]["t"] + rs[-1]["ms"] / 1000 - rs[0]["first"], rs) for rs in logical.values() if len(rs) > 1),
                  key=lambda x: -x[0])
    retried = sum(1 for rs in logical.values() if len(rs) > 1)
    lines += ["", f"{retried:,} requests needed more than one attempt. The longest until acknowledged:", "",
              "| phone | request | started s | attempts | until acknowledged s | answers |", "|---:|---|---:|---:|---:|---|"]
    for seconds, rs in slow[:8]:
        seq = Counter(outcome_label(r) for r in rs)
        lines.append(f"| {rs[0]['c']} | {rs[0]['op']} | {rs[0]['first']:.1f} | {len(rs)} | {seconds:.1f} | "
                     + ", ".join(f"{n}× {label}" for label, n in seq.items()) + " |")

    logs = server_log_summary(run_dir / "server.log")
    if logs.get("counts"):
        lines += ["", "## The server's log", "", "| line | count |", "|---|---:|"]
        lines += [f"| {k[:140]} | {v:,} |" for k, v in sorted(logs["counts"].items(), key=lambda x: -x[1])]
    logged = logs.get("logged", {})
    disagree = Counter((logged[r["rid"]], outcome_label(r)) for r in requests
                       if r.get("rid") in logged and logged[r["rid"]] != r["s"])
    if disagree:
        lines += ["", "Where the server's request log and the phone disagree on a request's status (joined by "
                  "X-Request-ID):", "", "| request log | the phone got | requests |", "|---:|---|---:|"]
        lines += [f"| {a} | {b} | {n:,} |" for (a, b), n in disagree.most_common()]
    if logs.get("asgi_exceptions"):
        lines += ["", "Exceptions uvicorn logged after the response had been sent (the client already had its answer):",
                  ""] + [f"- `{k}` ×{v}" for k, v in logs["asgi_exceptions"].items()]
    stopped = [p for p in phones if p["stopped_by"]]
    if stopped:
        lines += ["", "Phones that stopped early: " + "; ".join(f"{p['client']}: {p['stopped_by']}" for p in stopped)]
    if events.get("phones_cut_off"):
        lines.append(f"{events['phones_cut_off']} phones were cut off by the drain limit, mid-meeting.")
    lines.append("")
    lines.append(f"Acknowledged writes in the journal: {sum(1 for a in acks if a['op'] != 'sync_planned'):,}.")
    return "\n".join(lines) + "\n"
