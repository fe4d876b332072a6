#!/usr/bin/env bash
# THE test command: scripts/test.sh [extra cargo-nextest args...]
#
#   1. makes sure RabbitMQ, PostgreSQL and MariaDB are up (scripts/ensure-services.sh);
#   2. keeps a Python venv at .venv with the pinned OpenStack clients of
#      tests/clients/requirements.txt (rebuilt only when that file changes);
#   3. brings up a real Keystone once for the run (scripts/keystone.sh), stopped on exit;
#   4. keeps a venv at .venv-nova with the pinned Nova (scripts/nova.sh) whose
#      nova-manage and objects the Nova-mode tests build their databases with;
#   5. builds everything and runs the whole test suite with cargo-nextest.
#
# Works from any directory. Extra arguments go to `cargo nextest run`, e.g.
#   scripts/test.sh clients        # only tests whose name matches "clients"
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf 'test.sh: %s\n' "$*" >&2; }

readonly REQUIREMENTS=tests/clients/requirements.txt
readonly VENV=.venv
readonly STAMP="$VENV/.requirements.sha256"

export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
# Backtraces for panics, not for every anyhow error a test returns.
export RUST_LIB_BACKTRACE="${RUST_LIB_BACKTRACE:-0}"
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_TERM_COLOR=never
    export CARGO_INCREMENTAL=0
    export PIP_PROGRESS_BAR=off
    export NO_COLOR=1
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1

# The stamp covers the requirements and the interpreter, so a new Python
# also rebuilds the venv.
requirements_hash() {
    { cat "$REQUIREMENTS"; python3 --version; } | sha256sum | cut -d' ' -f1
}

make_venv() {
    if ! python3 -m venv --clear "$VENV"; then
        # Debian ships venv separately; install it once and try again.
        log "python3 -m venv failed; installing python3-venv"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv </dev/null
        python3 -m venv --clear "$VENV"
    fi
}

ensure_venv() {
    local want
    want="$(requirements_hash)"
    if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
        log "Python clients up to date in $VENV"
        return
    fi
    log "creating $VENV with $REQUIREMENTS"
    rm -f "$STAMP"
    make_venv
    "$VENV/bin/python" -m pip install --quiet --requirement "$REQUIREMENTS"
    echo "$want" >"$STAMP"
}

ensure_nextest() {
    if ! cargo nextest --version >/dev/null 2>&1; then
        log "cargo-nextest missing; installing it (once, takes a few minutes)"
        cargo install --locked cargo-nextest
    fi
}

# One TLS stack, kept so: `cargo tree -i` must not find a second one (any
# target, any edge kind), and Cargo.lock must hold exactly one rustls.
check_one_tls_stack() {
    local crate out count
    for crate in aws-lc-rs aws-lc-sys openssl-sys openssl native-tls; do
        if out="$(cargo tree --locked --target all -e all -i "$crate" 2>&1)"; then
            log "$crate is in the dependency tree; herald's one TLS stack is rustls + ring:"
            printf '%s\n' "$out" >&2
            return 1
        fi
        if [[ "$out" != *"did not match any packages"* ]]; then
            log "cargo tree -i $crate failed: $out"
            return 1
        fi
    done
    count="$(grep -c '^name = "rustls"$' Cargo.lock || true)"
    if [[ "$count" != 1 ]]; then
        log "Cargo.lock holds $count versions of rustls; herald allows one"
        return 1
    fi
    log "one TLS stack: rustls + ring (no aws-lc-rs, OpenSSL or native-tls)"
}

check_one_tls_stack
scripts/ensure-services.sh
ensure_venv
export HERALD_TEST_PYTHON="$ROOT/$VENV/bin/python"
ensure_nextest
# shellcheck source=scripts/keystone.sh
source scripts/keystone.sh
trap keystone_stop EXIT
keystone_start
# shellcheck source=scripts/nova.sh
source scripts/nova.sh
nova_ensure_venv

PROFILE=()
if [[ "${CI:-}" == "true" ]]; then
    PROFILE=(--profile ci)
fi

cargo build --locked --all-targets
cargo nextest run --locked --no-fail-fast "${PROFILE[@]}" "$@"
