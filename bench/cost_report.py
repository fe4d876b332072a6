"""Reads bench/cost.sh's callgrind dumps into bench/cost.jsonl and bench/COST.md.

    python3 bench/cost_report.py WORK REQUESTS RATE COMMIT LOG_LEVEL TARGET...

For each TARGET, WORK/cg.TARGET.1 is the dump after the short run and
WORK/cg.TARGET.2 the dump after the long one, REQUESTS requests longer:
instructions per request = (second - first) / REQUESTS, and so for every
function of serve (inclusive and self, read from the dumps).
"""

import datetime
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = 40


def summary(path):
    with open(path) as f:
        for line in f:
            if line.startswith("summary:"):
                return int(line.split()[1])
    raise SystemExit(f"cost: no summary line in {path}")


def functions(path, inclusive):
    """{function: Ir}, self or inclusive, read from a callgrind dump.

    Read here rather than through callgrind_annotate, whose 3.19 charges
    some callees' costs to their callers as self cost. A cost line right
    after `calls=` is the call's inclusive cost: it counts towards the
    caller's inclusive cost (calls to itself left out), never its self."""
    names, costs, current, after_call, callee = {}, {}, None, False, None

    def name(rest):
        # "(id) name" the first time an id is used, "(id)" after.
        ident, _, text = rest.partition(")")
        if text.strip():
            names[ident] = text.strip()
        return names.get(ident, ident)

    with open(path) as f:
        for line in f:
            if line.startswith("fn="):
                current = name(line[3:].strip())
            elif line.startswith("cfn="):
                callee = name(line[4:].strip())
            elif line.startswith("calls="):
                after_call = True
            elif line[:1].isdigit() or line[:1] in "+-*":
                parts = line.split()
                if len(parts) < 2 or current is None:
                    continue
                ir = int(parts[1])
                if after_call:
                    after_call = False
                    if not inclusive or callee == current:
                        continue
                costs[current] = costs.get(current, 0) + ir
    return costs


def per_request(work, target, requests, inclusive):
    first = functions(os.path.join(work, f"cg.{target}.1"), inclusive)
    second = functions(os.path.join(work, f"cg.{target}.2"), inclusive)
    diff = {k: (v - first.get(k, 0)) / requests for k, v in second.items()}
    return sorted(((v, k) for k, v in diff.items() if v > 0), reverse=True)


# Frames every task runs under: 100 % or close, they say nothing.
PLUMBING = re.compile(r"^(start_thread|clone|<?std::sys::|core::ops::function::FnOnce::call_once"
                      r"|<?tokio::runtime::|.*'\d+$)")
# Valgrind counts each iteration of `rep movsb`/`stosb` as an instruction, so
# above ~2 KiB these two count about one per byte copied or set (natively
# tens of bytes a cycle): shown apart, so a big future moved is not read
# as a hot loop.
BULK = ("__memcpy_avx_unaligned_erms", "__memset_avx2_unaligned_erms")


def bulk(work, target, requests):
    return sum(v for v, k in per_request(work, target, requests, False) if k in BULK)


def short(name, width=150):
    name = re.sub(r"::h[0-9a-f]{16}$", "", name)
    return name if len(name) <= width else name[:width - 1] + "…"


def main(argv):
    work, requests, rate, commit, level, targets = (
        argv[0], int(argv[1]), argv[2], argv[3], argv[4], argv[5:])
    date = f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC"
    rows = []
    for t in targets:
        a = summary(os.path.join(work, f"cg.{t}.1"))
        b = summary(os.path.join(work, f"cg.{t}.2"))
        rows.append({"target": t, "per_request": (b - a) / requests,
                     "bulk_copy_per_request": bulk(work, t, requests),
                     "short_run_ir": a, "long_run_ir": b})
    meta = {"target": "meta", "date": date, "requests": requests, "rate": rate,
            "commit": commit, "log_level": level}
    with open(os.path.join(HERE, "cost.jsonl"), "w") as f:
        for r in [meta] + rows:
            f.write(json.dumps(r) + "\n")

    got = {r["target"]: r["per_request"] for r in rows}
    bare = got.get("fixed_server")
    out = ["# herald: instructions per 1-event request", "",
           "Written by `bench/cost.sh`; do not edit by hand.", "",
           f"- date: {date}, commit {commit}; serve's log level: {level}",
           f"- each server alone under callgrind; `herald load` sends 1-event requests at {rate} req/s "
           f"to 10 hosts; (run of short + {requests}) − (short run), ÷ {requests}",
           "- memcpy/memset: valgrind counts each iteration of `rep movsb` as an instruction, so "
           "these count about one per byte copied or set (natively tens of bytes a cycle); "
           "\"the rest\" leaves them out", "",
           "| server | instructions per request | ×bare hyper | ×serve | of which memcpy/memset | the rest |",
           "| --- | --- | --- | --- | --- | --- |"]
    serve = got.get("serve")
    for r in rows:
        v = r["per_request"]
        x = lambda base: f"{v / base:.2f}" if base else "–"
        c = r["bulk_copy_per_request"]
        out.append(f"| {r['target']} | {v:,.0f} | {x(bare)} | {x(serve)} | {c:,.0f} | {v - c:,.0f} |")
    if "serve" in got:
        total = got["serve"]
        for inclusive, title in ((True, "inclusive, the runtime's own frames left out"), (False, "self")):
            out += ["", f"## serve: the {TOP} heaviest functions per request ({title})", "",
                    "| instructions per request | % of serve's | function |", "| --- | --- | --- |"]
            ranked = [(v, n) for v, n in per_request(work, "serve", requests, inclusive)
                      if not (inclusive and PLUMBING.match(n))]
            for v, name in ranked[:TOP]:
                out.append(f"| {v:,.0f} | {100 * v / total:.1f} | `{short(name)}` |")
    with open(os.path.join(HERE, "COST.md"), "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
