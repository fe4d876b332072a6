#!/usr/bin/env python3
"""Drive a running `herald serve` with real OpenStack clients.

herald claims to speak Nova's `POST /os-server-external-events`; this program
checks that claim with clients nobody here wrote: python-novaclient (through a
keystoneauth1 session, as Neutron and Cinder use it) and openstacksdk (as
Cyborg uses it). No Keystone exists here, so both are pointed straight at
herald with a fixed token (keystoneauth1's token_endpoint plugin).

It first seeds herald's instance directory through herald's own HTTP API
(CONTRACT section 4) with plain urllib, then sends event batches whose
per-event outcome is known in advance:

  - a server that has a host (and a queue bound for it): code 200, completed
  - a server that is not in the directory:               code 404, failed
  - a server in the directory without a host:           code 422, failed

Usage: nova_clients.py --url http://127.0.0.1:PORT --token TOKEN [--host HOST]

For the 200s to be 200, a queue must be bound for HOST on herald's exchange
(tests/it/clients.rs declares one). Prints one line per check; exits 1 on the
first mismatch, 2 when a client library is missing or the setup fails.
"""

import argparse
import json
import sys
import urllib.error
import urllib.request
import uuid

CHECKS = {"passed": 0}


class Mismatch(Exception):
    """A client saw something other than what the contract promises."""


def ok(what):
    CHECKS["passed"] += 1
    print(f"ok   {what}", flush=True)


def expect(what, actual, wanted):
    if actual != wanted:
        raise Mismatch(f"{what}: expected {wanted!r}, got {actual!r}")
    ok(f"{what} == {wanted!r}")


def expect_refused(label, call, error, status):
    """call() must raise `error`, the client's exception for HTTP `status`."""
    try:
        call()
    except error:
        ok(f"{label}: raised {error.__name__} ({status})")
    else:
        raise Mismatch(f"{label}: expected {status} {error.__name__}, the batch was accepted")


# ---------------------------------------------------------------- directory


def seed(url, token, server, host):
    """PUT /directory/servers/{uuid} with herald's own API."""
    body = json.dumps({"host": host, "migration": None}).encode()
    req = urllib.request.Request(
        f"{url}/directory/servers/{server}",
        data=body,
        method="PUT",
        headers={"X-Auth-Token": token, "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, reply = resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        raise Mismatch(f"PUT /directory/servers/{server}: HTTP {err.code}: {err.read()[:300]!r}")
    expect(f"seed {server} host={host}: HTTP status", status, 200)
    expect(f"seed {server}: echoed host", reply.get("server", {}).get("host"), host)


# -------------------------------------------------------------- the batches


def mixed_batch(known, unknown, hostless):
    """Events for a 2.1 client: one per outcome, with and without status/tag."""
    return [
        {"name": "network-vif-plugged", "server_uuid": known,
         "status": "completed", "tag": str(uuid.uuid4())},
        {"name": "network-changed", "server_uuid": unknown},
        {"name": "network-vif-unplugged", "server_uuid": hostless,
         "status": "in-progress", "tag": str(uuid.uuid4())},
    ]


MIXED_CODES = [200, 404, 422]
MIXED_STATUSES = ["completed", "failed", "failed"]


def check_events(label, sent, got):
    """Checks one response list (of dicts) against the batch that was sent."""
    expect(f"{label}: number of events", len(got), len(sent))
    for index, (ev, res) in enumerate(zip(sent, got)):
        expect(f"{label}: event {index} name", res.get("name"), ev["name"])
        expect(f"{label}: event {index} server_uuid", res.get("server_uuid"), ev["server_uuid"])
        if "tag" in ev:
            expect(f"{label}: event {index} tag", res.get("tag"), ev["tag"])


def check_outcomes(label, got, codes, statuses):
    expect(f"{label}: codes", [r.get("code") for r in got], codes)
    expect(f"{label}: statuses", [r.get("status") for r in got], statuses)


# ------------------------------------------------------------ novaclient


def keystone_session(url, token):
    from keystoneauth1 import session as ks_session
    from keystoneauth1 import token_endpoint

    # No Keystone: the token_endpoint plugin sends the fixed token as
    # X-Auth-Token and takes `url` as every service's endpoint.
    auth = token_endpoint.Token(endpoint=url, token=token)
    return ks_session.Session(auth=auth, timeout=30)


def novaclient_at(sess, version):
    from novaclient import client as nova_client

    return nova_client.Client(version, session=sess)


def check_request_ids(label, result):
    ids = getattr(result, "request_ids", None)
    if not ids:
        raise Mismatch(f"{label}: no request_ids on the result (x-openstack-request-id missing?)")
    if not all(isinstance(i, str) and i.startswith("req-") for i in ids):
        raise Mismatch(f"{label}: request_ids not of the form req-<uuid>: {ids!r}")
    ok(f"{label}: request_ids {ids}")


def run_novaclient(url, token, known, unknown, hostless):
    import novaclient
    from novaclient import exceptions as nova_exc

    print(f"---- python-novaclient {novaclient.__version__}", flush=True)
    sess = keystone_session(url, token)

    label = "novaclient 2.1 mixed batch (207)"
    nova = novaclient_at(sess, "2.1")
    batch = mixed_batch(known, unknown, hostless)
    try:
        result = nova.server_external_events.create(batch)
    except nova_exc.ClientException as err:
        raise Mismatch(f"{label}: raised {type(err).__name__}: {err} (a 207 must not raise)")
    ok(f"{label}: did not raise")
    got = [dict(r) for r in result]
    check_events(label, batch, got)
    check_outcomes(label, got, MIXED_CODES, MIXED_STATUSES)
    check_request_ids(label, result)

    label = "novaclient 2.1 all-200 batch"
    batch = [{"name": "network-changed", "server_uuid": known, "tag": str(uuid.uuid4())},
             {"name": "network-vif-deleted", "server_uuid": known.replace("-", "").upper(),
              "tag": str(uuid.uuid4())}]
    result = nova.server_external_events.create(batch)
    got = [dict(r) for r in result]
    check_events(label, batch, got)
    check_outcomes(label, got, [200, 200], ["completed", "completed"])
    check_request_ids(label, result)

    label = "novaclient 2.1 volume-extended (needs 2.51)"
    batch = [{"name": "volume-extended", "server_uuid": known, "tag": str(uuid.uuid4())}]
    expect_refused(label, lambda: nova.server_external_events.create(batch),
                   nova_exc.BadRequest, 400)

    label = "novaclient 2.51 volume-extended"
    nova = novaclient_at(sess, "2.51")
    batch = [{"name": "volume-extended", "server_uuid": known, "tag": str(uuid.uuid4())},
             {"name": "volume-extended", "server_uuid": unknown, "tag": str(uuid.uuid4())}]
    result = nova.server_external_events.create(batch)
    got = [dict(r) for r in result]
    check_events(label, batch, got)
    check_outcomes(label, got, [200, 404], ["completed", "failed"])

    label = "novaclient 2.76 power-update POWER_ON"
    nova = novaclient_at(sess, "2.76")
    batch = [{"name": "power-update", "server_uuid": known, "tag": "POWER_ON"},
             {"name": "power-update", "server_uuid": hostless, "tag": "POWER_OFF"},
             {"name": "power-update", "server_uuid": known}]
    result = nova.server_external_events.create(batch)
    got = [dict(r) for r in result]
    check_events(label, batch, got)
    check_outcomes(label, got, [200, 422, 400], ["completed", "failed", "failed"])
    check_request_ids(label, result)

    label = "novaclient bad token"
    bad = novaclient_at(keystone_session(url, "not-" + token), "2.1")
    batch = mixed_batch(known, unknown, hostless)
    expect_refused(label, lambda: bad.server_external_events.create(batch),
                   nova_exc.Unauthorized, 401)


# ------------------------------------------------------------ openstacksdk


def sdk_connection(url, token, microversion=None):
    import openstack.connection

    kwargs = {"compute_endpoint_override": url}
    if microversion:
        kwargs["compute_default_microversion"] = microversion
    # A keystoneauth session with the token_endpoint plugin: no Keystone, no
    # service catalog; the endpoint override points the compute proxy at herald.
    return openstack.connection.Connection(
        session=keystone_session(url, token), **kwargs)


def sdk_events(conn, batch):
    return [r.to_dict(computed=False) for r in conn.compute.create_server_external_events(batch)]


def run_openstacksdk(url, token, known, unknown, hostless):
    import openstack
    from openstack.compute.v2 import _proxy

    version = _dist_version("openstacksdk")
    print(f"---- openstacksdk {version}", flush=True)
    if not hasattr(_proxy.Proxy, "create_server_external_events"):
        print(f"SKIP openstacksdk: {version} has no "
              "compute Proxy.create_server_external_events", flush=True)
        return

    label = "openstacksdk mixed batch (207)"
    conn = sdk_connection(url, token)
    batch = mixed_batch(known, unknown, hostless)
    try:
        got = sdk_events(conn, batch)
    except openstack.exceptions.SDKException as err:
        raise Mismatch(f"{label}: raised {type(err).__name__}: {err} (a 207 must not raise)")
    ok(f"{label}: did not raise")
    check_events(label, batch, got)
    check_outcomes(label, got, MIXED_CODES, MIXED_STATUSES)

    label = "openstacksdk default_microversion 2.82 power-update"
    conn = sdk_connection(url, token, microversion="2.82")
    batch = [{"name": "power-update", "server_uuid": known, "tag": "POWER_OFF"}]
    got = sdk_events(conn, batch)
    check_events(label, batch, got)
    check_outcomes(label, got, [200], ["completed"])


def _dist_version(name):
    from importlib import metadata

    return metadata.version(name)


# ------------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="herald's base URL, http://127.0.0.1:PORT")
    parser.add_argument("--token", required=True, help="a token with the admin role")
    parser.add_argument("--host", default="compute-1",
                        help="the compute host of the known server (a queue must be bound for it)")
    args = parser.parse_args()
    url = args.url.rstrip("/")

    try:
        import keystoneauth1  # noqa: F401
        import novaclient  # noqa: F401
        import openstack  # noqa: F401
    except ImportError as err:
        print(f"FAIL: client library missing ({err}); run scripts/test.sh, "
              "which sets up the Python clients", file=sys.stderr)
        return 2

    known, unknown, hostless = (str(uuid.uuid4()) for _ in range(3))
    print(f"known={known} (host {args.host}) unknown={unknown} hostless={hostless}", flush=True)
    try:
        seed(url, args.token, known, args.host)
        seed(url, args.token, hostless, None)
        run_novaclient(url, args.token, known, unknown, hostless)
        run_openstacksdk(url, args.token, known, unknown, hostless)
    except Mismatch as err:
        print(f"FAIL {err}", file=sys.stderr, flush=True)
        return 1
    except Exception as err:  # a client blew up: say which, with the cause
        print(f"FAIL unexpected {type(err).__name__}: {err}", file=sys.stderr, flush=True)
        raise
    print(f"all {CHECKS['passed']} checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
