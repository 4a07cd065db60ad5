#!/bin/bash
# HF_TOKEN opens gated repos; it goes to the Hub only, never to the CDN the
# Hub redirects to, and never into the log, even at debug level.
. "$(dirname "$0")/lib.sh"

TOKEN=hf_TopSecretToken123
make_model secret model -- --size 8M
start_hub --gated secret/model --token "$TOKEN"
HF_TOKEN=$TOKEN start_daemon -d -o model=hf://secret/model
f=$MNT/secret/model/model.safetensors
cmp "$f" "$(src secret model model.safetensors)" || fail "gated read"
cmp "$MNT/secret/model/config.json" "$(src secret model config.json)" || fail "config"
ok "gated repo readable with HF_TOKEN"

"$PY" - "$HUBLOG" <<'PYEOF' || fail "authorization sent to the CDN"
import json, sys
cdn = [json.loads(l) for l in open(sys.argv[1])]
cdn = [d for d in cdn if d["path"].startswith("/cdn/")]
assert cdn, "no CDN request"
assert not any(d["auth"] or d["status"] == 400 for d in cdn), cdn
PYEOF
ok "the token never reaches the CDN"

stop_daemon
grep -q "fuse: " "$DLOG" || fail "debug log not captured"
grep -q "$TOKEN" "$DLOG" && fail "token in the log"
grep -q "X-Amz-Signature" "$DLOG" && fail "signed URL query in the log"
ok "no token or signed URL in the debug log"

# a token file works too, and a wrong token is refused with a clear error
echo wrong >"$T/token"
rm -rf "$STORE"
HF_TOKEN_PATH=$T/token start_daemon
ctl add hf://secret/model 2>"$T/err" && fail "wrong token accepted"
grep -q "the token was refused" "$T/err" || fail "wrong token: $(cat "$T/err")"
ok "a refused token gives a clear error"
