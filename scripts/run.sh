#!/usr/bin/env bash
# THE main-job command: runs `herald serve` (HTTP events API + AMQP dispatcher)
# against the local RabbitMQ, with the config in $HERALD_CONFIG
# (default config/herald.toml). Works from any directory. Any key can be overridden as HERALD__SECTION__KEY,
# e.g. HERALD__HTTP__LISTEN=127.0.0.1:9774 scripts/run.sh
#
# Compute agents are separate processes, one per compute host, each consuming
# its host's queue (start them after the release build below exists):
#   target/release/herald agent --config config/herald.toml --host compute-1
#   HERALD__AGENT__WAITER_LISTEN=127.0.0.1:8776 \
#     target/release/herald agent --config config/herald.toml --host compute-2
# (each agent on one machine needs its own waiter_listen port). Each writes the
# events it receives as JSON lines to stdout; logs go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

scripts/ensure-services.sh
cargo build --release --locked
# The default SQLite directory lives in var/.
mkdir -p var
exec "${CARGO_TARGET_DIR:-target}/release/herald" serve --config "${HERALD_CONFIG:-config/herald.toml}"
