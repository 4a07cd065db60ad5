# tests/k8s/lib.sh - sourced by tests/cases/020-k8s-*.sh after
# tests/cases/lib.sh: the fake API server (tests/server/fakekube.py) over
# TLS with a bearer token, a kubeconfig for kubectl and the reconciler,
# reconcilers, and helpers to read objects and the API server's log. At
# exit, every call a reconciler made is checked against the ClusterRole and
# Role of packaging/k8s/rbac.yaml (tests/k8s/rbac.py); what was used goes to
# $top_builddir/tests/k8s-api/CASE.json for 020-k8s-rbac, which checks that
# nothing is granted that no case used.

KUBE_LOG=$T/kube.log
KUBE_PID=
KUBE=
KPORT=
REC_BIN=$top_builddir/aimfs-reconciler
KUBECTL=${KUBECTL:-kubectl}
CRDS=$top_srcdir/packaging/k8s/crds

# every API call of the reconcilers in this case is one rbac.yaml grants
rbac_check() {
	[ -n "$KUBE_PID" ] && [ -s "$KUBE_LOG" ] || return 0
	kc create --dry-run=client -o json -f "$top_srcdir/packaging/k8s/rbac.yaml" \
		>"$T/rbac.json" 2>"$T/rbac.err" || {
		echo "FAIL: kubectl cannot read rbac.yaml: $(cat "$T/rbac.err")"
		return 1
	}
	mkdir -p "$top_builddir/tests/k8s-api"
	"$PY" "$top_srcdir/tests/k8s/rbac.py" check "$T/rbac.json" "$KUBE_LOG" \
		"$top_builddir/tests/k8s-api/$CASE.json" || {
		echo "FAIL: the reconciler made API calls packaging/k8s/rbac.yaml does not grant"
		return 1
	}
}

k8s_cleanup() {
	local rc=$? f pid
	for f in "$T"/rec-*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null && wait_gone "$pid" 10
	done
	rbac_check || rc=1
	[ -n "$KUBE_PID" ] && kill -TERM "$KUBE_PID" 2>/dev/null && wait_gone "$KUBE_PID" 10
	# a sanitizer report from any reconciler run fails the case
	if grep -qs "ERROR: AddressSanitizer\|runtime error:\|ERROR: LeakSanitizer" "$T"/rec-*.log; then
		echo "FAIL: sanitizer report in a reconciler log"
		rc=1
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ "$FAILED" -ne 0 ]; then
		for f in "$T"/rec-*.log "$T"/kube.err; do
			[ -s "$f" ] && { echo "--- $f (tail)"; tail -n 30 "$f"; }
		done
	fi
	(exit "$rc")
	cleanup
}
trap k8s_cleanup EXIT

need_kubectl() {
	command -v "$KUBECTL" >/dev/null 2>&1 ||
		fail "kubectl is not installed (Debian: apt-get install kubernetes-client)"
}

# start_kube [fakekube options]: TLS, a token, a kubeconfig at $T/kubeconfig
start_kube() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/kube.key" \
		-out "$T/kube.crt" -days 2 -subj /CN=127.0.0.1 \
		-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null ||
		fail "openssl cannot make a certificate"
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
	cp "$T/token" "$T/tokens"
	rm -f "$T/kube.port"
	"$PY" "$SERVER_DIR/fakekube.py" --port-file "$T/kube.port" --log "$KUBE_LOG" \
		--token-file "$T/tokens" --tls-cert "$T/kube.crt" --tls-key "$T/kube.key" \
		"$@" 2>>"$T/kube.err" &
	KUBE_PID=$!
	wait_for 20 '[ -s "$T/kube.port" ]' || fail "fakekube did not start"
	KPORT=$(tr -d '\n' <"$T/kube.port")
	KUBE=https://127.0.0.1:$KPORT
	cat >"$T/kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: fake
  cluster:
    server: $KUBE
    certificate-authority: $T/kube.crt
contexts:
- name: fake
  context:
    cluster: fake
    user: tester
    namespace: default
current-context: fake
users:
- name: tester
  user:
    tokenFile: $T/token
KC
}

kc() {
	"$KUBECTL" --kubeconfig "$T/kubeconfig" --cache-dir "$T/kcache" "$@"
}

# the CRDs, as a user applies them
apply_crds() {
	need_kubectl
	kc apply -f "$CRDS/aimfs.io_aimartifacts.yaml" \
		-f "$CRDS/aimfs.io_aimtemplatecaches.yaml" >"$T/kubectl.out" 2>&1 ||
		fail "kubectl apply of the CRDs: $(cat "$T/kubectl.out")"
}

kapi() {
	curl -sS --cacert "$T/kube.crt" -H "Authorization: Bearer $(cat "$T/token")" "$@"
}

kget() {
	kapi "$KUBE$1"
}

# kpost PATH < json
kpost() {
	kapi -f -X POST -H 'Content-Type: application/json' --data-binary @- "$KUBE$1"
}

kdelete() {
	kapi -f -X DELETE "$KUBE$1" >/dev/null
}

kfault() {
	curl -fsS --cacert "$T/kube.crt" -X POST -d "$1" "$KUBE/_fault" >/dev/null ||
		fail "cannot queue kube fault $1"
}

ART=/apis/aimfs.io/v1alpha1/namespaces/default/aimartifacts
TC=/apis/aimfs.io/v1alpha1/namespaces/default/aimtemplatecaches
PVC=/api/v1/namespaces/default/persistentvolumeclaims

# new_artifact NAME URI [extra spec JSON members]
new_artifact() {
	printf '{"apiVersion":"aimfs.io/v1alpha1","kind":"AIMArtifact","metadata":{"name":"%s"},"spec":{"sourceUri":"%s"%s}}' \
		"$1" "$2" "${3:+,$3}" | kpost "$ART" >/dev/null || fail "cannot create artifact $1"
}

# jq-like: jget PATH PYEXPR (o is the object, None when absent)
jget() {
	kget "$1" | "$PY" -c '
import json, sys
try:
    o = json.load(sys.stdin)
    if o.get("kind") == "Status" and o.get("code") == 404:
        o = None
except ValueError:
    o = None
def g(x, *path):
    for p in path:
        x = x.get(p) if isinstance(x, dict) else None
    return x
r = eval(sys.argv[1])
print("" if r is None else r)' "$2"
}

art_status() {
	jget "$ART/$1" 'g(o, "status", "status")'
}

exists() {
	[ "$(kget "$1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin).get("code", 200))')" != 404 ]
}

# start_rec NAME [reconciler options]: NAME is the node and the identity;
# REC_CONN replaces the kubeconfig option (e.g. with --server ...)
start_rec() {
	local name=$1 pid
	shift
	# shellcheck disable=SC2086
	"$REC_BIN" ${REC_CONN:---kubeconfig $T/kubeconfig} --socket "$SOCK" \
		--node "$name" --namespace aimfs-system --progress-interval 1 \
		--retry-base 1 --retry-max 4 --lease-duration "${LEASE_SECS:-2}" \
		--log-level "${REC_LOG_LEVEL:-info}" "$@" 2>>"$T/rec-$name.log" &
	pid=$!
	echo "$pid" >"$T/rec-$name.pid"
	wait_for 10 'grep -q "listed" "$T/rec-$name.log" || ! kill -0 '"$pid" ||
		fail "reconciler $name did not list"
	kill -0 "$pid" 2>/dev/null || fail "reconciler $name exited: $(tail -n 5 "$T/rec-$name.log")"
}

rec_pid() {
	cat "$T/rec-$1.pid" 2>/dev/null
}

# stop_rec NAME [-9]
stop_rec() {
	local pid rc
	pid=$(rec_pid "$1")
	[ -n "$pid" ] || return 0
	rm -f "$T/rec-$1.pid"
	if [ "${2:-}" = -9 ]; then
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	wait_for 10 '! kill -0 '"$pid"' 2>/dev/null' || fail "reconciler $1 ignores SIGTERM"
	wait "$pid"
	rc=$?
	[ "$rc" -eq 0 ] || fail "reconciler $1 exited with status $rc"
}

# klog PYEXPR: count the API server's log lines d for which PYEXPR holds
klog() {
	"$PY" - "$KUBE_LOG" "$1" <<'PYEOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    if eval(sys.argv[2]):
        n += 1
print(n)
PYEOF
}

# the lease holder's identity
lease_holder() {
	jget /apis/coordination.k8s.io/v1/namespaces/aimfs-system/leases/aimfs-reconciler \
		'g(o, "spec", "holderIdentity")'
}

# ctl_has URI: 1 when this node's daemon has the model, else 0
ctl_has() {
	ctl --json list | "$PY" -c '
import json, sys
print(int(any(m["source"] == sys.argv[1] for m in json.load(sys.stdin))))' "$1"
}
