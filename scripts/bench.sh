#!/usr/bin/env bash
# Baseline throughput and latency of `herald serve`, end to end through the
# local RabbitMQ, measured with `herald load` (release build).
#
#   scripts/bench.sh [seconds-per-run]              (default 20)
#   scripts/bench.sh --keystone [seconds-per-run]   token mode against keystone mode
#
# Starts its own `herald serve` on a free loopback port with a throw-away
# config (SQLite in a temp dir, a uniquely named exchange, logs at warn),
# runs each scenario for a bounded time, prints one JSON report per scenario
# and a summary with ratios against the first scenario of the same run, then
# stops the server it started (by PID) and removes its exchange.
# With --keystone it also starts a real Keystone (scripts/keystone.sh) and a
# second serve in keystone mode on the same broker and directory, and runs
# the same scenario alternately through each (token, keystone, token,
# keystone), so the ratio shows what validating Keystone tokens (cached after
# the first use) costs. Only 127.0.0.1 is ever targeted.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
KEYSTONE=false
if [[ "${1:-}" == "--keystone" ]]; then
    KEYSTONE=true
    shift
fi
SECONDS_PER_RUN="${1:-20}"
log() { printf 'bench: %s\n' "$*" >&2; }

scripts/ensure-services.sh
cargo build --release --locked --bin herald
HERALD="$ROOT/target/release/herald"

WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
TOKEN="bench-$(python3 -c 'import uuid; print(uuid.uuid4().hex)')"
EXCHANGE="herald-bench-$(python3 -c 'import uuid; print(uuid.uuid4().hex[:12])')"
cat >"$WORK/herald.toml" <<TOML
[http]
listen = "127.0.0.1:$PORT"
[[auth.tokens]]
token = "$TOKEN"
roles = ["admin"]
[amqp]
exchange = "$EXCHANGE"
routing_prefix = "bench"
queue_prefix = "$EXCHANGE.q"
[directory]
url = "$WORK/directory.sqlite3"
[log]
level = "warn"
TOML

"$HERALD" serve --config "$WORK/herald.toml" 2>"$WORK/serve.log" &
SERVE_PID=$!
cleanup() {
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    # rabbitmqctl has no delete_exchange; the management plugin may be off.
    rabbitmqctl -q eval \
        "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$EXCHANGE\">>), false, <<\"herald-bench\">>)." \
        >/dev/null 2>&1 || echo "bench: could not delete exchange $EXCHANGE" >&2
    rm -rf "$WORK"
}
trap cleanup EXIT

for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done
curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null || { echo "bench: serve never became ready" >&2; cat "$WORK/serve.log" >&2; exit 1; }

run() {
    local name="$1"; shift
    echo "== $name" >&2
    "$HERALD" load --url "http://127.0.0.1:$PORT" --token "$TOKEN" --config "$WORK/herald.toml" \
        --duration "${SECONDS_PER_RUN}s" --json "$@" | tee "$WORK/$name.json"
}

if [[ "$KEYSTONE" == true ]]; then
    # shellcheck source=scripts/keystone.sh
    source scripts/keystone.sh
    keystone_start
    KS_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
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
    trap 'kill -TERM "$KS_SERVE_PID" 2>/dev/null || true; wait "$KS_SERVE_PID" 2>/dev/null || true; keystone_stop; cleanup' EXIT
    for _ in $(seq 100); do
        curl -sf "http://127.0.0.1:$KS_PORT/readyz" >/dev/null && break
        sleep 0.1
    done
    curl -sf "http://127.0.0.1:$KS_PORT/readyz" >/dev/null || { log "keystone-mode serve never became ready"; cat "$WORK/serve-keystone.log" >&2; exit 1; }
    run_keystone() {
        local name="$1"; shift
        echo "== $name" >&2
        OS_PASSWORD="$HERALD_TEST_KEYSTONE_ADMIN_PASSWORD" \
            HERALD__AUTH__PASSWORD="$HERALD_TEST_KEYSTONE_ADMIN_PASSWORD" "$HERALD" load \
            --url "http://127.0.0.1:$KS_PORT" --config "$WORK/keystone.toml" \
            --os-auth-url "$HERALD_TEST_KEYSTONE_URL" --os-username admin --os-project-name admin \
            --duration "${SECONDS_PER_RUN}s" --json "$@" | tee "$WORK/$name.json"
    }
    for round in 1 2; do
        run "token-$round" --batch-size 10 --hosts 10 --concurrency 32
        run_keystone "keystone-$round" --batch-size 10 --hosts 10 --concurrency 32
    done
else
    run batch10-hosts10-c32 --batch-size 10 --hosts 10 --concurrency 32
    run batch1-hosts10-c32 --batch-size 1 --hosts 10 --concurrency 32
fi

python3 - "$WORK" <<'PY'
import json, sys, pathlib
work = pathlib.Path(sys.argv[1])
runs = [(p.stem, json.loads(p.read_text())) for p in sorted(work.glob("*.json"), key=lambda p: p.stat().st_mtime)]
def get(r, *keys):
    for k in keys:
        if k in r: return r[k]
    return None
print("\nscenario                 req/s     events/s   p50 ms   p99 ms   ratio req/s  ratio events/s")
base = runs[0][1]
for name, r in runs:
    rq = get(r, "requests_per_sec"); ev = get(r, "events_per_sec")
    lat = r.get("latency_ms", {})
    print(f"{name:22} {rq:9.1f} {ev:11.1f} {lat.get('p50', 0):8.2f} {lat.get('p99', 0):8.2f} "
          f"{rq / get(base, 'requests_per_sec'):12.2f} {ev / get(base, 'events_per_sec'):15.2f}")
PY
