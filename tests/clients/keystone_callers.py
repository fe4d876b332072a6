#!/usr/bin/env python3
"""Drive herald in keystone mode the way a deployed caller does.

Neutron's nova notifier is python-novaclient on a keystoneauth1 session
loaded with the password plugin; it finds the `compute` endpoint in
Keystone's catalog and sends a Keystone token. This program does exactly
that against a real Keystone whose catalog names herald as `compute` (in a
region of the test's own), then does the same through openstacksdk with a
cloud config (password auth), and checks that a member-only user is refused.

Usage: keystone_callers.py --auth-url URL --region R --project P
       --user U --password PW --member-user MU --member-password MPW
       --host HOST [--herald-url URL]

Seeds herald's directory (with the caller's own Keystone token) through the
endpoint the catalog gives. Prints one line per check; exits 1 on the first
mismatch, 2 when a client library is missing.
"""

import argparse
import sys
import uuid

from nova_clients import (MIXED_CODES, MIXED_STATUSES, CHECKS, Mismatch, check_events,
                          check_outcomes, check_request_ids, expect_refused, mixed_batch,
                          ok, seed)


def password_session(args, user, password):
    from keystoneauth1 import session as ks_session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=args.auth_url, username=user, password=password,
                       project_name=args.project, user_domain_name="Default",
                       project_domain_name="Default")
    return ks_session.Session(auth=auth, timeout=60)


def run(args):
    import novaclient
    from novaclient import client as nova_client
    from novaclient import exceptions as nova_exc
    import openstack
    from importlib import metadata

    print(f"---- python-novaclient {novaclient.__version__} on a keystoneauth Password session",
          flush=True)
    sess = password_session(args, args.user, args.password)
    endpoint = sess.get_endpoint(service_type="compute", interface="public",
                                 region_name=args.region)
    if not endpoint:
        raise Mismatch("the catalog names no compute endpoint in the test's region")
    ok(f"catalog compute endpoint {endpoint}")
    base = endpoint.rstrip("/")
    if base.endswith("/v2.1"):
        base = base[: -len("/v2.1")]
    token = sess.get_token()
    known, unknown, hostless = (str(uuid.uuid4()) for _ in range(3))
    seed(base, token, known, args.host)
    seed(base, token, hostless, None)

    nova = nova_client.Client("2.1", session=sess, region_name=args.region)
    label = "novaclient via the catalog, mixed batch (207)"
    batch = mixed_batch(known, unknown, hostless)
    try:
        result = nova.server_external_events.create(batch)
    except nova_exc.ClientException as err:
        raise Mismatch(f"{label}: raised {type(err).__name__}: {err}")
    got = [dict(r) for r in result]
    check_events(label, batch, got)
    check_outcomes(label, got, MIXED_CODES, MIXED_STATUSES)
    check_request_ids(label, result)

    label = "novaclient via the catalog, all-200 batch"
    batch = [{"name": "network-vif-plugged", "server_uuid": known, "tag": str(uuid.uuid4())}]
    got = [dict(r) for r in nova.server_external_events.create(batch)]
    check_events(label, batch, got)
    check_outcomes(label, got, [200], ["completed"])

    label = "novaclient as a member-only user"
    member = nova_client.Client(
        "2.1", session=password_session(args, args.member_user, args.member_password),
        region_name=args.region)
    batch = mixed_batch(known, unknown, hostless)
    expect_refused(label, lambda: member.server_external_events.create(batch),
                   nova_exc.Forbidden, 403)

    print(f"---- openstacksdk {metadata.version('openstacksdk')} with a password cloud config",
          flush=True)
    conn = openstack.connect(
        auth_type="password",
        auth={"auth_url": args.auth_url, "username": args.user, "password": args.password,
              "project_name": args.project, "user_domain_name": "Default",
              "project_domain_name": "Default"},
        region_name=args.region, compute_api_version="2.1")
    label = "openstacksdk via the catalog, mixed batch (207)"
    batch = mixed_batch(known, unknown, hostless)
    got = [r.to_dict(computed=False) for r in conn.compute.create_server_external_events(batch)]
    check_events(label, batch, got)
    check_outcomes(label, got, MIXED_CODES, MIXED_STATUSES)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("--auth-url", "--region", "--project", "--user", "--password",
                 "--member-user", "--member-password", "--host"):
        parser.add_argument(name, required=True)
    args = parser.parse_args()
    try:
        import keystoneauth1  # noqa: F401
        import novaclient  # noqa: F401
        import openstack  # noqa: F401
    except ImportError as err:
        print(f"FAIL: client library missing ({err}); run scripts/test.sh", file=sys.stderr)
        return 2
    try:
        run(args)
    except Mismatch as err:
        print(f"FAIL {err}", file=sys.stderr, flush=True)
        return 1
    print(f"all {CHECKS['passed']} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
