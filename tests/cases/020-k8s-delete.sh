#!/bin/bash
# k8s: Shared artifacts are reused across template caches by sourceUri,
# Dedicated ones are owned by their template cache; deleting a template
# cache deletes the artifacts it created that are not Available and keeps
# the Available ones (and those another template cache uses); deleting an
# artifact frees its blocks in the node's store unless another artifact
# names the same source, and deletes its PVC. Template caches get Events
# on their transitions, and a conflict on their status write is retried on
# a fresh copy.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

make_model demo a -- --size 2M
start_hub
start_daemon
start_kube
apply_crds
start_rec node-a

# new_tc NAME MODE source=uri...
new_tc() {
	local name=$1 mode=$2 srcs="" s
	shift 2
	for s in "$@"; do
		srcs="$srcs${srcs:+,}{\"name\":\"${s%%=*}\",\"sourceUri\":\"${s#*=}\"}"
	done
	printf '{"apiVersion":"aimfs.io/v1alpha1","kind":"AIMTemplateCache","metadata":{"name":"%s"},"spec":{"mode":"%s","modelSources":[%s]}}' \
		"$name" "$mode" "$srcs" | kpost "$TC" >/dev/null || fail "cannot create template cache $name"
}
tc_status() {
	jget "$TC/$1" 'g(o,"status","status")'
}
owners() {
	jget "$ART/$1" '",".join(sorted(r["name"] for r in g(o,"metadata","ownerReferences") or []))'
}
arts_for() {
	kget "$ART" | "$PY" -c '
import json, sys
print(",".join(sorted(a["metadata"]["name"] for a in json.load(sys.stdin)["items"]
                      if a["spec"]["sourceUri"] == sys.argv[1])))' "$1"
}

new_tc t1 Shared a=hf://demo/a b=hf://nobody/missing
# t1's ready count follows its artifacts' statuses, one update later
wait_for 20 '[ "$(tc_status t1)" = Failed ] && [ "$(art_status t1-a)" = Available ] && [ "$(art_status t1-b)" = Failed ] &&
	[ "$(jget "$TC/t1" '"'"'g(o,"status","ready")'"'"')" = 1/2 ]' ||
	fail "t1 is $(tc_status t1), ready $(jget "$TC/t1" 'g(o,"status","ready")'): t1-a $(art_status t1-a), t1-b $(art_status t1-b)"
[ "$(owners t1-a)" = t1 ] || fail "t1-a owners: $(owners t1-a)"
ok "t1 (Shared): artifacts t1-a Available, t1-b Failed; t1 Failed, ready 1/2"

# tc_events NAME: "type/reason" of its Events, in order
tc_events() {
	kget /api/v1/namespaces/default/events | "$PY" -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"] if e["involvedObject"]["name"] == sys.argv[1]]
assert all(e["involvedObject"]["kind"] == "AIMTemplateCache" for e in ev), ev
print(" ".join(e["type"] + "/" + e["reason"] for e in ev))' "$1"
}
wait_for 10 'tc_events t1 | grep -q "Warning/Failed"' || fail "t1 events: $(tc_events t1)"
ok "t1's Events: $(tc_events t1)"

# another writer changes t2 before its first status write: retried on a fresh copy
kfault '{"kind": "conflict", "match": "/aimtemplatecaches/t2/status", "count": 1}'
new_tc t2 Shared a=hf://demo/a
wait_for 20 '[ "$(tc_status t2)" = Available ]' || fail "t2 is $(tc_status t2)"
[ "$(klog 'd["path"].endswith("/aimtemplatecaches/t2/status") and d["status"] == 409')" = 1 ] ||
	fail "the conflict on t2 was not served"
[ "$(klog 'd["method"] == "GET" and d["path"].endswith("/aimtemplatecaches/t2") and not d["watch"] and d["ua"].startswith("aimfs-reconciler")')" -ge 1 ] ||
	fail "no fresh GET of t2 after the conflict"
wait_for 10 'tc_events t2 | grep -q "Normal/Available"' || fail "t2 events: $(tc_events t2)"
ok "t2: a conflict on its status write was retried on a fresh copy; Events: $(tc_events t2)"
[ "$(arts_for hf://demo/a)" = t1-a ] || fail "artifacts for demo/a: $(arts_for hf://demo/a)"
[ "$(owners t1-a)" = t1,t2 ] || fail "t1-a owners: $(owners t1-a)"
[ "$(jget "$TC/t2" 'g(o,"status","artifacts")[0]["name"]')" = t1-a ] || fail "t2 artifacts"
ok "t2 (Shared, same source) reuses t1-a: one artifact, owned by t1 and t2"

new_tc t3 Dedicated a=hf://demo/a
wait_for 20 '[ "$(tc_status t3)" = Available ]' || fail "t3 is $(tc_status t3)"
[ "$(arts_for hf://demo/a)" = t1-a,t3-a ] || fail "artifacts for demo/a: $(arts_for hf://demo/a)"
jget "$ART/t3-a" '(g(o,"spec","mode"), [(r["name"], r["controller"], r["blockOwnerDeletion"]) for r in g(o,"metadata","ownerReferences")])' >"$T/o"
[ "$(cat "$T/o")" = "('Dedicated', [('t3', True, True)])" ] || fail "t3-a: $(cat "$T/o")"
ok "t3 (Dedicated) gets its own artifact t3-a, controlled by t3"

new_tc t4 Dedicated x=hf://nobody/missing2
wait_for 20 '[ "$(art_status t4-x)" = Failed ]' || fail "t4-x is $(art_status t4-x)"

# deleting t1: t1-b (Failed, created by t1, owned by t1 alone) goes;
# t1-a (Available, also t2's) stays, owned by t2 only
kdelete "$TC/t1"
wait_for 15 '! exists "$TC/t1"' || fail "t1 not deleted"
wait_for 15 '! exists "$ART/t1-b"' || fail "the Failed artifact t1-b was kept"
wait_for 10 '! exists "$PVC/aimfs-t1-b"' || fail "t1-b's PVC was kept"
exists "$ART/t1-a" || fail "the Available artifact t1-a was deleted"
[ "$(owners t1-a)" = t2 ] || fail "t1-a owners after t1: $(owners t1-a)"
ok "deleting t1 deleted the Failed t1-b and kept the Available t1-a (now t2's alone)"

# deleting t4: its Dedicated, Failed artifact goes with it
kdelete "$TC/t4"
wait_for 15 '! exists "$ART/t4-x"' || fail "t4-x was kept"
ok "deleting t4 deleted its Dedicated, Failed artifact"

# deleting t3: its Dedicated artifact is Available, so it is kept, orphaned
# (the garbage collector leaves it alone)
kdelete "$TC/t3"
wait_for 15 '! exists "$TC/t3"' || fail "t3 not deleted"
exists "$ART/t3-a" || fail "the Available Dedicated artifact t3-a was deleted"
[ -z "$(owners t3-a)" ] || fail "t3-a still owned by $(owners t3-a)"
ok "deleting t3 kept its Available Dedicated artifact t3-a, orphaned"

# deleting t3-a: t1-a still names hf://demo/a, so the model stays
exists "$PVC/aimfs-t3-a" || fail "t3-a had no PVC"
kdelete "$ART/t3-a"
wait_for 15 '! exists "$ART/t3-a"' || fail "t3-a not deleted"
! exists "$PVC/aimfs-t3-a" || fail "t3-a's PVC was kept"
[ "$(ctl_has hf://demo/a)" = 1 ] || fail "demo/a left the store while t1-a uses it"
grep -q "another artifact uses it" "$T/rec-node-a.log" || fail "no log line for the kept model"
ok "deleting t3-a deleted its PVC and kept demo/a in the store (t1-a uses it)"

# deleting t2 keeps the Available t1-a; deleting t1-a frees the store
kdelete "$TC/t2"
wait_for 15 '! exists "$TC/t2"' || fail "t2 not deleted"
exists "$ART/t1-a" || fail "t1-a was deleted with t2"
cached=$(ctl --json list | "$PY" -c 'import json,sys; print([m["cached"] for m in json.load(sys.stdin) if m["source"] == "hf://demo/a"][0])')
[ "$cached" -gt 0 ] || fail "demo/a was not cached"
kdelete "$ART/t1-a"
wait_for 15 '! exists "$ART/t1-a"' || fail "t1-a not deleted"
[ "$(ctl_has hf://demo/a)" = 0 ] || fail "demo/a is still in the store"
! exists "$PVC/aimfs-t1-a" || fail "t1-a's PVC was kept"
[ "$(du -sk "$STORE/blobs" | cut -f1)" -lt 1024 ] || fail "blocks left in the store: $(du -sk "$STORE/blobs")"
ok "deleting t2 kept t1-a; deleting t1-a removed demo/a from the store ($cached bytes freed) and its PVC"
