"""Turns bench/run.sh's results.jsonl into BENCHMARKS.md: the machine, the
date, every run, and the ratios herald/raw and herald/oslo from the same run.

    python3 summarize.py results.jsonl SECONDS_PER_RUN > BENCHMARKS.md
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


def main():
    rows = [json.loads(line) for line in open(sys.argv[1])]
    secs = sys.argv[2]
    out = ["# herald benchmarks", "", "Written by `bench/run.sh`; do not edit by hand.", ""]
    out += machine()
    out += ["", f"{secs} s per run, one broker (the local RabbitMQ), durable exchange, "
            "persistent messages, publisher confirms; herald with a SQLite directory and "
            "`herald load` consuming and counting every event. The machine is shared: "
            "read the ratios (same run) before the absolute numbers.", ""]
    groups = sorted({(r["scenario"].get("queue_type", "-"), r["scenario"]["hosts"]) for r in rows
                     if r["scenario"]["path"] != "oslo"})
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
        for k in sorted(raw, key=int):
            r = raw[k]
            c = r["confirm_ms"]
            out.append(f"| raw lapin | {k} in flight, 1 event/msg | {r['events_per_sec']:,.0f} | "
                       f"{r['events_per_sec'] / raw64:.2f} | {r['events_per_sec'] / osl:.2f} | "
                       f"confirm {c['p50']:.1f} / {c['p99']:.1f} | – | – |")
        for r in (r for r in mine if r["scenario"]["path"] == "herald"):
            s, res = r["scenario"], r["result"]
            shape = (f"coalesce {s['coalesce']}, batch {s['batch']}, "
                     + (f"{s['connections']} conns" if s["loop"] == "closed" else f"open loop {s['rate']} req/s"))
            b = res.get("broker") or {}
            lat = res["latency_ms"]
            out.append(f"| herald | {shape} | {res['events_per_sec']:,.0f} | "
                       f"{res['events_per_sec'] / raw64:.2f} | {res['events_per_sec'] / osl:.2f} | "
                       f"HTTP {lat['p50']:.1f} / {lat['p99']:.1f} | {b.get('lost', '?')} | {b.get('duplicates', '?')} |")
        for r in (r for r in mine if r["scenario"]["path"] == "serve-rss"):
            out.append(f"| serve peak RSS | coalesce {r['scenario']['coalesce']} | "
                       f"{r['result']['vm_hwm_kb'] / 1024:.0f} MiB | | | | | |")
        out.append("")
    out += ["## oslo.messaging casts (Nova's own dispatch)", "",
            "No confirms, not mandatory: a cast is fire-and-forget, as Nova's is.", "",
            "| hosts | threads | events/s |", "| --- | --- | --- |"]
    for (hosts, threads), ev in sorted(oslo.items()):
        out.append(f"| {hosts} | {threads} | {ev:,.0f} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
