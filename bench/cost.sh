#!/usr/bin/env bash
# What one 1-event request costs a server, in instructions: deterministic,
# unlike events/s on a shared machine. By hand, not in CI:
#
#   bench/cost.sh                         herald serve, the relay, bare hyper
#   BASELINE=path/to/herald bench/cost.sh  and an older serve, side by side
#
# Each server runs alone under `valgrind --tool=callgrind` (`perf stat -e
# instructions` would do without the slow-down, but this machine's kernel
# gives no hardware counters: "<not supported>"): herald serve (this build,
# SQLite directory, token auth, default settings otherwise, log level
# $LOG_LEVEL, default info), examples/relay.rs and examples/fixed_server.rs
# (bare hyper, answers without work). `herald load` (native) sends 1-event
# requests to it at a low fixed rate ($RATE req/s, 10 hosts, consuming and
# counting every event), so requests mostly arrive one at a time and each
# pays its path whole: a warm-up of $WARMUP requests, then counters zeroed
# (callgrind_control -z) and a run of $SHORT requests dumped (-d), zeroed
# again and a run of $SHORT + $REQUESTS dumped. (second - first) / $REQUESTS
# is the server's instructions per request, with what every load run costs
# once (readiness probe, seeding, new connections) cancelled out.
#
# Writes bench/cost.jsonl (read by bench/summarize.py into BENCHMARKS.md)
# and bench/COST.md: the table, and serve's heaviest functions per request
# (inclusive and self, from callgrind_annotate, the same difference), the
# to-do list for cutting its cost; the dumps stay in target/cost/. Loopback only; everything it starts it
# stops by PID; the exchanges it declares are deleted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BASELINE="${BASELINE:-}"
RATE="${RATE:-40}"
WARMUP="${WARMUP:-200}"
SHORT="${SHORT:-100}"
REQUESTS="${REQUESTS:-1000}"
LOG_LEVEL="${LOG_LEVEL:-info}"
if [[ -n "$BASELINE" && ! -x "$BASELINE" ]]; then
    echo "cost: BASELINE=$BASELINE is not an executable herald" >&2; exit 2
fi
log() { printf 'cost: %s\n' "$*" >&2; }
command -v valgrind >/dev/null && command -v callgrind_control >/dev/null ||
    { log "needs valgrind (callgrind, callgrind_control, callgrind_annotate)"; exit 2; }

scripts/ensure-services.sh
cargo build --release --locked --bin herald --example relay --example fixed_server
HERALD="$ROOT/target/release/herald"
RELAY_BIN="$ROOT/target/release/examples/relay"
FIXED="$ROOT/target/release/examples/fixed_server"

WORK="$(mktemp -d)"
# The dumps stay here for callgrind_annotate or kcachegrind (cg.NAME.1: the
# short run, cg.NAME.2: the long one).
KEEP="$ROOT/target/cost"
rm -rf "$KEEP" && mkdir -p "$KEEP"
PID=""
EXCHANGES=()
stop_target() {
    [[ -n "$PID" ]] || return 0
    kill -TERM "$PID" 2>/dev/null || true
    wait "$PID" 2>/dev/null || true
    PID=""
}
cleanup() {
    stop_target
    for ex in "${EXCHANGES[@]}"; do
        rabbitmqctl -q eval \
            "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$ex\">>), false, <<\"herald-cost\">>)." \
            >/dev/null 2>&1 || log "could not delete exchange $ex"
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# Sets EX to a new exchange name and remembers it for the clean-up (in this
# shell: a `$(...)` would remember it in a subshell, and leave it behind).
new_exchange() {
    EX="herald-cost-$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"
    EXCHANGES+=("$EX")
}
callgrind() { # name command... : starts the command under callgrind as $PID
    local name="$1"; shift
    # --compress-pos=no: callgrind_annotate 3.19 misreads "*" positions, charging
    # callees to their callers as self cost.
    valgrind --tool=callgrind --compress-pos=no --log-file="$WORK/valgrind-$name.log" \
        --callgrind-out-file="$WORK/cg.$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PID=$!
}
wait_for() { # name probe... : waits (3 min: valgrind starts slowly) until probe succeeds
    local name="$1"; shift
    for _ in $(seq 900); do
        "$@" >/dev/null 2>&1 && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.2
    done
    log "$name never became ready"; tail -20 "$WORK/$name.err" "$WORK/valgrind-$name.log" >&2; exit 1
}
listening() { grep -q '^listening ' "$WORK/$1.out"; }
listen_url() { echo "http://$(awk '/^listening / {print $2}' "$WORK/$1.out")"; }

start_serve() { # name binary
    local port ex
    port="$(free_port)"
    new_exchange
    ex="$EX"
    cat >"$WORK/$1.toml" <<TOML
[http]
listen = "127.0.0.1:$port"
[[auth.tokens]]
token = "cost-$ex"
roles = ["admin"]
[amqp]
exchange = "$ex"
routing_prefix = "cost"
queue_prefix = "$ex.q"
[directory]
url = "$WORK/directory-$ex.sqlite3"
[log]
level = "$LOG_LEVEL"
TOML
    callgrind "$1" "$2" serve --config "$WORK/$1.toml"
    URL="http://127.0.0.1:$port"
    LOAD=(--url "$URL" --token "cost-$ex" --config "$WORK/$1.toml")
    wait_for "$1" curl -sf "$URL/readyz"
}
start_relay() {
    local ex
    new_exchange
    ex="$EX"
    cat >"$WORK/relay.toml" <<TOML
[auth]
mode = "noauth"
[amqp]
exchange = "$ex"
routing_prefix = "cost"
queue_prefix = "$ex.q"
TOML
    callgrind relay "$RELAY_BIN" 3600 "$ex" cost
    wait_for relay listening relay
    LOAD=(--url "$(listen_url relay)" --token none --config "$WORK/relay.toml")
}
start_fixed() {
    callgrind fixed_server "$FIXED" 3600
    wait_for fixed_server listening fixed_server
    LOAD=(--url "$(listen_url fixed_server)" --token none --agents-running)
}

send() { # requests : one `herald load` run of 1-event requests at $RATE
    "$HERALD" load "${LOAD[@]}" --servers 100 --hosts 10 --batch-size 1 \
        --requests "$1" --rate "$RATE" --concurrency 8 --drain-timeout 60s --json \
        >"$WORK/load.json" || { log "herald load failed"; cat "$WORK/load.json" >&2; exit 1; }
}
control() { callgrind_control "$1" "$PID" >/dev/null 2>&1; }
# dump N name : dumps the counters since the last zeroing as cg.name.N and
# waits for the file (callgrind_control exits 0 even when it reached nobody).
dump() {
    control -d
    for _ in $(seq 150); do
        [[ -s "$WORK/cg.$2.$1" ]] && return 0
        sleep 0.2
    done
    log "$2: callgrind wrote no dump $1"; exit 1
}

measure() { # name start-function [binary]
    local name="$1"
    log "$name: starting under callgrind"
    "$2" "$name" "${3:-}"
    log "$name: warm-up, $WARMUP requests at $RATE/s"
    send "$WARMUP"
    control -z
    log "$name: $SHORT requests"
    send "$SHORT"
    dump 1 "$name"
    control -z
    log "$name: $((SHORT + REQUESTS)) requests"
    send "$((SHORT + REQUESTS))"
    dump 2 "$name"
    stop_target
    cp "$WORK/cg.$name".[12] "$KEEP/"
    echo "$name" >>"$WORK/targets"
}

# `measure` passes (name, binary) to every starter; the examples ignore them.
relay_starter() { start_relay; }
fixed_starter() { start_fixed; }
measure serve start_serve "$HERALD"
[[ -n "$BASELINE" ]] && measure serve-baseline start_serve "$BASELINE"
measure relay relay_starter
measure fixed_server fixed_starter

python3 bench/cost_report.py "$WORK" "$REQUESTS" "$RATE" "$(git rev-parse --short HEAD)" \
    "$LOG_LEVEL" $(cat "$WORK/targets")
log "wrote bench/COST.md and bench/cost.jsonl"
sed -n '1,/^## /p' bench/COST.md
