#!/bin/bash
# k8s: a node that leaves the cluster for good does not block deletions.
# Two reconcilers (nodes a and b, Node objects for both) put their
# finalizers and status on the artifacts; b dies. While its Node exists,
# its finalizer stays and a deleted artifact waits. Once the Node is
# deleted, the Lease holder (a) drops b's finalizers and status.nodes
# entries: the deleted artifact goes, the live one reports node a only.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

make_model demo small -- --size 2M
start_hub
start_daemon
start_kube
apply_crds
for n in node-a node-b; do
	printf '{"apiVersion":"v1","kind":"Node","metadata":{"name":"%s"}}' "$n" |
		kpost /api/v1/nodes >/dev/null || fail "cannot create Node $n"
done
start_rec node-a --node-interval 1
wait_for 10 '[ "$(lease_holder)" = node-a ]' || fail "node-a did not take the lease"
start_rec node-b --node-interval 1

fins() {
	jget "$ART/$1" '",".join(sorted(g(o,"metadata","finalizers") or []))'
}
nodes_of() {
	jget "$ART/$1" '",".join(sorted(g(o,"status","nodes") or {}))'
}
for a in d1 d2; do
	new_artifact "$a" hf://demo/small
done
for a in d1 d2; do
	wait_for 20 '[ "$(nodes_of '"$a"')" = node-a,node-b ] && [ "$(art_status '"$a"')" = Available ]' ||
		fail "$a: nodes $(nodes_of "$a"), status $(art_status "$a")"
	wait_for 10 '[ "$(fins '"$a"')" = aimfs.io/pvc,node.aimfs.io/node-a,node.aimfs.io/node-b ]' ||
		fail "$a finalizers: $(fins "$a")"
done
ok "two nodes put their finalizers and status on d1 and d2"

# b dies; its Node still exists: d1's deletion waits for b
stop_rec node-b -9
kdelete "$ART/d1"
wait_for 10 '[ "$(fins d1)" = node.aimfs.io/node-b ]' || fail "d1 finalizers: $(fins d1)"
node_lists() {
	klog 'd["method"] == "GET" and d["path"] == "/api/v1/nodes" and "node=node-a" in d["ua"]'
}
n0=$(node_lists)
wait_for 10 '[ "$(node_lists)" -ge $((n0 + 2)) ]' || fail "the leader does not list the Nodes"
[ "$(fins d1)" = node.aimfs.io/node-b ] || fail "a live Node's finalizer was dropped: $(fins d1)"
[ "$(nodes_of d2)" = node-a,node-b ] || fail "a live Node's status was dropped: $(nodes_of d2)"
ok "while Node node-b exists, its finalizer holds d1's deletion and its status stays"

# the Node goes: the leader cleans up after it
kdelete /api/v1/nodes/node-b
wait_for 15 '! exists "$ART/d1"' || fail "d1 still waits: finalizers $(fins d1)"
wait_for 10 '[ "$(nodes_of d2)" = node-a ]' || fail "d2 nodes: $(nodes_of d2)"
wait_for 10 '[ "$(fins d2)" = aimfs.io/pvc,node.aimfs.io/node-a ]' || fail "d2 finalizers: $(fins d2)"
[ "$(art_status d2)" = Available ] || fail "d2 is $(art_status d2)"
grep -q "Node node-b left the cluster" "$T/rec-node-a.log" || fail "no log line for the departure"
grep -q "dropped the status of departed node(s) node-b" "$T/rec-node-a.log" || fail "no log line for the status"
kget /api/v1/namespaces/default/events | "$PY" -c '
import json, sys
r = [e["reason"] for e in json.load(sys.stdin)["items"] if e["involvedObject"]["name"] == "d2"]
assert "NodeGone" in r, r' || fail "no NodeGone event for d2"
ok "Node node-b deleted: d1 finished deleting, d2 lost node-b's finalizer and status (a NodeGone event)"
