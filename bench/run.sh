#!/usr/bin/env bash
# herald against the broker's own limit and against Nova's own dispatch, in
# one run, on one broker (the local RabbitMQ), same message shapes. By hand,
# not in CI:
#
#   bench/run.sh [--quick]      (quick: 5 s a run, 10 hosts, classic queues)
#
# (a) raw: examples/raw_publisher.rs, lapin with confirms, persistent,
#     mandatory, herald's v1 body, 1 and 64 confirms in flight;
# (b) herald: its own `herald serve` (SQLite, coalescing on and off) driven
#     by `herald load` closed loop at 16 and 64 connections, batches of 1
#     and 10, then open loop at half the best 1-event rate for latency;
#     serve's peak RSS (VmHWM) per serve, lost events per run;
# (c) oslo: oslo.messaging RPC casts (bench/oslo_cast.py, in bench/.venv)
#     from 1 and 4 threads.
# Full runs also take 100 hosts and quorum queues. Writes bench/BENCHMARKS.md
# (the machine, the date, every run, the ratios) and bench/results.jsonl.
# Everything it declares has a unique name and is deleted; only 127.0.0.1 is
# targeted; every run stops by itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=false
[[ "${1:-}" == "--quick" ]] && QUICK=true
if $QUICK; then
    SECS=5; HOSTS_SET=(10); QUEUE_TYPES=(classic)
else
    SECS=15; HOSTS_SET=(10 100); QUEUE_TYPES=(classic quorum)
fi
log() { printf 'bench: %s\n' "$*" >&2; }

scripts/ensure-services.sh
cargo build --release --locked --bin herald --example raw_publisher
HERALD="$ROOT/target/release/herald"
RAW="$ROOT/target/release/examples/raw_publisher"

VENV=bench/.venv
if ! "$VENV/bin/python" -c 'import oslo_messaging' 2>/dev/null; then
    log "creating $VENV with oslo.messaging"
    python3 -m venv --clear "$VENV"
    "$VENV/bin/pip" install --quiet 'oslo.messaging==18.3.1'
fi

WORK="$(mktemp -d)"
RESULTS="$WORK/results.jsonl"
SERVE_PID=""
EXCHANGES=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stop_serve() {
    [[ -n "$SERVE_PID" ]] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}
cleanup() {
    stop_serve
    for ex in "${EXCHANGES[@]}"; do
        rabbitmqctl -q eval \
            "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$ex\">>), false, <<\"herald-bench\">>)." \
            >/dev/null 2>&1 || log "could not delete exchange $ex"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

# record KEY=VALUE... < json : appends {"scenario": {...}, "result": json}
record() {
    python3 -c '
import json, sys
scenario = dict(a.split("=", 1) for a in sys.argv[1:])
print(json.dumps({"scenario": scenario, "result": json.loads(sys.stdin.read())}))
' "$@" >>"$RESULTS"
}

start_serve() { # queue_type coalesce
    local port ex
    port="$(free_port)"
    ex="herald-bench-$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"
    EXCHANGES+=("$ex")
    TOKEN="bench-$ex"
    cat >"$WORK/herald.toml" <<TOML
[http]
listen = "127.0.0.1:$port"
[[auth.tokens]]
token = "$TOKEN"
roles = ["admin"]
[amqp]
exchange = "$ex"
routing_prefix = "bench"
queue_prefix = "$ex.q"
coalesce = $2
[agent]
queue_type = "$1"
[directory]
url = "$WORK/directory-$ex.sqlite3"
[log]
level = "warn"
TOML
    "$HERALD" serve --config "$WORK/herald.toml" 2>"$WORK/serve-$ex.log" &
    SERVE_PID=$!
    URL="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -sf "$URL/readyz" >/dev/null && return 0
        sleep 0.1
    done
    log "serve never became ready"; cat "$WORK/serve-$ex.log" >&2; exit 1
}

serve_hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status"; }

load() { # hosts batch extra...
    local hosts="$1" batch="$2"; shift 2
    "$HERALD" load --url "$URL" --token "$TOKEN" --config "$WORK/herald.toml" \
        --servers $((hosts * 10)) --hosts "$hosts" --batch-size "$batch" \
        --duration "${SECS}s" --json --cleanup "$@"
}

for qt in "${QUEUE_TYPES[@]}"; do
    for hosts in "${HOSTS_SET[@]}"; do
        for inflight in 1 64; do
            log "raw: $qt, $hosts hosts, $inflight in flight"
            "$RAW" "$SECS" "$hosts" "$inflight" "$qt" | record path=raw queue_type="$qt" hosts="$hosts" in_flight="$inflight" batch=1
        done
        best=0
        for coalesce in true false; do
            start_serve "$qt" "$coalesce"
            for batch in 1 10; do
                for conns in 16 64; do
                    log "herald: $qt, $hosts hosts, coalesce $coalesce, batch $batch, $conns connections"
                    out="$(load "$hosts" "$batch" --concurrency "$conns")"
                    echo "$out" | record path=herald queue_type="$qt" hosts="$hosts" coalesce="$coalesce" batch="$batch" connections="$conns" loop=closed
                    if [[ "$coalesce" == true && "$batch" == 1 ]]; then
                        best="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(max(float(sys.argv[2]), r["requests_per_sec"]))' "$out" "$best")"
                    fi
                done
            done
            if [[ "$coalesce" == true ]]; then
                rate="$(python3 -c "print(max(1, round($best / 2)))")"
                log "herald: open loop at $rate req/s (half the best 1-event rate)"
                load "$hosts" 1 --rate "$rate" --concurrency 256 |
                    record path=herald queue_type="$qt" hosts="$hosts" coalesce=true batch=1 loop=open rate="$rate"
            fi
            echo "{\"vm_hwm_kb\": $(serve_hwm_kb)}" | record path=serve-rss queue_type="$qt" hosts="$hosts" coalesce="$coalesce"
            stop_serve
        done
    done
done
for hosts in "${HOSTS_SET[@]}"; do
    for threads in 1 4; do
        log "oslo.messaging casts: $hosts hosts, $threads threads"
        "$VENV/bin/python" bench/oslo_cast.py "$SECS" "$hosts" "$threads" 2>/dev/null |
            record path=oslo hosts="$hosts" threads="$threads" batch=1
    done
done

cp "$RESULTS" bench/results.jsonl
python3 bench/summarize.py bench/results.jsonl "$SECS" >bench/BENCHMARKS.md
log "wrote bench/BENCHMARKS.md"
cat bench/BENCHMARKS.md
