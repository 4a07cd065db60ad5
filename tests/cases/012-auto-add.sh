#!/bin/bash
# auto_add: looking up an unknown org/name or hub/models--org--name
# registers that repo from the Hub on the fly; a repo that does not exist
# gives ENOENT quickly and is remembered for negative_timeout, then asked
# about again; auto_add=no
# and offline=yes never touch the network for a lookup.
. "$(dirname "$0")/lib.sh"

make_model alpha one -- --size 1M
make_model beta two -- --size 1M
start_hub
start_daemon -o negative_timeout=300

cmp "$MNT/alpha/one/config.json" "$(src alpha one config.json)" || fail "org/name lookup"
ok "reading org/name/file registers the repo"

c=$(printf 'beta/two@main' | sha1sum | cut -c1-40)
[ "$(cat "$MNT/hub/models--beta--two/refs/main")" = "$c" ] || fail "hub lookup"
cmp "$MNT/hub/models--beta--two/snapshots/$c/config.json" "$(src beta two config.json)" ||
	fail "hub snapshot read"
ok "reading hub/models--org--name/refs/main registers the repo"

ctl --json list | "$PY" -c '
import json, sys
names = sorted(m["name"] for m in json.load(sys.stdin))
assert names == ["alpha/one", "beta/two"], names' || fail "list after auto_add"

start=$(date +%s%N)
ls "$MNT/nobody/nothing" 2>"$T/err" && fail "a missing repo appeared"
grep -q "No such file or directory" "$T/err" || fail "want ENOENT: $(cat "$T/err")"
ls "$MNT/hub/models--nobody--nothing" 2>/dev/null && fail "a missing repo appeared in hub/"
stat "$MNT/nobody/nothing/config.json" 2>/dev/null && fail "a missing file appeared"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -lt 3000 ] || fail "ENOENT took $ms ms"
asked=$(hub_sum count '/api/models/nobody/nothing/')
[ "$asked" -eq 1 ] || fail "the Hub was asked $asked times about a missing repo"
ok "a missing repo: ENOENT in $ms ms, asked once, then remembered"

ls "$MNT" | grep -q nobody && fail "the probed org is listed at the root"
ok "probed names do not clutter listings"
stop_daemon

# the memory of a missing repo expires after negative_timeout
start_daemon -o negative_timeout=1
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
ls "$MNT/nobody/else" 2>/dev/null && fail "a missing repo appeared"
t0=$(now_ms)
[ "$(hub_sum count '/api/models/nobody/else/')" -eq 1 ] || fail "first lookup did not ask the Hub"
ls "$MNT/nobody/else" 2>/dev/null && fail "a missing repo appeared"
if [ $(( $(now_ms) - t0 )) -lt 900 ]; then
	asked=$(hub_sum count '/api/models/nobody/else/')
	[ "$asked" -eq 1 ] || fail "asked $asked times within negative_timeout=1"
fi
wait_for 5 '[ $(( $(now_ms) - t0 )) -gt 1100 ]'
ls "$MNT/nobody/else" 2>/dev/null && fail "a missing repo appeared"
asked=$(hub_sum count '/api/models/nobody/else/')
[ "$asked" -eq 2 ] || fail "the Hub was asked $asked times, want 2 after negative_timeout=1 expired"
ok "negative_timeout=1: asked once within the second, again after it"
stop_daemon

start_daemon -o auto_add=no
n=$(hub_sum count '.')
ls "$MNT/gamma/three" 2>/dev/null && fail "auto_add=no registered"
ls "$MNT/hub/models--gamma--three" 2>/dev/null && fail "auto_add=no registered in hub/"
[ "$(hub_sum count '.')" -eq "$n" ] || fail "auto_add=no asked the Hub"
ok "auto_add=no: ENOENT, no request"
stop_daemon

start_daemon -o offline=yes
ls "$MNT/gamma/three" 2>/dev/null && fail "offline registered"
[ "$(hub_sum count '.')" -eq "$n" ] || fail "offline asked the Hub"
cmp "$MNT/alpha/one/config.json" "$(src alpha one config.json)" || fail "offline cached read"
ok "offline: no auto_add, cached data served"
