#!/bin/bash
# hf://, s3:// and https:// side by side in one daemon: a model from the
# fake Hub, one from s3rver behind the SigV4 checker and a GGUF from nginx
# over TLS are registered together, each reads back byte-identical through
# the same mount, `aimfs-ctl list` shows all three with their cache keys,
# and a restart serves all three offline from the one store.
. "$(dirname "$0")/lib.sh"

make_model org hfm -- --size 6M
make_model org s3m -- --size 5M --seed 3 --nested
mkdir -p "$T/www/models"
"$PY" -c 'import random, sys
open(sys.argv[1], "wb").write(b"GGUF" + random.Random(11).randbytes(5 << 20))' "$T/www/models/m.gguf"
ORIGIN=$top_srcdir/tests/server/nginx-origin.sh
at_exit '"$ORIGIN" stop "$T/ng" >/dev/null 2>&1'
"$ORIGIN" start "$T/www" "$T/ng" --tls >/dev/null || fail "nginx"
start_hub
start_s3
s3put mkbucket models >/dev/null || fail "mkbucket"
s3put putdir models zoo/org/s3m "$T/repos/org/s3m/main" >/dev/null || fail "putdir"

HFURI=hf://org/hfm
S3URI=s3://models/zoo/org/s3m
HTURI=https://127.0.0.1:$(cat "$T/ng/port")/models/m.gguf
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
start_daemon -o block_size=1M,ca_file=$T/ng/ca.pem
ctl add "$HFURI" >/dev/null || fail "add hf"
ctl add "$S3URI" --name s3/m >/dev/null || fail "add s3"
ctl add "$HTURI" --name web/m >/dev/null || fail "add https"

# check_all: every file of the three models reads right
check_all() {
	local p
	for p in config.json tokenizer.json model.safetensors; do
		cmp "$MNT/org/hfm/$p" "$(src org hfm "$p")" || fail "hf: $p $*"
	done
	for p in config.json tokenizer.json model.safetensors onnx/model.onnx onnx/sub/extra.txt; do
		cmp "$MNT/s3/m/$p" "$(src org s3m "$p")" || fail "s3: $p $*"
	done
	cmp "$MNT/web/m/m.gguf" "$T/www/models/m.gguf" || fail "https: m.gguf $*"
}
# interleave the three sources: a block of each, then everything
head -c 4096 "$MNT/org/hfm/model.safetensors" | cmp - <(head -c 4096 "$(src org hfm model.safetensors)") ||
	fail "hf head"
head -c 4096 "$MNT/s3/m/model.safetensors" | cmp - <(head -c 4096 "$(src org s3m model.safetensors)") ||
	fail "s3 head"
[ "$(head -c 4 "$MNT/web/m/m.gguf")" = GGUF ] || fail "https head"
check_all
ok "hf://, s3:// and https:// models read byte-identical through one mount"

# each source served its own bytes: the Hub, the S3 checker and nginx all
# saw content requests, and every S3 request was verified
[ "$(origin_bytes)" -gt 0 ] || fail "the Hub served no content"
[ "$(s3_bytes)" -gt 0 ] || fail "S3 served no content"
"$PY" -c '
import json, sys
g = [json.loads(l) for l in open(sys.argv[1])]
assert any(d["method"] == "GET" and d["path"] == "/models/m.gguf" and d["status"] == 206 for d in g), g
' "$T/ng/access.log" || fail "nginx served no ranged content"
"$PY" -c '
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert r and all(d["signed"] and d["verified"] for d in r), [d for d in r if not d["verified"]][:3]
' "$S3LOG" || fail "unverified S3 requests"

# list: three rows, each with the first 16 hex of the URI's SHA-256
ctl list >"$T/list"
key() { printf '%s' "$1" | sha256sum | cut -c1-16; }
grep -Eq "^$(key "$HFURI") +org/hfm +$HFURI " "$T/list" || fail "hf row: $(cat "$T/list")"
grep -Eq "^$(key "$S3URI") +s3/m +$S3URI " "$T/list" || fail "s3 row: $(cat "$T/list")"
grep -Eq "^$(key "$HTURI") +web/m +$HTURI " "$T/list" || fail "https row: $(cat "$T/list")"
ctl --json list | "$PY" -c '
import json, sys
ms = json.load(sys.stdin)
assert sorted(m["name"] for m in ms) == ["org/hfm", "s3/m", "web/m"], ms
' || fail "list has other models: $(cat "$T/list")"
ok "aimfs-ctl list shows the three models with their cache keys"
stop_daemon

# all three come back from the one store with every origin gone
stop_hub
stop_s3
"$ORIGIN" stop "$T/ng" >/dev/null
HUB= start_daemon -o offline=yes
check_all "(offline)"
ok "a restart serves all three from the store, offline"
stop_daemon
