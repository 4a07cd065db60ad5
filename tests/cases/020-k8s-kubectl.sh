#!/bin/bash
# k8s: the fake API server against the real kubectl. kubectl applies the
# CRDs and sample resources, `kubectl get` shows the printer columns,
# `kubectl get -o json` shows the status the reconciler wrote, the API
# server refuses a changed sourceUri, and `kubectl delete` returns once the
# reconciler's finalizers are done (model out of the store, PVC deleted).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

need_kubectl
make_model demo small -- --size 3M
start_hub
start_daemon
start_kube
apply_crds
kc get crd -o name >"$T/crds" 2>&1 || fail "kubectl get crd: $(cat "$T/crds")"
grep -q aimartifacts.aimfs.io "$T/crds" && grep -q aimtemplatecaches.aimfs.io "$T/crds" ||
	fail "CRDs: $(cat "$T/crds")"
kver=$("$KUBECTL" version --client -o json 2>/dev/null |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["clientVersion"]["gitVersion"])')
ok "kubectl $kver applied the CRDs"

cat >"$T/art.yaml" <<'YAML'
apiVersion: aimfs.io/v1alpha1
kind: AIMArtifact
metadata:
  name: small
spec:
  sourceUri: hf://demo/small
  size: 950Mi
YAML
kc apply -f "$T/art.yaml" >"$T/out" 2>&1 || fail "kubectl apply: $(cat "$T/out")"
grep -q "aimartifact.aimfs.io/small created" "$T/out" || fail "apply said: $(cat "$T/out")"
start_rec node-a
wait_for 30 '[ "$(art_status small)" = Available ]' || fail "small is $(art_status small)"
wait_for 10 '[ "$(jget "$ART/small" "g(o,\"status\",\"allocatedSize\")")" = 2Gi ]' ||
	fail "allocatedSize: $(jget "$ART/small" 'g(o,"status","allocatedSize")')"

kc get aimartifacts >"$T/get" 2>&1 || fail "kubectl get: $(cat "$T/get")"
cat "$T/get"
read -r -a head <"$T/get"
[ "${head[*]}" = "NAME STATUS PROGRESS SIZE MODE SOURCE AGE" ] || fail "columns: ${head[*]}"
grep -Eq '^small +Available +100 +2Gi +Shared +hf://demo/small +[0-9]+s' "$T/get" ||
	fail "row: $(tail -n1 "$T/get")"
kc get aima -o wide >"$T/wide" 2>&1 || fail "kubectl get -o wide: $(cat "$T/wide")"
grep -Eq '^small .* aimfs-small +[0-9]+s' "$T/wide" || fail "wide: $(cat "$T/wide")"
ok "kubectl get shows the printer columns (and PVC with -o wide)"

kc get aimartifact small -o json >"$T/json" 2>&1 || fail "kubectl get -o json: $(cat "$T/json")"
"$PY" - "$T/json" <<'PYEOF' || fail "kubectl get -o json: $(cat "$T/json")"
import json, sys
o = json.load(open(sys.argv[1]))
s = o["status"]
assert s["status"] == "Available", s
assert s["progress"]["percentage"] == 100 and s["progress"]["downloadedBytes"] == s["progress"]["totalBytes"] > 0, s
assert s["nodes"]["node-a"]["state"] == "Available", s
assert s["persistentVolumeClaim"] == "aimfs-small" and s["allocatedSize"] == "2Gi" and s["headroomPercent"] == 10, s
assert {c["type"]: c["status"] for c in s["conditions"]} == {"Ready": "True", "StorageReady": "True"}, s
assert o["spec"]["pin"] is True and o["spec"]["mode"] == "Shared", o["spec"]  # CRD defaults
PYEOF
ok "kubectl get -o json shows the status the reconciler wrote (950Mi + 10% -> 2Gi)"

sed 's#hf://demo/small#hf://demo/other#' "$T/art.yaml" >"$T/art2.yaml"
kc apply -f "$T/art2.yaml" >"$T/out" 2>&1 && fail "a changed sourceUri was accepted"
grep -q "sourceUri is immutable" "$T/out" || fail "immutable: $(cat "$T/out")"
kc get pvc aimfs-small -o jsonpath='{.spec.resources.requests.storage}' >"$T/pvc" 2>&1
[ "$(cat "$T/pvc")" = 2Gi ] || fail "kubectl get pvc: $(cat "$T/pvc")"
long=$("$PY" -c 'print("hf://org/" + "x" * 2040)')
sed "s#hf://demo/small#$long#; s#name: small#name: too-long#" "$T/art.yaml" >"$T/art3.yaml"
kc apply -f "$T/art3.yaml" >"$T/out" 2>&1 && fail "a sourceUri of 2049 characters was accepted"
grep -q "spec.sourceUri: Too long: may not be longer than 2048" "$T/out" || fail "maxLength: $(cat "$T/out")"
ok "sourceUri is immutable and at most 2048 characters; kubectl sees the PVC"

cat >"$T/tc.yaml" <<'YAML'
apiVersion: aimfs.io/v1alpha1
kind: AIMTemplateCache
metadata:
  name: chat
spec:
  modelSources:
    - name: small
      sourceUri: hf://demo/small
YAML
kc apply -f "$T/tc.yaml" >"$T/out" 2>&1 || fail "kubectl apply tc: $(cat "$T/out")"
wait_for 30 '[ "$(jget "$TC/chat" "g(o,\"status\",\"status\")")" = Available ]' ||
	fail "template cache: $(jget "$TC/chat" 'g(o,"status")')"
kc get aimtemplatecaches >"$T/get" 2>&1 || fail "kubectl get tc: $(cat "$T/get")"
cat "$T/get"
grep -Eq '^chat +Available +1/1 +100 +Shared' "$T/get" || fail "tc row: $(cat "$T/get")"
ok "a template cache reuses the Shared artifact and shows Ready 1/1"

kc delete aimtemplatecache chat --timeout=30s >"$T/out" 2>&1 || fail "kubectl delete tc: $(cat "$T/out")"
exists "$ART/small" || fail "deleting the template cache deleted the Available artifact"
kc delete aimartifact small --timeout=30s >"$T/out" 2>&1 || fail "kubectl delete: $(cat "$T/out")"
! exists "$ART/small" || fail "small still exists"
! exists "$PVC/aimfs-small" || fail "the PVC was left behind"
[ "$(ctl_has hf://demo/small)" = 0 ] || fail "the model is still in the store"
ok "kubectl delete waits for the finalizers: model removed from the store, PVC deleted"
