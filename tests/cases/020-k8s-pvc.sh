#!/bin/bash
# k8s: the PVC the Lease holder creates for an artifact requests
# (spec.size or the discovered size) x (1 + headroom%) rounded up to a whole
# GiB, across GiB boundaries, with binary, decimal and plain-byte sizes and
# another --headroom; a size learnt or raised later grows the PVC; the PVC
# is labelled, owned by its artifact and carries its storage class. The
# StorageReady condition waits for the PVC to be Bound (the fake API server
# leaves new PVCs Pending here, as a WaitForFirstConsumer class does).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

make_model demo small -- --size 3M
start_hub
start_daemon
start_kube --pvc-phase Pending
apply_crds
start_rec node-a

pvc_size() {
	jget "$PVC/aimfs-$1" 'g(o,"spec","resources","requests","storage")'
}

# name size expected (headroom 10%)
check_sizes() {
	local name size want got
	while read -r name size want; do
		wait_for 15 '[ -n "$(pvc_size '"$name"')" ]' || fail "no PVC for $name ($size)"
		got=$(pvc_size "$name")
		[ "$got" = "$want" ] || fail "$name: size $size gave $got, want $want"
		[ "$(jget "$ART/$name" 'g(o,"status","allocatedSize")')" = "$want" ] ||
			wait_for 5 '[ "$(jget "$ART/'"$name"'" "g(o,\"status\",\"allocatedSize\")")" = '"$want"' ]' ||
			fail "$name: status.allocatedSize $(jget "$ART/$name" 'g(o,"status","allocatedSize")')"
		echo "  $size -> $got"
	done
}

cat >"$T/sizes" <<'SIZES'
s930mi "930Mi" 1Gi
s931mi "931Mi" 2Gi
s1gi "1Gi" 2Gi
sb2gi 1952257861 2Gi
sb2gi1 1952257862 3Gi
s10g "10G" 11Gi
sfrac "1.5Gi" 2Gi
s100gi "100Gi" 110Gi
SIZES
while read -r name size want; do
	new_artifact "$name" hf://demo/small "\"size\": $size"
done <"$T/sizes"
check_sizes <"$T/sizes"
storage() {
	jget "$ART/$1" '" ".join(c["status"] + "/" + c["reason"] for c in (g(o,"status","conditions") or []) if c["type"] == "StorageReady")'
}
wait_for 10 '[ "$(storage s1gi)" = False/Pending ]' || fail "s1gi StorageReady with a Pending PVC: $(storage s1gi)"
kapi -f -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"status": {"phase": "Bound"}}' "$KUBE$PVC/aimfs-s1gi/status" >/dev/null || fail "cannot bind the PVC"
wait_for 10 '[ "$(storage s1gi)" = True/Bound ]' || fail "s1gi StorageReady once Bound: $(storage s1gi)"
[ "$(storage s930mi)" = False/Pending ] || fail "s930mi StorageReady: $(storage s930mi)"
kget /api/v1/namespaces/default/events | "$PY" -c '
import json, sys
r = [e["reason"] for e in json.load(sys.stdin)["items"] if e["involvedObject"]["name"] == "s1gi"]
assert "StorageReady" in r, r' || fail "no StorageReady event for s1gi"
ok "StorageReady is False/Pending while the PVC is Pending, True/Bound (with an Event) once it is Bound"
ok "headroom 10%: 930Mi->1Gi, 931Mi->2Gi, 1Gi->2Gi, 1952257861->2Gi, 1952257862->3Gi, 10G->11Gi, 1.5Gi->2Gi, 100Gi->110Gi"

# no size: the size the node discovered (3 MiB) + 10% -> 1Gi; then a
# larger spec.size grows the PVC
new_artifact disc hf://demo/small '"storageClassName": "fast-ssd"'
wait_for 15 '[ "$(pvc_size disc)" = 1Gi ]' || fail "discovered size: $(pvc_size disc)"
kget "$PVC/aimfs-disc" | "$PY" -c '
import json, sys
p = json.load(sys.stdin)
assert p["spec"]["storageClassName"] == "fast-ssd", p["spec"]
assert p["spec"]["accessModes"] == ["ReadWriteOnce"], p["spec"]
assert p["metadata"]["labels"]["aimfs.io/artifact"] == "disc", p["metadata"]
assert len(p["metadata"]["labels"]["aimfs.io/source-key"]) == 16
ref = p["metadata"]["ownerReferences"][0]
assert ref["kind"] == "AIMArtifact" and ref["name"] == "disc" and ref["controller"], ref' ||
	fail "PVC metadata: $(kget "$PVC/aimfs-disc")"
kapi -f -X PATCH -H 'Content-Type: application/merge-patch+json' \
	-d '{"spec": {"size": "5Gi"}}' "$KUBE$ART/disc" >/dev/null || fail "patch size"
wait_for 15 '[ "$(pvc_size disc)" = 6Gi ]' || fail "grown: $(pvc_size disc)"
ok "discovered size 3 MiB -> 1Gi with its storage class, owner and labels; spec.size 5Gi grows it to 6Gi"

# another headroom
stop_rec node-a
start_rec node-b --headroom 25
for x in "h800 \"800Mi\" 1Gi" "h820 \"820Mi\" 2Gi" "h4g \"4Gi\" 5Gi"; do
	set -- $x
	new_artifact "$1" hf://demo/small "\"size\": $2"
done
printf 'h800 800Mi 1Gi\nh820 820Mi 2Gi\nh4g 4Gi 5Gi\n' | check_sizes
[ "$(jget "$ART/h820" 'g(o,"status","headroomPercent")')" = 25 ] || fail "headroomPercent"
[ "$(pvc_size s1gi)" = 2Gi ] || fail "an existing PVC was resized by a new headroom"
ok "--headroom 25: 800Mi->1Gi, 820Mi->2Gi, 4Gi->5Gi; headroomPercent recorded"
