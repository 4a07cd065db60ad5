#!/bin/bash
# The Prometheus endpoint (metrics=). Scrapes before and after a cold and a
# warm read move by exactly what was read: block misses and hits, bytes
# fetched from the Hub, bytes served from the origin and from the store,
# and the read and fetch latency histograms; a fetch that fails on endless
# 503s counts an http_5xx error and retries, and is in flight meanwhile.
# The text parses with the Prometheus client library's parser.
# `aimfs-ctl status --prometheus` prints the same families, from the daemon
# and with --store. Garbage requests get 4xx answers and the daemon lives.
# A Unix socket serves the same; a non-loopback address is refused unless
# metrics_remote=yes; without metrics= the daemon listens on no TCP port.
. "$(dirname "$0")/lib.sh"

"$PY" -c 'import prometheus_client' 2>/dev/null ||
	fail "python3-prometheus-client is not installed (tools/bootstrap check installs it)"

BS=$((1 << 20))
N=5
make_model demo big -- --size 12M
start_hub
FETCH_TIMEOUT=2 start_daemon -o model=hf://demo/big,block_size=1M,prefetch_window=0,cache_size=1G,metrics=127.0.0.1:0
f=$MNT/demo/big/model.safetensors
orig=$(src demo big model.safetensors)
port=$(sed -n 's|.*metrics: serving http://127\.0\.0\.1:\([0-9][0-9]*\)/metrics$|\1|p' "$DLOG" | tail -n 1)
[ -n "$port" ] || fail "no 'metrics: serving' line in the log"
URL=http://127.0.0.1:$port/metrics

# the TCP ports a process listens on, from /proc/net/tcp{,6}
listeners() {
	"$PY" - "$1" <<'PYEOF'
import os, sys
pid = sys.argv[1]
inodes = set()
for fd in os.listdir("/proc/%s/fd" % pid):
    try:
        link = os.readlink("/proc/%s/fd/%s" % (pid, fd))
    except OSError:
        continue
    if link.startswith("socket:["):
        inodes.add(link[8:-1])
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        rows = open(table).read().splitlines()[1:]
    except FileNotFoundError:
        continue
    for row in rows:
        f = row.split()
        if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
            print(int(f[1].rsplit(":", 1)[1], 16))
PYEOF
}
listeners "$DPID" | grep -qx "$port" || fail "the daemon does not listen on $port: $(listeners "$DPID")"

# scrape NAME: GET /metrics into $T/NAME.prom
scrape() {
	curl -fsS --max-time 10 -D "$T/$1.hdr" "$URL" -o "$T/$1.prom" ||
		fail "scrape $1 failed"
}

# prom FILE NAME [LABEL=VALUE...]: one sample, through the client's parser
prom() {
	"$PY" - "$@" <<'PYEOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
path, name = sys.argv[1], sys.argv[2]
want = dict(a.split("=", 1) for a in sys.argv[3:])
for fam in text_string_to_metric_families(open(path).read()):
    for s in fam.samples:
        if s.name == name and s.labels == want:
            v = float(s.value)
            print(int(v) if v.is_integer() else v)
            sys.exit(0)
sys.exit("no sample %s%s in %s" % (name, want, path))
PYEOF
}

# delta A B NAME [LABEL=VALUE...]: how much a sample moved from A to B
delta() {
	local a b
	a=$(prom "$T/$1.prom" "${@:3}") || fail "$a"
	b=$(prom "$T/$2.prom" "${@:3}") || fail "$b"
	echo $((b - a))
}

# expect A B WANT NAME [LABEL=VALUE...]
expect() {
	local got
	got=$(delta "$1" "$2" "${@:4}")
	[ "$got" = "$3" ] || fail "${*:4} moved by $got from $1 to $2, want $3"
}

# preads PAGE_OFFSET: read 4 KiB at PAGE_OFFSET in each of the first N
# blocks, without read-ahead: one FUSE read each; compare with the origin
preads() {
	"$PY" - "$f" "$orig" "$N" "$BS" "$1" <<'PYEOF' || fail "reads at +$1"
import os, sys
path, orig, n, bs, at = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
with open(orig, "rb") as o:
    for k in range(n):
        o.seek(k * bs + at)
        assert os.pread(fd, 4096, k * bs + at) == o.read(4096), k
os.close(fd)
PYEOF
}

scrape s0
grep -qi '^content-type: text/plain; version=0.0.4' "$T/s0.hdr" ||
	fail "content type: $(grep -i '^content-type' "$T/s0.hdr")"
hub0=$(origin_bytes)
preads 0
scrape s1
hub1=$(origin_bytes)
expect s0 s1 $N aimfs_block_misses_total
expect s0 s1 0 aimfs_block_hits_total
expect s0 s1 $((N * BS)) aimfs_fetched_bytes_total kind=hf
expect s0 s1 $((hub1 - hub0)) aimfs_fetched_bytes_total kind=hf
expect s0 s1 0 aimfs_fetched_bytes_total kind=s3
expect s0 s1 $((N * 4096)) aimfs_served_bytes_total source=origin
expect s0 s1 0 aimfs_served_bytes_total source=store
expect s0 s1 $N aimfs_read_duration_seconds_count
expect s0 s1 $N aimfs_read_duration_seconds_bucket le=+Inf
expect s0 s1 $N aimfs_fetch_duration_seconds_count
[ "$(prom "$T/s1.prom" aimfs_store_used_bytes)" -eq $((N * BS)) ] || fail "store used bytes"
[ "$(prom "$T/s1.prom" aimfs_store_limit_bytes)" -eq $((1 << 30)) ] || fail "store limit"
[ "$(prom "$T/s1.prom" aimfs_models state=partial)" -eq 1 ] || fail "models by state"
[ "$(prom "$T/s1.prom" aimfs_pinned_bytes)" -eq 0 ] || fail "pinned bytes"
ok "cold read of $N blocks: $N misses, $((N * BS)) bytes from hf (the Hub sent $((hub1 - hub0))), $((N * 4096)) served from the origin, $N reads and fetches timed"

preads 4096
scrape s2
expect s1 s2 0 aimfs_block_misses_total
expect s1 s2 $N aimfs_block_hits_total
expect s1 s2 0 aimfs_fetched_bytes_total kind=hf
expect s1 s2 $((N * 4096)) aimfs_served_bytes_total source=store
expect s1 s2 0 aimfs_served_bytes_total source=origin
expect s1 s2 $N aimfs_read_duration_seconds_count
expect s1 s2 0 aimfs_fetch_duration_seconds_count
[ "$(origin_bytes)" -eq "$hub1" ] || fail "the warm read went to the Hub"
ok "warm read: $N hits, nothing fetched, $((N * 4096)) bytes served from the store"

# a fetch through endless 503s: in flight while it retries, then an error
# (the kernel may try a failed page once more: k fetches, each counted once)
hub_fault '{"kind": "503", "count": 100000, "match": "/cdn/"}'
cdn0=$(hub_sum count '^/cdn/')
"$PY" -c '
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
try:
    os.pread(fd, 4096, int(sys.argv[2]))
except OSError:
    sys.exit(1)
' "$f" $((N * BS)) &
rpid=$!
wait_for 10 'scrape s3 && [ "$(prom "$T/s3.prom" aimfs_fetches_in_flight)" -eq 1 ]' ||
	fail "no fetch in flight while the Hub answers 503"
wait "$rpid" && fail "a read through endless 503s succeeded"
hub_fault '{"kind": "clear"}'
scrape s4
attempts=$(($(hub_sum count '^/cdn/') - cdn0))
k=$(delta s2 s4 aimfs_block_misses_total)
[ "$k" -ge 1 ] || fail "no miss counted for the failed read"
expect s2 s4 "$k" aimfs_fetch_errors_total class=http_5xx
expect s2 s4 0 aimfs_fetch_errors_total class=timeout
expect s2 s4 0 aimfs_fetch_errors_total class=other
expect s2 s4 "$k" aimfs_fetch_duration_seconds_count
expect s2 s4 $((attempts - k)) aimfs_fetch_retries_total
expect s2 s4 0 aimfs_fetched_bytes_total kind=hf
[ "$(prom "$T/s4.prom" aimfs_fetches_in_flight)" -eq 0 ] || fail "a fetch is still in flight"
ok "endless 503s: a fetch in flight, then $k http_5xx errors for $k fetches, $((attempts - k)) retries of $attempts requests"

# aimfs-ctl status --prometheus: the same families as the scrape
fams() {
	grep '^# TYPE ' "$1" | sort
}
ctl status --prometheus >"$T/ctl.prom" || fail "status --prometheus"
scrape s5
[ -n "$(fams "$T/s5.prom")" ] && [ "$(fams "$T/ctl.prom")" = "$(fams "$T/s5.prom")" ] ||
	fail "status --prometheus has other families: $(diff <(fams "$T/ctl.prom") <(fams "$T/s5.prom"))"
for m in aimfs_block_hits_total aimfs_block_misses_total aimfs_store_used_bytes; do
	[ "$(prom "$T/ctl.prom" $m)" = "$(prom "$T/s5.prom" $m)" ] || fail "$m differs"
done
ok "aimfs-ctl status --prometheus: the same $(fams "$T/ctl.prom" | wc -l) families and counts"

# garbage: each gets an error or nothing, and the next scrape works
"$PY" - "$port" <<'PYEOF' || fail "garbage requests"
import os, socket, sys, time
port = int(sys.argv[1])

def ask(data, close_write=True, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        try:
            if data:
                s.sendall(data)
            if close_write:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the listener may close first; its answer still counts
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        s.close()

def status(resp):
    return resp.split(b"\r\n", 1)[0]

cases = [
    (b"GET /other HTTP/1.0\r\n\r\n", b"HTTP/1.0 404 Not Found"),
    (b"POST /metrics HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", b"HTTP/1.0 405 Method Not Allowed"),
    (b"hello\r\n\r\n", b"HTTP/1.0 400 Bad Request"),
    (b"GET /metrics\r\n\r\n", b"HTTP/1.0 400 Bad Request"),
    (b"\x00\x01\x02\xff" * 64 + b"\r\n\r\n", b"HTTP/1.0 400 Bad Request"),
    (b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n",
     b"HTTP/1.0 431 Request Header Fields Too Large"),
    (b"GET /" + b"m" * 1000 + b" HTTP/1.0\r\n\r\n", b"HTTP/1.0 404 Not Found"),
    (b"GET /metrics?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", b"HTTP/1.0 200 OK"),
]
for req, want in cases:
    got = status(ask(req))
    assert got == want, (req[:40], got, want)
head = ask(b"HEAD /metrics HTTP/1.0\r\n\r\n")
assert head.startswith(b"HTTP/1.0 200 OK") and head.endswith(b"\r\n\r\n"), head[-80:]
assert ask(os.urandom(4096)) is not None
assert ask(b"") == b""                  # connect, send nothing, close
assert ask(b"GET /metr") == b""          # half a request line, then close
# a client that says nothing holds the listener up for at most 2 s
idle = socket.create_connection(("127.0.0.1", port))
t = time.time()
assert status(ask(b"GET /metrics HTTP/1.0\r\n\r\n")) == b"HTTP/1.0 200 OK"
assert time.time() - t < 5, time.time() - t
idle.close()
PYEOF
daemon_alive || fail "the daemon died of garbage"
scrape s6
cmp -s <(head -c 4096 "$f") <(head -c 4096 "$orig") || fail "the mount after garbage"
ok "garbage requests: 400, 404, 405, 431, silence; an idle client holds scrapes up < 5 s; the daemon lives"
stop_daemon

# --store mode renders the same families from the store
"$CTL_BIN" --store "$STORE" status --prometheus >"$T/store.prom" || fail "--store status --prometheus"
[ "$(fams "$T/store.prom")" = "$(fams "$T/s5.prom")" ] || fail "--store families differ"
[ "$(prom "$T/store.prom" aimfs_store_used_bytes)" -eq $((N * BS)) ] || fail "--store used bytes"
ok "aimfs-ctl --store status --prometheus: the same families, $((N * BS)) bytes used"

# a Unix socket
start_daemon -o metrics=unix:$T/metrics.sock
curl -fsS --max-time 10 --unix-socket "$T/metrics.sock" http://aimfs/metrics -o "$T/unix.prom" ||
	fail "scrape over the Unix socket"
[ "$(fams "$T/unix.prom")" = "$(fams "$T/s5.prom")" ] || fail "Unix socket families differ"
[ "$(prom "$T/unix.prom" aimfs_block_misses_total)" -eq 0 ] || fail "counters survive a restart"
[ -z "$(listeners "$DPID")" ] || fail "a TCP listener with metrics=unix:"
stop_daemon
[ ! -e "$T/metrics.sock" ] || fail "the metrics socket is left behind"
ok "metrics=unix:PATH serves the same text; the socket goes at exit"

# a non-loopback address needs metrics_remote=yes
"$AIMFSD" -f -o "store=$STORE,ctl_socket=$SOCK,metrics=0.0.0.0:0" "$MNT" 2>"$T/remote.err" &&
	fail "metrics=0.0.0.0:0 started"
grep -q "not a loopback one" "$T/remote.err" || fail "remote refused how: $(cat "$T/remote.err")"
! grep -q " $MNT " /proc/mounts || fail "a refused start left a mount"
"$AIMFSD" -f -o "metrics=nonsense" "$MNT" 2>"$T/bad.err" && fail "metrics=nonsense started"
grep -q "bad value 'nonsense' for option 'metrics'" "$T/bad.err" || fail "bad value: $(cat "$T/bad.err")"
DLOG=$T/daemon-remote.log start_daemon -o metrics=0.0.0.0:0,metrics_remote=yes
rport=$(sed -n 's|.*metrics: serving http://0\.0\.0\.0:\([0-9][0-9]*\)/metrics$|\1|p' "$T/daemon-remote.log")
[ -n "$rport" ] || fail "no metrics line with metrics_remote=yes"
curl -fsS --max-time 10 "http://127.0.0.1:$rport/metrics" -o /dev/null || fail "scrape of 0.0.0.0"
stop_daemon
ok "metrics=0.0.0.0:0 is refused, and served with metrics_remote=yes; a bad value is refused"

# without metrics= nothing listens
DLOG=$T/daemon-off.log start_daemon
[ -z "$(listeners "$DPID")" ] || fail "without metrics= the daemon listens on $(listeners "$DPID")"
! grep -q "metrics" "$T/daemon-off.log" || fail "a metrics line without metrics=: $(grep metrics "$T/daemon-off.log")"
ok "without metrics= no TCP listener and no metrics line"
