"""Seeds a bench cloud's servers with nova's own objects, through the test
fixture (tests/nova/fixture.py `make_rows`), and prints them in the order
`herald load --nova-servers` reads them.

  seed.py --conf D/nova.conf --servers N --hosts H --host-prefix P \
          [--project bench] [--user bench] > servers.json

Server i lives on host `P-(i mod H)` in cell1, active, owned by the user
and project given. Output: {"servers": [{"uuid": U, "host": H}, ...]}.
"""
import argparse
import contextlib
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'nova'))

import fixture  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--conf', required=True)
    parser.add_argument('--servers', type=int, required=True)
    parser.add_argument('--hosts', type=int, required=True)
    parser.add_argument('--host-prefix', required=True)
    parser.add_argument('--project', default='bench')
    parser.add_argument('--user', default='bench')
    args = parser.parse_args()
    if not 1 <= args.hosts <= args.servers <= 100000:
        raise SystemExit('need 1 <= --hosts <= --servers <= 100000')
    hosts = ['%s-%d' % (args.host_prefix, i % args.hosts) for i in range(args.servers)]
    spec = {'instances': [{'key': 's%d' % i, 'cell': 'cell1', 'host': host,
                           'project_id': args.project, 'user_id': args.user}
                          for i, host in enumerate(hosts)]}
    with contextlib.redirect_stdout(sys.stderr):
        made = fixture.make_rows(fixture.load_nova(args.conf), spec)['instances']
    servers = [{'uuid': made['s%d' % i]['uuid'], 'host': host} for i, host in enumerate(hosts)]
    print(json.dumps({'servers': servers}))


if __name__ == '__main__':
    main()
