#!/usr/bin/env bash
# Sourced by scripts/test.sh: prepares a real Keystone (PyPI `keystone`, SQLite,
# fernet tokens) in a temp dir, serves it with gunicorn on a free loopback port,
# and exports HERALD_TEST_KEYSTONE_URL, _ADMIN_PASSWORD, _DIR, _PYTHON.
# The caller stops it with `keystone_stop` (by PID). Facts: ../shared/reference/keystone.md.

readonly KS_REQUIREMENTS=tests/keystone/requirements.txt
readonly KS_VENV=.venv-keystone
readonly KS_STAMP="$KS_VENV/.requirements.sha256"
KS_PID=""
KS_DIR=""

ks_ensure_venv() {
    local want
    want="$({ cat "$KS_REQUIREMENTS"; python3.11 --version; } | sha256sum | cut -d' ' -f1)"
    if [[ -x "$KS_VENV/bin/python" && -f "$KS_STAMP" && "$(cat "$KS_STAMP")" == "$want" ]]; then
        return
    fi
    log "creating $KS_VENV with $KS_REQUIREMENTS"
    rm -f "$KS_STAMP"
    python3.11 -m venv --clear "$KS_VENV"
    "$KS_VENV/bin/python" -m pip install --quiet --requirement "$KS_REQUIREMENTS"
    echo "$want" >"$KS_STAMP"
}

ks_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

keystone_start() {
    ks_ensure_venv
    KS_DIR="$(mktemp -d -t herald-keystone.XXXXXX)"
    local port password
    port="$(ks_free_port)"
    password="admin-$(python3 -c 'import secrets; print(secrets.token_hex(8))')"
    mkdir -p "$KS_DIR/etc" "$KS_DIR/fernet" "$KS_DIR/credential"
    cat >"$KS_DIR/etc/keystone.conf" <<CONF
[DEFAULT]
log_file = $KS_DIR/keystone.log
[database]
connection = sqlite:///$KS_DIR/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $KS_DIR/fernet
[credential]
key_repository = $KS_DIR/credential
[cache]
enabled = true
backend = oslo_cache.dict
[resource]
admin_project_name = admin
admin_project_domain_name = Default
CONF
    # One thread: concurrent writers on SQLite fail with "database is locked" (500s).
    # Keystone's oslo.config would parse gunicorn's argv: hide it.
    cat >"$KS_DIR/herald_keystone_wsgi.py" <<'PY'
import sys
sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
PY
    local km=("$KS_VENV/bin/keystone-manage" --config-file "$KS_DIR/etc/keystone.conf")
    local me grp
    me="$(id -un)"; grp="$(id -gn)"
    "${km[@]}" db_sync
    "${km[@]}" fernet_setup --keystone-user "$me" --keystone-group "$grp"
    "${km[@]}" credential_setup --keystone-user "$me" --keystone-group "$grp"
    "${km[@]}" bootstrap --bootstrap-password "$password" --bootstrap-region-id RegionOne \
        --bootstrap-public-url "http://127.0.0.1:$port/v3/" \
        --bootstrap-internal-url "http://127.0.0.1:$port/v3/" \
        --bootstrap-admin-url "http://127.0.0.1:$port/v3/"
    OS_KEYSTONE_CONFIG_DIR="$KS_DIR/etc" PYTHONPATH="$KS_DIR" \
        "$KS_VENV/bin/gunicorn" --bind "127.0.0.1:$port" --workers 1 --threads 1 \
        --log-file "$KS_DIR/gunicorn.log" herald_keystone_wsgi:application &
    KS_PID=$!
    local deadline=$((SECONDS + 60))
    until curl -sf "http://127.0.0.1:$port/v3" >/dev/null; do
        if ((SECONDS > deadline)) || ! kill -0 "$KS_PID" 2>/dev/null; then
            log "Keystone did not come up; see $KS_DIR/gunicorn.log"
            return 1
        fi
        sleep 0.2
    done
    export HERALD_TEST_KEYSTONE_URL="http://127.0.0.1:$port/v3"
    export HERALD_TEST_KEYSTONE_ADMIN_PASSWORD="$password"
    export HERALD_TEST_KEYSTONE_DIR="$KS_DIR"
    export HERALD_TEST_KEYSTONE_PYTHON="$ROOT/$KS_VENV/bin/python"
    export HERALD_TEST_KEYSTONE_GUNICORN="$ROOT/$KS_VENV/bin/gunicorn"
    log "Keystone up at $HERALD_TEST_KEYSTONE_URL (pid $KS_PID, dir $KS_DIR)"
}

keystone_stop() {
    if [[ -n "$KS_PID" ]]; then
        kill "$KS_PID" 2>/dev/null || true
        wait "$KS_PID" 2>/dev/null || true
    fi
    if [[ -n "$KS_DIR" ]]; then
        rm -rf "$KS_DIR"
    fi
}
