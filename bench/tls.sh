#!/usr/bin/env bash
# What TLS to the broker costs herald: events/s and p99 with serve (and
# load's own broker connection) over TLS, as a ratio to plain in the same
# run, on the same broker node; and serve's peak RSS (VmHWM). By hand, not
# in CI:
#
#   bench/tls.sh [SECONDS]      (default 8 s a run; ROUNDS=N, default 2)
#
# It starts a RabbitMQ node of its own (own node name, ports, config, mnesia
# and log dirs, and a HOME with its own Erlang cookie, as
# tests/it/broker_node.rs does) with a plain listener and a TLS listener on
# 127.0.0.1, certificates made here with the openssl CLI (a CA and a server
# certificate for IP:127.0.0.1 and DNS:localhost). Then, twice over and
# alternately (plain, TLS, plain, TLS), a `herald serve` against one
# listener (TLS: amqps:// with `[amqp.tls] ca_file`) driven by `herald load`
# closed loop, 10 hosts, 64 connections, batches of 1 and 10. Prints a
# table and writes it to bench/TLS.md (its own file, as bench/KEYSTONE.md:
# bench/run.sh rewrites BENCHMARKS.md).
# Everything it starts it stops by PID; its temp dir is removed; only
# 127.0.0.1 is used; the machine's own RabbitMQ is never touched.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECS="${1:-8}"
ROUNDS="${ROUNDS:-2}"
HOSTS=10
CONNS=64
SBIN=/usr/lib/rabbitmq/bin
HERALD="$ROOT/target/release/herald"
log() { printf 'bench/tls: %s\n' "$*" >&2; }
[[ -x "$SBIN/rabbitmq-server" ]] || { log "no $SBIN/rabbitmq-server"; exit 2; }
command -v openssl >/dev/null || { log "no openssl CLI"; exit 2; }
cargo build --release --locked --bin herald

WORK="$(mktemp -d)"
NODE_PID=""
SERVE_PID=""
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
NODE="herald-tls-bench-$$@localhost"
AMQP_PORT="$(free_port)"
AMQPS_PORT="$(free_port)"
DIST_PORT="$(free_port)"
node_env() {
    env HOME="$WORK/home" RABBITMQ_NODENAME="$NODE" RABBITMQ_NODE_PORT="$AMQP_PORT" \
        RABBITMQ_DIST_PORT="$DIST_PORT" RABBITMQ_CONF_ENV_FILE="$WORK/node/env.conf" \
        RABBITMQ_CONFIG_FILE="$WORK/node/rabbitmq.conf" \
        RABBITMQ_ENABLED_PLUGINS_FILE="$WORK/node/enabled_plugins" \
        RABBITMQ_MNESIA_BASE="$WORK/node/mnesia" RABBITMQ_LOG_BASE="$WORK/node/log" \
        ERL_EPMD_ADDRESS=127.0.0.1 "$@"
}
stop_serve() {
    [[ -n "$SERVE_PID" ]] || return 0
    kill -TERM "$SERVE_PID" 2>/dev/null || true
    wait "$SERVE_PID" 2>/dev/null || true
    SERVE_PID=""
}
cleanup() {
    stop_serve
    if [[ -n "$NODE_PID" ]]; then
        # The node runs in a process group of its own: end that group.
        kill -TERM -- "-$NODE_PID" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$NODE_PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$NODE_PID" 2>/dev/null || true
        wait "$NODE_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
LOADAVG_BEFORE="$(cut -d' ' -f1-3 /proc/loadavg)"

log "certificates (CA + server for IP:127.0.0.1, DNS:localhost)"
C="$WORK/certs"
mkdir -p "$C"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=herald-bench-ca" \
    -keyout "$C/ca.key" -out "$C/ca.pem" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$C/server.key" -out "$C/server.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$C/ext.cnf"
openssl x509 -req -in "$C/server.csr" -CA "$C/ca.pem" -CAkey "$C/ca.key" -CAcreateserial \
    -days 2 -extfile "$C/ext.cnf" -out "$C/server.pem" 2>/dev/null

log "own RabbitMQ node $NODE: plain 127.0.0.1:$AMQP_PORT, TLS 127.0.0.1:$AMQPS_PORT"
mkdir -p "$WORK/node/mnesia" "$WORK/node/log" "$WORK/home"
: >"$WORK/node/env.conf"
: >"$WORK/node/enabled_plugins"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/home/.erlang.cookie"
chmod 400 "$WORK/home/.erlang.cookie"
cat >"$WORK/node/rabbitmq.conf" <<CONF
listeners.tcp.local = 127.0.0.1:$AMQP_PORT
listeners.ssl.local = 127.0.0.1:$AMQPS_PORT
ssl_options.cacertfile = $C/ca.pem
ssl_options.certfile = $C/server.pem
ssl_options.keyfile = $C/server.key
ssl_options.verify = verify_none
ssl_options.fail_if_no_peer_cert = false
CONF
# Job control on for this one job: it gets a process group of its own,
# whose id is its PID, holding rabbitmq-server and its beam.smp.
set -m
node_env "$SBIN/rabbitmq-server" >"$WORK/node/server.out" 2>&1 </dev/null &
NODE_PID=$!
set +m
# await_startup fails at once while the node has not yet registered with
# epmd: ask again until it answers, for two minutes at most.
node_up() {
    local deadline=$((SECONDS + 120))
    while ((SECONDS < deadline)); do
        kill -0 "$NODE_PID" 2>/dev/null || return 1
        node_env timeout 30 "$SBIN/rabbitmqctl" -n "$NODE" -q await_startup >/dev/null 2>&1 && return 0
        sleep 1
    done
    return 1
}
node_up || { log "the node never started"; tail -30 "$WORK/node/server.out" >&2; exit 1; }

# The node's beam.smp (whoever listens on its AMQP port): its CPU is read
# per run, so TLS's cost shows where it lands (serve, broker, generator).
BEAM_PID="$(ss -ltnpH "sport = :$AMQP_PORT" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2 || true)"
[[ -n "$BEAM_PID" ]] || log "cannot tell the node's pid: its CPU column stays empty"

start_serve() { # mode (plain|tls)
    local port url tls=""
    port="$(free_port)"
    if [[ "$1" == tls ]]; then
        url="amqps://guest:guest@localhost:$AMQPS_PORT/%2f"
        tls=$'[amqp.tls]\n'"ca_file = \"$C/ca.pem\""
    else
        url="amqp://guest:guest@127.0.0.1:$AMQP_PORT/%2f"
    fi
    EX="herald-tls-bench-$1-$RANDOM$RANDOM"
    TOKEN="bench-$EX"
    CONFIG="$WORK/herald-$EX.toml"
    cat >"$CONFIG" <<TOML
[http]
listen = "127.0.0.1:$port"
[[auth.tokens]]
token = "$TOKEN"
roles = ["admin"]
[amqp]
url = "$url"
exchange = "$EX"
routing_prefix = "bench"
queue_prefix = "$EX.q"
$tls
[directory]
url = "$WORK/directory-$EX.sqlite3"
[log]
level = "warn"
TOML
    "$HERALD" serve --config "$CONFIG" 2>"$WORK/serve-$EX.log" &
    SERVE_PID=$!
    URL="http://127.0.0.1:$port"
    for _ in $(seq 200); do
        curl -sf "$URL/readyz" >/dev/null && return 0
        kill -0 "$SERVE_PID" 2>/dev/null || break
        sleep 0.1
    done
    log "serve ($1) never became ready"; cat "$WORK/serve-$EX.log" >&2; exit 1
}

RESULTS="$WORK/results.jsonl"
FAILED=0
for round in $(seq "$ROUNDS"); do
    for mode in plain tls; do
        start_serve "$mode"
        for batch in 1 10; do
            log "round $round: $mode, batch $batch, $CONNS connections, ${SECS}s"
            rc=0
            out="$(python3 bench/cpu.py --server "$SERVE_PID" --broker "$BEAM_PID" -- \
                "$HERALD" load --url "$URL" --token "$TOKEN" --config "$CONFIG" \
                --servers $((HOSTS * 10)) --hosts "$HOSTS" --batch-size "$batch" \
                --concurrency "$CONNS" --duration "${SECS}s" --drain-timeout 60s --json)" || rc=$?
            [[ $rc -eq 0 ]] || { log "FAILED: herald load exited $rc"; FAILED=1; }
            # bench/cpu.py prints the report on one line, with its "cpu" object.
            [[ -n "$out" ]] && printf '{"mode": "%s", "round": %s, "batch": %s, "result": %s}\n' \
                "$mode" "$round" "$batch" "$out" >>"$RESULTS"
        done
        hwm="$(awk '/VmHWM/ {print $2}' "/proc/$SERVE_PID/status")"
        printf '{"mode": "%s", "round": %s, "vm_hwm_kb": %s}\n' "$mode" "$round" "$hwm" >>"$RESULTS"
        stop_serve
    done
done
LOADAVG_AFTER="$(cut -d' ' -f1-3 /proc/loadavg)"

TABLE="$(python3 - "$RESULTS" "$SECS" "$LOADAVG_BEFORE" "$LOADAVG_AFTER" <<'PY'
import json, sys, statistics
path, secs, before, after = sys.argv[1:]
runs, rss = {}, {}
for line in open(path):
    r = json.loads(line)
    if "vm_hwm_kb" in r:
        rss.setdefault(r["mode"], []).append(r["vm_hwm_kb"])
        continue
    res = r["result"]
    lost = (res.get("broker") or {}).get("lost")
    broker = res.get("broker") or {}
    n = broker.get("delivered") or res.get("accepted") or 0
    cpu = res.get("cpu") or {}
    per_k = lambda k: (1000 * cpu[k] / n) if n and cpu.get(k) is not None else float("nan")
    runs.setdefault((r["batch"], r["mode"]), []).append(
        (res["events_per_sec"], res["latency_ms"]["p99"], lost,
         per_k("server_s"), per_k("broker_s"), per_k("generator_s")))
print("Closed loop, 10 hosts, 64 connections, %s s a run, rounds plain/TLS alternating; "
      "figures are the mean of %d rounds (each round's own in brackets)." % (secs, max(len(v) for v in runs.values())))
print()
print("| batch | plain events/s | TLS events/s | TLS/plain | plain p99 ms | TLS p99 ms | lost (plain/TLS) "
      "| CPU s per 1,000 events, plain: serve / broker / load | TLS: serve / broker / load |")
print("|---:|---:|---:|---:|---:|---:|---:|---|---|")
for batch in sorted({b for b, _ in runs}):
    p, t = runs.get((batch, "plain"), []), runs.get((batch, "tls"), [])
    if not p or not t:
        continue
    pe, te = statistics.mean(x[0] for x in p), statistics.mean(x[0] for x in t)
    pp, tp = statistics.mean(x[1] for x in p), statistics.mean(x[1] for x in t)
    each = lambda xs, i, f: "/".join(f % x[i] for x in xs)
    lost = lambda xs: "+".join(str(x[2]) for x in xs)
    cpu = lambda xs: " / ".join("%.3f" % statistics.mean(x[i] for x in xs) for i in (3, 4, 5))
    print(f"| {batch} | {pe:,.0f} ({each(p, 0, '%.0f')}) | {te:,.0f} ({each(t, 0, '%.0f')}) | "
          f"**{te / pe:.2f}×** | {pp:.1f} ({each(p, 1, '%.1f')}) | {tp:.1f} ({each(t, 1, '%.1f')}) | "
          f"{lost(p)} / {lost(t)} | {cpu(p)} | {cpu(t)} |")
print()
for mode in ("plain", "tls"):
    if mode in rss:
        print(f"serve peak RSS (VmHWM), {mode}: " + ", ".join(f"{k / 1024:.1f} MiB" for k in rss[mode])
              + f" (target ≤ 64 MiB)")
print()
print(f"Load average before: {before}; after: {after}.")
PY
)"
{
    echo "# TLS to the broker"
    echo
    echo "\`bench/tls.sh $SECS\` on $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, its own RabbitMQ node"
    echo "($(node_env "$SBIN/rabbitmqctl" -n "$NODE" -q eval 'rabbit_misc:version().' 2>/dev/null | tr -d '"' || echo '?')),"
    echo "serve and load's broker connection both over amqps:// (rustls, \`[amqp.tls] ca_file\`) or both plain."
    echo
    echo "$TABLE"
} | tee bench/TLS.md
exit "$FAILED"
