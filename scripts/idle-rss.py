"""RSS of a server process while it holds idle keep-alive connections.

Opens COUNT connections to PORT, sends one request on each and reads its response (so
every connection has served a request and is idle in keep-alive), waits a second, then
prints the RSS of PID in MiB. The connections close when this exits.

    python3 scripts/idle-rss.py PORT COUNT PID
"""
import resource
import socket
import sys
import time

port, count, pid = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
wanted = count + 1024
if hard != resource.RLIM_INFINITY:
    if hard < count + 64:
        sys.exit(f"idle-rss: {count} connections need an open-file limit above {hard} (ulimit -Hn)")
    wanted = min(hard, wanted)
resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
sockets = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health/live HTTP/1.1\r\nHost: bench\r\n\r\n")
    sockets.append(s)
for s in sockets:
    if not s.recv(4096).startswith(b"HTTP/1.1 200"):
        sys.exit("idle-rss: a connection was not answered 200")
time.sleep(1)
with open(f"/proc/{pid}/status") as status:
    rss_kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
print(round(rss_kb / 1024, 1))
