#!/bin/bash
# k8s: two reconcilers (nodes a and b, one daemon) share a
# coordination.k8s.io Lease. Both do their node's duties; only the holder
# creates PVCs. When the holder dies without releasing, the other takes the
# lease over once it expired and creates the PVCs from then on. The two
# connect without a kubeconfig: --server and --ca-file, one with
# --token-file, the other with --token (blanked in its command line and
# never logged).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

make_model demo small -- --size 2M
start_hub
start_daemon
start_kube
apply_crds
LEASE_SECS=2
REC_CONN="--server $KUBE --token-file $T/token --ca-file $T/kube.crt" start_rec node-a
REC_CONN="--server $KUBE --token $(cat "$T/token") --ca-file $T/kube.crt" start_rec node-b
tok=$(cat "$T/token")
tr '\0' ' ' <"/proc/$(rec_pid node-b)/cmdline" >"$T/cmdline"
grep -q -- "--token x" "$T/cmdline" || fail "no blanked --token in: $(cat "$T/cmdline")"
! grep -qF "$tok" "$T/cmdline" || fail "the token is in node-b's command line"
wait_for 10 '[ -n "$(lease_holder)" ]' || fail "nobody took the lease"
holder=$(lease_holder)
case $holder in
node-a) other=node-b ;;
node-b) other=node-a ;;
*) fail "lease holder '$holder'" ;;
esac

for n in l1 l2 l3; do
	new_artifact "$n" hf://demo/small '"size": "1Gi"'
done
for n in l1 l2 l3; do
	wait_for 15 'exists "$PVC/aimfs-'"$n"'"' || fail "no PVC for $n"
	wait_for 15 '[ "$(jget "$ART/'"$n"'" "sorted(g(o,\"status\",\"nodes\") or {})")" = "[$(printf "%s" "'"'"'node-a'"'"', '"'"'node-b'"'"'")]" ]' ||
		fail "$n status.nodes: $(jget "$ART/$n" 'g(o,"status","nodes")')"
done
pvc_posts() {
	klog 'd["method"] == "POST" and d["path"].endswith("/persistentvolumeclaims") and "id='"$1"')" in d["ua"]'
}
[ "$(pvc_posts "$holder")" = 3 ] || fail "the holder $holder created $(pvc_posts "$holder") PVCs"
[ "$(pvc_posts "$other")" = 0 ] || fail "the non-holder $other created $(pvc_posts "$other") PVCs"
[ "$(klog 'd["path"].endswith("/persistentvolumeclaims") and d["method"] != "GET" and "id='"$other"')" in d["ua"]')" = 0 ] ||
	fail "the non-holder touched PVCs"
ok "both nodes report per-node state; only the holder ($holder) created the 3 PVCs"
! grep -qF "$tok" "$T"/rec-*.log || fail "a token is in a reconciler's log"
ok "--server/--ca-file with --token-file and with --token; the token blanked in argv, never logged"

# the holder dies without releasing: the other waits for the lease to expire
stop_rec "$holder" -9
t0=$(date +%s%N)
wait_for 15 '[ "$(lease_holder)" = "$other" ]' || fail "the lease stayed with $(lease_holder)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$ms" -ge 1000 ] || fail "took over after $ms ms, before the 2 s lease could expire"
new_artifact l4 hf://demo/small '"size": "3Gi"'
wait_for 15 'exists "$PVC/aimfs-l4"' || fail "no PVC for l4 after the takeover"
[ "$(pvc_posts "$other")" = 1 ] || fail "the new holder created $(pvc_posts "$other") PVCs"
[ "$(jget "$PVC/aimfs-l4" 'g(o,"spec","resources","requests","storage")')" = 4Gi ] || fail "l4 size"
[ "$(jget /apis/coordination.k8s.io/v1/namespaces/aimfs-system/leases/aimfs-reconciler 'g(o,"spec","leaseTransitions")')" -ge 1 ] ||
	fail "leaseTransitions not counted"
ok "after $holder was killed, $other took the lease over in $ms ms and created the next PVC"
