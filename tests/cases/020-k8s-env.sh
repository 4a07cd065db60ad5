#!/bin/bash
# k8s: spec.env. An AIMArtifact for a gated repo names its HF_TOKEN with
# valueFrom.secretKeyRef (a Secret made by kubectl); the node daemon, which
# has no token of its own, gets it with the `add` and the artifact becomes
# Available. A name aimfs does not use is a Warning Event EnvIgnored, once.
# A missing Secret, or a missing key, is Failed with the reason in the
# Ready condition and a Warning Event, and is Available once the Secret is
# there. A rotated Secret reaches the daemon; a restarted daemon (which has
# forgotten every model's credentials) gets them again without a resync.
# No token is in the reconciler's debug log, an Event, a status, or argv.
. "$(dirname "$0")/lib.sh"
. "$top_srcdir/tests/k8s/lib.sh"

unset HF_TOKEN HF_TOKEN_PATH
TOKEN=hf_K8sSecretToken777
TOKEN2=hf_K8sRotatedToken888
make_model secret model -- --size 3M
make_model secret other -- --size 1M --seed 2
make_model secret third -- --size 1M --seed 3
start_hub --gated secret/model --gated secret/other --gated secret/third \
	--token "$TOKEN" --token "$TOKEN2"
start_daemon -o block_size=1M
start_kube
apply_crds
need_kubectl
# as a user makes it: from a file, so the value ends in a newline
(umask 077 && printf '%s\n' "$TOKEN" >"$T/token.txt")
kc create secret generic hf-token --from-file=token="$T/token.txt" >"$T/kubectl.out" 2>&1 ||
	fail "kubectl create secret: $(cat "$T/kubectl.out")"
REC_LOG_LEVEL=debug start_rec node-a --secret-refresh 1
RLOG=$T/rec-node-a.log

events() { # events ARTIFACT REASON: the Events of that reason, as JSON lines
	kget /api/v1/namespaces/default/events | "$PY" -c '
import json, sys
for e in json.load(sys.stdin)["items"]:
    if e["involvedObject"]["name"] == sys.argv[1] and e["reason"] == sys.argv[2]:
        print(json.dumps({"type": e["type"], "message": e["message"]}))' "$1" "$2"
}
ready() { # ready ARTIFACT: reason and message of the Ready condition
	jget "$ART/$1" '[c["reason"] + ": " + c["message"] for c in g(o,"status","conditions") or [] if c["type"] == "Ready"][0]'
}
own_creds() { # own_creds URI: True when the daemon holds the model's own
	ctl --json list | "$PY" -c '
import json, sys
print([m for m in json.load(sys.stdin) if m["source"] == sys.argv[1]][0]["own_credentials"])' "$1" 2>/dev/null
}

HFENV='"env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token"}}}, {"name": "HF_HUB_ENABLE_HF_TRANSFER", "value": "1"}]'
new_artifact gated hf://secret/model "$HFENV"
wait_for 30 '[ "$(art_status gated)" = Available ]' || fail "gated is $(art_status gated): $(ready gated)"
cmp "$MNT/secret/model/model.safetensors" "$(src secret model model.safetensors)" || fail "gated bytes"
[ "$(own_creds hf://secret/model)" = True ] || fail "the daemon does not hold the model's token"
wait_for 10 '[ "$(events gated EnvIgnored | wc -l)" = 1 ]' || fail "EnvIgnored: $(events gated EnvIgnored)"
events gated EnvIgnored | grep -q '"Warning".*HF_HUB_ENABLE_HF_TRANSFER' || fail "EnvIgnored: $(events gated EnvIgnored)"
[ -z "$(events gated EnvNotSupported)" ] || fail "EnvNotSupported still posted"
ok "a gated repo through spec.env's secretKeyRef: Available while the daemon has no HF_TOKEN; an unused name is EnvIgnored"

# a Secret that is not there: Failed, a Warning Event; Available once it is
new_artifact nosecret hf://secret/other \
	'"env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "later", "key": "token"}}}]'
wait_for 20 '[ "$(art_status nosecret)" = Failed ]' || fail "nosecret is $(art_status nosecret)"
ready nosecret | grep -q "^SecretNotFound: spec.env HF_TOKEN: Secret default/later not found$" ||
	fail "nosecret: $(ready nosecret)"
wait_for 10 '[ -n "$(events nosecret SecretNotFound)" ]' || fail "no SecretNotFound event"
events nosecret SecretNotFound | grep -q '"Warning"' || fail "SecretNotFound: $(events nosecret SecretNotFound)"
[ "$(ctl_has hf://secret/other)" = 0 ] || fail "registered without its token"
# the one with a Secret but not that key
new_artifact nokey hf://secret/third \
	'"env": [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "nope"}}}]'
wait_for 20 '[ "$(art_status nokey)" = Failed ]' || fail "nokey is $(art_status nokey)"
ready nokey | grep -q "^SecretKeyNotFound: spec.env HF_TOKEN: Secret default/hf-token has no key 'nope'$" ||
	fail "nokey: $(ready nokey)"
wait_for 10 '[ -n "$(events nokey SecretKeyNotFound)" ]' || fail "no SecretKeyNotFound event"
ok "a missing Secret or key: Failed (SecretNotFound, SecretKeyNotFound) with a Warning Event"
kc create secret generic later --from-file=token="$T/token.txt" >"$T/kubectl.out" 2>&1 ||
	fail "kubectl create secret later: $(cat "$T/kubectl.out")"
wait_for 30 '[ "$(art_status nosecret)" = Available ]' || fail "nosecret is $(art_status nosecret) with its Secret"
cmp "$MNT/secret/other/model.safetensors" "$(src secret other model.safetensors)" || fail "other bytes"
ok "Available once the Secret exists"

# rotation: the Secret changes, the daemon gets the new token
n0=$(wc -l <"$HUBLOG")
kapi -f -X PATCH -H 'Content-Type: application/merge-patch+json' \
	--data-binary "{\"stringData\": {\"token\": \"$TOKEN2\"}}" \
	"$KUBE/api/v1/namespaces/default/secrets/hf-token" >/dev/null || fail "cannot rotate the Secret"
rotated() {
	"$PY" - "$HUBLOG" "$n0" <<'PYEOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
print(int(any(r["path"].startswith("/api/models/secret/model/") and r["token"] == 2 and r["status"] == 200
              for r in reqs)))
PYEOF
}
wait_for 20 '[ "$(rotated)" = 1 ]' || fail "the rotated token never reached the Hub"
wait_for 10 'grep -q "model .secret/model.: new credentials of its own" "$DLOG"' || fail "no rotation in the daemon"
[ "$(art_status gated)" = Available ] || fail "gated is $(art_status gated) after the rotation"
ok "a rotated Secret reaches the daemon (its new token tried on the Hub, then kept)"

# a restarted daemon: noticed, and the credentials sent again
# (a reconciler that reads the Secrets again only every 300 s: the
# restart alone must bring them)
stop_rec node-a
n=$(grep -c "the daemon on node node-a is instance" "$RLOG")
REC_LOG_LEVEL=debug start_rec node-a --secret-refresh 300
wait_for 10 '[ "$(grep -c "the daemon on node node-a is instance" "$RLOG")" -gt "$n" ]' ||
	fail "the new reconciler did not look at the daemon"
stop_daemon
start_daemon -o block_size=1M
[ "$(own_creds hf://secret/model)" = False ] || fail "credentials survived a daemon restart"
wait_for 15 'grep -q "the daemon on node node-a restarted" "$RLOG"' || fail "the restart was not noticed"
wait_for 15 '[ "$(own_creds hf://secret/model)" = True ] && [ "$(own_creds hf://secret/other)" = True ]' ||
	fail "credentials not sent again: $(own_creds hf://secret/model) $(own_creds hf://secret/other)"
ok "a restarted daemon is noticed and gets every model's credentials again"

# the token is nowhere the reconciler writes or shows
tr '\0' ' ' <"/proc/$(rec_pid node-a)/cmdline" >"$T/argv"
kget /api/v1/namespaces/default/events >"$T/events.json"
kget "$ART" >"$T/arts.json"
grep -q "kube: GET /api/v1/namespaces/default/secrets/hf-token -> 200" "$RLOG" || fail "debug log not captured"
for secret in "$TOKEN" "$TOKEN2"; do
	for f in "$RLOG" "$T/events.json" "$T/arts.json" "$T/argv" "$DLOG"; do
		grep -qF -- "$secret" "$f" && fail "a token is in $(basename "$f")"
	done
	grep -rqF -- "$secret" "$STORE" && fail "a token is in the store"
done
ok "no token in the reconciler's debug log, Events, artifacts, argv, the daemon's log or store"
