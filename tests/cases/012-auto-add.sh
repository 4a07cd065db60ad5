#!/bin/bash
# auto_add: looking up an unknown org/name or hub/models--org--name
# registers that repo from the Hub on the fly; a repo that does not exist
# gives ENOENT quickly and is remembered (negative_timeout); auto_add=no
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
