#!/bin/bash
# Per-model credentials: `aimfs-ctl add --env-file` gives one model its own
# HF_TOKEN or AWS_* while the daemon has none (or wrong ones). Registration
# and every fetch of that model use them; a later add with others rotates
# them once they work (a bad set is refused, the old one kept); a restart
# forgets them and the fetches then fail with a clear reason until they are
# given again. The secrets never reach the debug log, list, status, the
# index (grepped), an error line, or any process's argv.
. "$(dirname "$0")/lib.sh"

# resolved_with N TOKEN: the Hub's /resolve/ requests after log line N all
# carried token number TOKEN (and there was at least one)
resolved_with() {
	"$PY" - "$HUBLOG" "$1" "$2" <<'PYEOF'
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
hub = [r for r in reqs if "/resolve/" in r["path"]]
assert hub and all(r["token"] == int(sys.argv[3]) for r in hub), hub[:3]
PYEOF
}

unset HF_TOKEN HF_TOKEN_PATH AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
	AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3
TOKEN=hf_ModelOwnToken987
TOKEN2=hf_RotatedToken654
WRONG=hf_WrongToken321
make_model secret model -- --size 8M
start_hub --gated secret/model --token "$TOKEN" --token "$TOKEN2"
envfile() { # envfile NAME KEY=VALUE...: a mode 0600 env file
	local f=$T/$1.env
	shift
	(umask 077 && printf '# credentials of one model\n\n' >"$f" && printf '%s\n' "$@" >>"$f")
	echo "$f"
}
GOOD=$(envfile good "HF_TOKEN=$TOKEN")
BAD=$(envfile bad "HF_TOKEN=$WRONG")
OTHER=$(envfile other "HF_TOKEN=$TOKEN2")
: >"$T/outputs" # everything aimfs-ctl printed, for the secret check

start_daemon -d
ctl add hf://secret/model 2>"$T/err" && fail "a gated repo registered without a token"
grep -q "gated or private: set HF_TOKEN" "$T/err" || fail "no token: $(cat "$T/err")"
ctl add hf://secret/model --env-file "$BAD" 2>"$T/err" && fail "a wrong token accepted"
grep -q "the model's own HF_TOKEN was refused" "$T/err" || fail "wrong token: $(cat "$T/err")"
cat "$T/err" >>"$T/outputs"
printf 'HF_TOKEN\n' >"$T/junk.env"
ctl add hf://secret/model --env-file "$T/junk.env" 2>"$T/err"
[ $? -eq 1 ] && grep -q "junk.env:1: not a KEY=VALUE line" "$T/err" || fail "junk env file: $(cat "$T/err")"
printf 'HF_TOKN=x\n' >"$T/typo.env"
ctl add hf://secret/model --env-file "$T/typo.env" 2>"$T/err" && fail "an unknown name accepted"
grep -q "unknown credential 'HF_TOKN'" "$T/err" || fail "typo: $(cat "$T/err")"
ok "without a token, with a wrong one, with a malformed or misspelt env file: clear errors"

# the good token, from stdin; the CLI's argv holds no secret while it waits
mkfifo "$T/fifo"
"$CTL_BIN" --socket "$SOCK" add hf://secret/model --env-file - <"$T/fifo" >"$T/add.out" 2>&1 &
CTL_PID=$!
exec 3>"$T/fifo"
wait_for 5 'tr "\0" " " </proc/$CTL_PID/cmdline | grep -q "aimfs-ctl .*--env-file -"' ||
	fail "aimfs-ctl did not start"
tr '\0' ' ' </proc/$CTL_PID/cmdline >"$T/argv"
printf 'HF_TOKEN=%s\n' "$TOKEN" >&3
exec 3>&-
wait $CTL_PID || fail "add with the model's token: $(cat "$T/add.out")"
grep -q "registered" "$T/add.out" || fail "add: $(cat "$T/add.out")"
tr '\0' ' ' </proc/$DPID/cmdline >>"$T/argv"
cat "$T/add.out" >>"$T/outputs"
cmp "$MNT/secret/model/config.json" "$(src secret model config.json)" || fail "config.json"
ctl --json list >"$T/list.json" || fail "list"
"$PY" -c '
import json, sys
m = json.load(open(sys.argv[1]))[0]
assert m["own_credentials"] is True and m["name"] == "secret/model", m' "$T/list.json" ||
	fail "list: $(cat "$T/list.json")"
ok "a gated repo registered and read with the model's own token while the daemon has none"

# rotation: another token that works replaces it; a wrong one is refused
ctl add hf://secret/model --env-file "$GOOD" >"$T/out" || fail "the same token again"
grep -q "replaced" "$T/out" && fail "the same token counted as new: $(cat "$T/out")"
ctl add hf://secret/model --env-file "$OTHER" >"$T/out" || fail "rotation"
grep -q "was already registered; its credentials were replaced" "$T/out" || fail "rotation: $(cat "$T/out")"
cat "$T/out" >>"$T/outputs"
n0=$(wc -l <"$HUBLOG")
cmp "$MNT/secret/model/model.safetensors" "$(src secret model model.safetensors)" || fail "read after the rotation"
resolved_with "$n0" 2 || fail "the fetches after a rotation did not use the new token"
ctl add hf://secret/model --env-file "$BAD" 2>"$T/err" && fail "a wrong token replaced a good one"
grep -q "'secret/model' keeps the credentials it had: .*own HF_TOKEN was refused" "$T/err" ||
	fail "bad rotation: $(cat "$T/err")"
cat "$T/err" >>"$T/outputs"
n0=$(wc -l <"$HUBLOG")
cmp "$MNT/secret/model/tokenizer.json" "$(src secret model tokenizer.json)" || fail "read after a refused rotation"
resolved_with "$n0" 2 || fail "a refused rotation changed the token"
ok "rotation: a working token replaces the old one for the next fetches; a refused one changes nothing"

# a restart forgets them: a clear failure, until they are given again
ctl evict secret/model >/dev/null || fail "evict"
ctl status >>"$T/outputs"
ctl --json status >>"$T/outputs"
ctl list >>"$T/outputs"
stop_daemon
start_daemon -d
ctl --json list >"$T/list.json"
"$PY" -c '
import json, sys
assert json.load(open(sys.argv[1]))[0]["own_credentials"] is False' "$T/list.json" ||
	fail "credentials survived a restart: $(cat "$T/list.json")"
head -c 100 "$MNT/secret/model/model.safetensors" >/dev/null 2>"$T/err" && fail "read without the model's token"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
grep -q "gated or private.*no credentials of its own for 'secret/model': if it had some, they went with the last daemon restart" "$DLOG" ||
	fail "no clear log line for the missing credentials"
ctl add hf://secret/model --env-file "$GOOD" >"$T/out" || fail "credentials again after the restart"
grep -q "its credentials were replaced" "$T/out" || fail "re-add: $(cat "$T/out")"
cmp "$MNT/secret/model/model.safetensors" "$(src secret model model.safetensors)" || fail "read after the re-add"
ok "after a restart: EIO with a log line that says why, and reads again once they are given again"

# an empty env file drops them; rm, too
ctl add hf://secret/model --env-file /dev/null >"$T/out" || fail "drop: $(cat "$T/out")"
grep -q "its credentials were replaced" "$T/out" || fail "drop: $(cat "$T/out")"
[ "$(ctl --json list | "$PY" -c 'import json,sys; print(json.load(sys.stdin)[0]["own_credentials"])')" = False ] ||
	fail "an empty env file kept them"
ctl add hf://secret/model --env-file "$GOOD" >/dev/null || fail "again"
ctl rm secret/model >/dev/null || fail "rm"
ctl add hf://secret/model 2>/dev/null && fail "rm kept the model's token"
ok "an empty env file drops them, and so does rm"
ctl list >>"$T/outputs"
stop_daemon

# --- S3: the daemon's endpoint is dead and its keys wrong -------------------
make_model org llama -- --size 3M --nested
start_s3 --region eu-west-3
s3put --region eu-west-3 mkbucket models >/dev/null || fail "mkbucket"
s3put --region eu-west-3 putdir models zoo/org/llama "$T/repos/org/llama/main" >/dev/null || fail "putdir"
WRONG_AK=AKIDDAEMONWRONG
WRONG_SK=daemon-wide-wrong-secret
S3ENV=$(envfile s3 "AWS_ENDPOINT_URL=$S3" "AWS_REGION=eu-west-3" "AWS_ACCESS_KEY_ID=$S3_AK" \
	"AWS_SECRET_ACCESS_KEY=$S3_SK")
SESSION=$(envfile session "AWS_ENDPOINT_URL=$S3" "AWS_DEFAULT_REGION=eu-west-3" \
	"AWS_ACCESS_KEY_ID=$S3_TK" "AWS_SECRET_ACCESS_KEY=$S3_TS" "AWS_SESSION_TOKEN=$S3_TOKEN")
NOKEYS=$(envfile nokeys "AWS_ENDPOINT_URL=$S3" "AWS_REGION=eu-west-3")
n_start=$(wc -l <"$S3LOG")
AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_ACCESS_KEY_ID=$WRONG_AK AWS_SECRET_ACCESS_KEY=$WRONG_SK \
	FETCH_TIMEOUT=2 start_daemon -d -o block_size=1M
ctl add s3://models/zoo/org/llama 2>"$T/err" && fail "the daemon's dead endpoint answered"
grep -q "cannot reach the S3 endpoint http://127.0.0.1:9" "$T/err" || fail "dead endpoint: $(cat "$T/err")"
ctl add s3://models/zoo/org/llama --env-file "$NOKEYS" 2>"$T/err" && fail "the model's endpoint without keys"
grep -q "access denied (no AWS credentials set)" "$T/err" || fail "no keys: $(cat "$T/err")"
cat "$T/err" >>"$T/outputs"
ctl add s3://models/zoo/org/llama --env-file "$S3ENV" >"$T/out" 2>&1 || fail "add with the model's keys: $(cat "$T/out")"
cat "$T/out" >>"$T/outputs"
for p in config.json model.safetensors onnx/model.onnx onnx/sub/extra.txt; do
	cmp "$MNT/org/llama/$p" "$T/repos/org/llama/main/$p" || fail "$p differs"
done
"$PY" - "$S3LOG" "$n_start" "$WRONG_AK" "$S3_AK" <<'PYEOF' || fail "S3 requests"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
wrong, good = sys.argv[3], sys.argv[4]
# the daemon's keys never went to the model's endpoint
assert not any(r["access_key"] == wrong for r in reqs), "the daemon's key reached the model's endpoint"
signed = [r for r in reqs if r["signed"]]
assert signed and all(r["verified"] and r["access_key"] == good for r in signed), signed[:3]
assert any(r["range"] for r in signed), "no ranged GET with the model's keys"
PYEOF
ok "s3:// with the model's own endpoint, region (eu-west-3) and keys; the daemon's keys never sent there"

# rotation to session credentials
ctl add s3://models/zoo/org/llama --env-file "$SESSION" >"$T/out" || fail "rotation to session credentials"
grep -q "its credentials were replaced" "$T/out" || fail "s3 rotation: $(cat "$T/out")"
ctl evict org/llama >/dev/null || fail "evict"
drop_caches
n0=$(wc -l <"$S3LOG")
cmp "$MNT/org/llama/model.safetensors" "$T/repos/org/llama/main/model.safetensors" || fail "read with session credentials"
"$PY" - "$S3LOG" "$n0" "$S3_TK" <<'PYEOF' || fail "the fetches after the rotation"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
assert reqs and all(r["verified"] and r["access_key"] == sys.argv[3] for r in reqs), reqs[:3]
PYEOF
ok "rotation to session credentials (with AWS_SESSION_TOKEN): the next fetches are signed with them"
ctl --json list >>"$T/outputs"
ctl --json status >>"$T/outputs"
tr '\0' ' ' </proc/$DPID/cmdline >>"$T/argv"
stop_daemon

# --- secrets stay in memory --------------------------------------------------
grep -q "fuse: " "$DLOG" || fail "debug log not captured"
for secret in "$TOKEN" "$TOKEN2" "$WRONG" "$S3_SK" "$S3_TS" "$S3_TOKEN" "$WRONG_SK"; do
	for f in "$DLOG" "$T/outputs" "$T/argv"; do
		grep -qF -- "$secret" "$f" && fail "a secret is in $(basename "$f"): $secret"
	done
	grep -rqF -- "$secret" "$STORE" && fail "a secret is in the store: $secret ($(grep -rlF -- "$secret" "$STORE"))"
done
ls "$STORE"/index.db* >/dev/null || fail "no index in $STORE"
ok "no token, secret key or session token in the debug log, ctl output, argv, or any file of the store (index.db, -wal)"
