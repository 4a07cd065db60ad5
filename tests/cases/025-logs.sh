#!/bin/bash
# Logging. With -f, lines go to stderr, stamped, with the level. Repeats
# are rate-limited: an offline read of every block of a large uncached file
# logs 5 lines naming the file and model, then (at exit) one line with how
# many more there were; another file's line is not held back. log_level=
# error shows errors and nothing below. Daemonised, lines go to syslog
# (/dev/log, a datagram socket of this test's, bound over /dev/log in a
# private mount namespace) with ident and pid, and none to stderr.
. "$(dirname "$0")/lib.sh"

BS=$((64 << 10))
make_model demo big -- --size 16M
start_hub
start_daemon -o model=hf://demo/big,block_size=64K,prefetch_window=0
f=$MNT/demo/big/model.safetensors
nblocks=$(( ($(stat -c %s "$(src demo big model.safetensors)") + BS - 1) / BS ))
grep -Eq "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z aimfsd\[notice\]: mounted '$MNT' \(store '$STORE'\)$" "$DLOG" ||
	fail "no stamped 'mounted' line on stderr with -f: $(head -n 3 "$DLOG")"
stop_daemon
ok "-f: stamped lines with their level on stderr"

# offline: every block of the file fails, each logs the same line
DLOG=$T/daemon-offline.log start_daemon -o offline=yes
"$PY" - "$f" "$nblocks" "$BS" "$MNT/demo/big/tokenizer.json" <<'PYEOF' || fail "offline reads"
import os, sys
path, n, bs, other = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fd = os.open(path, os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
failed = 0
for k in range(n):
    try:
        os.pread(fd, 1, k * bs)
    except OSError:
        failed += 1
assert failed == n, (failed, n)
try:
    open(other, "rb").read(1)
    sys.exit("an uncached tokenizer.json was read offline")
except OSError:
    pass
PYEOF
lines=$(grep -c "offline: block [0-9]* of 'model.safetensors' in demo/big is not cached" "$T/daemon-offline.log")
[ "$lines" -eq 5 ] || fail "$lines lines for $nblocks uncached blocks, want 5"
grep -q "offline: block 0 of 'tokenizer.json' in demo/big is not cached" "$T/daemon-offline.log" ||
	fail "another file's line was held back"
daemon_alive || fail "daemon died"
stop_daemon
summary=$(grep "repeated [0-9]* more times in [0-9]* s, the last: offline: block [0-9]* of 'model.safetensors' in demo/big is not cached" "$T/daemon-offline.log")
[ -n "$summary" ] || fail "no summary of the held-back lines: $(tail -n 5 "$T/daemon-offline.log")"
more=$(echo "$summary" | sed -n 's/.*repeated \([0-9]*\) more times.*/\1/p')
[ "$((more + 5))" -ge "$nblocks" ] || fail "the summary counts $more more, want at least $((nblocks - 5))"
ok "$nblocks offline misses: 5 lines, then 'repeated $more more times'; another file still logged"

# log_level=error: errors only
DLOG=$T/daemon-error.log FETCH_TIMEOUT=1 start_daemon -o log_level=error
hub_fault '{"kind": "500", "count": 100000, "match": "/cdn/"}'
dd if="$f" bs=4096 skip=$((100 * BS / 4096)) count=1 of=/dev/null status=none 2>/dev/null &&
	fail "a read through endless 500s succeeded"
hub_fault '{"kind": "clear"}'
stop_daemon
grep -q "aimfsd\[error\]: cannot fetch block 100 of 'model.safetensors' in demo/big" "$T/daemon-error.log" ||
	fail "no error line with log_level=error: $(cat "$T/daemon-error.log")"
! grep -q "\[notice\]\|\[warning\]\|\[info\]" "$T/daemon-error.log" ||
	fail "lines below error with log_level=error: $(grep -v '\[error\]' "$T/daemon-error.log" | head -n 3)"
ok "log_level=error: the fetch error, no notice or warning lines"

# daemonised: syslog. /dev/log is this test's socket in a private mount
# namespace: the daemon and its mount live there.
"$PY" - "$T/syslog.sock" "$T/syslog.txt" <<'PYEOF' &
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
with open(sys.argv[2], "ab", buffering=0) as out:
    while True:
        out.write(s.recv(65536).rstrip(b"\0\n") + b"\n")
PYEOF
LPID=$!
SPID=
at_exit '[ -n "$SPID" ] && kill -TERM $SPID 2>/dev/null && wait_for 10 "! kill -0 $SPID 2>/dev/null"; kill $LPID 2>/dev/null'
wait_for 10 '[ -S "$T/syslog.sock" ]' || fail "the syslog socket did not appear"
cat >"$T/devns.sh" <<'EOF'
# in a private mount namespace: a /dev of the devices the daemon needs,
# with the test's socket as /dev/log
set -e
T=$1
shift
mkdir -p "$T/olddev"
mount --rbind /dev "$T/olddev"
mount -t tmpfs -o mode=755 aimfs-test-dev /dev
for n in fuse null zero full random urandom; do
	touch "/dev/$n"
	mount --bind "$T/olddev/$n" "/dev/$n"
done
touch /dev/log
mount --bind "$T/syslog.sock" /dev/log
umount -l "$T/olddev"
exec "$@"
EOF
unshare -m --propagation private bash "$T/devns.sh" "$T" "$AIMFSD" \
	-o "store=$STORE,ctl_socket=$SOCK,hf_endpoint=$HUB,model=hf://demo/big" \
	"$MNT" >"$T/daemonised.out" 2>"$T/daemonised.err" ||
	fail "the daemonised start failed: $(cat "$T/daemonised.err")"
wait_for 10 'SPID=$(tr -cd 0-9 <"$STORE/lock" 2>/dev/null); [ -n "$SPID" ] && kill -0 $SPID 2>/dev/null' ||
	fail "no daemon holds the store"
wait_for 10 'ctl status >/dev/null 2>&1' || fail "no control socket"
nsenter -t "$SPID" -m cmp -s "$MNT/demo/big/config.json" "$(src demo big config.json)" ||
	fail "config.json through the daemonised mount"
# "mounted" is said before the fork, by the parent's pid
wait_for 10 'grep -q "^<29>.* aimfsd\[[0-9]*\]: mounted '"'$MNT'"'" "$T/syslog.txt"' ||
	fail "no 'mounted' line (daemon.notice) in syslog: $(cat "$T/syslog.txt")"
pid=$SPID
kill -TERM "$SPID"
wait_for 20 '! kill -0 $SPID 2>/dev/null' || fail "the daemonised daemon ignores SIGTERM"
SPID=
wait_for 10 'grep -q "^<29>.* aimfsd\[$pid\]: unmounting '"'$MNT'"'" "$T/syslog.txt"' ||
	fail "no 'unmounting' line from aimfsd[$pid] in syslog: $(cat "$T/syslog.txt")"
! grep -q "mounted\|unmounting" "$T/daemonised.err" "$T/daemonised.out" ||
	fail "a daemonised line went to stderr: $(cat "$T/daemonised.err")"
ok "daemonised: 'mounted' and 'unmounting' in syslog as aimfsd[pid] daemon.notice, none on stderr"
