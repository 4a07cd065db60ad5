#!/bin/bash
# aimfs-ctl gives one clear line and the documented exit status for bad
# URIs, unknown and gated repos, an absent daemon and bad usage; --store
# refuses a store a daemon holds and works once it is free.
. "$(dirname "$0")/lib.sh"

make_model demo tiny -- --size 1M
make_model secret model -- --size 1M
start_hub --gated secret/model --token hf_sEcReT
start_daemon

expect() {
	local code=$1 pattern=$2
	shift 2
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq "$code" ] || fail "'$*' exited $rc, want $code: $(cat "$T/err")"
	# a failure is one line; bad usage may print the usage text
	[ "$code" -eq 2 ] || [ "$(wc -l <"$T/err")" -le 1 ] ||
		fail "'$*' printed more than one line"
	grep -q "$pattern" "$T/err" || fail "'$*': [$(cat "$T/err")] lacks '$pattern'"
}
expect 1 "not found" ctl add hf://nobody/nothing
expect 1 "invalid model URI" ctl add "hf://bad uri"
expect 1 "invalid model URI" ctl add ftp://x/y
expect 1 "revision not found" ctl add hf://demo/tiny@nosuch
expect 1 "gated or private: set HF_TOKEN" ctl add hf://secret/model
expect 1 "must be org/model" ctl add hf://demo/tiny --name bad
ctl add hf://demo/tiny >/dev/null || fail "add hf://demo/tiny"
expect 1 "'hf://demo/tiny' is already registered as 'demo/tiny'" \
	ctl add hf://demo/tiny --name other/name
ctl add hf://demo/tiny --name demo/tiny >/dev/null || fail "the same name again is not an error"
expect 2 "usage" ctl add
expect 2 "usage" "$CTL_BIN"
expect 2 "unknown command" ctl frobnicate
expect 1 "cannot reach the daemon" "$CTL_BIN" --socket "$T/none.sock" list
expect 1 "in use by another aimfs process" "$CTL_BIN" --store "$STORE" list
ok "clear one-line errors with exit status 1 or 2"

# a second daemon on a live mount is refused, not stacked
"$AIMFSD" -f -o store=$T/store2,ctl_socket=$T/s2.sock "$MNT" 2>"$T/err" && fail "a second daemon mounted"
grep -q "is already mounted by a running aimfsd" "$T/err" || fail "second daemon: $(cat "$T/err")"
[ "$(grep -c " $MNT " /proc/mounts)" -eq 1 ] || fail "mounts stacked"
ok "a second aimfsd on a live mount is refused"

ctl add hf://demo/tiny >/dev/null || fail "add"
ctl --json list | "$PY" -c 'import json,sys; assert len(json.load(sys.stdin)) == 1' || fail "failed adds left models"
daemon_alive || fail "daemon died"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK")"
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL_BIN" --socket "$SOCK" list 2>"$T/err" &&
	fail "another user reached the control socket"
grep -q "Permission denied" "$T/err" || fail "other user: $(cat "$T/err")"
ok "socket is 0600 (another user is refused) and failures registered nothing"

# past the file mode: with the socket and its directory open to all, the
# daemon itself refuses another uid (SO_PEERCRED) and says so in its log
chmod 711 "$T"
chmod 666 "$SOCK"
setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL_BIN" --socket "$SOCK" list >"$T/out" 2>"$T/err"
rc=$?
chmod 700 "$T"
chmod 600 "$SOCK"
[ "$rc" -eq 1 ] || fail "another user through a 0666 socket: exit $rc: $(cat "$T/out" "$T/err")"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "other user: $(cat "$T/err")"
grep -q "Permission denied" "$T/err" && fail "the file mode, not the daemon, refused: $(cat "$T/err")"
[ -s "$T/out" ] && fail "another user got an answer: $(cat "$T/out")"
grep -q "control: refused a connection from uid 65534" "$DLOG" || fail "no log line for the refused uid"
ctl list | grep -q demo/tiny || fail "the owner is refused after another user tried"
ok "through a 0666 socket the daemon refuses uid 65534 ($(cat "$T/err")) and logs it"

stop_daemon
"$CTL_BIN" --store "$STORE" list | grep -q "demo/tiny" || fail "--store list"
"$CTL_BIN" --store "$STORE" --json status | "$PY" -c 'import json,sys; s=json.load(sys.stdin); assert s["models"] == 1, s' || fail "--store status"
ok "--store works on a free store"
