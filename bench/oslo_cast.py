"""Nova's own dispatch, for bench/run.sh: oslo.messaging RPC casts of
`external_instance_event` (the call Nova's compute API makes per host) to
HOSTS compute topics on the local RabbitMQ, from THREADS threads, for SECONDS.
Each cast carries one event in the shape Nova sends. Prints one JSON line.
Everything is declared under a control exchange unique to the run, deleted
at the end.

    python oslo_cast.py SECONDS HOSTS THREADS [transport-url]
"""

import json
import sys
import threading
import time
import uuid

import kombu
import oslo_messaging
from oslo_config import cfg


def main():
    seconds = max(1, min(600, int(sys.argv[1])))
    hosts = max(1, min(1000, int(sys.argv[2])))
    threads = max(1, min(64, int(sys.argv[3])))
    url = sys.argv[4] if len(sys.argv) > 4 else "rabbit://guest:guest@127.0.0.1:5672/"
    exchange = f"bench-oslo-{uuid.uuid4().hex[:12]}"
    oslo_messaging.set_transport_defaults(control_exchange=exchange)
    conf = cfg.CONF
    transport = oslo_messaging.get_rpc_transport(conf, url=url)
    conf([], project="bench")
    target = oslo_messaging.Target(topic="compute", version="6.0")
    client = oslo_messaging.get_rpc_client(transport, target)
    counts = [0] * threads
    until = time.monotonic() + seconds

    def cast(worker):
        n = 0
        while time.monotonic() < until:
            host = f"oslo-{(worker + n * threads) % hosts}"
            event = {"name": "network-vif-plugged", "server_uuid": str(uuid.uuid4()),
                     "tag": None, "status": "completed"}
            client.prepare(server=host).cast({}, "external_instance_event",
                                             instances=[], events=[event])
            n += 1
        counts[worker] = n

    started = time.monotonic()
    workers = [threading.Thread(target=cast, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    total = sum(counts)
    transport.cleanup()
    with kombu.Connection(url.replace("rabbit://", "amqp://")) as conn:
        channel = conn.channel()
        try:
            channel.exchange_delete(exchange)
        except Exception:  # noqa: BLE001 - absent is fine
            pass
    print(json.dumps({"path": "oslo", "hosts": hosts, "threads": threads,
                      "seconds": elapsed, "events": total,
                      "events_per_sec": total / elapsed}))


if __name__ == "__main__":
    main()
