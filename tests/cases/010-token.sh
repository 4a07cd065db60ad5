#!/bin/bash
# HF_TOKEN opens gated repos; it goes to the Hub only, never to the CDN the
# Hub redirects to (a second server on another host, 127.0.0.2, that
# answers 400 to any Authorization), and never into the log, even at
# debug level.
. "$(dirname "$0")/lib.sh"

TOKEN=hf_TopSecretToken123
make_model secret model -- --size 8M
# the CDN: a fake Hub of its own on 127.0.0.2, serving /cdn/ blobs
CDNLOG=$T/cdn.log
"$PY" "$SERVER_DIR/fakehub.py" --root "$T/repos" --host 127.0.0.2 --port-file "$T/cdn.port" \
	--log "$CDNLOG" 2>>"$T/cdn.err" &
CDN_PID=$!
at_exit 'kill -TERM $CDN_PID 2>/dev/null; wait_gone $CDN_PID 5'
wait_for 20 '[ -s "$T/cdn.port" ]' || fail "the CDN did not start: $(cat "$T/cdn.err")"
CDN=http://127.0.0.2:$(cat "$T/cdn.port")
start_hub --gated secret/model --token "$TOKEN" --cdn-base "$CDN"
HF_TOKEN=$TOKEN start_daemon -d -o model=hf://secret/model
f=$MNT/secret/model/model.safetensors
cmp "$f" "$(src secret model model.safetensors)" || fail "gated read"
cmp "$MNT/secret/model/config.json" "$(src secret model config.json)" || fail "config"
ok "gated repo readable with HF_TOKEN"

"$PY" - "$HUBLOG" "$CDNLOG" <<'PYEOF' || fail "authorization sent to the CDN"
import json, sys
hub = [json.loads(l) for l in open(sys.argv[1])]
cdn = [json.loads(l) for l in open(sys.argv[2])]
# the content came from the other host, which never saw Authorization
assert any(d["path"].startswith("/cdn/") and d["status"] in (200, 206) for d in cdn), cdn
assert not any(d["auth"] or d["status"] == 400 for d in cdn), [d for d in cdn if d["auth"]][:3]
assert not any(d["path"].startswith("/cdn/") for d in hub), "CDN requests reached the Hub"
# while the Hub did get the token (the gated repo needs it)
assert any(d["auth"] and "/resolve/" in d["path"] for d in hub), hub
PYEOF
ok "the token goes to the Hub and never to the CDN on 127.0.0.2 ($(wc -l <"$CDNLOG") CDN requests)"

stop_daemon
grep -q "fuse: " "$DLOG" || fail "debug log not captured"
grep -q "$TOKEN" "$DLOG" && fail "token in the log"
grep -q "X-Amz-Signature" "$DLOG" && fail "signed URL query in the log"
ok "no token or signed URL in the debug log"

# a crash writes no core file that would hold the token: aimfsd is not
# dumpable (the same crash of a plain process leaves one, so this can fail)
# new_cores DIR: core files written in DIR since the marker
new_cores() {
	find "$1" -maxdepth 1 -name 'core*' -newer "$T/marker" 2>/dev/null
}
mkdir -p "$T/core-control"
touch "$T/marker"
(cd "$T/core-control" && ulimit -c unlimited && exec sleep 30) &
ctl_pid=$!
wait_for 10 '[ "$(cat /proc/$ctl_pid/comm 2>/dev/null)" = sleep ]' || fail "no control process"
kill -ABRT "$ctl_pid"; wait "$ctl_pid" 2>/dev/null
(ulimit -c unlimited && HF_TOKEN=$TOKEN exec "$AIMFSD" -f \
	-o store=$STORE,ctl_socket=$SOCK,hf_endpoint=$HUB "$MNT" 2>>"$DLOG") &
DPID=$!
wait_for 30 '"$CTL_BIN" --socket "$SOCK" status >/dev/null 2>&1' || fail "daemon did not start"
dcwd=$(readlink "/proc/$DPID/cwd") # libfuse moves it to /
kill -ABRT "$DPID"; wait "$DPID" 2>/dev/null; DPID=
fusermount3 -uz "$MNT" 2>/dev/null
if [ -n "$(new_cores "$T/core-control")" ]; then
	cores=$(new_cores "$dcwd")
	[ -z "$cores" ] || { rm -f $cores; fail "the crashed daemon left a core file in $dcwd"; }
	ok "a crashed daemon leaves no core file (a plain process does)"
else
	echo "# core files are not written here (core_pattern $(cat /proc/sys/kernel/core_pattern)): not checked"
fi

# a token file works too, and a wrong token is refused with a clear error
echo wrong >"$T/token"
rm -rf "$STORE"
HF_TOKEN_PATH=$T/token start_daemon
ctl add hf://secret/model 2>"$T/err" && fail "wrong token accepted"
grep -q "the token was refused" "$T/err" || fail "wrong token: $(cat "$T/err")"
ok "a refused token gives a clear error"
