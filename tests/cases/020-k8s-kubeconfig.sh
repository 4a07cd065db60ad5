#!/bin/bash
# k8s: the reconciler reads a kubeconfig as kubectl does. With two clusters,
# three contexts and three users, where the first of each is a decoy (a
# server nobody listens on), it follows current-context to its cluster
# (server, certificate-authority-data inline) and user (token), and takes
# the Lease in the context's namespace (not the decoy's); --context picks
# another context (its user has a tokenFile, relative to the kubeconfig);
# the same file as JSON works; two
# contexts and no current-context is refused with a reason.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

start_kube
apply_crds
mkdir -p "$T/kc/secrets"
cp "$T/token" "$T/kc/secrets/token"
ca_data=$(base64 -w0 "$T/kube.crt")
cat >"$T/kc/config" <<KC
# decoys first: a reader that takes the first server or token fails
apiVersion: v1
kind: Config
preferences: {}
clusters:
- cluster:
    server: https://127.0.0.1:1
    certificate-authority: /nonexistent/ca.crt
  name: decoy
- name: "fake"
  cluster:
    certificate-authority-data: $ca_data
    server: '$KUBE'   # the fake API server
contexts:
- context:
    cluster: decoy
    user: decoy
    namespace: default
  name: decoy
- name: fake
  context: {cluster: fake, user: tester, namespace: aimfs-system}
- name: by-file
  context:
    cluster: fake
    user: filer
    namespace: aimfs-system
current-context: fake
users:
- name: decoy
  user:
    token: not-the-token
- name: tester
  user:
    token: "$(cat "$T/token")"
- name: filer
  user:
    tokenFile: secrets/token
KC

# run_rec NAME [options]: a reconciler with this kubeconfig, no --namespace
run_rec() {
	local name=$1 pid
	shift
	"$REC_BIN" --kubeconfig "$T/kc/config" --socket "$SOCK" --node "$name" \
		--lease-duration 2 --log-level info "$@" 2>>"$T/rec-$name.log" &
	pid=$!
	echo "$pid" >"$T/rec-$name.pid"
	wait_for 10 'grep -q "listed" "$T/rec-$name.log" || ! kill -0 '"$pid" ||
		fail "reconciler $name did not list"
	kill -0 "$pid" 2>/dev/null || fail "reconciler $name exited: $(tail -n 5 "$T/rec-$name.log")"
}
lease() {
	jget "/apis/coordination.k8s.io/v1/namespaces/$1/leases/aimfs-reconciler" 'g(o, "spec", "holderIdentity")'
}

run_rec node-a
grep -q "API $KUBE (context 'fake')" "$T/rec-node-a.log" ||
	fail "not the current context: $(head -n 3 "$T/rec-node-a.log")"
grep -q "lease aimfs-system/aimfs-reconciler as node-a" "$T/rec-node-a.log" ||
	fail "not the context's namespace: $(head -n 3 "$T/rec-node-a.log")"
wait_for 10 '[ "$(lease aimfs-system)" = node-a ]' || fail "no Lease in aimfs-system: $(lease aimfs-system)"
new_artifact k1 hf://demo/k1
wait_for 10 '[ "$(art_status k1)" = Pending ]' || fail "k1 status: $(art_status k1)"
[ "$(klog 'd["path"].endswith("/aimartifacts/k1/status") and d["status"] == 200 and "node=node-a" in d["ua"]')" -ge 1 ] ||
	fail "node-a wrote no status"
stop_rec node-a
ok "current-context: its cluster (certificate-authority-data), its user's token and its namespace, past the decoys"

run_rec node-b --context by-file
grep -q "API $KUBE (context 'by-file')" "$T/rec-node-b.log" || fail "--context: $(head -n 3 "$T/rec-node-b.log")"
grep -q "lease aimfs-system/aimfs-reconciler as node-b" "$T/rec-node-b.log" ||
	fail "--context namespace: $(head -n 3 "$T/rec-node-b.log")"
[ "$(klog '"node=node-b" in d["ua"] and d["status"] == 401')" = 0 ] || fail "node-b was refused"
stop_rec node-b
ok "--context by-file: its user's tokenFile, relative to the kubeconfig"

# the same configuration as JSON
"$PY" - "$T/kc/config.json" "$KUBE" "$ca_data" "$(cat "$T/token")" <<'PYEOF'
import json, sys
out, server, ca, tok = sys.argv[1:]
json.dump({"apiVersion": "v1", "kind": "Config", "current-context": "j",
           "clusters": [{"name": "decoy", "cluster": {"server": "https://127.0.0.1:1"}},
                        {"name": "c", "cluster": {"server": server,
                                                   "certificate-authority-data": ca}}],
           "contexts": [{"name": "decoy", "context": {"cluster": "decoy", "user": "u"}},
                        {"name": "j", "context": {"cluster": "c", "user": "u",
                                                  "namespace": "aimfs-system"}}],
           "users": [{"name": "u", "user": {"token": tok}}]}, open(out, "w"))
PYEOF
cp "$T/kc/config.json" "$T/kc/config"
run_rec node-c
grep -q "API $KUBE (context 'j')" "$T/rec-node-c.log" || fail "JSON: $(head -n 3 "$T/rec-node-c.log")"
stop_rec node-c
ok "a JSON kubeconfig"

# two contexts, no current-context: refused, with the reason
sed -i 's/"current-context": "j", //' "$T/kc/config"
"$REC_BIN" --kubeconfig "$T/kc/config" --socket "$SOCK" >"$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] || fail "exit status $rc without current-context: $(cat "$T/out")"
grep -q "2 contexts and no current-context: pass --context" "$T/out" || fail "reason: $(cat "$T/out")"
"$REC_BIN" --context j --socket "$SOCK" >"$T/out" 2>&1
[ $? = 2 ] || fail "--context without --kubeconfig: $(cat "$T/out")"
ok "two contexts and no current-context: exit 1, 'pass --context'; --context alone is bad usage"
! grep -qF "$(cat "$T/token")" "$T"/rec-*.log "$T/out" || fail "the token is in a log"
