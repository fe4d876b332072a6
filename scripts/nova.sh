#!/usr/bin/env bash
# Sourced by scripts/test.sh: keeps a venv with the pinned Nova of
# tests/nova/requirements.txt in .venv-nova (rebuilt only when that file or
# the interpreter changes; pip takes about 95 s) and exports
#   HERALD_TEST_NOVA_PYTHON  its python (runs tests/nova/fixture.py)
#   HERALD_TEST_NOVA_BIN     its bin dir (nova-manage, nova-compute, nova-conductor)
# The Nova-mode tests build their own databases through tests/nova/fixture.py
# and drop them; nothing here starts a service.

readonly NOVA_REQUIREMENTS=tests/nova/requirements.txt
readonly NOVA_VENV=.venv-nova
readonly NOVA_STAMP="$NOVA_VENV/.requirements.sha256"

nova_ensure_venv() {
    local want
    want="$({ cat "$NOVA_REQUIREMENTS"; python3.11 --version; } | sha256sum | cut -d' ' -f1)"
    if [[ -x "$NOVA_VENV/bin/python" && -x "$NOVA_VENV/bin/nova-manage" &&
          -f "$NOVA_STAMP" && "$(cat "$NOVA_STAMP")" == "$want" ]]; then
        log "Nova up to date in $NOVA_VENV"
    else
        log "creating $NOVA_VENV with $NOVA_REQUIREMENTS (about 95 s)"
        rm -f "$NOVA_STAMP"
        python3.11 -m venv --clear "$NOVA_VENV"
        "$NOVA_VENV/bin/python" -m pip install --quiet --requirement "$NOVA_REQUIREMENTS"
        echo "$want" >"$NOVA_STAMP"
    fi
    export HERALD_TEST_NOVA_PYTHON="$ROOT/$NOVA_VENV/bin/python"
    export HERALD_TEST_NOVA_BIN="$ROOT/$NOVA_VENV/bin"
}
