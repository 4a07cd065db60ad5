#!/bin/bash
# k8s: status.lastUsed. A pinned artifact that the node pulled has none
# (a pull is no use); a read through the node's mount puts the daemon's
# last_used, as RFC 3339, into status.nodes[node].lastUsed and
# status.lastUsed; a read less than a minute later is no reason for a
# status write; status.lastUsed is the latest of the nodes'.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

make_model demo small -- --size 3M
start_hub
start_daemon -o block_size=1M
start_kube
apply_crds
REC_LOG_LEVEL=debug start_rec node-a --resync 1
RLOG=$T/rec-node-a.log

# looks LU: how many times the reconciler read the model's last_used LU
looks() {
	grep -c "node node-a has 'hf://demo/small' .*, last read $1\$" "$RLOG"
}

# daemon_lu: the daemon's last_used of demo/small
daemon_lu() {
	ctl --json list | "$PY" -c '
import json, sys
print({x["name"]: x for x in json.load(sys.stdin)}["demo/small"].get("last_used", "absent"))'
}

status_writes() {
	klog 'd["method"] == "PATCH" and d["path"].endswith("/aimartifacts/small/status") and d["status"] == 200'
}

new_artifact small hf://demo/small
wait_for 30 '[ "$(art_status small)" = Available ]' ||
	fail "small is $(art_status small), not Available"
n=$(looks 0)
wait_for 10 '[ "$(looks 0)" -ge $((n + 2)) ]' ||
	fail "the reconciler does not look at the daemon again: $(grep -c "node node-a has" "$RLOG") looks"
[ "$(daemon_lu)" = 0 ] || fail "the daemon has a last use after the pull: $(daemon_lu)"
[ -z "$(jget "$ART/small" 'g(o,"status","lastUsed") or g(o,"status","nodes","node-a","lastUsed")')" ] ||
	fail "lastUsed before any read: $(kget "$ART/small")"
ok "pulled and Available, but never read: no lastUsed"

before=$(date +%s)
head -c 100 "$MNT/demo/small/config.json" >/dev/null || fail "read"
t1=$(daemon_lu)
[ "$t1" -ge "$before" ] || fail "the daemon's last_used is $t1 after a read at $before"
wait_for 10 '[ -n "$(jget "$ART/small" "g(o, \"status\", \"lastUsed\")")" ]' ||
	fail "no status.lastUsed after a read: $(kget "$ART/small")"
jget "$ART/small" '(g(o,"status","lastUsed"), g(o,"status","nodes","node-a","lastUsed"))' >"$T/lu"
"$PY" - "$T/lu" "$t1" <<'PYEOF' || fail "lastUsed: $(cat "$T/lu")"
import ast, datetime, re, sys
agg, mine = ast.literal_eval(open(sys.argv[1]).read())
t1 = int(sys.argv[2])
for s in (agg, mine):
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s), s
    t = datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert t == t1, (s, t, t1)
print("lastUsed", agg)
PYEOF
ok "a read through the mount: status.lastUsed and the node's are the daemon's last_used, RFC 3339"

# a read a few seconds later: the daemon knows, the status is not written
w=$(status_writes)
wait_for 3 '[ "$(date +%s)" -gt "$t1" ]'
head -c 100 "$MNT/demo/small/tokenizer.json" >/dev/null || fail "second read"
t2=$(daemon_lu)
[ "$t2" -gt "$t1" ] || fail "the daemon's last_used did not move: $t2"
n=$(looks "$t2")
wait_for 10 '[ "$(looks "$t2")" -ge $((n + 2)) ]' ||
	fail "the reconciler did not see last_used $t2"
grep -q "last read on node node-a moved by $((t2 - t1))s: not written" "$RLOG" ||
	fail "no 'not written' line for a move of $((t2 - t1)) s"
[ "$(status_writes)" = "$w" ] || fail "$(($(status_writes) - w)) status writes for a read $((t2 - t1)) s later"
ok "a read $((t2 - t1)) s later: seen, but no status write (less than a minute)"

# another node read it later: status.lastUsed is the latest of the nodes'
late=$(date -u -d "@$((t1 + 3600))" +%Y-%m-%dT%H:%M:%SZ)
total=$(jget "$ART/small" 'g(o,"status","nodes","node-a","totalBytes")')
printf '{"status":{"nodes":{"node-b":{"state":"Available","totalBytes":%s,"downloadedBytes":%s,"message":"","lastUsed":"%s"}}}}' \
	"$total" "$total" "$late" |
	kapi -f -X PATCH -H 'Content-Type: application/merge-patch+json' --data-binary @- \
		"$KUBE$ART/small/status" >/dev/null || fail "cannot write node-b's status"
wait_for 10 '[ "$(jget "$ART/small" "g(o, \"status\", \"lastUsed\")")" = "$late" ]' ||
	fail "status.lastUsed is $(jget "$ART/small" 'g(o,"status","lastUsed")'), not node-b's $late"
[ "$(art_status small)" = Available ] || fail "small is $(art_status small)"
ok "status.lastUsed is the latest of the nodes' ($late)"

stop_rec node-a
