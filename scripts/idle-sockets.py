#!/usr/bin/env python3
"""Measures how long /healthz takes while N idle sockets are open on serve.

Usage: scripts/idle-sockets.py HERALD_BINARY [--sockets 2000] [--nofile 1024]
Starts `HERALD_BINARY serve` under `prlimit --nofile=NOFILE:NOFILE` (the
common limit, which serve cannot raise), with a throw-away config (SQLite in
a temp dir, no broker), opens the idle sockets, times one GET /healthz, and
counts serve's "Too many open files" log lines. A figure, not a test.
"""
import argparse, os, re, socket, subprocess, sys, tempfile, threading, time

p = argparse.ArgumentParser()
p.add_argument("binary")
p.add_argument("--sockets", type=int, default=2000)
p.add_argument("--nofile", type=int, default=1024)
a = p.parse_args()

d = tempfile.mkdtemp()
cfg = os.path.join(d, "herald.toml")
open(cfg, "w").write(f'''[http]
listen = "127.0.0.1:0"
[auth]
mode = "noauth"
[amqp]
url = "amqp://guest:guest@127.0.0.1:1/%2f"
[directory]
backend = "sqlite"
url = "{d}/h.sqlite3"
''')
proc = subprocess.Popen(["prlimit", f"--nofile={a.nofile}:{a.nofile}", a.binary, "serve", "--config", cfg],
                        stderr=subprocess.PIPE, text=True, env={**os.environ, "NO_COLOR": "1"})
lines, addr = [], []
def read():
    for line in proc.stderr:
        lines.append(line)
        m = re.search(r"addr=(\S+)", line)
        if m and "listening" in line and not addr:
            addr.append(m.group(1))
threading.Thread(target=read, daemon=True).start()
while not addr:
    if proc.poll() is not None:
        sys.exit("serve exited: " + "".join(lines[-3:]))
    time.sleep(0.05)
host, port = addr[0].rsplit(":", 1)
idle = []
for _ in range(a.sockets):
    s = socket.socket(); s.setblocking(False)
    s.connect_ex((host, int(port))); idle.append(s)
time.sleep(0.5)  # let the idle connections land (a measurement, not a test)
t0 = time.monotonic()
while True:
    try:
        c = socket.create_connection((host, int(port)), timeout=60)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        c.settimeout(60)
        if c.recv(12).startswith(b"HTTP/1.1 200"):
            break
    except OSError:
        pass
    if time.monotonic() - t0 > 120:
        print("no /healthz within 120 s"); break
took = time.monotonic() - t0
time.sleep(0.5)
emfile = sum("Too many open files" in l for l in lines)
accept = sum("accept fail" in l for l in lines)
print(f"{a.binary}: /healthz {took:.3f} s with {a.sockets} idle sockets, nofile {a.nofile}; "
      f"'Too many open files' lines: {emfile}, accept-failure lines: {accept}")
for s in idle: s.close()
proc.terminate(); proc.wait()
