#!/bin/bash
# s3:// access modes against s3rver behind the SigV4 checker: anonymous
# access (no credentials at all) to a public bucket reads right with
# unsigned requests; a private bucket without credentials is "access
# denied"; an empty prefix is "no objects under that prefix"; a store in
# another region (eu-west-3) is signed for that region with AWS_REGION or
# AWS_DEFAULT_REGION, and the default region gets a clear error. Every
# failure is one line from aimfs-ctl with exit status 1.
. "$(dirname "$0")/lib.sh"

unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION \
	AWS_ENDPOINT_URL_S3
make_model org small -- --size 3M --nested
orig=$T/repos/org/small/main
start_s3 --allow-anonymous public
s3put mkbucket public >/dev/null || fail "mkbucket public"
s3put mkbucket private >/dev/null || fail "mkbucket private"
s3put putdir public zoo/org/small "$orig" >/dev/null || fail "putdir public"
s3put putdir private zoo/org/small "$orig" >/dev/null || fail "putdir private"

# expect_fail PATTERN aimfs-ctl-args...: exit 1, one line, matching PATTERN
expect_fail() {
	local pattern=$1
	shift
	ctl "$@" >"$T/out" 2>"$T/err"
	local rc=$?
	[ "$rc" -eq 1 ] || fail "'ctl $*' exited $rc: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "'ctl $*' printed: $(cat "$T/err")"
	grep -q -- "$pattern" "$T/err" || fail "'ctl $*': [$(cat "$T/err")] lacks '$pattern'"
}

same_tree() { # same_tree DIR: DIR holds the files of the origin model, byte for byte
	local p
	for p in config.json tokenizer.json model.safetensors onnx/model.onnx onnx/sub/extra.txt; do
		cmp "$1/$p" "$orig/$p" || fail "$1/$p differs"
	done
}

# --- anonymous: no credentials of any kind in the daemon's environment ---
export AWS_ENDPOINT_URL=$S3
n0=$(wc -l <"$S3LOG")
start_daemon -o block_size=1M
ctl add s3://public/zoo/org/small >/dev/null || fail "anonymous add: $(ctl add s3://public/zoo/org/small 2>&1)"
same_tree "$MNT/org/small"
"$PY" - "$S3LOG" "$n0" <<'PYEOF' || fail "anonymous requests were signed or refused"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
assert reqs, "no request"
assert all(not r["signed"] and r["status"] in (200, 206) and r["path"].startswith("/public")
           for r in reqs), [r for r in reqs if r["signed"] or r["status"] not in (200, 206)][:3]
assert any(r["range"] for r in reqs), "no ranged GET"
PYEOF
ok "anonymous access: unsigned listing and ranged GETs of a public bucket, byte-identical"

expect_fail "s3://private/zoo/org/small/: access denied (no AWS credentials set)" \
	add s3://private/zoo/org/small
expect_fail "'s3://public/zoo/org/none': no objects under that prefix" \
	add s3://public/zoo/org/none
ctl --json list | "$PY" -c 'import json, sys; assert len(json.load(sys.stdin)) == 1' ||
	fail "a failed add registered a model"
ok "no credentials for a private bucket: access denied; an empty prefix: no objects under that prefix"
stop_daemon

# with credentials an empty prefix is the same clear error
AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK start_daemon
expect_fail "'s3://private/nothing/here': no objects under that prefix" add s3://private/nothing/here
ctl add s3://private/zoo/org/small --name priv/small >/dev/null || fail "signed add of the private bucket"
same_tree "$MNT/priv/small"
ok "signed: the private bucket reads right, an empty prefix is a clear error"
stop_daemon

# --- another region: the checker accepts only eu-west-3 scopes ---
stop_s3
start_s3 --region eu-west-3
rm -rf "$STORE" # a fresh store: the URIs above are registered there
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
n0=$(wc -l <"$S3LOG")
AWS_REGION=eu-west-3 start_daemon -o block_size=1M
ctl add s3://private/zoo/org/small --name eu/small >/dev/null 2>"$T/err" || fail "add in eu-west-3: $(cat "$T/err")"
same_tree "$MNT/eu/small"
stop_daemon
AWS_DEFAULT_REGION=eu-west-3 start_daemon -o block_size=1M
ctl add s3://private/zoo/org/small/onnx --name eu/onnx >/dev/null || fail "add with AWS_DEFAULT_REGION"
cmp "$MNT/eu/onnx/model.onnx" "$orig/onnx/model.onnx" || fail "read with AWS_DEFAULT_REGION"
"$PY" - "$S3LOG" "$n0" <<'PYEOF' || fail "eu-west-3 requests not all verified"
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])][int(sys.argv[2]):]
assert reqs and all(r["signed"] and r["verified"] for r in reqs), [r for r in reqs if not r["verified"]][:3]
PYEOF
ok "AWS_REGION and AWS_DEFAULT_REGION=eu-west-3: every request signed for eu-west-3 and verified"
stop_daemon

# the default region (us-east-1) against an eu-west-3 store
start_daemon
expect_fail "s3://private/zoo/org/small/onnx/sub/: the bucket is in region eu-west-3, not us-east-1 (set AWS_REGION or s3_region=eu-west-3)" add s3://private/zoo/org/small/onnx/sub --name us/sub
ok "a request signed for the wrong region: a clear error ($(cat "$T/err"))"
stop_daemon
