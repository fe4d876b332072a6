#!/usr/bin/env bash
# Prepares and serves the compose Keystone: config, database, keys, the admin
# user (bootstrap), and a catalog entry naming herald (serve-keystone) as the
# `compute` endpoint, so that clients with a password session find it.
# Idempotent: a restarted container keeps its database in /var/lib/keystone.
set -euo pipefail
: "${KEYSTONE_ADMIN_PASSWORD:?set KEYSTONE_ADMIN_PASSWORD}"
: "${KEYSTONE_PUBLIC_URL:=http://keystone:5000/v3/}"
: "${HERALD_COMPUTE_URL:=http://serve-keystone:8774/v2.1}"
export KEYSTONE_ADMIN_PASSWORD KEYSTONE_PUBLIC_URL HERALD_COMPUTE_URL
DIR=/var/lib/keystone
mkdir -p "$DIR/etc" "$DIR/fernet" "$DIR/credential"
cat >"$DIR/etc/keystone.conf" <<CONF
[database]
connection = sqlite:///$DIR/keystone.db
[token]
provider = fernet
[fernet_tokens]
key_repository = $DIR/fernet
[credential]
key_repository = $DIR/credential
[cache]
enabled = true
backend = oslo_cache.dict
[resource]
admin_project_name = admin
admin_project_domain_name = Default
CONF
# Keystone's oslo.config would parse gunicorn's argv: hide it.
cat >"$DIR/herald_keystone_wsgi.py" <<'PY'
import sys
sys.argv = sys.argv[:1]
from keystone.wsgi.api import application  # noqa: E402,F401
PY
km=(keystone-manage --config-file "$DIR/etc/keystone.conf")
"${km[@]}" db_sync
[[ -s "$DIR/fernet/0" ]] || "${km[@]}" fernet_setup --keystone-user root --keystone-group root
[[ -s "$DIR/credential/0" ]] || "${km[@]}" credential_setup --keystone-user root --keystone-group root
"${km[@]}" bootstrap --bootstrap-password "$KEYSTONE_ADMIN_PASSWORD" \
    --bootstrap-region-id RegionOne --bootstrap-public-url "$KEYSTONE_PUBLIC_URL"
OS_KEYSTONE_CONFIG_DIR="$DIR/etc" PYTHONPATH="$DIR" \
    gunicorn --bind 0.0.0.0:5000 --workers 1 --threads 1 herald_keystone_wsgi:application &
GUNICORN=$!
python3 - <<'PY'
import json, os, time, urllib.request

base = "http://127.0.0.1:5000/v3"
for _ in range(120):
    try:
        urllib.request.urlopen(base, timeout=2)
        break
    except OSError:
        time.sleep(0.5)

def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json",
                                          **({"X-Auth-Token": token} if token else {})})
    with urllib.request.urlopen(req, timeout=30) as resp:
        return resp.headers, json.loads(resp.read() or b"{}")

headers, _ = call("POST", "/auth/tokens", {"auth": {
    "identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"},
        "password": os.environ["KEYSTONE_ADMIN_PASSWORD"]}}},
    "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}})
token = headers["X-Subject-Token"]
_, services = call("GET", "/services?type=compute", token=token)
if not services["services"]:
    _, made = call("POST", "/services", {"service": {"type": "compute", "name": "herald"}}, token)
    call("POST", "/endpoints", {"endpoint": {
        "service_id": made["service"]["id"], "interface": "public",
        "region_id": "RegionOne", "url": os.environ["HERALD_COMPUTE_URL"]}}, token)
    print("catalog: compute ->", os.environ["HERALD_COMPUTE_URL"], flush=True)
PY
wait "$GUNICORN"
