#!/bin/bash
# s3:// against s3rver behind a proxy that recomputes every SigV4
# signature with botocore: objects uploaded with boto3 (awkward keys,
# nested prefixes, > 1000 objects) read back byte-identical and lazily;
# a wrong secret, a missing session token, a missing bucket and an
# unreachable endpoint give clear errors; session credentials work; an
# object overwritten upstream is refused, not mixed.
. "$(dirname "$0")/lib.sh"

make_model org llama -- --size 12M --nested
start_s3 --strict-encoding --max-keys 400 # 1005 objects: 3 pages
s3put mkbucket models >/dev/null || fail "mkbucket"
s3put putdir models zoo/org/llama "$T/repos/org/llama/main" >/dev/null || fail "putdir"
printf 'plus and equals\n' >"$T/awk1"
printf 'unicode\n' >"$T/awk2"
s3put put models "zoo/org/llama/sub dir/a+b=c&d.txt" "$T/awk1" >/dev/null || fail "put awkward"
s3put put models "zoo/org/llama/ünï cödé~(1).txt" "$T/awk2" >/dev/null || fail "put unicode"
s3put many models many/set/shards 1005 64 >/dev/null || fail "many"

# the aimfs-ctl error lines are kept in ctl-errors for the secret check
: >"$T/ctl-errors"
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
start_daemon -o block_size=1M
ctl add s3://models/zoo/org/llama >"$T/add.out" || fail "add s3 model"
d=$MNT/org/llama
want=$(cd "$T/repos/org/llama/main" && find . -type f -printf '%P %s\n' | sort)
got=$(cd "$d" && find . -type f ! -name '*.txt' -o -path './onnx/sub/extra.txt' -type f | sed 's|^\./||' |
	while read -r p; do echo "$p $(stat -c %s "$d/$p")"; done | sort)
[ "$want" = "$got" ] || fail "tree: want [$want] got [$got]"
before=$(s3_bytes)
head -c 8 "$d/model.safetensors" >/dev/null
[ $(( $(s3_bytes) - before )) -le $((1 << 20)) ] || fail "8 bytes fetched $(( $(s3_bytes) - before ))"
for p in config.json tokenizer.json model.safetensors onnx/model.onnx onnx/sub/extra.txt; do
	cmp "$d/$p" "$T/repos/org/llama/main/$p" || fail "$p differs"
done
cmp "$d/sub dir/a+b=c&d.txt" "$T/awk1" || fail "awkward key"
cmp "$d/ünï cödé~(1).txt" "$T/awk2" || fail "unicode key"
key=$(printf '%s' s3://models/zoo/org/llama | sha256sum | cut -c1-16)
# no revision for a prefix: REVISION is "-" (not a blank and a digest)
ctl list | grep -Eq "^$key  org/llama  s3://models/zoo/org/llama +-  " || fail "list: $(ctl list)"
ok "s3:// model named from its prefix, lazy (8 bytes: one block), byte-identical with awkward keys"

ctl add s3://models/many/set --name big/set >/dev/null || fail "add 1005 objects"
[ "$(ls "$MNT/big/set/shards" | wc -l)" = 1005 ] || fail "pagination: $(ls "$MNT/big/set/shards" | wc -l) objects"
# the listing really paged (400 keys a page): a first call without a token, then each next
# page asked for with a new continuation-token
"$PY" - "$S3LOG" <<'PYEOF' || fail "ListObjectsV2 did not page with continuation tokens"
import json, sys, urllib.parse
calls = []
for line in open(sys.argv[1]):
    d = json.loads(line)
    q = dict(urllib.parse.parse_qsl(d.get("query") or "", keep_blank_values=True))
    if d["method"] == "GET" and q.get("list-type") == "2" and q.get("prefix") == "many/set/":
        calls.append(q.get("continuation-token"))
assert len(calls) >= 3, calls  # two or more continued pages
assert calls[0] is None and all(calls[1:]), calls
assert len(set(calls[1:])) == len(calls) - 1, calls
PYEOF
for i in 000000 001004; do
	s3put get models "many/set/shards/$i" "$T/shard" 2>/dev/null || fail "get shard $i"
	cmp "$MNT/big/set/shards/$i" "$T/shard" || fail "shard $i differs"
done
ok "ListObjectsV2 pagination: 1005 objects over $(grep -c 'continuation-token=' "$S3LOG") continued page(s); first and last shard byte-identical"

ctl add s3://models/x 2>"$T/err" && fail "a one-component prefix was named"
grep -q "give --name org/model" "$T/err" || fail "naming error: $(cat "$T/err")"
cat "$T/err" >>"$T/ctl-errors"
ctl add s3://nobucket/a/b 2>"$T/err" && fail "missing bucket"
grep -q "no such bucket" "$T/err" || fail "bucket error: $(cat "$T/err")"
cat "$T/err" >>"$T/ctl-errors"
ok "clear errors for an unnamed prefix and a missing bucket"

# an object overwritten upstream is refused, never mixed
printf 'new contents entirely' >"$T/new"
s3put put models zoo/org/llama/model.safetensors "$T/new" >/dev/null || fail "overwrite"
ctl evict org/llama >/dev/null
drop_caches
dd if="$d/model.safetensors" bs=1M skip=3 count=1 of=/dev/null status=none 2>"$T/err" &&
	fail "a changed object was read"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
grep -q "changed upstream since it was registered; refusing to mix versions" "$DLOG" ||
	fail "no log line for the changed object"
ok "an object overwritten upstream: EIO and a log line"
stop_daemon

# a wrong secret
AWS_SECRET_ACCESS_KEY=wrong-secret start_daemon
ctl add s3://models/zoo/org/llama/onnx --name wrong/secret 2>"$T/err" && fail "wrong secret accepted"
grep -q "bad credentials (signature mismatch" "$T/err" || fail "wrong secret: $(cat "$T/err")"
cat "$T/err" >>"$T/ctl-errors"
ok "a wrong secret: a clear credentials error"
stop_daemon

# session credentials: only with their token
AWS_ACCESS_KEY_ID=$S3_TK AWS_SECRET_ACCESS_KEY=$S3_TS AWS_SESSION_TOKEN=$S3_TOKEN start_daemon
ctl add s3://models/zoo/org/llama/onnx --name tmp/onnx >/dev/null || fail "session credentials"
cmp "$MNT/tmp/onnx/model.onnx" "$T/repos/org/llama/main/onnx/model.onnx" || fail "read with a session token"
stop_daemon
AWS_ACCESS_KEY_ID=$S3_TK AWS_SECRET_ACCESS_KEY=$S3_TS start_daemon
ctl add s3://models/zoo/org/llama/onnx/sub --name tmp/notoken 2>"$T/err" && fail "a session key without its token"
grep -q "bad credentials\|access denied" "$T/err" || fail "no token: $(cat "$T/err")"
cat "$T/err" >>"$T/ctl-errors"
ok "session credentials work with their token and fail clearly without it"
stop_daemon

AWS_ENDPOINT_URL=http://127.0.0.1:9 FETCH_TIMEOUT=2 start_daemon
ctl add s3://models/zoo/org/other --name gone/x 2>"$T/err" && fail "unreachable endpoint"
grep -q "cannot reach the S3 endpoint http://127.0.0.1:9" "$T/err" || fail "unreachable: $(cat "$T/err")"
cat "$T/err" >>"$T/ctl-errors"
ok "an unreachable endpoint: a clear error"
stop_daemon

# virtual-hosted addressing: the bucket in the host name
AWS_ENDPOINT_URL=http://localhost:${S3##*:} start_daemon -o s3_addressing=virtual
ctl add s3://models/zoo/org/llama/onnx/sub --name vh/sub >/dev/null || fail "virtual-hosted add"
cmp "$MNT/vh/sub/extra.txt" "$T/repos/org/llama/main/onnx/sub/extra.txt" || fail "virtual-hosted read"
"$PY" -c '
import json, sys
v = [json.loads(l) for l in open(sys.argv[1]) if json.loads(l).get("vhost")]
assert v and all(r["verified"] for r in v), v[:2]' "$S3LOG" || fail "no verified virtual-hosted request"
ok "virtual-hosted addressing (models.localhost) signs and reads"

# secrets stay out of the logs, at debug level too, with session
# credentials (secret key, access key id and token all in play)
stop_daemon
AWS_ACCESS_KEY_ID=$S3_TK AWS_SECRET_ACCESS_KEY=$S3_TS AWS_SESSION_TOKEN=$S3_TOKEN start_daemon -d
ctl add s3://models/zoo/org --name dbg/zoo >"$T/out" 2>&1 || fail "debug add: $(cat "$T/out")"
cmp "$MNT/dbg/zoo/llama/config.json" "$T/repos/org/llama/main/config.json" || fail "debug read"
grep -q "fuse: " "$DLOG" || fail "no debug log"
tr '\0' ' ' <"/proc/$DPID/cmdline" >"$T/cmdline"
for secret in "$S3_SK" "$S3_TS" "$S3_TOKEN" "$S3_AK" "$S3_TK" "Signature="; do
	for f in "$DLOG" "$T/cmdline" "$T/ctl-errors"; do
		grep -qF -- "$secret" "$f" && fail "a secret is in $(basename "$f"): $secret"
	done
done
ok "no AWS secret, access key, session token or signature in the debug log, argv or errors"
stop_daemon

# every request aimfs and s3put sent, over every daemon run above, was
# signed and verified by the checker, but for exactly the deliberate
# rejections: the wrong secret and the session key without its token
"$PY" - "$S3LOG" "$S3_AK" "$S3_TK" <<'PYEOF' || fail "unverified requests reached S3"
import collections, json, sys
ak, tk = sys.argv[2:4]
reqs = [json.loads(l) for l in open(sys.argv[1])]
bad = collections.Counter((r["status"], r.get("error"), r["access_key"])
                          for r in reqs if not (r["signed"] and r["verified"]))
want = collections.Counter({(403, "SignatureDoesNotMatch", ak): 1,
                            (403, "InvalidToken", tk): 1})
assert len(reqs) > 1000, len(reqs)
assert bad == want, (bad, [r for r in reqs if not r["verified"]][:5])
PYEOF
ok "the signature checker verified all $(wc -l <"$S3LOG") requests but the 2 deliberate rejections"
