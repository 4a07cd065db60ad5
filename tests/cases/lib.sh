# lib.sh - sourced by every case script: a private temp dir, the fake Hub,
# the daemon, and small assertions. A case starts its own servers on
# loopback ports chosen by the kernel, mounts under its temp dir, and
# cleans up on exit; on failure it keeps the dir and prints the logs.
#
# Exit codes follow automake: 0 pass, 1 fail, 77 skip (only when FUSE is
# really absent).

set -u

: "${top_builddir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
PY=/usr/bin/python3
AIMFSD=$top_builddir/aimfsd
CTL_BIN=$top_builddir/aimfs-ctl
SERVER_DIR=$top_srcdir/tests/server

T=$(mktemp -d "${TMPDIR:-/tmp}/aimfs-case.XXXXXX")
MNT=$T/mnt
STORE=$T/store
SOCK=$T/ctl.sock
HUBLOG=$T/hub.log
DLOG=$T/daemon.log
HUB_PID=
HUB=
DPID=
FAILED=0
AT_EXIT=() # commands run at exit, after the servers stop
CASE=$(basename "$0" .sh)
NODE_MODULES=${AIMFS_NODE_MODULES:-$top_srcdir/tests/node/node_modules}

if [ ! -c /dev/fuse ]; then
	echo "SKIP: /dev/fuse is absent"
	exit 77
fi

cleanup() {
	rc=$?
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null && wait_gone "$DPID" 10
	grep -q " $MNT " /proc/mounts 2>/dev/null && fusermount3 -uz "$MNT" 2>/dev/null
	[ -n "$HUB_PID" ] && kill -TERM "$HUB_PID" 2>/dev/null && wait_gone "$HUB_PID" 5
	stop_s3
	local hook
	for hook in "${AT_EXIT[@]}"; do
		eval "$hook"
	done
	# a sanitizer report from any daemon run fails the case
	if grep -qs "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$T"/daemon*.log; then
		echo "FAIL: sanitizer report in the daemon log"
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ "$FAILED" -ne 0 ]; then
		echo "--- $CASE failed; logs kept in $T"
		for f in "$T"/daemon*.log; do
			[ -f "$f" ] && { echo "--- $f (tail)"; tail -n 40 "$f"; }
		done
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap cleanup EXIT

# at_exit CMD: run CMD (a string) when the case ends, after the daemon and
# servers are gone and before the temp dir is removed
at_exit() {
	AT_EXIT+=("$1")
}

fail() {
	echo "FAIL: $*"
	FAILED=1
	exit 1
}

ok() {
	echo "ok - $*"
}

# poll a shell condition every 50 ms for at most $1 seconds
wait_for() {
	local secs=$1
	shift
	local n=$((secs * 20))
	while [ $n -gt 0 ]; do
		eval "$@" && return 0
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}

wait_gone() {
	local pid=$1 secs=$2
	wait_for "$secs" '! kill -0 '"$pid"' 2>/dev/null'
	wait "$pid" 2>/dev/null
	return 0
}

# make_model ORG NAME [REV] -- genmodel.py arguments...
make_model() {
	local org=$1 name=$2 rev=main
	shift 2
	if [ $# -gt 0 ] && [ "$1" != "--" ]; then
		rev=$1
		shift
	fi
	[ "${1:-}" = "--" ] && shift
	mkdir -p "$T/repos/$org/$name/$rev"
	"$PY" "$SERVER_DIR/genmodel.py" "$T/repos/$org/$name/$rev" "$@" \
		>"$T/genmodel.out" || fail "genmodel"
}

# src ORG NAME PATH [REV]: the origin's copy of a file
src() {
	echo "$T/repos/$1/$2/${4:-main}/$3"
}

start_hub() {
	rm -f "$T/hub.port"
	"$PY" "$SERVER_DIR/fakehub.py" --root "$T/repos" --port-file "$T/hub.port" \
		--log "$HUBLOG" "$@" 2>>"$T/hub.err" &
	HUB_PID=$!
	wait_for 20 '[ -s "$T/hub.port" ]' || fail "fake hub did not start"
	HUB=http://127.0.0.1:$(cat "$T/hub.port")
}

stop_hub() {
	kill -TERM "$HUB_PID" 2>/dev/null
	wait_gone "$HUB_PID" 5
	HUB_PID=
}

# start_daemon [-o options...]: mount $MNT against $HUB with our store
start_daemon() {
	local opts="store=$STORE,ctl_socket=$SOCK,hf_endpoint=${HUB:-http://127.0.0.1:9},fetch_timeout=${FETCH_TIMEOUT:-5},connect_timeout=2"
	"$AIMFSD" -f -o "$opts" "$@" "$MNT" 2>>"$DLOG" &
	DPID=$!
	# ready when it answers on its socket, which it serves only once
	# mounted (a stale mount or socket of a killed daemon may be there)
	wait_for 30 '"$CTL_BIN" --socket "$SOCK" status >/dev/null 2>&1 || ! kill -0 $DPID 2>/dev/null'
	kill -0 "$DPID" 2>/dev/null || fail "daemon exited (see $DLOG)"
	grep -q " $MNT " /proc/mounts || fail "daemon did not mount (see $DLOG)"
}

# stop_daemon [SIGNAL]: stop the daemon with SIGTERM (or SIGNAL, e.g. INT);
# it must unmount and exit 0
stop_daemon() {
	local rc sig=${1:-TERM}
	kill -"$sig" "$DPID" 2>/dev/null
	wait_for 20 '! kill -0 $DPID 2>/dev/null' || fail "daemon ignores SIG$sig"
	wait "$DPID"
	rc=$?
	DPID=
	[ "$rc" -eq 0 ] || fail "daemon exited with status $rc"
	wait_for 10 '! grep -q " $MNT " /proc/mounts' || fail "mount left behind"
}

daemon_alive() {
	[ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null
}

ctl() {
	"$CTL_BIN" --socket "$SOCK" "$@"
}

# hub_sum FIELD REGEX: total of FIELD ("bytes" or "count") over logged GET
# requests whose path matches REGEX (Python re.search)
hub_sum() {
	"$PY" - "$HUBLOG" "$1" "$2" <<'PYEOF'
import json, re, sys
log, field, pattern = sys.argv[1:4]
total = 0
try:
    for line in open(log):
        d = json.loads(line)
        if d["method"] != "GET" or not re.search(pattern, d["path"]):
            continue
        total += d["bytes"] if field == "bytes" else 1
except FileNotFoundError:
    pass
print(total)
PYEOF
}

# content bytes the origin served (CDN and direct resolves)
origin_bytes() {
	hub_sum bytes '^/cdn/|/resolve/'
}

hub_fault() {
	curl -fsS -X POST -d "$1" "$HUB/_fault" >/dev/null || fail "cannot queue fault $1"
}

sha() {
	sha256sum "$1" | cut -d' ' -f1
}

# drop the kernel's page cache; the status says whether it could, so that
# a case relying on it can remount instead
drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
}

# --- S3: s3rver (npm) behind the SigV4-checking proxy ----------------------
S3_AK=AKIDTEST0001
S3_SK='wJalr/XUtnFEMI+K7MDENG=bPxRfiCYTEST'
S3_TK=ASIATEMP0002
S3_TS='temp/secret+key=2'
S3_TOKEN='IQoJb3JpZ2luX2VjE//token+with/odd=chars=='
S3LOG=$T/s3proxy.log
S3=

# start_s3 [s3proxy options]: s3rver on a free port, the proxy in front
# of it with both credentials; S3 is the proxy's URL
start_s3() {
	local s3rver=$NODE_MODULES/s3rver/bin/s3rver.js
	[ -f "$s3rver" ] || fail "s3rver is not installed: run 'npm ci' in tests/node"
	mkdir -p "$T/s3data"
	# a restart must not read the last run's ports
	rm -f "$T/s3proxy.port" "$T/s3rver.out"
	# --openssl-legacy-provider: s3rver's continuation tokens use DES
	node --openssl-legacy-provider "$s3rver" -d "$T/s3data" -a 127.0.0.1 -p 0 \
		--silent --no-vhost-buckets >"$T/s3rver.out" 2>"$T/s3rver.err" &
	S3RVER_PID=$!
	wait_for 20 'grep -qs "listening on" "$T/s3rver.out" || ! kill -0 $S3RVER_PID 2>/dev/null'
	local up
	up=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$T/s3rver.out" | head -n1)
	[ -n "$up" ] || fail "s3rver did not start: $(cat "$T/s3rver.err")"
	"$PY" "$SERVER_DIR/s3proxy.py" --upstream "http://127.0.0.1:$up" \
		--port-file "$T/s3proxy.port" --log "$S3LOG" --cred "$S3_AK:$S3_SK" \
		--cred "$S3_TK:$S3_TS:$S3_TOKEN" "$@" 2>"$T/s3proxy.err" &
	S3PROXY_PID=$!
	wait_for 20 '[ -s "$T/s3proxy.port" ] || ! kill -0 $S3PROXY_PID 2>/dev/null'
	[ -s "$T/s3proxy.port" ] || fail "s3proxy did not start: $(cat "$T/s3proxy.err")"
	S3=http://127.0.0.1:$(tr -d '\n' <"$T/s3proxy.port")
}

stop_s3() {
	[ -n "${S3PROXY_PID:-}" ] && kill -TERM "$S3PROXY_PID" 2>/dev/null && wait_gone "$S3PROXY_PID" 5
	[ -n "${S3RVER_PID:-}" ] && kill -TERM "$S3RVER_PID" 2>/dev/null && wait_gone "$S3RVER_PID" 5
	S3PROXY_PID= S3RVER_PID=
}

# s3put COMMAND ...: boto3 through the checking proxy
s3put() {
	"$PY" "$SERVER_DIR/s3put.py" --endpoint "$S3" --access-key "$S3_AK" \
		--secret-key "$S3_SK" "$@"
}

# bytes of object content the S3 proxy sent (GET of a key, not listings)
s3_bytes() {
	"$PY" - "$S3LOG" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d["method"] == "GET" and "list-type" not in (d.get("query") or ""):
        n += d["bytes"]
print(n)
PYEOF
}
