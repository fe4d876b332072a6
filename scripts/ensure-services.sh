#!/usr/bin/env bash
# Makes sure the local RabbitMQ (127.0.0.1:5672), PostgreSQL (127.0.0.1:5432)
# and MariaDB (127.0.0.1:3306, for the Nova-mode tests) that herald and its
# tests need are up. Idempotent: a service that answers is
# left alone; one that is down is started; one that is not installed at all is
# installed from Debian's packages first. It never stops anything.
#
# Env: SERVICES_TIMEOUT (seconds to wait for each service, default 90).
set -euo pipefail

readonly TIMEOUT="${SERVICES_TIMEOUT:-90}"

log() { printf 'ensure-services: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

as_root() {
    if [[ "$(id -u)" -eq 0 ]]; then "$@"; else sudo "$@"; fi
}

apt_updated=0
apt_install() {
    if [[ "$apt_updated" -eq 0 ]]; then
        log "apt-get update"
        as_root apt-get update -qq
        apt_updated=1
    fi
    log "apt-get install $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

# True when something accepts TCP connections on 127.0.0.1:$1.
tcp_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

rabbit_up() {
    # The TCP check is what clients see; the ping says the node is really up
    # (the port can be open while the node still boots).
    tcp_open 5672 || return 1
    if command -v rabbitmq-diagnostics >/dev/null; then
        timeout 15 rabbitmq-diagnostics -q ping >/dev/null 2>&1
    fi
}

postgres_up() {
    pg_isready -q -h 127.0.0.1 -p 5432 >/dev/null 2>&1
}

# wait_for NAME CHECK_FN: polls CHECK_FN until it succeeds or TIMEOUT passes.
wait_for() {
    local name="$1" check="$2" deadline=$((SECONDS + TIMEOUT))
    until "$check"; do
        if ((SECONDS >= deadline)); then
            die "$name did not answer within ${TIMEOUT}s"
        fi
        sleep 1
    done
    log "$name is up"
}

ensure_rabbitmq() {
    if rabbit_up; then
        log "RabbitMQ is up"
        return
    fi
    if ! command -v rabbitmq-server >/dev/null; then
        apt_install rabbitmq-server
    fi
    # A freshly installed package may have started the node already.
    if ! rabbit_up; then
        log "starting RabbitMQ"
        as_root rabbitmq-server -detached || log "rabbitmq-server -detached failed; waiting anyway"
    fi
    wait_for RabbitMQ rabbit_up
}

ensure_postgres() {
    if command -v pg_isready >/dev/null && postgres_up; then
        log "PostgreSQL is up"
        return
    fi
    local fresh=0
    if ! command -v pg_ctlcluster >/dev/null || [[ -z "$(ls /etc/postgresql 2>/dev/null)" ]]; then
        apt_install postgresql
        fresh=1
    fi
    if ! postgres_up; then
        local version
        version="$(find /etc/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)"
        [[ -n "$version" ]] || die "no PostgreSQL cluster under /etc/postgresql"
        log "starting PostgreSQL $version/main"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start ||
            log "pg_ctlcluster start failed; waiting anyway"
    fi
    wait_for PostgreSQL postgres_up
    if [[ "$fresh" -eq 1 ]]; then
        trust_loopback
    fi
}

# On a machine where we just installed PostgreSQL, give it what the machines of
# this project have: trust auth on loopback and a database named "test".
trust_loopback() {
    local hba
    hba="$(as_root runuser -u postgres -- psql -qAtc 'SHOW hba_file')"
    log "trusting loopback connections in $hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    as_root runuser -u postgres -- psql -qc 'SELECT pg_reload_conf()' >/dev/null
    if ! as_root runuser -u postgres -- psql -qAtc "SELECT 1 FROM pg_database WHERE datname = 'test'" | grep -q 1; then
        as_root runuser -u postgres -- createdb test
    fi
}

mariadb_up() {
    tcp_open 3306 || return 1
    timeout 10 mariadb-admin --protocol=tcp -h 127.0.0.1 -u root ping >/dev/null 2>&1
}

ensure_mariadb() {
    if command -v mariadb-admin >/dev/null && mariadb_up; then
        log "MariaDB is up"
        return
    fi
    if [[ ! -x /usr/sbin/mariadbd ]]; then
        apt_install mariadb-server
    fi
    if ! mariadb_up; then
        log "starting MariaDB"
        # The machine's own way (its my.cnf names the user, socket and pid file).
        as_root install -d -o mysql -g mysql /run/mysqld
        as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd ||
            log "starting mariadbd failed; waiting anyway"
    fi
    wait_for MariaDB mariadb_up
}

ensure_rabbitmq
ensure_postgres
ensure_mariadb
