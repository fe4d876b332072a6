"""Turns bench/nova.sh's results into BENCHMARKS.md's "herald vs nova-api"
section (printed on stdout; nova.sh puts it at the end of BENCHMARKS.md, and
run.sh appends it again when it rewrites that file).

    python3 bench/summarize_nova.py

Reads bench/results-nova.jsonl (the comparison) and, when it exists,
bench/results-nova-tune.jsonl (nova-api's gunicorn shapes).
"""

import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "<!-- bench/nova.sh -->"
# Issue 21's targets.
TIMES = 30
P99_SHARE = 0.1
RSS_MIB = 64


def rows(name):
    path = os.path.join(HERE, name)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def lat(res):
    return f"{res['latency_ms']['p50']:,.1f} / {res['latency_ms']['p99']:,.1f}"


def lost(res):
    broker = res.get("broker") or {}
    return broker.get("lost", "?")


def delivered(res):
    broker = res.get("broker") or {}
    return broker.get("delivered") or res.get("accepted") or 0


def per_k(res, key):
    """CPU seconds of `key` per 1,000 delivered events, as text."""
    cpu, n = res.get("cpu") or {}, delivered(res)
    if not n or cpu.get(key) is None:
        return "–"
    return f"{1000 * cpu[key] / n:.3f}"


def cost_rows(pairs):
    """Where each shape's CPU went, per 1,000 delivered events."""
    out = ["", "CPU seconds (user + system) per 1,000 delivered events, over each whole run "
           "(bench/cpu.py): the server (herald serve; nova-api's master and workers), the "
           "broker (the machine's beam.smp), MariaDB and the generator (`herald load` with "
           "its consumers).", "",
           "| shape | server: nova-api / herald | broker: nova-api / herald | MariaDB: nova-api / herald "
           "| generator: nova-api / herald |", "| --- | --- | --- | --- | --- |"]
    for (loop, batch, conns, rate), both in pairs.items():
        api, her = both.get("nova-api"), both.get("herald")
        if not api or not her or not (api.get("cpu") or her.get("cpu")):
            continue
        name = (f"batch {batch}, {conns} connections, closed loop" if loop == "closed"
                else f"batch 1, open loop {rate} req/s")
        cells = [f"{per_k(api, k)} / {per_k(her, k)}"
                 for k in ("server_s", "broker_s", "db_s", "generator_s")]
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return out if len(out) > 5 else []


def context(data):
    start = next((r["result"] for r in data if r["scenario"].get("phase") == "start"), {})
    end = next((r["result"] for r in data if r["scenario"].get("phase") == "end"
                and "loadavg" in r["result"]), {})
    secs = next((r["scenario"].get("secs") for r in data if r["scenario"].get("phase") == "start"), "?")
    return start, end, secs


def comparison(data):
    start, end, secs = context(data)
    runs = [r for r in data if r["scenario"].get("loop")]
    if not runs:
        return []
    shape = runs[0]["scenario"]
    out = [f"- date: {start.get('date', '?')}; load average (1/5/15 min) at the start "
           f"{start.get('loadavg', '?')}, at the end {end.get('loadavg', '?')} (2 shared cores: "
           "other engineers' builds ran too; read the ratios, measured back to back, before the "
           "absolute numbers)",
           f"- nova-api: nova 34.0.0 under gunicorn 23 (gthread), {shape['workers']} workers × "
           f"{shape['threads']} threads; herald: release build, `directory.backend = \"nova\"`, "
           "`amqp.wire = \"nova\"`, static token",
           f"- {secs} s per closed-loop run (the open loop twice that), nova-api then herald for each "
           "shape; 100 servers on 10 hosts seeded once with nova's objects, the same for both; "
           "every cast consumed from `compute.<host>`/`compute-alt.<host>` and counted", "",
           "| shape | nova-api events/s | herald events/s | herald ÷ nova-api | nova-api HTTP p50 / p99 ms "
           "| herald HTTP p50 / p99 ms | p99 herald ÷ nova-api | lost (nova-api / herald) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    pairs = {}
    for r in runs:
        s = r["scenario"]
        key = (s["loop"], s["batch"], s.get("connections"), s.get("rate"))
        pairs.setdefault(key, {})[s["target"]] = r["result"]
    worst_times, open_share = None, None
    for (loop, batch, conns, rate), both in pairs.items():
        api, her = both.get("nova-api"), both.get("herald")
        if not api or not her:
            continue
        times = her["events_per_sec"] / api["events_per_sec"] if api["events_per_sec"] else float("inf")
        share = her["latency_ms"]["p99"] / api["latency_ms"]["p99"] if api["latency_ms"]["p99"] else float("nan")
        if loop == "closed":
            name = f"batch {batch}, {conns} connections, closed loop"
            worst_times = times if worst_times is None else min(worst_times, times)
        else:
            name = f"batch 1, open loop {rate} req/s"
            open_share = (share, her["latency_ms"]["p99"], api["latency_ms"]["p99"])
        out.append(f"| {name} | {api['events_per_sec']:,.0f} | {her['events_per_sec']:,.0f} | "
                   f"{times:,.0f}× | {lat(api)} | {lat(her)} | {share:.3f} | {lost(api)} / {lost(her)} |")
    out += cost_rows(pairs)
    rss = {(r["scenario"]["target"], r["scenario"]["phase"]): r["result"]["vm_hwm_kb"] / 1024
           for r in data if r["scenario"].get("rss")}
    out += ["", "| process | peak RSS after the closed loops | after the open loop too |",
            "| --- | --- | --- |"]
    for target, what in (("herald", "herald serve"),
                         ("nova-api", f"nova-api (gunicorn master + {shape['workers']} workers)")):
        out.append(f"| {what} | {rss.get((target, 'closed'), float('nan')):.0f} MiB | "
                   f"{rss.get((target, 'open'), float('nan')):.0f} MiB |")
    herald_rss = max(rss.get(("herald", "closed"), 0), rss.get(("herald", "open"), 0))
    total_lost = sum(lost(r["result"]) for r in runs if isinstance(lost(r["result"]), int))
    out += ["", "| target | wanted | this run |", "| --- | --- | --- |",
            f"| herald events/s ÷ nova-api's, worst closed-loop shape | ≥ {TIMES} | "
            f"{worst_times:,.1f} |" if worst_times is not None else "| events/s | – | no pair |"]
    if open_share:
        out.append(f"| open loop, same rate: herald p99 ÷ nova-api p99 | ≤ {P99_SHARE} | "
                   f"{open_share[0]:.3f} ({open_share[1]:,.1f} / {open_share[2]:,.1f} ms) |")
    out += [f"| herald serve peak RSS | ≤ {RSS_MIB} MiB | {herald_rss:.0f} MiB |",
            f"| events lost, every run of both | 0 | {total_lost} |"]
    return out


def tuning(data):
    runs = [r for r in data if r["scenario"].get("loop") == "closed"]
    if not runs:
        return []
    start, end, secs = context(data)
    rounds = len({r["scenario"].get("round", "1") for r in runs})
    out = ["", "### nova-api's gunicorn shape (`bench/nova.sh --tune`)", "",
           f"nova-api alone, 1-event requests, closed loop, {secs} s a run; the shapes in turn, "
           f"{rounds} rounds (median, and the range); "
           f"{start.get('date', '?')}, load average {start.get('loadavg', '?')} at the start, "
           f"{end.get('loadavg', '?')} at the end. The best shape is the comparison's default "
           "(`NOVA_WORKERS`, `NOVA_THREADS` in bench/nova.sh).", "",
           "| workers × threads | 16 connections: events/s | p99 ms | 64 connections: events/s | "
           "p99 ms | lost |", "| --- | --- | --- | --- | --- | --- |"]
    shapes = {}
    for r in runs:
        s = r["scenario"]
        shapes.setdefault((int(s["workers"]), int(s["threads"])), {}).setdefault(
            s["connections"], []).append(r["result"])

    def median(xs):
        xs = sorted(xs)
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

    def cell(results):
        if not results:
            return "–", "–"
        ev = [x["events_per_sec"] for x in results]
        p99 = [x["latency_ms"]["p99"] for x in results]
        return (f"{median(ev):,.1f} ({min(ev):,.1f}–{max(ev):,.1f})", f"{median(p99):,.0f}")

    for (w, t), by in sorted(shapes.items()):
        (ea, la), (eb, lb) = cell(by.get("16")), cell(by.get("64"))
        lost_sum = sum(lost(x) for xs in by.values() for x in xs if isinstance(lost(x), int))
        out.append(f"| {w} × {t} | {ea} | {la} | {eb} | {lb} | {lost_sum} |")
    return out


def main():
    out = [MARK, "## herald vs nova-api", "",
           "Written by `bench/nova.sh` (by hand, never in CI; `--tune` for nova-api's shapes); "
           "`bench/run.sh` keeps it. Command: `bench/nova.sh`.", ""]
    out += comparison(rows("results-nova.jsonl"))
    out += tuning(rows("results-nova-tune.jsonl"))
    print("\n".join(out))


if __name__ == "__main__":
    main()
