"""A throw-away Nova "cloud" on the machine's MariaDB or PostgreSQL, for herald's tests.

Nova's real schema, built by nova-manage; rows made with nova's own objects.
Every subcommand prints one JSON document on stdout (logs go to stderr).

  fixture.py create --backend mysql|postgresql --prefix P --dir D [--cells N]
                    [--transport-url CELL=URL]... [--rows SPEC.json]
      Creates databases P_api, P_cell0, P_cell1 (.. P_cellN), runs
      `nova-manage api_db sync`, `cell_v2 map_cell0`, `cell_v2 create_cell`
      and `db sync` (each cell database on its own, concurrently), writes
      D/nova.conf, and creates a database user with only the grants herald's
      directory needs (SELECT on the tables it reads). Cells after cell1 are
      stored as templates (`{scheme}://{username}:{password}@{hostname}:{port}/...`)
      as Nova allows, filled from [database]/connection.
  fixture.py rows --conf D/nova.conf < spec.json
      Makes the rows a JSON spec asks for (see make_rows) and prints what
      they became (uuids, ids, migration ids).
  fixture.py drop --backend mysql|postgresql --prefix P
      Drops every database and the user the create step made. Safe to run
      twice, or after a create that failed half-way.
"""
import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import time
import uuid as uuidlib

BACKENDS = {
    # root on loopback without a password is how this project's machines come;
    # PostgreSQL trusts loopback, so its password is a placeholder (Nova's URL
    # templating would print a missing one as "None").
    'mysql': {
        'admin': 'mysql+pymysql://root:@127.0.0.1:3306/{db}?charset=utf8',
        'user': 'mysql+pymysql://{user}:{pw}@127.0.0.1:3306/{db}?charset=utf8',
    },
    'postgresql': {
        'admin': 'postgresql+psycopg2://postgres:postgres@127.0.0.1:5432/{db}',
        'user': 'postgresql+psycopg2://{user}:{pw}@127.0.0.1:5432/{db}',
    },
}

# What herald's directory reads: the grants README's "Running beside Nova" lists.
API_TABLES = ('instance_mappings', 'cell_mappings', 'host_mappings')
CELL_TABLES = ('instances', 'instance_extra', 'migrations')
# What the Nova wire adds: nova_topic = "auto" reads services, and
# volume-extended / power-update write the instance_actions row nova-api writes.
CELL_READ_FOR_WIRE = ('services',)
CELL_INSERT_FOR_WIRE = ('instance_actions',)


STARTED = time.monotonic()


def log(*args):
    print('fixture:', *args, file=sys.stderr, flush=True)


def database_names(prefix, cells):
    return [prefix + '_api'] + ['%s_cell%d' % (prefix, i) for i in range(cells + 1)]


def reader_name(prefix):
    return prefix + '_ro'


# ---------------------------------------------------------------- admin SQL

def admin_connect(backend):
    if backend == 'mysql':
        import pymysql
        return pymysql.connect(host='127.0.0.1', port=3306, user='root',
                               password='', autocommit=True)
    import psycopg2
    conn = psycopg2.connect(host='127.0.0.1', port=5432, user='postgres',
                            dbname='postgres')
    conn.autocommit = True
    return conn


def run_sql(backend, statements, dbname=None):
    if backend == 'postgresql' and dbname:
        import psycopg2
        conn = psycopg2.connect(host='127.0.0.1', port=5432, user='postgres',
                                dbname=dbname)
        conn.autocommit = True
    else:
        conn = admin_connect(backend)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def create_databases(backend, names):
    if backend == 'mysql':
        run_sql(backend, ['CREATE DATABASE `%s` CHARACTER SET utf8' % n for n in names])
    else:
        run_sql(backend, ['CREATE DATABASE "%s"' % n for n in names])


def create_reader(backend, prefix, cells, password):
    user = reader_name(prefix)
    api = prefix + '_api'
    cell_dbs = ['%s_cell%d' % (prefix, i) for i in range(cells + 1)]
    if backend == 'mysql':
        statements = ["CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'" % (user, password)]
        statements += ["GRANT SELECT ON `%s`.`%s` TO '%s'@'127.0.0.1'" % (api, t, user)
                       for t in API_TABLES]
        statements += ["GRANT SELECT ON `%s`.`%s` TO '%s'@'127.0.0.1'" % (db, t, user)
                       for db in cell_dbs for t in CELL_TABLES + CELL_READ_FOR_WIRE]
        statements += ["GRANT INSERT ON `%s`.`%s` TO '%s'@'127.0.0.1'" % (db, t, user)
                       for db in cell_dbs for t in CELL_INSERT_FOR_WIRE]
        run_sql(backend, statements)
        return
    run_sql(backend, ['CREATE ROLE "%s" LOGIN PASSWORD \'%s\'' % (user, password)])
    for db in cell_dbs:
        # PostgreSQL: a serial id needs its sequence too.
        run_sql(backend, ['GRANT INSERT ON %s TO "%s"' % (t, user) for t in CELL_INSERT_FOR_WIRE] +
                ['GRANT USAGE ON SEQUENCE %s_id_seq TO "%s"' % (t, user)
                 for t in CELL_INSERT_FOR_WIRE], dbname=db)
    cell_tables = CELL_TABLES + CELL_READ_FOR_WIRE
    for db, tables in [(api, API_TABLES)] + [(db, cell_tables) for db in cell_dbs]:
        run_sql(backend, ['REVOKE ALL ON DATABASE "%s" FROM PUBLIC' % db,
                          'GRANT CONNECT ON DATABASE "%s" TO "%s"' % (db, user)])
        run_sql(backend, ['GRANT SELECT ON %s TO "%s"' % (t, user) for t in tables],
                dbname=db)


def drop(backend, prefix, cells=9):
    names = database_names(prefix, cells)
    user = reader_name(prefix)
    if backend == 'mysql':
        run_sql(backend, ['DROP DATABASE IF EXISTS `%s`' % n for n in names] +
                ["DROP USER IF EXISTS '%s'@'127.0.0.1'" % user])
        return
    # WITH (FORCE): a pool herald left open must not keep the database alive.
    run_sql(backend, ['DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % n for n in names] +
            ['DROP ROLE IF EXISTS "%s"' % user])


# Names the Rust tests give their clouds (tests/it/nova/cloud.rs): hn + 10 hex.
TEST_PREFIX = re.compile(r'^(hn[0-9a-f]{10})_api$')
# A test's cloud lives minutes; one this old was left by a test that was
# killed before it could drop it (a panic drops it).
STALE_AFTER_S = 3 * 3600


def sweep(backend):
    """Drops the test clouds left behind by killed tests."""
    if backend == 'mysql':
        query = ("SELECT table_schema, TIMESTAMPDIFF(SECOND, MIN(create_time), NOW()) "
                 "FROM information_schema.tables WHERE table_schema LIKE 'hn%\\_api' "
                 "GROUP BY table_schema")
    else:
        query = ("SELECT datname, EXTRACT(EPOCH FROM now() - (pg_stat_file("
                 "'base/' || oid || '/PG_VERSION')).modification) "
                 "FROM pg_database WHERE datname LIKE 'hn%\\_api'")
    conn = admin_connect(backend)
    try:
        with conn.cursor() as cur:
            cur.execute(query)
            rows = cur.fetchall()
    finally:
        conn.close()
    for name, age in rows:
        match = TEST_PREFIX.match(name)
        if match and age is not None and age > STALE_AFTER_S:
            log('dropping %s, left %d s ago by a test that did not finish' % (match[1], age))
            drop(backend, match[1])


# ---------------------------------------------------------------- nova-manage

def write_conf(path, api_url, cell_url, extra=''):
    with open(path, 'w') as f:
        f.write('[DEFAULT]\n'
                'transport_url = rabbit://guest:guest@127.0.0.1:5672/\n'
                'state_path = {dir}/state\n'
                '[api_database]\nconnection = {api}\n'
                '[database]\nconnection = {cell}\n'
                '[oslo_concurrency]\nlock_path = {dir}/state/lock\n'
                '{extra}'.format(dir=os.path.dirname(path), api=api_url,
                                 cell=cell_url, extra=extra))


def nova_manage(conf, *args):
    exe = os.path.join(os.path.dirname(sys.executable), 'nova-manage')
    return subprocess.Popen([exe, '--config-file', conf] + list(args),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def wait_all(procs):
    started = time.monotonic()
    failed = []
    for what, proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            failed.append('%s exited %d:\n%s' % (what, proc.returncode, out))
    if failed:
        raise SystemExit('nova-manage failed:\n' + '\n'.join(failed))
    log('%s: %.1f s' % (', '.join(w for w, _ in procs), time.monotonic() - started))


def create(args):
    backend, prefix, cells = args.backend, args.prefix, args.cells
    if not 1 <= cells <= 9:
        raise SystemExit('--cells must be 1..9')
    os.makedirs(os.path.join(args.dir, 'state', 'lock'), exist_ok=True)
    admin = BACKENDS[backend]['admin']
    names = database_names(prefix, cells)
    sweep(backend)
    create_databases(backend, names)
    url = {n: admin.format(db=n) for n in names}
    conf = os.path.join(args.dir, 'nova.conf')
    write_conf(conf, url[prefix + '_api'], url[prefix + '_cell1'])
    # Each cell database is migrated on its own (`db sync --local_cell`), all
    # at once beside the API database's sync: the same schema as one `db sync`,
    # in a third of the time.
    procs = [('api_db sync', nova_manage(conf, 'api_db', 'sync'))]
    for i in range(cells + 1):
        name = '%s_cell%d' % (prefix, i)
        cell_conf = os.path.join(args.dir, 'sync-cell%d.conf' % i)
        write_conf(cell_conf, url[prefix + '_api'], url[name])
        procs.append(('db sync ' + name, nova_manage(cell_conf, 'db', 'sync', '--local_cell')))
    # The cell_v2 commands run in this process (nova-manage's own command
    # code, after nova's own config parsing): one import of nova, not three,
    # and made while the migrations run.
    nova = load_nova(conf)
    log('nova imported: %.1f s' % (time.monotonic() - STARTED))
    wait_all(procs)
    manage = nova['manage'].CellV2Commands()
    mappings = {'cell0': url[prefix + '_cell0'], 'cell1': url[prefix + '_cell1']}
    transports = dict(t.split('=', 1) for t in args.transport_url)
    with contextlib.redirect_stdout(sys.stderr):
        check('map_cell0', manage.map_cell0(database_connection=mappings['cell0']))
        for i in range(1, cells + 1):
            name = 'cell%d' % i
            if i > 1:
                sep = '?{query}' if backend == 'mysql' else ''
                mappings[name] = ('{scheme}://{username}:{password}@{hostname}:{port}/'
                                  '%s_cell%d%s' % (prefix, i, sep))
            # Nova refuses two cells with one transport_url: a vhost each.
            transport = transports.get(
                name, 'rabbit://guest:guest@127.0.0.1:5672/' + ('' if i == 1 else name))
            check('create_cell ' + name,
                  manage.create_cell(name=name, database_connection=mappings[name],
                                     transport_url=transport))
    log('cells mapped: %.1f s' % (time.monotonic() - STARTED))
    password = uuidlib.uuid4().hex
    create_reader(backend, prefix, cells, password)
    reader = BACKENDS[backend]['user'].format(user=reader_name(prefix), pw=password, db='{db}')
    print(json.dumps({
        'conf': conf,
        'databases': names,
        'api_connection': url[prefix + '_api'],
        'database_connection': url[prefix + '_cell1'],
        'reader': {
            'user': reader_name(prefix),
            'password': password,
            'api_connection': reader.format(db=prefix + '_api'),
            'database_connection': reader.format(db=prefix + '_cell1'),
        },
        'cells': mappings,
        'rows': make_rows(nova, json.load(open(args.rows))) if args.rows else None,
    }))


# ---------------------------------------------------------------- rows

def load_nova(conf):
    """nova's config parsed from `conf`, and the modules the fixture uses."""
    from nova import config
    config.parse_args(['herald-fixture', '--config-file', conf])
    from nova import context as nctx
    from nova import objects
    from nova.cmd import manage
    objects.register_all()
    return {'context': nctx, 'objects': objects, 'manage': manage}


def check(what, code):
    if code not in (0, None):
        raise SystemExit('%s returned %s' % (what, code))


def make_rows(nova, spec):
    """Rows with nova's own objects. The spec:

    {"cells": [{"name": N, "database_connection": URL, "transport_url": URL}],
     "host_mappings": [{"host": H, "cell": N}],
     "instances": [{"key": K, "cell": N or null, "host": H or null,
                    "project_id": P, "user_id": U, "vm_state": "active",
                    "task_state": null, "power_state": 1,
                    "deleted": bool, "hidden": bool,
                    "row": true (false: a mapping without a row),
                    "mapping": true (false: a row without a mapping),
                    "migration": {"source": H, "dest": H, "status": S,
                                  "cross_cell": bool, "deleted": bool,
                                  "missing": bool} or absent}]}

    "cell": null is a mapping not yet in a cell (cell_id NULL). Prints
    {K: {"uuid", "id", "migration_id"}} and the cells' uuids by name.
    """
    nctx, objects = nova['context'], nova['objects']
    ctx = nctx.get_admin_context()
    for cell in spec.get('cells', []):
        objects.CellMapping(ctx, uuid=str(uuidlib.uuid4()), name=cell['name'],
                            database_connection=cell['database_connection'],
                            transport_url=cell.get('transport_url', 'none:///')).create()
    cells = {c.name: c for c in objects.CellMappingList.get_all(ctx)}
    for hm in spec.get('host_mappings', []):
        objects.HostMapping(ctx, host=hm['host'], cell_mapping=cells[hm['cell']]).create()
    made = {}
    for inst in spec.get('instances', []):
        made[inst['key']] = make_instance(ctx, nctx, objects, cells, inst)
    log('rows made: %.1f s' % (time.monotonic() - STARTED))
    return {'instances': made, 'cells': {n: c.uuid for n, c in cells.items()}}


def make_instance(ctx, nctx, objects, cells, spec):
    uuid = spec.get('uuid') or str(uuidlib.uuid4())
    cell = cells[spec['cell']] if spec.get('cell') else None
    project, user = spec.get('project_id', 'p1'), spec.get('user_id', 'u1')
    out = {'uuid': uuid, 'id': None, 'migration_id': None}
    if cell is not None and spec.get('row', True):
        with nctx.target_cell(ctx, cell) as cctxt:
            inst = objects.Instance(cctxt, uuid=uuid, host=spec.get('host'),
                                    project_id=project, user_id=user,
                                    vm_state=spec.get('vm_state', 'active'),
                                    task_state=spec.get('task_state'),
                                    power_state=spec.get('power_state', 1),
                                    display_name=spec['key'],
                                    hidden=spec.get('hidden', False))
            inst.create()
            out['id'] = inst.id
            if spec.get('migration'):
                out['migration_id'] = migrate(cctxt, objects, inst, spec['migration'])
            if spec.get('deleted'):
                # What nova-compute's delete does: the row is soft-deleted (deleted = id).
                objects.Instance.get_by_uuid(cctxt, uuid).destroy()
    if spec.get('mapping', True):
        objects.InstanceMapping(ctx, instance_uuid=uuid, cell_mapping=cell,
                                project_id=project, user_id=user,
                                queued_for_delete=bool(spec.get('deleted'))).create()
    return out


def migrate(cctxt, objects, inst, spec):
    mig = objects.Migration(cctxt, source_compute=spec['source'],
                            dest_compute=spec['dest'],
                            status=spec.get('status', 'running'),
                            migration_type='live-migration',
                            instance_uuid=inst.uuid,
                            old_instance_type_id=1, new_instance_type_id=1,
                            cross_cell_move=bool(spec.get('cross_cell')))
    mig.create()
    inst = objects.Instance.get_by_uuid(cctxt, inst.uuid)
    inst.migration_context = objects.MigrationContext(
        context=cctxt, instance_uuid=inst.uuid, migration_id=mig.id,
        new_numa_topology=None, old_numa_topology=None,
        new_pci_devices=None, old_pci_devices=None,
        new_pci_requests=None, old_pci_requests=None,
        new_resources=None, old_resources=None)
    inst.save()
    if spec.get('deleted') or spec.get('missing'):
        # No object API soft-deletes or removes a migration row: plain SQL, as
        # `nova-manage db archive_deleted_rows` would leave it.
        import sqlalchemy
        from nova.db.main import api as main_db
        statement = ('DELETE FROM migrations WHERE id = :i' if spec.get('missing') else
                     'UPDATE migrations SET deleted = id, deleted_at = CURRENT_TIMESTAMP '
                     'WHERE id = :i')
        with main_db.context_manager.writer.using(cctxt):
            cctxt.session.execute(sqlalchemy.text(statement), {'i': mig.id})
    return mig.id


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    c = sub.add_parser('create')
    c.add_argument('--backend', choices=sorted(BACKENDS), required=True)
    c.add_argument('--prefix', required=True)
    c.add_argument('--dir', required=True)
    c.add_argument('--cells', type=int, default=1)
    c.add_argument('--rows', metavar='SPEC.json', help='then make these rows (as `rows`)')
    c.add_argument('--transport-url', action='append', default=[], metavar='CELL=URL',
                   help='a cell\'s transport_url (default: the local broker, '
                        'vhost "/" for cell1 and the cell\'s name for the others)')
    r = sub.add_parser('rows')
    r.add_argument('--conf', required=True)
    d = sub.add_parser('drop')
    d.add_argument('--backend', choices=sorted(BACKENDS), required=True)
    d.add_argument('--prefix', required=True)
    args = parser.parse_args()
    if args.command == 'create':
        if not args.prefix.replace('_', '').isalnum():
            raise SystemExit('--prefix: letters, digits and _ only')
        create(args)
    elif args.command == 'rows':
        print(json.dumps(make_rows(load_nova(args.conf), json.load(sys.stdin))))
    else:
        drop(args.backend, args.prefix)
        print(json.dumps({'dropped': args.prefix}))


if __name__ == '__main__':
    main()
