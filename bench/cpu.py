"""Runs one measured command for bench/run.sh and adds what it cost in CPU.

    python3 bench/cpu.py [--server PID[,PID...]] [--broker PID] [--NAME PID...] -- COMMAND...

COMMAND's stdout must be one JSON object (a `herald load --json` report, a
raw_publisher or oslo_cast line); it is printed again with a "cpu" object:

- server_s: CPU seconds (user + system) of the process under test (herald
  serve, the relay, fixed_server) over the command's life, from
  /proc/PID/stat before and after;
- broker_s: the same for the broker's beam.smp (read only, never signalled);
- NAME_s for any other --NAME given (bench/nova.sh: db_s, MariaDB's);
  several PIDs, comma-separated, are summed (nova-api's gunicorn master and
  workers);
- generator_s: the command's own CPU (it and its children, from rusage):
  `herald load` with its consumers, or the raw publisher / oslo caster;
- wall_s: the command's wall time.

The exit code is COMMAND's. Nothing is sampled while it runs: two reads of
/proc per process, so the measuring costs nothing the figures would show.
"""

import json
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pids):
    """utime + stime of PIDS in seconds, summed, or None when one is gone."""
    if not pids:
        return None
    total = 0.0
    for pid in pids:
        one = cpu_one(pid)
        if one is None:
            return None
        total += one
    return total


def cpu_one(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            # The name (field 2) may hold spaces: fields counted after its ')'.
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(rest[11]) + int(rest[12])) / TICK


def children_s():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def delta(before, after):
    return None if before is None or after is None else round(after - before, 3)


def main(argv):
    pids = {"server": None, "broker": None}
    while argv and argv[0] != "--":
        flag, value = argv[0], argv[1]
        pids[flag.lstrip("-")] = [int(p) for p in value.split(",") if p]
        argv = argv[2:]
    command = argv[1:]
    before = {k: cpu_s(p) for k, p in pids.items()}
    gen_before, started = children_s(), time.monotonic()
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True)
    wall, gen = time.monotonic() - started, children_s() - gen_before
    after = {k: cpu_s(p) for k, p in pids.items()}
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        sys.stdout.write(done.stdout)
        return done.returncode
    report["cpu"] = {f"{k}_s": delta(before[k], after[k]) for k in pids}
    report["cpu"].update(generator_s=round(gen, 3), wall_s=round(wall, 3))
    print(json.dumps(report))
    return done.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
