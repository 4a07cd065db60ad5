#!/bin/bash
# k8s: least privilege, measured. Every 020-k8s case checks at exit that
# each API call its reconcilers made is granted by packaging/k8s/rbac.yaml
# (tests/k8s/lib.sh) and records the calls in tests/k8s-api/CASE.json;
# this case, which make runs after them, checks the other way round: every
# verb on every resource the ClusterRole and Role grant was used by some
# case (the finalizers subresources excepted: the API server checks those
# itself when an owner reference blocks deletion).
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

need_kubectl
start_kube
kc create --dry-run=client -o json -f "$top_srcdir/packaging/k8s/rbac.yaml" >"$T/rbac.json" 2>"$T/err" ||
	fail "kubectl cannot read rbac.yaml: $(cat "$T/err")"
used=()
for c in "$top_srcdir"/tests/cases/020-k8s-*.sh; do
	name=$(basename "$c" .sh)
	[ "$name" != "$CASE" ] || continue
	f=$top_builddir/tests/k8s-api/$name.json
	[ -s "$f" ] || fail "no record of $name's API calls in $f: run the 020-k8s cases first (make check does)"
	used+=("$f")
done
"$PY" "$top_srcdir/tests/k8s/rbac.py" unused "$T/rbac.json" "${used[@]}" ||
	fail "packaging/k8s/rbac.yaml grants more than the reconciler uses"
ok "every verb rbac.yaml grants was used by the ${#used[@]} reconciler cases, and they used nothing else"
