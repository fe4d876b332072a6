"""Turns bench/run.sh's results.jsonl into BENCHMARKS.md: the machine, the
date, every run, and the ratios herald/raw and herald/oslo from the same run.

    python3 summarize.py results.jsonl SECONDS_PER_RUN > BENCHMARKS.md
    python3 summarize.py --keystone results-keystone.jsonl SECONDS > KEYSTONE.md
"""

import datetime
import json
import os
import platform
import subprocess
import sys


def sh(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine():
    mem = "unknown"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- cores: {os.cpu_count()}, memory: {mem}, kernel: {platform.release()}",
        f"- RabbitMQ: {sh('rabbitmq-diagnostics', '-q', 'server_version') or 'unknown'}, "
        f"Erlang/OTP: {sh('erl', '-noshell', '-eval', 'io:format(erlang:system_info(otp_release)), halt().')}",
        f"- {sh('rustc', '--version')}, release build",
    ]


def keystone(rows, secs):
    out = ["# herald: keystone mode against token mode", "",
           "Written by `bench/run.sh --keystone`; do not edit by hand.", ""]
    out += machine()
    out += ["", f"{secs} s per run, batches of 10 over 10 hosts, 32 connections, coalescing on, "
            "the same broker and directory; both serves are up, and the load goes through each in turn, twice. "
            "Keystone mode validates each caller token once with a real Keystone, then "
            "serves it from its cache.", "",
            "| round | auth | events/s | ×token (same round) | HTTP p50 / p99 ms | lost |",
            "| --- | --- | --- | --- | --- | --- |"]
    token = {r["scenario"]["round"]: r["result"]["events_per_sec"]
             for r in rows if r["scenario"]["mode"] == "token"}
    for r in rows:
        s, res = r["scenario"], r["result"]
        base = token.get(s["round"]) or float("nan")
        lat = res["latency_ms"]
        out.append(f"| {s['round']} | {s['mode']} | {res['events_per_sec']:,.0f} | "
                   f"{res['events_per_sec'] / base:.2f} | {lat['p50']:.1f} / {lat['p99']:.1f} | "
                   f"{(res.get('broker') or {}).get('lost', '?')} |")
    return out


def targets(mine, raw, raw64, osl):
    """The issue's targets, read off this group's rows (current build)."""
    cur = [r for r in mine if r["scenario"]["path"] == "herald"
           and r["scenario"].get("build", "current") == "current"]
    def closed(batch, conns, coalesce="true"):
        for r in cur:
            s = r["scenario"]
            if (s["loop"], s["batch"], s.get("connections"), s["coalesce"]) == ("closed", batch, conns, coalesce):
                return r["result"]
        return None
    rows = []
    one, ten = closed("1", "64"), closed("10", "64")
    if one:
        rows.append(f"| 1-event, 64 conns, coalescing: events/s ×raw-64 | ≥ 1.0 (aim 2) | "
                    f"{one['events_per_sec'] / raw64:.2f} |")
    if ten:
        rows.append(f"| 10-event, 64 conns, coalescing: events/s ×raw-64 | ≥ 1.0 | "
                    f"{ten['events_per_sec'] / raw64:.2f} |")
    if cur:
        worst = min(r["result"]["events_per_sec"] for r in cur if r["scenario"]["loop"] == "closed")
        rows.append(f"| every closed-loop herald shape ×oslo-4 (worst) | ≥ 5 | {worst / osl:.2f} |")
    opened = [r for r in cur if r["scenario"]["loop"] == "open"]
    if opened and "open" in raw:
        h = opened[0]["result"]["latency_ms"]["p99"]
        rp = raw["open"]["confirm_ms"]["p99"]
        rows.append(f"| open loop at half the best rate: HTTP p99 ÷ raw confirm p99 (same rate) | ≤ 2 | "
                    f"{h / rp:.2f} ({h:.1f} / {rp:.1f} ms) |")
    lost = sum((r["result"].get("broker") or {}).get("lost", 0) or 0 for r in cur)
    rows.append(f"| events lost, all herald runs | 0 | {lost} |")
    if not rows:
        return []
    return ["", "| target | wanted | this run |", "| --- | --- | --- |"] + rows


def ceiling(rows, herald_best):
    mine = [r for r in rows if r["scenario"]["path"] == "ceiling"]
    if not mine:
        return []
    out = ["## the generator's own ceiling", "",
           "`herald load` against `examples/fixed_server.rs`, a server that answers without "
           "work, 64 connections: the generator's limit on this machine, beside herald's best.", "",
           "| batch | requests/s | events/s | ×herald's best events/s at this batch |",
           "| --- | --- | --- | --- |"]
    for r in mine:
        b = r["scenario"]["batch"]
        res = r["result"]
        best = herald_best.get(b) or float("nan")
        out.append(f"| {b} | {res['requests_per_sec']:,.0f} | {res['events_per_sec']:,.0f} | "
                   f"{res['events_per_sec'] / best:.1f} |")
    return out + [""]


def main():
    if sys.argv[1] == "--keystone":
        rows = [json.loads(line) for line in open(sys.argv[2])]
        print("\n".join(keystone(rows, sys.argv[3])))
        return
    rows = [json.loads(line) for line in open(sys.argv[1])]
    secs = sys.argv[2]
    out = ["# herald benchmarks", "", "Written by `bench/run.sh`; do not edit by hand.", ""]
    out += machine()
    out += ["", f"{secs} s per run, one broker (the local RabbitMQ), durable exchange, "
            "persistent messages, publisher confirms; herald with a SQLite directory and "
            "`herald load` consuming and counting every event. The machine is shared: "
            "read the ratios (same run) before the absolute numbers.", ""]
    groups = sorted({(r["scenario"].get("queue_type", "-"), r["scenario"]["hosts"]) for r in rows
                     if r["scenario"]["path"] not in ("oslo", "ceiling")})
    oslo = {(r["scenario"]["hosts"], r["scenario"]["threads"]): r["result"]["events_per_sec"]
            for r in rows if r["scenario"]["path"] == "oslo"}
    for qt, hosts in groups:
        mine = [r for r in rows if r["scenario"].get("queue_type") == qt and r["scenario"]["hosts"] == hosts]
        raw = {r["scenario"]["in_flight"]: r["result"] for r in mine if r["scenario"]["path"] == "raw"}
        raw64 = raw.get("64", {}).get("events_per_sec") or float("nan")
        osl = oslo.get((hosts, "4")) or float("nan")
        out += [f"## {qt} queues, {hosts} hosts", "",
                "| path | shape | events/s | ×raw-64 | ×oslo-4 | latency p50 / p99 ms | lost | duplicates |",
                "| --- | --- | --- | --- | --- | --- | --- | --- |"]
        def raw_shape(k):
            if k.isdigit():
                return f"{k} in flight, 1 event/msg"
            if k.endswith("+consume"):
                return f"{k.split('+')[0]} in flight, 1 event/msg, consumed as herald load consumes"
            return f"open loop {raw[k]['rate']:.0f} msg/s, 1 event/msg"
        order = {"open": 2}
        for k in sorted(raw, key=lambda k: (order.get(k, 1 if not k.isdigit() else 0),
                                            int(k) if k.isdigit() else 0)):
            r = raw[k]
            c = r["confirm_ms"]
            shape = raw_shape(k)
            out.append(f"| raw lapin | {shape} | {r['events_per_sec']:,.0f} | "
                       f"{r['events_per_sec'] / raw64:.2f} | {r['events_per_sec'] / osl:.2f} | "
                       f"confirm {c['p50']:.1f} / {c['p99']:.1f} | – | – |")
        for r in (r for r in mine if r["scenario"]["path"] == "herald"):
            s, res = r["scenario"], r["result"]
            shape = (f"coalesce {s['coalesce']}, batch {s['batch']}, "
                     + (f"{s['connections']} conns" if s["loop"] == "closed" else f"open loop {s['rate']} req/s"))
            if s.get("build", "current") != "current":
                shape += f" ({s['build']} build)"
            b = res.get("broker") or {}
            lat = res["latency_ms"]
            out.append(f"| herald | {shape} | {res['events_per_sec']:,.0f} | "
                       f"{res['events_per_sec'] / raw64:.2f} | {res['events_per_sec'] / osl:.2f} | "
                       f"HTTP {lat['p50']:.1f} / {lat['p99']:.1f} | {b.get('lost', '?')} | {b.get('duplicates', '?')} |")
        for r in (r for r in mine if r["scenario"]["path"] == "serve-rss"):
            build = r["scenario"].get("build", "current")
            label = "" if build == "current" else f" ({build} build)"
            phase = {"closed": ", closed loop", "open": ", open loop too"}.get(
                r["scenario"].get("phase"), "")
            out.append(f"| serve peak RSS | coalesce {r['scenario']['coalesce']}{phase}{label} | "
                       f"{r['result']['vm_hwm_kb'] / 1024:.0f} MiB | | | | | |")
        out += targets(mine, raw, raw64, osl)
        consumed = raw.get("64+consume", {}).get("events_per_sec")
        one = next((r["result"] for r in mine if r["scenario"]["path"] == "herald"
                    and r["scenario"].get("build", "current") == "current"
                    and (r["scenario"]["loop"], r["scenario"]["batch"], r["scenario"].get("connections"),
                         r["scenario"]["coalesce"]) == ("closed", "1", "64", "true")), None)
        if consumed and one:
            out += ["", f"Beside the targets: 1-event, 64 conns, coalescing ÷ the raw publisher at 64 in "
                    f"flight with its queues consumed as `herald load` consumes herald's: "
                    f"**{one['events_per_sec'] / consumed:.2f}×** (the bare publisher's queues are not "
                    f"consumed while it runs; herald's are)."]
        out.append("")
    herald_best = {}
    for r in rows:
        if (r["scenario"]["path"] == "herald" and r["scenario"].get("loop") == "closed"
                and r["scenario"].get("build", "current") == "current"):
            b = r["scenario"]["batch"]
            herald_best[b] = max(herald_best.get(b, 0), r["result"]["events_per_sec"])
    out += ceiling(rows, herald_best)
    out += ["## oslo.messaging casts (Nova's own dispatch)", "",
            "No confirms, not mandatory: a cast is fire-and-forget, as Nova's is.", "",
            "| hosts | threads | events/s |", "| --- | --- | --- |"]
    for (hosts, threads), ev in sorted(oslo.items()):
        out.append(f"| {hosts} | {threads} | {ev:,.0f} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
