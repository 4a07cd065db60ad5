#!/bin/bash
# k8s: `kubectl kustomize packaging/k8s` renders offline; applied with
# kubectl (-k) to the fake API server, the DaemonSet runs aimfsd privileged
# with /dev/fuse and the mount directory Bidirectional, the reconciler
# unprivileged, under a least-privilege ClusterRole; the ConfigMap is
# etc/aimfs.conf; the example serving Deployment mounts the same host
# directory read-only with HostToContainer at /workspace/model-cache. The
# variant packaging/k8s-pvc-store renders the same DaemonSet with the store
# on a per-pod PersistentVolumeClaim (an ephemeral volume) instead. The
# image is aimfs:<version>, as packaging/Containerfile tags it, and a
# kustomization with `images:` (as the README says) repoints both containers.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

need_kubectl
K8S=$top_srcdir/packaging/k8s
"$KUBECTL" kustomize "$K8S" >"$T/render.yaml" 2>"$T/err" ||
	fail "kubectl kustomize: $(cat "$T/err")"
"$KUBECTL" kustomize "$K8S/examples" >"$T/examples.yaml" 2>"$T/err" ||
	fail "kubectl kustomize examples: $(cat "$T/err")"
"$KUBECTL" kustomize "$K8S-pvc-store" >"$T/pvc-store.yaml" 2>"$T/err" ||
	fail "kubectl kustomize pvc-store: $(cat "$T/err")"
for k in Namespace CustomResourceDefinition ServiceAccount ClusterRole \
	ClusterRoleBinding Role RoleBinding ConfigMap DaemonSet; do
	grep -q "^kind: $k\$" "$T/render.yaml" || fail "no $k in the rendering"
done
cmp -s "$K8S/aimfs.conf" "$top_srcdir/etc/aimfs.conf" ||
	fail "packaging/k8s/aimfs.conf differs from etc/aimfs.conf: copy it again"
ok "kubectl kustomize renders packaging/k8s, its examples and packaging/k8s-pvc-store offline"

start_kube
kc apply -k "$K8S" >"$T/out" 2>&1 || fail "kubectl apply -k: $(cat "$T/out")"
kc apply -k "$K8S/examples" >"$T/out2" 2>&1 || fail "kubectl apply -k examples: $(cat "$T/out2")"
NS=/apis/apps/v1/namespaces
kget "$NS/aimfs-system/daemonsets/aimfs" >"$T/ds.json"
kget "$NS/default/deployments/qwen-serving" >"$T/deploy.json"
kget /apis/rbac.authorization.k8s.io/v1/clusterroles/aimfs-reconciler >"$T/role.json"
kget /api/v1/namespaces/aimfs-system/configmaps >"$T/cm.json"
"$PY" - "$T" "$top_srcdir/etc/aimfs.conf" <<'PYEOF' || fail "deployment checks"
import json, sys
t = sys.argv[1]
ds = json.load(open(t + "/ds.json"))
pod = ds["spec"]["template"]["spec"]
c = {x["name"]: x for x in pod["containers"]}
vols = {v["name"]: v for v in pod["volumes"]}
d = c["aimfsd"]
assert d["securityContext"]["privileged"] is True, d["securityContext"]
mounts = {m["name"]: m for m in d["volumeMounts"]}
assert mounts["models"]["mountPropagation"] == "Bidirectional", mounts["models"]
assert vols["fuse"]["hostPath"] == {"path": "/dev/fuse", "type": "CharDevice"}, vols["fuse"]
assert mounts["fuse"]["mountPath"] == "/dev/fuse"
models_host = vols["models"]["hostPath"]["path"]
assert d["command"][-1] == mounts["models"]["mountPath"], d["command"]
assert vols["store"]["hostPath"]["path"] != models_host
rec = c["reconciler"]
sc = rec["securityContext"]
assert not sc.get("privileged") and sc["capabilities"]["drop"] == ["ALL"], sc
assert not any(m.get("mountPropagation") for m in rec["volumeMounts"])
assert pod["serviceAccountName"] == "aimfs"
# the generated ConfigMap is the one mounted, and it is etc/aimfs.conf
cms = {x["metadata"]["name"]: x for x in json.load(open(t + "/cm.json"))["items"]}
cm = cms[vols["config"]["configMap"]["name"]]
assert cm["data"]["aimfs.conf"] == open(sys.argv[2]).read()
print("DaemonSet: aimfsd privileged, /dev/fuse, %s Bidirectional; reconciler drops ALL" % models_host)
# least privilege: no wildcard, only the verbs the reconciler uses
role = json.load(open(t + "/role.json"))
for r in role["rules"]:
    assert "*" not in r["verbs"] and "*" not in r["resources"], r
got = {(res, v) for r in role["rules"] for res in r["resources"] for v in r["verbs"]}
assert ("persistentvolumeclaims", "list") not in got and ("events", "delete") not in got
assert ("aimartifacts/status", "patch") in got and ("aimartifacts", "watch") in got
# the serving example: the same host directory, read-only, HostToContainer
dp = json.load(open(t + "/deploy.json"))["spec"]["template"]["spec"]
v = {x["name"]: x for x in dp["volumes"]}["model-cache"]
assert v["hostPath"]["path"] == models_host, v
m = [x for x in dp["containers"][0]["volumeMounts"] if x["name"] == "model-cache"][0]
assert m == {"name": "model-cache", "mountPath": "/workspace/model-cache", "readOnly": True,
             "mountPropagation": "HostToContainer"}, m
env = {e["name"]: e.get("value") for e in dp["containers"][0]["env"]}
assert env["HF_HUB_CACHE"] == "/workspace/model-cache/hub" and env["HF_HUB_OFFLINE"] == "1", env
print("serving Deployment: %s read-only, HostToContainer at /workspace/model-cache" % models_host)
PYEOF
ok "applied with kubectl -k: privileged DaemonSet with Bidirectional propagation, least-privilege RBAC, serving example"

# the PVC-store variant: only the store volume differs from the base
kc create --dry-run=client -o json -f "$T/render.yaml" >"$T/render.json" 2>"$T/err" ||
	fail "the base as JSON: $(cat "$T/err")"
kc create --dry-run=client -o json -f "$T/pvc-store.yaml" >"$T/pvc-store.json" 2>"$T/err" ||
	fail "the variant as JSON: $(cat "$T/err")"
"$PY" - "$T/render.json" "$T/pvc-store.json" "$top_srcdir/tests/k8s" <<'PYEOF' || fail "the pvc-store variant"
import json, sys
sys.dont_write_bytecode = True  # the source tree may be read-only (distcheck)
sys.path.insert(0, sys.argv[3])
from rbac import docs  # kubectl prints one JSON document per object
def ds(path):
    items = docs(path)
    return [i for i in items if i["kind"] == "DaemonSet"][0]["spec"]["template"]["spec"]
base, var = ds(sys.argv[1]), ds(sys.argv[2])
bv = {v["name"]: v for v in base["volumes"]}
vv = {v["name"]: v for v in var["volumes"]}
assert "hostPath" in bv["store"], bv["store"]
store = vv["store"]
assert "hostPath" not in store, store
tmpl = store["ephemeral"]["volumeClaimTemplate"]["spec"]
assert tmpl["accessModes"] == ["ReadWriteOnce"] and tmpl["resources"]["requests"]["storage"], tmpl
for name in bv:
    if name != "store":
        assert bv[name] == vv[name], name
assert base["containers"] == var["containers"]
print("pvc-store: the store is an ephemeral PVC of %s; everything else as the base" %
      tmpl["resources"]["requests"]["storage"])
PYEOF
ok "packaging/k8s-pvc-store: the DaemonSet's store on a per-pod PVC, the rest unchanged"

# the image: the package version, and an `images:` override as the README has it
ver=$("$REC_BIN" --version | awk '{print $2}')
mkdir -p "$T/mine"
# kustomize takes a base by relative path only
rel=$("$PY" -c 'import os, sys; print(os.path.relpath(sys.argv[1], sys.argv[2]))' "$K8S" "$T/mine")
cat >"$T/mine/kustomization.yaml" <<KZ
resources:
  - $rel
images:
  - name: aimfs
    newName: registry.example.com/aimfs
    newTag: "$ver"
KZ
"$KUBECTL" kustomize "$T/mine" >"$T/mine.yaml" 2>"$T/err" || fail "kubectl kustomize with images: $(cat "$T/err")"
[ "$(grep -c "image: aimfs:$ver\$" "$T/render.yaml")" = 2 ] ||
	fail "the DaemonSet's images are not aimfs:$ver: $(grep 'image:' "$T/render.yaml")"
grep -q "\-t aimfs:$ver " "$top_srcdir/packaging/Containerfile" || fail "packaging/Containerfile does not tag aimfs:$ver"
[ "$(grep -c "image: registry.example.com/aimfs:$ver\$" "$T/mine.yaml")" = 2 ] &&
	! grep -q "image: aimfs:" "$T/mine.yaml" ||
	fail "images: did not repoint both containers: $(grep 'image:' "$T/mine.yaml")"
ok "the DaemonSet runs aimfs:$ver as packaging/Containerfile tags it; kustomize images: repoints both containers"
