#!/usr/bin/env bash
# herald in Nova mode against nova-api itself, in one run, on one broker (the
# local RabbitMQ) and the machine's MariaDB, same rows, same batches. By hand,
# never in CI:
#
#   bench/nova.sh [--quick]   the comparison (quick: 5 s a run, not 10)
#   bench/nova.sh --tune      nova-api alone at several gunicorn workers x
#                             threads, taken in turn over two rounds, to find
#                             its best shape here
#   NOVA_WORKERS=W NOVA_THREADS=T bench/nova.sh   nova-api in that shape
#                             (default: the best --tune found, see BENCHMARKS.md)
#
# A bench cloud is built with the test fixture (tests/nova/fixture.py: Nova's
# real schema by nova-manage in databases hnb_<id>_*), and its servers are
# seeded once with nova's own objects (bench/nova_api/seed.py, 100 servers on
# 10 hosts). nova-api is the pinned nova (.venv-nova, scripts/nova.sh) under
# gunicorn (gthread), `nova.wsgi.osapi_compute` through bench/nova_api/entry.py,
# its auth the keystone pipeline with bench/nova_api/bench_auth.py in
# authtoken's place (roles admin+service; no Keystone: herald's side has a
# static token, so neither pays for token validation). herald is the release
# build with `directory.backend = "nova"` and `amqp.wire = "nova"` on the same
# databases, broker and exchange. Both are driven by `herald load
# --nova-servers` (the same generator, rows and batches), which consumes
# compute.<host> and compute-alt.<host> as nova-compute would and counts every
# event of every cast: lost = answered 200 and never arrived.
#
# Shapes, each run alternately on nova-api then herald: batches of 1 and 10
# events, 16 and 64 connections, closed loop; then an open loop of 1-event
# requests at half nova-api's best 1-event rate of this run, for the p99 at
# the same rate. Recorded: events/s, HTTP p50/p99, lost, herald serve's peak
# RSS, nova-api's (master + workers), and the load average before and after
# (the machine is shared). Writes bench/results-nova.jsonl (--tune:
# bench/results-nova-tune.jsonl) and the "herald vs nova-api" section of
# bench/BENCHMARKS.md. Exits non-zero if an event was lost. Everything it
# makes (databases, their user, the exchange, queues, processes) has a unique
# name or a PID of its own and is removed at the end; only 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODE=compare
SECS=10
case "${1:-}" in
    --quick) SECS=5 ;;
    --tune) MODE=tune; SECS=8 ;;
    "") ;;
    *) echo "usage: bench/nova.sh [--quick | --tune]" >&2; exit 2 ;;
esac
# nova-api's shape for the comparison: the best of --tune on this machine.
NOVA_WORKERS="${NOVA_WORKERS:-2}"
NOVA_THREADS="${NOVA_THREADS:-16}"
# --tune's shapes (workers x threads). Grids run one shape after another
# here put 2 x 16 first once and 2 x 4 first the next time (load average
# 14-22 against 12-21): the machine's load swings more than the shapes
# differ, so --tune now interleaves them.
TUNE_SHAPES=("1 16" "2 4" "2 8" "2 16" "4 8")
SERVERS=100
HOSTS=10
DB_POOL=4
GUNICORN_VERSION=23.0.0
GUNICORN_DIR=bench/.gunicorn
AMQP="amqp://guest:guest@127.0.0.1:5672/%2f"
TOKEN="bench:bench" # user:project, read alike by herald's token and bench_auth.py
log() { printf 'bench/nova: %s\n' "$*" >&2; }

scripts/ensure-services.sh
cargo build --release --locked --bin herald
HERALD="$ROOT/target/release/herald"
# shellcheck source=scripts/nova.sh
source scripts/nova.sh
nova_ensure_venv
NOVA_PY="$HERALD_TEST_NOVA_PYTHON"
if ! PYTHONPATH="$GUNICORN_DIR" "$NOVA_PY" -c \
    "import sys, gunicorn; sys.exit(gunicorn.__version__ != '$GUNICORN_VERSION')" 2>/dev/null; then
    log "installing gunicorn $GUNICORN_VERSION into $GUNICORN_DIR"
    rm -rf "$GUNICORN_DIR"
    "$NOVA_PY" -m pip install --quiet --no-deps --target "$GUNICORN_DIR" "gunicorn==$GUNICORN_VERSION"
fi

WORK="$(mktemp -d -t herald-nova-bench.XXXXXX)"
ID="$(python3 -c 'import uuid; print(uuid.uuid4().hex[:10])')"
PREFIX="hnb_$ID"
EXCHANGE="herald-nova-bench-$ID"
HOST_PREFIX="nb$ID"
RESULTS="$WORK/results.jsonl"
# The machine's broker and MariaDB, whoever listens on their ports: their CPU
# is read per run, never touched.
listener_pid() { ss -ltnpH "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true; }
BROKER_PID="$(listener_pid 5672)"
DB_PID="$(listener_pid 3306)"
CLOUD=false
API_PID=""
API_PIDS=() # the nova-api running, if any
SERVE_PID=""
FAILED=()

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# stop_pid PID: TERM, up to 30 s, then KILL it and its children.
stop_pid() {
    local pid="$1" children
    [[ -n "$pid" ]] || return 0
    children="$(pgrep -P "$pid" || true)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 300); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "PID $pid did not stop in 30 s: killing it"
        # shellcheck disable=SC2086
        kill -KILL "$pid" $children 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}
stop_apis() {
    local pid
    for pid in "${API_PIDS[@]}"; do stop_pid "$pid"; done
    API_PIDS=()
}
stop_serve() { stop_pid "$SERVE_PID"; SERVE_PID=""; }

cleanup() {
    stop_apis
    stop_serve
    if $CLOUD; then
        "$NOVA_PY" tests/nova/fixture.py drop --backend mysql --prefix "$PREFIX" >/dev/null 2>&1 ||
            log "could not drop the databases ${PREFIX}_*"
    fi
    rabbitmqctl -q eval \
        "rabbit_exchange:delete(rabbit_misc:r(<<\"/\">>, exchange, <<\"$EXCHANGE\">>), false, <<\"herald-bench\">>)." \
        >/dev/null 2>&1 || log "could not delete exchange $EXCHANGE"
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

loadavg() {
    echo "{\"loadavg\": \"$(cut -d' ' -f1-3 /proc/loadavg)\", \"date\": \"$(date -u '+%Y-%m-%d %H:%M UTC')\"}"
}

log "bench cloud $PREFIX on MariaDB (Nova's schema by nova-manage)"
CLOUD=true
"$NOVA_PY" tests/nova/fixture.py create --backend mysql --prefix "$PREFIX" --dir "$WORK/cloud" \
    >"$WORK/cloud.json" 2>"$WORK/cloud.log" || { cat "$WORK/cloud.log" >&2; exit 1; }
cloud() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, d))' "$WORK/cloud.json" "$1"; }
log "seeding $SERVERS servers on $HOSTS hosts with nova's objects"
"$NOVA_PY" bench/nova_api/seed.py --conf "$WORK/cloud/nova.conf" --servers "$SERVERS" \
    --hosts "$HOSTS" --host-prefix "$HOST_PREFIX" --project bench --user bench \
    >"$WORK/servers.json" 2>"$WORK/seed.log" || { cat "$WORK/seed.log" >&2; exit 1; }

# nova-api's configuration: the fixture's databases, the bench's exchange,
# logging at WARN as herald's (nova logs every request at INFO otherwise).
# The machine's MariaDB (max_connections 151) is shared with other work:
# each of nova-api's two engines (API and cell database) keeps at most
# DB_POOL connections per worker plus DB_POOL overflow (oslo.db's defaults,
# 5 + 50, let a few workers take them all), and herald's pools are 8 each.
mkdir -p "$WORK/nova-api/state/lock"
cat >"$WORK/nova-api/nova.conf" <<CONF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/
control_exchange = $EXCHANGE
host = herald-nova-bench
state_path = $WORK/nova-api/state
default_log_levels = nova=WARN,oslo_messaging=WARN,oslo_policy=WARN,amqp=WARN,sqlalchemy=WARN,stevedore=WARN,routes.middleware=WARN,urllib3.connectionpool=WARN,iso8601=WARN
[api_database]
connection = $(cloud api_connection)
max_pool_size = $DB_POOL
max_overflow = $DB_POOL
[database]
connection = $(cloud database_connection)
max_pool_size = $DB_POOL
max_overflow = $DB_POOL
[oslo_concurrency]
lock_path = $WORK/nova-api/state/lock
CONF
# nova's own api-paste.ini, with the bench's filter in authtoken's place.
sed 's/^paste.filter_factory = keystonemiddleware.auth_token:filter_factory$/paste.filter_factory = bench_auth:filter_factory/' \
    "$(dirname "$NOVA_PY")/../etc/nova/api-paste.ini" >"$WORK/nova-api/api-paste.ini"
grep -q '^paste.filter_factory = bench_auth:filter_factory$' "$WORK/nova-api/api-paste.ini" ||
    { log "nova's api-paste.ini has no authtoken filter to replace"; exit 1; }

start_api() { # workers threads: sets API_PID and API_URL
    local port ready="$WORK/ready-$1x$2"
    port="$(free_port)"
    rm -rf "$ready" # a file left by an earlier start of the same shape is no sign
    mkdir -p "$ready"
    OS_NOVA_CONFIG_DIR="$WORK/nova-api" BENCH_READY_DIR="$ready" PYTHONPATH="$ROOT/$GUNICORN_DIR" \
        "$NOVA_PY" -m gunicorn --config bench/nova_api/gunicorn_conf.py --pythonpath bench/nova_api \
        --bind "127.0.0.1:$port" --workers "$1" --threads "$2" --worker-class gthread \
        --timeout 120 --graceful-timeout 5 --backlog 2048 \
        entry:application 2>"$WORK/nova-api-$1x$2.log" &
    API_PID=$!
    API_PIDS+=("$API_PID")
    API_URL="http://127.0.0.1:$port"
    for _ in $(seq 600); do
        [[ "$(find "$ready" -type f | wc -l)" -ge "$1" ]] && return 0
        kill -0 "$API_PID" 2>/dev/null || break
        sleep 0.5
    done
    log "nova-api ($1 x $2) never had every worker ready"; tail -20 "$WORK/nova-api-$1x$2.log" >&2; exit 1
}

api_hwm_kb() { # master and workers, summed
    local total=0 pid kb
    for pid in "$API_PID" $(pgrep -P "$API_PID"); do
        kb="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
        total=$((total + ${kb:-0}))
    done
    echo "$total"
}

start_serve() {
    local port
    port="$(free_port)"
    cat >"$WORK/herald.toml" <<TOML
[http]
listen = "127.0.0.1:$port"
[[auth.tokens]]
token = "$TOKEN"
roles = ["admin", "service"]
user_id = "bench"
project_id = "bench"
[amqp]
url = "$AMQP"
wire = "nova"
nova_exchange = "$EXCHANGE"
# What nova-api sends with [upgrade_levels] compute unset (no cap).
nova_topic = "compute-alt"
[directory]
backend = "nova"
max_connections = 8
url = "$(cloud "reader['api_connection']")"
nova_database_url = "$(cloud "reader['database_connection']")"
[log]
level = "warn"
TOML
    "$HERALD" serve --config "$WORK/herald.toml" 2>"$WORK/serve.log" &
    SERVE_PID=$!
    SERVE_URL="http://127.0.0.1:$port"
    for _ in $(seq 300); do
        curl -sf "$SERVE_URL/readyz" >/dev/null && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "herald serve never became ready"; cat "$WORK/serve.log" >&2; exit 1
}

serve_hwm_kb() { awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status"; }

load_argv() { # url batch extra... : sets LOAD_ARGV, the `herald load` command
    local url="$1" batch="$2"; shift 2
    LOAD_ARGV=("$HERALD" load --url "$url" --token "$TOKEN" --amqp-url "$AMQP"
        --nova-servers "$WORK/servers.json" --exchange "$EXCHANGE"
        --batch-size "$batch" --request-timeout 60s --drain-timeout 60s --json "$@")
}
load() { load_argv "$@"; "${LOAD_ARGV[@]}"; }

# measure SCENARIO... -- load URL BATCH EXTRA... : records a `herald load`
# report; a run that failed (a lost event, no report) is remembered for the
# exit status.
measure() {
    local scenario=()
    while [[ "$1" != "--" ]]; do scenario+=("$1"); shift; done
    shift 2 # "--" and "load"
    load_argv "$@"
    local out rc=0 server
    # What the run cost in CPU (bench/cpu.py): the target (herald serve, or
    # nova-api's master and workers), the broker, MariaDB and the generator.
    if [[ " ${scenario[*]} " == *" target=herald "* ]]; then
        server="$SERVE_PID"
    else
        server="$(echo "$API_PID" $(pgrep -P "$API_PID") | tr ' ' ',')"
    fi
    out="$(python3 bench/cpu.py --server "$server" --broker "$BROKER_PID" --db "$DB_PID" -- "${LOAD_ARGV[@]}")" || rc=$?
    if [[ $rc -ne 0 ]]; then
        FAILED+=("${scenario[*]}: herald load exited $rc")
        log "FAILED: ${scenario[*]} (exit $rc)"
    fi
    if [[ -n "$out" ]]; then
        echo "$out" | record "${scenario[@]}"
        LAST="$out"
    fi
}

rate_of() { python3 -c 'import json, sys; print(json.loads(sys.argv[1])["events_per_sec"])' "$1"; }

warm() { # url: every worker's database pools and broker connection made
    load "$1" 1 --duration 3s --concurrency 16 >/dev/null 2>&1 || true
}

finish() { # results file
    cp "$RESULTS" "$1"
    python3 - "$ROOT/bench/BENCHMARKS.md" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
mark = "<!-- bench/nova.sh -->"
open(path, "w").write(text.split(mark)[0].rstrip("\n") + "\n\n")
PY
    python3 bench/summarize_nova.py >>bench/BENCHMARKS.md
    log "wrote $1 and BENCHMARKS.md's herald vs nova-api"
    python3 bench/summarize_nova.py
    if [[ ${#FAILED[@]} -gt 0 ]]; then
        printf 'bench/nova: failed: %s\n' "${FAILED[@]}" >&2
        exit 1
    fi
}

loadavg | record phase=start secs="$SECS"
if [[ "$MODE" == tune ]]; then
    # One nova-api at a time (the database connections are shared), the
    # shapes taken in turn over two rounds: a busy spell on the shared
    # machine then lands on several shapes, not all on one.
    for round in 1 2; do
        for shape in "${TUNE_SHAPES[@]}"; do
            read -r w t <<<"$shape"
            log "round $round: nova-api $w workers x $t threads"
            start_api "$w" "$t"
            warm "$API_URL"
            for conns in 16 64; do
                measure target=nova-api workers="$w" threads="$t" batch=1 connections="$conns" loop=closed round="$round" -- \
                    load "$API_URL" 1 --concurrency "$conns" --duration "${SECS}s"
            done
            stop_apis
        done
    done
    loadavg | record phase=end
    finish bench/results-nova-tune.jsonl
    exit 0
fi

start_api "$NOVA_WORKERS" "$NOVA_THREADS"
# The first load run declares Nova's exchange (with the compute queues, as
# nova-compute would); herald in Nova mode is ready only once it exists.
warm "$API_URL"
start_serve
warm "$SERVE_URL"
best=0
for batch in 1 10; do
    for conns in 16 64; do
        for target in nova-api herald; do
            url="$API_URL"
            [[ "$target" == herald ]] && url="$SERVE_URL"
            log "$target: batch $batch, $conns connections"
            LAST=""
            measure target="$target" workers="$NOVA_WORKERS" threads="$NOVA_THREADS" batch="$batch" connections="$conns" loop=closed -- \
                load "$url" "$batch" --concurrency "$conns" --duration "${SECS}s"
            if [[ "$target" == nova-api && "$batch" == 1 && -n "$LAST" ]]; then
                best="$(python3 -c 'import sys; print(max(float(sys.argv[1]), float(sys.argv[2])))' "$best" "$(rate_of "$LAST")")"
            fi
        done
    done
done
echo "{\"vm_hwm_kb\": $(serve_hwm_kb)}" | record target=herald rss=serve phase=closed
echo "{\"vm_hwm_kb\": $(api_hwm_kb)}" | record target=nova-api rss=api phase=closed
rate="$(python3 -c "print(max(1, int($best / 2)))")"
for target in nova-api herald; do
    url="$API_URL"
    [[ "$target" == herald ]] && url="$SERVE_URL"
    log "$target: open loop at $rate req/s (half nova-api's best 1-event rate)"
    measure target="$target" workers="$NOVA_WORKERS" threads="$NOVA_THREADS" batch=1 connections=256 loop=open rate="$rate" -- \
        load "$url" 1 --rate "$rate" --concurrency 256 --duration "$((SECS * 2))s"
done
echo "{\"vm_hwm_kb\": $(serve_hwm_kb)}" | record target=herald rss=serve phase=open
echo "{\"vm_hwm_kb\": $(api_hwm_kb)}" | record target=nova-api rss=api phase=open
loadavg | record phase=end
finish bench/results-nova.jsonl
