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


def delivered(res):
    """Events the run delivered: consumed by `herald load`, else answered 200
    (fixed_server), else confirmed (raw publisher) or cast (oslo)."""
    broker = res.get("broker") or {}
    for n in (broker.get("delivered"), res.get("accepted"), res.get("events")):
        if n:
            return n
    return None


def per_k(res, key):
    """CPU seconds of `key` (server_s, broker_s, generator_s) per 1,000
    delivered events, or None when the run did not record it."""
    cpu, n = res.get("cpu") or {}, delivered(res)
    if cpu.get(key) is None or not n:
        return None
    return cpu[key] * 1000 / n


def cost_cells(res, own_process=False):
    """The three CPU cells of a row. For the raw publisher and oslo's caster
    the generator is the process under test: its CPU goes in the first cell."""
    f = lambda v: "–" if v is None else f"{v:.3f}"
    if own_process:
        return f"{f(per_k(res, 'generator_s'))} | {f(per_k(res, 'broker_s'))} | –"
    return f"{f(per_k(res, 'server_s'))} | {f(per_k(res, 'broker_s'))} | {f(per_k(res, 'generator_s'))}"


def ratio(a, b):
    return a / b if a is not None and b else None


def cell(value, fmt="{:.2f}"):
    return "–" if value is None else fmt.format(value)


def shape_key(s):
    """What makes two rows the same shape, herald or relay."""
    return (s.get("batch"), s.get("loop"), s.get("connections"), s.get("rate"))


def targets(mine, relay, osl):
    """The issue-22 targets, read off this group's rows (current build)."""
    cur = [r for r in mine if r["scenario"]["path"] == "herald"
           and r["scenario"].get("build", "current") == "current"]
    def closed(batch, conns="64"):
        for r in cur:
            s = r["scenario"]
            if (s["loop"], s["batch"], s.get("connections"), s["coalesce"]) == ("closed", batch, conns, "true"):
                return r["result"]
        return None
    def versus(batch, conns="64"):
        return closed(batch, conns), relay.get((batch, "closed", conns, None))
    rows = []
    for batch, want in (("1", "≥ 1.2"), ("10", "≥ 3.5")):
        h, r = versus(batch)
        if h and r:
            rows.append(f"| {batch}-event, 64 conns: herald events/s ÷ the relay's | {want} | "
                        f"{cell(ratio(h['events_per_sec'], r['events_per_sec']))} "
                        f"({h['events_per_sec']:,.0f} / {r['events_per_sec']:,.0f}) |")
    h, r = versus("1")
    if h and r:
        for key, label, want in (("server_s", "serve's CPU per event ÷ the relay's", "≤ 1.0"),
                                 ("broker_s", "broker CPU per delivered event, herald ÷ relay", "≤ 0.6")):
            a, b = per_k(h, key), per_k(r, key)
            rows.append(f"| 1-event, 64 conns: {label} | {want} | {cell(ratio(a, b))} "
                        f"({cell(a, '{:.3f}')} / {cell(b, '{:.3f}')} s per 1,000) |")
    opened = [r for r in cur if r["scenario"]["loop"] == "open"]
    if opened:
        s = opened[0]["scenario"]
        r = relay.get(shape_key(s))
        if r:
            a, b = opened[0]["result"]["latency_ms"]["p99"], r["latency_ms"]["p99"]
            rows.append(f"| open loop at half herald's best 1-event rate ({s['rate']} req/s): "
                        f"HTTP p99 ÷ the relay's | ≤ 1.5 | {a / b:.2f} ({a:.1f} / {b:.1f} ms) |")
    lost = sum((r["result"].get("broker") or {}).get("lost", 0) or 0 for r in cur)
    rows.append(f"| events lost, all herald runs | 0 | {lost} |")
    rss = [r["result"]["vm_hwm_kb"] for r in mine if r["scenario"]["path"] == "serve-rss"
           and r["scenario"].get("build", "current") == "current"]
    if rss:
        rows.append(f"| serve's peak RSS | ≤ 64 MiB | {max(rss) / 1024:.0f} MiB |")
    context = []
    for batch in ("1", "10"):
        h = closed(batch)
        if h and osl:
            context.append(f"{batch}-event {h['events_per_sec'] / osl:.2f}×")
    out = ["", "| target (issue 22) | wanted | this run |", "| --- | --- | --- |"] + rows
    if context:
        out += ["", "Context, no target: herald (64 conns, coalescing) ×oslo-4: " + ", ".join(context) + "."]
    return out


def ceiling(rows, herald_best):
    mine = [r for r in rows if r["scenario"]["path"] == "ceiling"]
    if not mine:
        return []
    out = ["## the generator's own ceiling", "",
           "`herald load` against `examples/fixed_server.rs`, a server that answers without "
           "work, 64 connections: the generator's limit on this machine, beside herald's best.", "",
           "| batch | requests/s | events/s | ×herald's best events/s at this batch "
           "| CPU s/1k ev: fixed_server | broker | generator |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in mine:
        b = r["scenario"]["batch"]
        res = r["result"]
        best = herald_best.get(b) or float("nan")
        out.append(f"| {b} | {res['requests_per_sec']:,.0f} | {res['events_per_sec']:,.0f} | "
                   f"{res['events_per_sec'] / best:.1f} | {cost_cells(res)} |")
    return out + [""]


COST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cost.jsonl")


def cost_section():
    """bench/cost.sh's last figures (instructions per 1-event request under
    callgrind), with the issue's targets, when bench/cost.jsonl exists."""
    if not os.path.exists(COST):
        return []
    runs = [json.loads(line) for line in open(COST)]
    meta = next((r for r in runs if r.get("target") == "meta"), {})
    got = {r["target"]: r for r in runs if r.get("target") != "meta"}
    out = ["## instructions per 1-event request (bench/cost.sh)", "",
           f"From bench/cost.sh's last run ({meta.get('date', '?')}, {meta.get('requests', '?')} requests "
           f"at {meta.get('rate', '?')} req/s after a warm-up, commit {meta.get('commit', '?')}): "
           "instructions executed by each server process under callgrind per request, the "
           "load's fixed costs cancelled out. Deterministic to about 1 %, whatever else the machine does.",
           "", "| server | instructions per request | ×bare hyper |", "| --- | --- | --- |"]
    bare = (got.get("fixed_server") or {}).get("per_request")
    for name, r in got.items():
        out.append(f"| {name} | {r['per_request']:,.0f} | {cell(ratio(r['per_request'], bare))} |")
    serve = (got.get("serve") or {}).get("per_request")
    base = (got.get("serve-baseline") or {}).get("per_request")
    out += ["", "| target (issue 22) | wanted | this run |", "| --- | --- | --- |",
            f"| serve ÷ the baseline build (BASELINE=) | ≤ 0.5 | {cell(ratio(serve, base))} |",
            f"| serve ÷ bare hyper (fixed_server) | ≤ 4 | {cell(ratio(serve, bare))} |", ""]
    return out


def main():
    if sys.argv[1] == "--keystone":
        rows = [json.loads(line) for line in open(sys.argv[2])]
        print("\n".join(keystone(rows, sys.argv[3])))
        return
    rows = [json.loads(line) for line in open(sys.argv[1])]
    secs = sys.argv[2]
    out = ["# herald benchmarks", "", "Written by `bench/run.sh`; do not edit by hand.", ""]
    out += machine()
    meta = next((r["result"] for r in rows if r["scenario"]["path"] == "meta"), None)
    if meta:
        out.append(f"- load average (1/5/15 min) before the run: {meta['loadavg_before']}, "
                   f"after: {meta['loadavg_after']} (2 cores: above 2, other work was running)")
        if meta.get("quick"):
            out.append("- a `--quick` run (short runs, 10 hosts, classic queues): it shows the "
                       "tooling works; quote a full run's ratios, or bench/cost.sh's instructions")
    out += ["", f"{secs} s per run, one broker (the local RabbitMQ), durable exchange, "
            "persistent messages, publisher confirms; herald with a SQLite directory and "
            "`herald load` consuming and counting every event. The machine is shared: "
            "read the ratios (same run) before the absolute numbers, and the instruction counts "
            "(bench/cost.sh, immune to other load) before either. The broker's CPU counts whatever "
            "else used the broker meanwhile.", ""]
    out += cost_section()
    groups = sorted({(r["scenario"].get("queue_type", "-"), r["scenario"]["hosts"]) for r in rows
                     if r["scenario"]["path"] not in ("oslo", "ceiling", "meta")})
    oslo = {(r["scenario"]["hosts"], r["scenario"]["threads"]): r["result"]
            for r in rows if r["scenario"]["path"] == "oslo"}
    for qt, hosts in groups:
        mine = [r for r in rows if r["scenario"].get("queue_type") == qt and r["scenario"].get("hosts") == hosts]
        raw = {r["scenario"]["in_flight"]: r["result"] for r in mine if r["scenario"]["path"] == "raw"}
        relay = {shape_key(r["scenario"]): r["result"] for r in mine if r["scenario"]["path"] == "relay"}
        raw64 = raw.get("64", {}).get("events_per_sec") or float("nan")
        osl = (oslo.get((hosts, "4")) or {}).get("events_per_sec") or float("nan")
        out += [f"## {qt} queues, {hosts} hosts", "",
                "CPU columns: seconds (user + system) per 1,000 delivered events, over the whole "
                "`herald load` run (set-up, sending, drain): of the process under test (serve, the "
                "relay, or the raw publisher itself), of the broker's beam.smp, and of `herald load` "
                "with its consumers. ×relay: the relay's row of the same shape in this run.", "",
                "| path | shape | events/s | ×relay | ×raw-64 | ×oslo-4 | latency p50 / p99 ms | lost | duplicates "
                "| CPU s/1k ev: process | broker | generator |",
                "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
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
            out.append(f"| raw lapin | {raw_shape(k)} | {r['events_per_sec']:,.0f} | – | "
                       f"{r['events_per_sec'] / raw64:.2f} | {r['events_per_sec'] / osl:.2f} | "
                       f"confirm {c['p50']:.1f} / {c['p99']:.1f} | – | – | {cost_cells(r, own_process=True)} |")
        for r in (r for r in mine if r["scenario"]["path"] in ("relay", "herald")):
            s, res = r["scenario"], r["result"]
            shape = (f"batch {s['batch']}, "
                     + (f"{s['connections']} conns" if s["loop"] == "closed" else f"open loop {s['rate']} req/s"))
            if s["path"] == "herald":
                shape = f"coalesce {s['coalesce']}, " + shape
            if s.get("build", "current") != "current":
                shape += f" ({s['build']} build)"
            b = res.get("broker") or {}
            lat = res["latency_ms"]
            base = relay.get(shape_key(s))
            vs = cell(ratio(res["events_per_sec"], base and base["events_per_sec"]))
            out.append(f"| {s['path']} | {shape} | {res['events_per_sec']:,.0f} | {vs} | "
                       f"{res['events_per_sec'] / raw64:.2f} | {res['events_per_sec'] / osl:.2f} | "
                       f"HTTP {lat['p50']:.1f} / {lat['p99']:.1f} | {b.get('lost', '?')} | {b.get('duplicates', '?')} "
                       f"| {cost_cells(res)} |")
        for r in (r for r in mine if r["scenario"]["path"] == "serve-rss"):
            build = r["scenario"].get("build", "current")
            label = "" if build == "current" else f" ({build} build)"
            phase = {"closed": ", closed loop", "open": ", open loop too"}.get(
                r["scenario"].get("phase"), "")
            out.append(f"| serve peak RSS | coalesce {r['scenario']['coalesce']}{phase}{label} | "
                       f"{r['result']['vm_hwm_kb'] / 1024:.0f} MiB | | | | | | | | | |")
        out += targets(mine, relay, osl)
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
            "| hosts | threads | events/s | CPU s/1k ev: caster | broker | – |",
            "| --- | --- | --- | --- | --- | --- |"]
    for (hosts, threads), res in sorted(oslo.items()):
        out.append(f"| {hosts} | {threads} | {res['events_per_sec']:,.0f} | {cost_cells(res, own_process=True)} |")
    print("\n".join(out))


if __name__ == "__main__":
    main()
