#!/usr/bin/env bash
# herald against the broker's own limit and against Nova's own dispatch, in
# one run, on one broker (the local RabbitMQ), same message shapes. By hand,
# not in CI:
#
#   bench/run.sh [--quick]      (quick: 5 s a run, 10 hosts, classic queues)
#   bench/run.sh --keystone     (token mode against keystone mode, alternately)
#   BASELINE=path/to/herald bench/run.sh [--quick]
#                               (also every serve shape with an older build,
#                               one after the other: before/after in one run)
#
# (a) raw: examples/raw_publisher.rs, lapin with confirms, persistent,
#     mandatory, herald's v1 body, 1 and 64 confirms in flight, and 64 with
#     its queues consumed the way `herald load` consumes herald's;
# (b) herald: its own `herald serve` (SQLite, coalescing on and off) driven
#     by `herald load` closed loop at 16 and 64 connections, batches of 1
#     and 10, then open loop at half the best 1-event rate for latency;
#     serve's peak RSS (VmHWM) per serve, lost events per run;
# (r) relay: examples/relay.rs, the least an HTTP->broker relay does for the
#     same job (one confirmed message per host per request, no coalescing,
#     no auth, an in-memory directory), driven by the same `herald load`
#     shape by shape, alternately with herald's coalescing serve, and open
#     loop at herald's rate: the limit herald is held to;
# (c) oslo: oslo.messaging RPC casts (bench/oslo_cast.py, in bench/.venv)
#     from 1 and 4 threads.
# (d) ceiling: `herald load` against examples/fixed_server.rs (answers
#     without work), so the generator is shown not to be the bottleneck.
# Full runs also take 100 hosts and quorum queues. Every row also says what
# it cost in CPU per 1,000 delivered events (bench/cpu.py): the process under
# test (serve, the relay, the raw publisher), the broker (the machine's
# beam.smp, read from /proc, never signalled) and the generator. Writes
# bench/BENCHMARKS.md (the machine, the date, its load, every run, the
# ratios, the issue-22 targets, and bench/cost.sh's last instruction counts
# when bench/cost.jsonl is there) and bench/results.jsonl.
# --keystone instead starts a real Keystone (scripts/keystone.sh) and a
# second serve in keystone mode on the same broker and directory, and runs
# one shape alternately through each (token, keystone, twice), writing
# bench/KEYSTONE.md: what validating Keystone tokens (cached) costs.
# Exits non-zero when any herald run lost an event (after writing the file).
# Everything it declares has a unique name and is deleted; only 127.0.0.1 is
# targeted; every run stops by itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
QUICK=false
KEYSTONE=false
BASELINE="${BASELINE:-}"
if [[ -n "$BASELINE" && ! -x "$BASELINE" ]]; then
    echo "bench: BASELINE=$BASELINE is not an executable herald" >&2; exit 2
fi
case "${1:-}" in
    --quick) QUICK=true ;;
    --keystone) KEYSTONE=true; QUICK=true ;;
    "") ;;
    *) echo "usage: bench/run.sh [--quick | --keystone]" >&2; exit 2 ;;
esac
if $KEYSTONE; then
    SECS=10; HOSTS_SET=(10); QUEUE_TYPES=(classic)
elif $QUICK; then
    SECS=5; HOSTS_SET=(10); QUEUE_TYPES=(classic)
else
    SECS=15; HOSTS_SET=(10 100); QUEUE_TYPES=(classic quorum)
fi
log() { printf 'bench: %s\n' "$*" >&2; }

scripts/ensure-services.sh
cargo build --release --locked --bin herald --example raw_publisher --example fixed_server --example relay
HERALD="$ROOT/target/release/herald"
RAW="$ROOT/target/release/examples/raw_publisher"
FIXED="$ROOT/target/release/examples/fixed_server"
RELAY_BIN="$ROOT/target/release/examples/relay"
# The machine's broker (whoever listens on 5672): its CPU is read, never touched.
BROKER_PID="$(ss -ltnpH 'sport = :5672' 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)"
[[ -n "$BROKER_PID" ]] || printf 'bench: %s\n' "cannot tell the broker's pid: its CPU columns stay empty" >&2

VENV=bench/.venv
if ! "$VENV/bin/python" -c 'import oslo_messaging' 2>/dev/null; then
    log "creating $VENV with oslo.messaging"
    python3 -m venv --clear "$VENV"
    "$VENV/bin/pip" install --quiet 'oslo.messaging==18.3.1'
fi

WORK="$(mktemp -d)"
RESULTS="$WORK/results.jsonl"
SERVE_PID=""
KS_SERVE_PID=""
FIXED_PID=""
RELAY_PID=""
EXCHANGES=()
FAILED=()
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
stop_serve() {
    [[ -n "$SERVE_PID" ]] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}
cleanup() {
    stop_serve
    for pid in "$KS_SERVE_PID" "$FIXED_PID" "$RELAY_PID"; do
        [[ -n "$pid" ]] || continue
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    if $KEYSTONE; then keystone_stop; fi
    for ex in "${EXCHANGES[@]}"; do
        rabbitmqctl -q eval \
            "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$ex\">>), false, <<\"herald-bench\">>)." \
            >/dev/null 2>&1 || log "could not delete exchange $ex"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
LOADAVG_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

# record KEY=VALUE... < json : appends {"scenario": {...}, "result": json}
record() {
    python3 -c '
import json, sys
scenario = dict(a.split("=", 1) for a in sys.argv[1:])
print(json.dumps({"scenario": scenario, "result": json.loads(sys.stdin.read())}))
' "$@" >>"$RESULTS"
}

start_serve() { # queue_type coalesce [serve binary]
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
    "${3:-$HERALD}" serve --config "$WORK/herald.toml" 2>"$WORK/serve-$ex.log" &
    SERVE_PID=$!
    URL="http://127.0.0.1:$port"
    for _ in $(seq 100); do
        curl -sf "$URL/readyz" >/dev/null && return 0
        sleep 0.1
    done
    log "serve never became ready"; cat "$WORK/serve-$ex.log" >&2; exit 1
}

serve_hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status"; }

# The relay for one queue type: its own exchange, and a config for `herald
# load` naming it (load declares the exchange and the host queues).
start_relay() { # queue_type
    local ex
    ex="herald-bench-relay-$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"
    EXCHANGES+=("$ex")
    cat >"$WORK/relay.toml" <<TOML
[auth]
mode = "noauth"
[amqp]
exchange = "$ex"
routing_prefix = "bench"
queue_prefix = "$ex.q"
[agent]
queue_type = "$1"
TOML
    "$RELAY_BIN" 3600 "$ex" bench >"$WORK/relay.out" 2>"$WORK/relay.log" &
    RELAY_PID=$!
    for _ in $(seq 100); do
        grep -q '^listening ' "$WORK/relay.out" 2>/dev/null && break
        sleep 0.1
    done
    grep -q '^listening ' "$WORK/relay.out" ||
        { log "the relay never listened"; cat "$WORK/relay.log" >&2; exit 1; }
    RELAY_URL="http://$(awk '/^listening / {print $2}' "$WORK/relay.out")"
}
stop_relay() {
    [[ -n "$RELAY_PID" ]] || return 0
    kill -TERM "$RELAY_PID" 2>/dev/null || true
    wait "$RELAY_PID" 2>/dev/null || true
    RELAY_PID=""
}

# cpu PID COMMAND... : COMMAND's JSON report with the CPU it cost PID, the
# broker and COMMAND itself (bench/cpu.py); PID may be empty.
cpu() {
    local pid="$1"; shift
    python3 bench/cpu.py --server "$pid" --broker "$BROKER_PID" -- "$@"
}

# The drain timeout is long: in the heaviest shapes (100 hosts, one message
# per host per request) the consumers fall seconds behind the publishes, and
# an event still queued when the drain ends is counted lost. No --cleanup
# in the measured runs: each serve's directory is a throwaway file, and a
# thousand DELETEs after the run would be charged to serve's CPU per event
# (the keystone comparison still cleans up: its runs share a directory).
load_at() { # pid url token config hosts batch extra...
    local pid="$1" url="$2" token="$3" config="$4" hosts="$5" batch="$6"; shift 6
    cpu "$pid" "$HERALD" load --url "$url" --token "$token" --config "$config" \
        --servers $((hosts * 10)) --hosts "$hosts" --batch-size "$batch" \
        --duration "${SECS}s" --drain-timeout 60s --json "$@"
}
load() { load_at "$SERVE_PID" "$URL" "$TOKEN" "$WORK/herald.toml" "$@"; }
relay_load() { load_at "$RELAY_PID" "$RELAY_URL" none "$WORK/relay.toml" "$@"; }

# measure SCENARIO... -- COMMAND... : runs a `herald load` command, records
# its report under the scenario, and remembers a run that failed (a lost
# event, or no report) so the script can exit non-zero at the end.
measure() {
    local scenario=()
    while [[ "$1" != "--" ]]; do scenario+=("$1"); shift; done
    shift
    local out rc=0
    out="$("$@")" || rc=$?
    if [[ $rc -ne 0 ]]; then
        FAILED+=("${scenario[*]}: herald load exited $rc")
        log "FAILED: ${scenario[*]} (exit $rc)"
    fi
    if [[ -n "$out" ]]; then
        echo "$out" | record "${scenario[@]}"
        LAST="$out"
    fi
}

if $KEYSTONE; then
    # shellcheck source=scripts/keystone.sh
    source scripts/keystone.sh
    keystone_start
    start_serve classic true
    KS_PORT="$(free_port)"
    sed -e "s/^listen = .*/listen = \"127.0.0.1:$KS_PORT\"/" \
        -e '/^\[\[auth.tokens\]\]/,/^roles/d' "$WORK/herald.toml" >"$WORK/keystone.toml"
    cat >>"$WORK/keystone.toml" <<TOML
[auth]
mode = "keystone"
auth_url = "$HERALD_TEST_KEYSTONE_URL"
username = "admin"
project_name = "admin"
TOML
    HERALD__AUTH__PASSWORD="$HERALD_TEST_KEYSTONE_ADMIN_PASSWORD" \
        "$HERALD" serve --config "$WORK/keystone.toml" 2>"$WORK/serve-keystone.log" &
    KS_SERVE_PID=$!
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$KS_PORT/readyz" >/dev/null && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$KS_PORT/readyz" >/dev/null ||
        { log "keystone-mode serve never became ready"; cat "$WORK/serve-keystone.log" >&2; exit 1; }
    keystone_load() {
        OS_PASSWORD="$HERALD_TEST_KEYSTONE_ADMIN_PASSWORD" \
            HERALD__AUTH__PASSWORD="$HERALD_TEST_KEYSTONE_ADMIN_PASSWORD" "$HERALD" load \
            --url "http://127.0.0.1:$KS_PORT" --config "$WORK/keystone.toml" \
            --os-auth-url "$HERALD_TEST_KEYSTONE_URL" --os-username admin --os-project-name admin \
            --servers 100 --hosts 10 --batch-size 10 --concurrency 32 \
            --duration "${SECS}s" --json --cleanup
    }
    for round in 1 2; do
        log "keystone comparison, round $round: token mode"
        measure path=auth mode=token round="$round" -- load 10 10 --concurrency 32 --cleanup
        log "keystone comparison, round $round: keystone mode"
        measure path=auth mode=keystone round="$round" -- keystone_load
    done
    cp "$RESULTS" bench/results-keystone.jsonl
    python3 bench/summarize.py --keystone bench/results-keystone.jsonl "$SECS" >bench/KEYSTONE.md
    log "wrote bench/KEYSTONE.md"
    cat bench/KEYSTONE.md
    if [[ ${#FAILED[@]} -gt 0 ]]; then
        printf 'bench: failed: %s\n' "${FAILED[@]}" >&2
        exit 1
    fi
    exit 0
fi

log "ceiling: herald load against a server that does no work"
"$FIXED" 600 >"$WORK/fixed.out" &
FIXED_PID=$!
for _ in $(seq 100); do
    grep -q '^listening ' "$WORK/fixed.out" 2>/dev/null && break
    sleep 0.05
done
FIXED_URL="http://$(awk '/^listening / {print $2}' "$WORK/fixed.out")"
for batch in 1 10; do
    measure path=ceiling batch="$batch" connections=64 -- \
        cpu "$FIXED_PID" "$HERALD" load --url "$FIXED_URL" --token none --agents-running \
        --servers 100 --hosts 10 --batch-size "$batch" --concurrency 64 \
        --duration "${SECS}s" --json
done
kill -TERM "$FIXED_PID" 2>/dev/null || true
wait "$FIXED_PID" 2>/dev/null || true
FIXED_PID=""

for qt in "${QUEUE_TYPES[@]}"; do
    for hosts in "${HOSTS_SET[@]}"; do
        for inflight in 1 64; do
            log "raw: $qt, $hosts hosts, $inflight in flight"
            cpu "" "$RAW" "$SECS" "$hosts" "$inflight" "$qt" | record path=raw queue_type="$qt" hosts="$hosts" in_flight="$inflight" batch=1
        done
        # herald's runs pay the broker for consuming (herald load counts every
        # event); the same publisher with its queues consumed that way shows
        # how much of the gap to the bare publisher that is.
        log "raw: $qt, $hosts hosts, 64 in flight, consumed as herald load consumes"
        cpu "" "$RAW" --consume "$SECS" "$hosts" 64 "$qt" | record path=raw queue_type="$qt" hosts="$hosts" in_flight=64+consume batch=1
        start_relay "$qt"
        best=0
        builds=(current)
        [[ -n "$BASELINE" ]] && builds+=(baseline)
        for coalesce in true false; do
          for build in "${builds[@]}"; do
            serve_bin="$HERALD"
            [[ "$build" == baseline ]] && serve_bin="$BASELINE"
            start_serve "$qt" "$coalesce" "$serve_bin"
            for batch in 1 10; do
                for conns in 16 64; do
                    # The relay runs each shape just before herald's
                    # coalescing serve: the two alternate through the run.
                    if [[ "$build" == current && "$coalesce" == true ]]; then
                        log "relay: $qt, $hosts hosts, batch $batch, $conns connections"
                        measure path=relay queue_type="$qt" hosts="$hosts" batch="$batch" connections="$conns" loop=closed -- \
                            relay_load "$hosts" "$batch" --concurrency "$conns"
                    fi
                    log "herald ($build): $qt, $hosts hosts, coalesce $coalesce, batch $batch, $conns connections"
                    LAST=""
                    measure path=herald build="$build" queue_type="$qt" hosts="$hosts" coalesce="$coalesce" batch="$batch" connections="$conns" loop=closed -- \
                        load "$hosts" "$batch" --concurrency "$conns"
                    if [[ "$build" == current && "$coalesce" == true && "$batch" == 1 && -n "$LAST" ]]; then
                        best="$(python3 -c 'import json,sys; r=json.loads(sys.argv[1]); print(max(float(sys.argv[2]), r["requests_per_sec"]))' "$LAST" "$best")"
                    fi
                done
            done
            # Peak RSS after the closed-loop shapes, which every build runs
            # alike; the open loop (256 connections) only runs on the current
            # build, so its peak is recorded apart.
            echo "{\"vm_hwm_kb\": $(serve_hwm_kb)}" | record path=serve-rss build="$build" queue_type="$qt" hosts="$hosts" coalesce="$coalesce" phase=closed
            if [[ "$build" == current && "$coalesce" == true ]]; then
                rate="$(python3 -c "print(max(1, round($best / 2)))")"
                log "herald: open loop at $rate req/s (half the best 1-event rate)"
                measure path=herald build="$build" queue_type="$qt" hosts="$hosts" coalesce=true batch=1 loop=open rate="$rate" -- \
                    load "$hosts" 1 --rate "$rate" --concurrency 256
                log "relay: open loop at the same $rate req/s"
                measure path=relay queue_type="$qt" hosts="$hosts" batch=1 loop=open rate="$rate" -- \
                    relay_load "$hosts" 1 --rate "$rate" --concurrency 256
                log "raw: open loop at the same $rate events/s"
                cpu "" "$RAW" "$SECS" "$hosts" 64 "$qt" "amqp://guest:guest@127.0.0.1:5672/%2f" "$rate" |
                    record path=raw queue_type="$qt" hosts="$hosts" in_flight=open rate="$rate" batch=1
                echo "{\"vm_hwm_kb\": $(serve_hwm_kb)}" | record path=serve-rss build="$build" queue_type="$qt" hosts="$hosts" coalesce="$coalesce" phase=open
            fi
            stop_serve
          done
        done
        stop_relay
    done
done
for hosts in "${HOSTS_SET[@]}"; do
    for threads in 1 4; do
        log "oslo.messaging casts: $hosts hosts, $threads threads"
        cpu "" "$VENV/bin/python" bench/oslo_cast.py "$SECS" "$hosts" "$threads" 2>/dev/null |
            record path=oslo hosts="$hosts" threads="$threads" batch=1
    done
done

echo "{\"loadavg_before\": \"$LOADAVG_BEFORE\", \"loadavg_after\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"quick\": $QUICK}" |
    record path=meta
cp "$RESULTS" bench/results.jsonl
python3 bench/summarize.py bench/results.jsonl "$SECS" >bench/BENCHMARKS.md
# bench/nova.sh's section (herald vs nova-api) is kept: it has its own results.
if [[ -f bench/results-nova.jsonl || -f bench/results-nova-tune.jsonl ]]; then
    { echo; python3 bench/summarize_nova.py; } >>bench/BENCHMARKS.md
fi
log "wrote bench/BENCHMARKS.md"
cat bench/BENCHMARKS.md
if [[ ${#FAILED[@]} -gt 0 ]]; then
    printf 'bench: failed: %s\n' "${FAILED[@]}" >&2
    exit 1
fi
