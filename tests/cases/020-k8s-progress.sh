#!/bin/bash
# k8s: an AIMArtifact's status walks Pending -> Progressing -> Available
# with byte progress written at least every 5 s while the node pulls; the
# reconciler runs with the in-cluster configuration (service-account token,
# CA, namespace file, KUBERNETES_SERVICE_HOST/PORT) against the fake API
# server over TLS, picks up a rotated token, and never logs it.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

# a progress interval over 5 s would break the contract: refused
"$REC_BIN" --progress-interval 6 --kubeconfig /nonexistent >"$T/out" 2>&1
rc=$?
[ "$rc" = 2 ] && grep -q "progress-interval is at most 5 seconds" "$T/out" ||
	fail "--progress-interval 6: exit $rc: $(cat "$T/out")"
"$REC_BIN" --progress-interval 5 --kubeconfig /nonexistent >"$T/out" 2>&1
rc=$?
[ "$rc" = 1 ] && grep -q "cannot read kubeconfig '/nonexistent'" "$T/out" ||
	fail "--progress-interval 5: exit $rc: $(cat "$T/out")"
ok "--progress-interval 6 is bad usage (exit 2); 5 is taken"

make_model demo big -- --size 96M
start_hub --rate 8M
start_daemon -o block_size=1M
start_kube
apply_crds

# in-cluster: the service account's files and the service's address
mkdir -p "$T/sa"
cp "$T/token" "$T/sa/token"
cp "$T/kube.crt" "$T/sa/ca.crt"
printf aimfs-system >"$T/sa/namespace"
KUBERNETES_SERVICE_HOST=127.0.0.1 KUBERNETES_SERVICE_PORT=$KPORT \
	"$REC_BIN" --sa-dir "$T/sa" --socket "$SOCK" --node node-a \
	--progress-interval 1 --log-level debug 2>"$T/rec-node-a.log" &
echo $! >"$T/rec-node-a.pid"
wait_for 10 'grep -q "listed" "$T/rec-node-a.log"' || fail "in-cluster reconciler did not list"
grep -q "lease aimfs-system/aimfs-reconciler as node-a" "$T/rec-node-a.log" ||
	fail "the namespace file was not used: $(head -n 3 "$T/rec-node-a.log")"

new_artifact big hf://demo/big
wait_for 60 '[ "$(art_status big)" = Available ]' ||
	fail "big is $(art_status big), not Available"
total=$(stat -c %s "$(src demo big model.safetensors)")

# the status writes, in order, as the API server logged them
"$PY" - "$KUBE_LOG" <<'PYEOF' || fail "status walk"
import json, sys
w = [json.loads(l) for l in open(sys.argv[1])]
w = [d for d in w if d["method"] == "PATCH" and d["path"].endswith("/aimartifacts/big/status")
     and d["status"] == 200]
phases = [d["phase"] for d in w]
walk = [p for i, p in enumerate(phases) if i == 0 or phases[i - 1] != p]
print("phases:", " -> ".join(walk))
assert walk == ["Pending", "Progressing", "Available"], walk
prog = [d for d in w if d["phase"] == "Progressing"]
mid = [d for d in prog if 0 < d["downloaded"] < d["total"]]
print("progress writes:", [(d["downloaded"], d["total"]) for d in prog])
assert mid, "no write with 0 < downloadedBytes < totalBytes"
down = [d["downloaded"] for d in prog]
assert down == sorted(down), "progress went backwards"
ts = [d["t"] for d in w if d["phase"] in ("Progressing", "Available")]
gaps = [b - a for a, b in zip(ts, ts[1:])]
assert all(g <= 5.0 for g in gaps), gaps
last = w[-1]
assert last["downloaded"] == last["total"] > 0, last
PYEOF
ok "status walked Pending -> Progressing -> Available with byte progress, writes <= 5 s apart"

jget "$ART/big" '(g(o,"status","progress"), g(o,"status","nodes","node-a","state"), g(o,"status","cacheKey"), [c["type"]+"="+c["status"] for c in g(o,"status","conditions")], g(o,"status","observedGeneration"), g(o,"metadata","finalizers"))' >"$T/big.status"
"$PY" - "$T/big.status" "$total" <<'PYEOF' || fail "final status: $(cat "$T/big.status")"
import ast, sys
prog, node, key, conds, gen, fins = ast.literal_eval(open(sys.argv[1]).read())
total = int(sys.argv[2])
assert prog["downloadedBytes"] >= total and prog["percentage"] == 100, prog
assert node == "Available", node
assert len(key) == 16, key
assert "Ready=True" in conds, conds
assert gen == 1
assert "node.aimfs.io/node-a" in fins and "aimfs.io/pvc" in fins, fins
PYEOF
ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}["demo/big"]
assert m["pinned"] and m["state"] == "complete", m' || fail "the daemon does not have demo/big pinned"
ok "node status, Ready condition, cacheKey, finalizers; the daemon holds it pinned and complete"

# Events on the transitions
kget "/api/v1/namespaces/default/events" | "$PY" -c '
import json, sys
ev = [e for e in json.load(sys.stdin)["items"] if e["involvedObject"]["name"] == "big"]
r = [e["reason"] for e in ev]
print("events:", r)
assert "Progressing" in r and "Available" in r and "PVCCreated" in r, r
assert all(e["involvedObject"]["kind"] == "AIMArtifact" for e in ev)' || fail "events"
ok "events: Progressing, Available, PVCCreated"

# a rotated token: the server takes only the new one, then the file changes
old=$(cat "$T/token")
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token.new"
cp "$T/token.new" "$T/tokens"
cp "$T/token.new" "$T/sa/token.tmp" && mv "$T/sa/token.tmp" "$T/sa/token"
cp "$T/token.new" "$T/token"
make_model demo small -- --size 1M --seed 3
new_artifact small hf://demo/small
wait_for 30 '[ "$(art_status small)" = Available ]' ||
	fail "after the token rotated: small is $(art_status small)"
ok "a rotated service-account token is read again"
for tok in "$old" "$(cat "$T/token")"; do
	! grep -qF "$tok" "$T/rec-node-a.log" || fail "the token is in the reconciler's log"
done
ok "the debug log holds no token"

stop_rec node-a
[ -z "$(lease_holder)" ] || fail "the lease was not released: $(lease_holder)"
ok "SIGTERM: exit 0 and the lease released"
