#!/usr/bin/env bash
# Self-test of the S3 / HTTPS test origins: s3rver (npm, tests/node) behind
# tests/server/s3proxy.py (SigV4 checker), seeded with tests/server/s3put.py
# (boto3), and tests/server/nginx-origin.sh (plain, --no-ranges, --tls,
# --limit-rate).
#
# Everything runs on 127.0.0.1 ports chosen by the kernel, in a temp dir that
# is removed on exit; every server started here is stopped by the EXIT trap.
# Prints "N passed, N failed" as its last line; exits non-zero on failure.
# Needs: node + `npm ci` done in tests/node, Debian's /usr/bin/python3 with
# python3-boto3, /usr/sbin/nginx, openssl, curl.
#
# Starting s3rver for tests (as done below): it prints "S3rver listening on
# 127.0.0.1:PORT" on stdout once ready, even with --silent:
#   node --openssl-legacy-provider tests/node/node_modules/s3rver/bin/s3rver.js \
#       -d DATADIR -a 127.0.0.1 -p 0 --silent --no-vhost-buckets >OUT &
# (without --openssl-legacy-provider, Node 20 makes every truncated
# ListObjectsV2 answer 500: s3rver encrypts continuation tokens with DES).
#
# Usage: tests/server/s3selftest.sh   (VERBOSE=1 to see every check, KEEP=1 to
#                                      keep the temp dir when a check fails)

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
PY=/usr/bin/python3
S3RVER=$TOP/tests/node/node_modules/s3rver/bin/s3rver.js
NGX=$HERE/nginx-origin.sh
WORK=$(mktemp -d /tmp/s3selftest.XXXXXX)
PIDS=()
NGINX_STATES=()
PASS=0
FAIL=0

cleanup() {
    local p s
    for s in "${NGINX_STATES[@]}"; do "$NGX" stop "$s" >/dev/null 2>&1; done
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ "$FAIL" -ne 0 ] && [ -n "${KEEP:-}" ]; then
        echo "logs kept in $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); [ -n "${VERBOSE:-}" ] && echo "ok   - $1"; return 0; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+: $2}"; }
check() { if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "expected [$2] got [$3]"; fi; }
die()  { echo "$*"; bad "setup" "$*"; echo "$PASS passed, $FAIL failed"; exit 1; }

# poll CONDITION every 50 ms for at most $1 seconds
wait_for() {
    local n=$(($1 * 20)); shift
    while [ $n -gt 0 ]; do
        eval "$@" && return 0
        sleep 0.05
        n=$((n - 1))
    done
    return 1
}

hdr() { grep -i "^$2:" "$1" | head -n1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'; }
# hc ARGS...: curl with headers to $WORK/h and body to $WORK/b; prints status
hc() { curl -s -D "$WORK/h" -o "$WORK/b" -w '%{http_code}' "$@"; }
xcode() { sed -n 's/.*<Code>\([^<]*\)<\/Code>.*/\1/p' "$1" | head -n1; }

# --- s3rver ---------------------------------------------------------------------
[ -f "$S3RVER" ] || die "s3rver is not installed: run (cd tests/node && npm ci)"
mkdir -p "$WORK/s3data"
# --openssl-legacy-provider: s3rver makes ListObjectsV2 continuation tokens
# with DES, which Node 17+ (OpenSSL 3) refuses without it (500 InternalError
# on the first truncated listing)
node --openssl-legacy-provider "$S3RVER" -d "$WORK/s3data" -a 127.0.0.1 -p 0 --silent --no-vhost-buckets \
    >"$WORK/s3rver.out" 2>"$WORK/s3rver.err" &
PIDS+=($!)
S3RVER_PID=$!
wait_for 20 'grep -q "listening on" "$WORK/s3rver.out" || ! kill -0 $S3RVER_PID 2>/dev/null'
UP_PORT=$(sed -n 's/.*listening on .*:\([0-9][0-9]*\)$/\1/p' "$WORK/s3rver.out" | head -n1)
[ -n "$UP_PORT" ] || die "s3rver did not start: $(cat "$WORK/s3rver.err")"
ok "s3rver starts"

# --- s3proxy ----------------------------------------------------------------------
AK=AKIDTEST0001 SK='wJalr/XUtnFEMI+K7MDENG=bPxRfiCYTEST'
TK=ASIATEMP0002 TS='temp/secret+key=2' TOKEN='IQoJb3JpZ2luX2VjE//token+with/odd=chars=='
PLOG=$WORK/proxy.log
"$PY" "$HERE/s3proxy.py" --upstream "http://127.0.0.1:$UP_PORT" --port 0 \
    --port-file "$WORK/proxy.port" --log "$PLOG" \
    --cred "$AK:$SK" --cred "$TK:$TS:$TOKEN" --allow-anonymous pub \
    2>"$WORK/proxy.err" &
PIDS+=($!)
PROXY_PID=$!
wait_for 20 '[ -s "$WORK/proxy.port" ] || ! kill -0 $PROXY_PID 2>/dev/null'
[ -s "$WORK/proxy.port" ] || die "s3proxy did not start: $(cat "$WORK/proxy.err")"
P=http://127.0.0.1:$(tr -d '\n' <"$WORK/proxy.port")
ok "s3proxy starts"

S3PUT=("$PY" "$HERE/s3put.py" --endpoint "$P" --access-key "$AK" --secret-key "$SK")
s3() { "${S3PUT[@]}" "$@"; }
# nlog: number of non-control lines in the proxy log
nlog() { grep -vc '"path": "/_' "$PLOG"; }

# --- seeding through the proxy with boto3 -------------------------------------------
check "mkbucket data" 0 "$(s3 mkbucket data >/dev/null 2>"$WORK/err"; echo $?)"
check "mkbucket pub" 0 "$(s3 mkbucket pub >/dev/null 2>>"$WORK/err"; echo $?)"
check "mkbucket again is fine" 0 "$(s3 mkbucket data >/dev/null 2>>"$WORK/err"; echo $?)"

mkdir -p "$WORK/src"
KEYS=("plain.txt" "with space.txt" "a+b=c.txt" "ünïcødé/straße ß.bin" "nested/deep/er/x.json"
      "100%.txt" "odd (1)!~'*&\$@,;:.txt" "semi;colon=eq+plus space/ünï +=.bin")
i=0
: >"$WORK/expect.ls"
for k in "${KEYS[@]}"; do
    f=$WORK/src/$i
    head -c $((1000 + i * 777)) /dev/urandom >"$f"
    out=$(s3 put data "$k" "$f" 2>>"$WORK/err")
    check "put [$k]" "$k	$(stat -c %s "$f")	$(md5sum "$f" | cut -d' ' -f1)" "$out"
    i=$((i + 1))
done
mkdir -p "$WORK/tree/sub/deeper" "$WORK/tree/sp ace"
echo one >"$WORK/tree/one.txt"; echo two >"$WORK/tree/sub/two.txt"
echo three >"$WORK/tree/sub/deeper/three.bin"; echo four >"$WORK/tree/sp ace/f+our=.txt"
check "putdir" 4 "$(s3 putdir data models/tree "$WORK/tree" 2>>"$WORK/err")"
check "many 1005" 1005 "$(s3 many data many 1005 64 2>>"$WORK/err")"
[ -s "$WORK/err" ] && bad "seeding stderr empty" "$(head -c 500 "$WORK/err")"

s3 ls data >"$WORK/ls.all" 2>"$WORK/err"
check "ls exit" 0 "$?"
"$PY" - "$WORK" "${KEYS[@]}" <<'EOF' && ok "ls lists every object exactly (keys, sizes, md5 etags, order)" || bad "ls lists every object exactly"
import hashlib, os, sys
work, keys = sys.argv[1], sys.argv[2:]
def det(seed, size):
    out = bytearray(); i = 0
    while len(out) < size:
        out += hashlib.sha256(b"%s:%d" % (seed.encode(), i)).digest(); i += 1
    return bytes(out[:size])
exp = {}
for i, k in enumerate(keys):
    d = open(os.path.join(work, "src", str(i)), "rb").read()
    exp[k] = (len(d), hashlib.md5(d).hexdigest())
for rel in ("one.txt", "sub/two.txt", "sub/deeper/three.bin", "sp ace/f+our=.txt"):
    d = open(os.path.join(work, "tree", rel), "rb").read()
    exp["models/tree/" + rel] = (len(d), hashlib.md5(d).hexdigest())
for n in range(1005):
    k = "many/%06d" % n
    d = det(k, 64)
    exp[k] = (64, hashlib.md5(d).hexdigest())
got = []
for line in open(os.path.join(work, "ls.all"), encoding="utf-8"):
    k, s, e = line.rstrip("\n").split("\t")
    got.append((k, (int(s), e)))
bad = []
if len(got) != len(exp):
    bad.append("count %d != %d" % (len(got), len(exp)))
if dict(got) != exp:
    bad += ["%r: %r != %r" % (k, dict(got).get(k), v) for k, v in exp.items() if dict(got).get(k) != v][:5]
    bad += ["extra %r" % k for k in dict(got) if k not in exp][:5]
if [k for k, _ in got] != sorted(exp, key=lambda s: s.encode()):
    bad.append("not in UTF-8 byte order")
for b in bad:
    print("ls:", b)
sys.exit(1 if bad else 0)
EOF
check "ls prefix many" 1005 "$(s3 ls data many/ | wc -l)"
check "ls prefix models/tree/sub/" "models/tree/sub/deeper/three.bin models/tree/sub/two.txt" \
    "$(s3 ls data models/tree/sub/ | cut -f1 | tr '\n' ' ' | sed 's/ $//')"
NPAGES=$(grep -c '"method": "GET", "path": "/data", "query": "list-type=2[^"]*continuation-token' "$PLOG")
[ "$NPAGES" -ge 2 ] && ok "ListObjectsV2 pagination used continuation tokens ($NPAGES)" \
    || bad "ListObjectsV2 pagination" "$NPAGES continuation requests"

i=0
for k in "${KEYS[@]}"; do
    s3 get data "$k" "$WORK/got" 2>/dev/null
    cmp -s "$WORK/got" "$WORK/src/$i" && ok "get back [$k]" || bad "get back [$k]"
    i=$((i + 1))
done
check "get range via boto3" "206	10	$(md5sum "$WORK/src/0" | cut -d' ' -f1)	bytes 5-14/1000" \
    "$(s3 get data plain.txt "$WORK/got" --range bytes=5-14 2>&1)"
check "get range bytes" "$(head -c 15 "$WORK/src/0" | tail -c 10 | md5sum)" "$(md5sum <"$WORK/got")"

# every request so far came from boto3 and must have been verified
"$PY" - "$PLOG" "$AK" <<'EOF' && ok "proxy log: every boto3 request signed+verified, canonical encoding" || bad "proxy log: every boto3 request verified"
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
bad = [l for l in lines if not (l["signed"] and l["verified"] and l["access_key"] == sys.argv[2]
                                and "noncanonical" not in l and "error" not in l)]
for l in bad[:5]:
    print("unverified:", l)
keys = {"t", "method", "path", "query", "status", "range", "bytes", "signed", "verified", "access_key"}
miss = [l for l in lines if not keys <= set(l)]
for l in miss[:5]:
    print("missing keys:", l)
sys.exit(1 if bad or miss or len(lines) < 1030 else 0)
EOF
check "log path is decoded" 1 "$(grep -c '"method": "GET", "path": "/data/ünïcødé/straße ß.bin", "query": ""' "$PLOG")"

# --- rejections ------------------------------------------------------------------------
"$PY" "$HERE/s3put.py" --endpoint "$P" --access-key "$AK" --secret-key "not-$SK" ls data \
    >/dev/null 2>"$WORK/err"
check "wrong secret: exit 1" 1 "$?"
grep -q "SignatureDoesNotMatch.*HTTP 403" "$WORK/err" && ok "wrong secret: 403 SignatureDoesNotMatch" \
    || bad "wrong secret: 403 SignatureDoesNotMatch" "$(cat "$WORK/err")"
"$PY" "$HERE/s3put.py" --endpoint "$P" --access-key "$AK" --secret-key "not-$SK" \
    put data plain.txt "$WORK/src/1" >/dev/null 2>"$WORK/err"
grep -q "SignatureDoesNotMatch" "$WORK/err" && ok "wrong secret PUT refused" || bad "wrong secret PUT refused"
s3 get data plain.txt "$WORK/got" 2>/dev/null
cmp -s "$WORK/got" "$WORK/src/0" && ok "refused PUT did not reach s3rver" || bad "refused PUT did not reach s3rver"
"$PY" "$HERE/s3put.py" --endpoint "$P" --access-key NOSUCHKEY --secret-key "$SK" ls data >/dev/null 2>"$WORK/err"
grep -q "InvalidAccessKeyId.*HTTP 403" "$WORK/err" && ok "unknown key: 403 InvalidAccessKeyId" \
    || bad "unknown key: 403 InvalidAccessKeyId" "$(cat "$WORK/err")"
# (boto3 itself would retry in the region named by the error, as with real S3)
"$PY" "$HERE/s3put.py" --endpoint "$P" --access-key "$AK" --secret-key "$SK" --region eu-west-1 \
    req GET data plain.txt --out "$WORK/b" >"$WORK/h"
check "wrong region: 400 AuthorizationHeaderMalformed" "400 AuthorizationHeaderMalformed us-east-1" \
    "$(head -n1 "$WORK/h") $(xcode "$WORK/b") $(sed -n 's/.*<Region>\([^<]*\)<.*/\1/p' "$WORK/b")"

# session-token credential
TPUT=("$PY" "$HERE/s3put.py" --endpoint "$P" --access-key "$TK" --secret-key "$TS")
check "token cred with its token" "plain.txt	1000" \
    "$("${TPUT[@]}" --session-token "$TOKEN" ls data plain 2>&1 | cut -f1,2)"
"${TPUT[@]}" ls data plain >/dev/null 2>"$WORK/err"
grep -q "InvalidToken.*HTTP 403" "$WORK/err" && ok "token cred without token: 403 InvalidToken" \
    || bad "token cred without token: 403 InvalidToken" "$(cat "$WORK/err")"
"${TPUT[@]}" --session-token "${TOKEN}x" ls data plain >/dev/null 2>"$WORK/err"
grep -q "InvalidToken" "$WORK/err" && ok "token cred with wrong token: InvalidToken" \
    || bad "token cred with wrong token: InvalidToken" "$(cat "$WORK/err")"
s3 --session-token "$TOKEN" ls data plain >/dev/null 2>"$WORK/err"
grep -q "InvalidToken" "$WORK/err" && ok "token sent for a token-less cred: InvalidToken" \
    || bad "token sent for a token-less cred: InvalidToken" "$(cat "$WORK/err")"
"${TPUT[@]}" req GET data plain.txt --unsigned-header "x-amz-security-token: $TOKEN" \
    --out "$WORK/b" >"$WORK/h"
check "token present but unsigned: 403 AccessDenied" "403 AccessDenied" "$(head -n1 "$WORK/h") $(xcode "$WORK/b")"

# raw requests signed with botocore, then altered
REQ=("${S3PUT[@]}" req)
"${REQ[@]}" GET data "with space.txt" --out "$WORK/b" >"$WORK/h"
check "raw signed GET" 200 "$(head -n1 "$WORK/h")"
cmp -s "$WORK/b" "$WORK/src/1" && ok "raw signed GET body" || bad "raw signed GET body"
"${REQ[@]}" GET data "a+b=c.txt" --send-path "/data/a+b=c.txt" --out "$WORK/b" >"$WORK/h"
check "path sent unencoded (signed encoded): SignatureDoesNotMatch" "403 SignatureDoesNotMatch" \
    "$(head -n1 "$WORK/h") $(xcode "$WORK/b")"
grep -q "<CanonicalRequest>GET&#10;\|<CanonicalRequest>GET" "$WORK/b" && ok "SignatureDoesNotMatch carries CanonicalRequest" \
    || bad "SignatureDoesNotMatch carries CanonicalRequest"
"${REQ[@]}" GET data "a+b=c.txt" --send-path "/data/a%2bb%3dc.txt" --out "$WORK/b" >"$WORK/h"
check "lower-case %xx on the wire: SignatureDoesNotMatch" "403" "$(head -n1 "$WORK/h")"
tail -n1 "$PLOG" | grep -q '"noncanonical": true' && ok "log flags noncanonical wire encoding" \
    || bad "log flags noncanonical wire encoding"
"${REQ[@]}" GET data "with space.txt" --send-path "/data/with%2520space.txt" --out "$WORK/b" >"$WORK/h"
check "double-encoded path: SignatureDoesNotMatch" "403 SignatureDoesNotMatch" "$(head -n1 "$WORK/h") $(xcode "$WORK/b")"
"${REQ[@]}" GET data plain.txt --unsigned-header "x-amz-meta-extra: 1" --out "$WORK/b" >"$WORK/h"
check "unsigned x-amz header: AccessDenied" "403 AccessDenied" "$(head -n1 "$WORK/h") $(xcode "$WORK/b")"
grep -q "<HeadersNotSigned>x-amz-meta-extra</HeadersNotSigned>" "$WORK/b" && ok "HeadersNotSigned named" \
    || bad "HeadersNotSigned named"
"${REQ[@]}" GET data plain.txt -H "x-amz-meta-extra: 1" --out "$WORK/b" >"$WORK/h"
check "signed extra x-amz header: ok" 200 "$(head -n1 "$WORK/h")"
"${REQ[@]}" GET data plain.txt --date "$(date -u -d '-20 min' +%Y%m%dT%H%M%SZ)" --out "$WORK/b" >"$WORK/h"
check "x-amz-date 20 min old: RequestTimeTooSkewed" "403 RequestTimeTooSkewed" "$(head -n1 "$WORK/h") $(xcode "$WORK/b")"
"${REQ[@]}" GET data plain.txt --date "$(date -u -d '-10 min' +%Y%m%dT%H%M%SZ)" --out "$WORK/b" >"$WORK/h"
check "x-amz-date 10 min old: ok" 200 "$(head -n1 "$WORK/h")"
"${REQ[@]}" GET data plain.txt --query "x-id=GetObject" --out "$WORK/b" >"$WORK/h"
check "signed query string" 200 "$(head -n1 "$WORK/h")"
"${REQ[@]}" GET data --query "list-type=2&prefix=a%2Bb" --out "$WORK/b" >"$WORK/h"
check "signed list query" "200 <Key>a+b=c.txt</Key>" "$(head -n1 "$WORK/h") $(grep -o '<Key>[^<]*</Key>' "$WORK/b")"
echo "put body" >"$WORK/body1"; echo "other body" >"$WORK/body2"
"${REQ[@]}" PUT data raw.txt --body "$WORK/body1" --out "$WORK/b" >"$WORK/h"
check "raw signed PUT" 200 "$(head -n1 "$WORK/h")"
"${REQ[@]}" PUT data raw.txt --body "$WORK/body1" --send-body "$WORK/body2" --out "$WORK/b" >"$WORK/h"
check "body differs from x-amz-content-sha256: 400 XAmzContentSHA256Mismatch" "400 XAmzContentSHA256Mismatch" \
    "$(head -n1 "$WORK/h") $(xcode "$WORK/b")"
"${REQ[@]}" PUT data raw2.txt --body "$WORK/body2" --unsigned-payload --out "$WORK/b" >"$WORK/h"
check "UNSIGNED-PAYLOAD PUT" 200 "$(head -n1 "$WORK/h")"
check "objects as expected after PUTs" "put body|other body" \
    "$(s3 get data raw.txt - 2>/dev/null)|$(s3 get data raw2.txt - 2>/dev/null)"
curl -s -o "$WORK/b" -H "Authorization: AWS4-HMAC-SHA256 Credential=$AK/$(date -u +%Y%m%d)/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00" \
    -H "x-amz-date: $(date -u +%Y%m%dT%H%M%SZ)" "$P/data/plain.txt"
check "no x-amz-content-sha256: InvalidRequest" "InvalidRequest" "$(xcode "$WORK/b")"

# virtual-hosted style
"${REQ[@]}" GET data "ünïcødé/straße ß.bin" --vhost --out "$WORK/b" >"$WORK/h"
check "vhost GET (Host data.localhost)" 200 "$(head -n1 "$WORK/h")"
cmp -s "$WORK/b" "$WORK/src/3" && ok "vhost GET body" || bad "vhost GET body"
tail -n1 "$PLOG" | grep -q '"path": "/data/ünïcødé/straße ß.bin".*"verified": true.*"vhost": true' \
    && ok "vhost logged path-style" || bad "vhost logged path-style" "$(tail -n1 "$PLOG")"
"${REQ[@]}" GET data --vhost --query "list-type=2&prefix=nested%2F" --out "$WORK/b" >"$WORK/h"
check "vhost list" "200 <Key>nested/deep/er/x.json</Key>" "$(head -n1 "$WORK/h") $(grep -o '<Key>[^<]*</Key>' "$WORK/b")"
curl -s -o "$WORK/b" --connect-to "data.s3.localhost:${P##*:}:127.0.0.1:${P##*:}" \
    "http://data.s3.localhost:${P##*:}/plain.txt"
check "vhost unsigned on a private bucket: AccessDenied" AccessDenied "$(xcode "$WORK/b")"

# unsigned requests
check "unsigned GET: 403" 403 "$(hc "$P/data/plain.txt")"
check "unsigned GET: AccessDenied" AccessDenied "$(xcode "$WORK/b")"
check "unsigned list: 403" 403 "$(hc "$P/data?list-type=2")"
check "presigned URL: 403" 403 "$(hc "$P/data/plain.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=00")"

# libcurl's own SigV4 signer (curl --aws-sigv4), as a C client would use it.
# curl 7.88 does not add x-amz-content-sha256 by itself (S3 requires it) and
# signs the query in the order given (so it must already be sorted).
enc() { "$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe="/~"))' "$1"; }
CS=(curl -s --aws-sigv4 "aws:amz:us-east-1:s3" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
check "curl sigv4 Range GET" "206 bytes 0-9/3331" \
    "$(hc "${CS[@]:1}" --user "$AK:$SK" -r 0-9 "$P/data/$(enc "ünïcødé/straße ß.bin")") $(hdr "$WORK/h" Content-Range)"
check "curl sigv4 Range bytes" "$(head -c 10 "$WORK/src/3" | md5sum)" "$(md5sum <"$WORK/b")"
check "curl sigv4 odd key" 200 "$(hc "${CS[@]:1}" --user "$AK:$SK" "$P/data/$(enc "odd (1)!~'*&\$@,;:.txt")")"
cmp -s "$WORK/b" "$WORK/src/6" && ok "curl sigv4 odd key body" || bad "curl sigv4 odd key body"
check "curl sigv4 list (sorted query)" "200 <Key>nested/deep/er/x.json</Key>" \
    "$(hc "${CS[@]:1}" --user "$AK:$SK" "$P/data?list-type=2&prefix=nested%2F") $(grep -o '<Key>[^<]*</Key>' "$WORK/b")"
check "curl sigv4 PUT" 200 "$(hc "${CS[@]:1}" --user "$AK:$SK" -T "$WORK/src/2" "$P/data/curl%20put.bin")"
s3 get data "curl put.bin" "$WORK/got" 2>/dev/null
cmp -s "$WORK/got" "$WORK/src/2" && ok "curl sigv4 PUT content" || bad "curl sigv4 PUT content"
check "curl sigv4 session token" 200 \
    "$(hc "${CS[@]:1}" --user "$TK:$TS" -H "x-amz-security-token: $TOKEN" "$P/data/plain.txt")"
check "curl sigv4 without x-amz-content-sha256" "400 InvalidRequest" \
    "$(hc --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AK:$SK" "$P/data/plain.txt") $(xcode "$WORK/b")"
check "curl sigv4 raw '+' '=' in path: signed as sent, accepted" 200 \
    "$(hc "${CS[@]:1}" --user "$AK:$SK" "$P/data/a+b=c.txt")"
tail -n1 "$PLOG" | grep -q '"verified": true, "access_key": "'"$AK"'", "noncanonical": true' \
    && ok "raw '+' request logged noncanonical" || bad "raw '+' request logged noncanonical" "$(tail -n1 "$PLOG")"

# --- anonymous bucket: Range, conditionals, faults through the proxy with curl ---------
head -c 100000 /dev/urandom >"$WORK/obj.bin"
ETAG=$(md5sum "$WORK/obj.bin" | cut -d' ' -f1)
s3 put pub "dir/obj.bin" "$WORK/obj.bin" >/dev/null 2>&1
echo -n x >"$WORK/one"; s3 put pub one "$WORK/one" >/dev/null 2>&1
: >"$WORK/empty"; s3 put pub empty "$WORK/empty" >/dev/null 2>&1
O=$P/pub/dir/obj.bin
check "anon GET full" 200 "$(hc "$O")"
cmp -s "$WORK/b" "$WORK/obj.bin" && ok "anon GET body" || bad "anon GET body"
check "anon ETag" "\"$ETAG\"" "$(hdr "$WORK/h" ETag)"
[ -n "$(hdr "$WORK/h" Last-Modified)" ] && ok "anon Last-Modified" || bad "anon Last-Modified"
check "anon Range 0-9" "206 bytes 0-9/100000 10" "$(hc -r 0-9 "$O") $(hdr "$WORK/h" Content-Range) $(stat -c %s "$WORK/b")"
check "anon Range 0-9 bytes" "$(head -c 10 "$WORK/obj.bin" | md5sum)" "$(md5sum <"$WORK/b")"
check "Range mid" "206 bytes 4096-8191/100000" "$(hc -r 4096-8191 "$O") $(hdr "$WORK/h" Content-Range)"
check "Range mid bytes" "$(tail -c +4097 "$WORK/obj.bin" | head -c 4096 | md5sum)" "$(md5sum <"$WORK/b")"
check "Range open-ended" "206 bytes 99990-99999/100000 10" "$(hc -r 99990- "$O") $(hdr "$WORK/h" Content-Range) $(stat -c %s "$WORK/b")"
check "Range past end clamps" "206 bytes 99990-99999/100000" "$(hc -r 99990-200000 "$O") $(hdr "$WORK/h" Content-Range)"
check "Range suffix -5 (fixed up)" "206 bytes 99995-99999/100000 5" "$(hc -r -5 "$O") $(hdr "$WORK/h" Content-Range) $(stat -c %s "$WORK/b")"
check "Range suffix bytes" "$(tail -c 5 "$WORK/obj.bin" | md5sum)" "$(md5sum <"$WORK/b")"
check "Range 0-0 (fixed up)" "206 bytes 0-0/100000 1" "$(hc -r 0-0 "$O") $(hdr "$WORK/h" Content-Range) $(stat -c %s "$WORK/b")"
check "Range 0-0 on a 1-byte object" "206 bytes 0-0/1 x" "$(hc -r 0-0 "$P/pub/one") $(hdr "$WORK/h" Content-Range) $(cat "$WORK/b")"
check "Range suffix on a 1-byte object" "206 bytes 0-0/1 x" "$(hc -r -1 "$P/pub/one") $(hdr "$WORK/h" Content-Range) $(cat "$WORK/b")"
check "empty object GET" "200 0" "$(hc "$P/pub/empty") $(stat -c %s "$WORK/b")"
check "Range on an empty object: 416 (fixed up)" "416 InvalidRange bytes */0" \
    "$(hc --max-time 5 -r 0-0 "$P/pub/empty") $(xcode "$WORK/b") $(hdr "$WORK/h" Content-Range)"
check "suffix Range on an empty object: 416" 416 "$(hc --max-time 5 -r -10 "$P/pub/empty")"
check "Range start past end: 416" "416 InvalidRange" "$(hc -r 100000-100001 "$O") $(xcode "$WORK/b")"
check "Range last<first ignored: 200" "200 100000" "$(hc -H 'Range: bytes=9-5' "$O") $(stat -c %s "$WORK/b")"
check "HEAD" "200 100000" "$(hc -I "$O") $(hdr "$WORK/h" Content-Length)"
check "HEAD Range" "206 bytes 0-9/100000" "$(hc -I -r 0-9 "$O") $(hdr "$WORK/h" Content-Range)"
check "If-Match right + Range" 206 "$(hc -H "If-Match: \"$ETAG\"" -r 0-9 "$O")"
check "If-Match wrong: 412" "412 PreconditionFailed" "$(hc -H 'If-Match: "0123"' "$O") $(xcode "$WORK/b")"
check "If-Match wrong HEAD: 412" 412 "$(hc -I -H 'If-Match: "0123"' "$O")"
check "If-Match * : 200" 200 "$(hc -H 'If-Match: *' "$O")"
check "If-None-Match same: 304" 304 "$(hc -H "If-None-Match: \"$ETAG\"" "$O")"
check "If-None-Match other: 200" 200 "$(hc -H 'If-None-Match: "0123"' "$O")"
check "If-Unmodified-Since past: 412" 412 "$(hc -H 'If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$O")"
check "If-Modified-Since future-ish now: 304" 304 "$(hc -H "If-Modified-Since: $(date -u -d '+0 sec' '+%a, %d %b %Y %H:%M:%S GMT')" "$O")"
check "If-Match on a missing key: 404" "404 NoSuchKey" "$(hc -H 'If-Match: "0123"' "$P/pub/nope") $(xcode "$WORK/b")"
check "anon PUT refused" 403 "$(hc -X PUT --data-binary @"$WORK/one" "$P/pub/new")"
check "anon list of pub" 200 "$(hc "$P/pub?list-type=2")"
grep -q "<Key>dir/obj.bin</Key>" "$WORK/b" && ok "anon list content" || bad "anon list content"
curl -sv -o /dev/null -o /dev/null "$O" "$P/pub/one" 2>"$WORK/kv"
grep -qi "Re-using existing connection" "$WORK/kv" && ok "keep-alive through the proxy" || bad "keep-alive through the proxy"
# one client connection, idle longer than s3rver's 5 s keep-alive upstream
"$PY" - "${P##*:}" <<'EOF' && ok "client keep-alive survives an idle upstream connection" || bad "idle keep-alive"
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=20)
for i in range(2):
    c.request("GET", "/pub/one")
    r = c.getresponse()
    assert r.status == 200 and r.read() == b"x", r.status
    if i == 0:
        time.sleep(5.5)
EOF

fault() { curl -s -o /dev/null -w '%{http_code}' -X POST -d "$1" "$P/_fault"; }
check "queue 503" 200 "$(fault '{"kind":"503","match":"obj.bin"}')"
check "503 served once" "503 ServiceUnavailable 1" "$(hc "$O") $(xcode "$WORK/b") $(hdr "$WORK/h" Retry-After)"
check "then normal" 200 "$(hc "$O")"
fault '{"kind":"500","count":2,"match":"dir/"}' >/dev/null
check "500 #1" "500 InternalError" "$(hc "$O") $(xcode "$WORK/b")"
check "unmatched path not faulted" 200 "$(hc "$P/pub/one")"
check "500 #2" 500 "$(hc "$O")"
check "after count=2" 200 "$(hc "$O")"
fault '{"kind":"429"}' >/dev/null
check "429 SlowDown" "429 SlowDown" "$(hc "$O") $(xcode "$WORK/b")"
fault '{"kind":"short","match":"obj.bin"}' >/dev/null
check "HEAD does not consume short" 200 "$(hc -I "$O")"
hc "$O" >/dev/null
check "short: curl 18" 18 "$?"
check "short: half the body" 50000 "$(stat -c %s "$WORK/b")"
fault '{"kind":"reset","match":"obj.bin"}' >/dev/null
hc "$O" >/dev/null
check "reset: curl 56" 56 "$?"
fault '{"kind":"500"}' >/dev/null
check "clear" 200 "$(fault '{"kind":"clear"}')"
check "cleared fault not served" 200 "$(hc "$O")"
check "bad fault kind" 400 "$(fault '{"kind":"bogus"}')"
fault '{"kind":"503"}' >/dev/null
"$PY" "$HERE/s3put.py" --endpoint "$P" --access-key "$AK" --secret-key "not-$SK" ls data >/dev/null 2>&1
check "rejected request does not consume a fault" 503 "$(hc "$O")"

# --- a second proxy: --strict-encoding, and --raw (s3rver as it is) ----------------------
"$PY" "$HERE/s3proxy.py" --upstream "http://127.0.0.1:$UP_PORT" --port-file "$WORK/proxy2.port" \
    --log "$WORK/proxy2.log" --cred "$AK:$SK" --allow-anonymous pub --strict-encoding --raw \
    2>"$WORK/proxy2.err" &
PIDS+=($!)
PROXY2_PID=$!
wait_for 20 '[ -s "$WORK/proxy2.port" ] || ! kill -0 $PROXY2_PID 2>/dev/null'
P2=http://127.0.0.1:$(tr -d '\n' <"$WORK/proxy2.port" 2>/dev/null)
check "strict proxy: boto3 (strictly encoded) works" "a+b=c.txt	2554" \
    "$("$PY" "$HERE/s3put.py" --endpoint "$P2" --access-key "$AK" --secret-key "$SK" ls data a+ 2>&1 | cut -f1,2)"
check "strict proxy: strictly encoded curl sigv4" 200 "$(hc "${CS[@]:1}" --user "$AK:$SK" "$P2/data/a%2Bb%3Dc.txt")"
check "strict proxy: raw '+' '=' refused" "403 SignatureDoesNotMatch" \
    "$(hc "${CS[@]:1}" --user "$AK:$SK" "$P2/data/a+b=c.txt") $(xcode "$WORK/b")"
O2=$P2/pub/dir/obj.bin
# s3rver quirks, visible with --raw (the default proxy fixes them up)
check "raw s3rver: Range 0-0 gives the whole object" "206 bytes 0-99999/100000 100000" \
    "$(hc -r 0-0 "$O2") $(hdr "$WORK/h" Content-Range) $(stat -c %s "$WORK/b")"
check "raw s3rver: suffix Range -5 gives bytes 0-5" "206 bytes 0-5/100000" "$(hc -r -5 "$O2") $(hdr "$WORK/h" Content-Range)"
check "raw s3rver: If-Match ignored" 200 "$(hc -H 'If-Match: "0123"' "$O2")"
check "raw s3rver: If-Unmodified-Since ignored" 200 "$(hc -H 'If-Unmodified-Since: Mon, 01 Jan 2001 00:00:00 GMT' "$O2")"
check "raw s3rver: If-None-Match exact match 304" 304 "$(hc -H "If-None-Match: \"$ETAG\"" "$O2")"
check "raw s3rver: Range on an empty object hangs after 206 bytes 0-0/0" "206 bytes 0-0/0 28" \
    "$(hc --max-time 1 -r 0-0 "$P2/pub/empty"; rc=$?; echo " $(hdr "$WORK/h" Content-Range) $rc")"
check "raw s3rver: inverted Range 416" 416 "$(hc -H 'Range: bytes=9-5' "$O2")"
kill -TERM "$PROXY2_PID"

# --- log + stats -------------------------------------------------------------------------
STATS=$(curl -s "$P/_stats")
"$PY" - "$PLOG" "$STATS" "$SK" "$TS" "$TOKEN" <<'EOF' && ok "proxy log and /_stats agree; no secrets logged" || bad "proxy log and /_stats"
import json, sys
log, stats = sys.argv[1], json.loads(sys.argv[2])
raw = open(log, encoding="utf-8").read()
lines = [json.loads(l) for l in raw.splitlines()]
data = [l for l in lines if not l["path"].startswith("/_")]
fails = []
def need(c, what):
    if not c:
        fails.append(what)
need(stats["requests"] == len(data), "requests %d vs %d lines" % (stats["requests"], len(data)))
need(stats["verified"] == sum(l["verified"] for l in data), "verified count")
not_auth = {"InvalidRange", "PreconditionFailed", "BadGateway", "IncompleteBody"}
rej = sum(1 for l in data if "error" in l and "fault" not in l and l["error"] not in not_auth)
need(stats["rejected"] == rej, "rejected %d vs %d" % (stats["rejected"], rej))
need(stats["bytes"] == sum(l["bytes"] for l in data), "bytes")
for s in sys.argv[3:]:
    need(s not in raw, "secret/token in log")
need("Signature=0" not in raw and "Credential=" not in raw, "authorization in log")
need(any("X-Amz-Signature=REDACTED" in l["query"] for l in data), "presigned query redacted")
r = [l for l in data if l["range"] == [0, 9] and l["path"] == "/pub/dir/obj.bin" and l["method"] == "GET"]
need(r and r[0]["status"] == 206 and r[0]["bytes"] == 10 and not r[0]["signed"], "range line %r" % r[:1])
need(any(l["range"] == [0, 0] and l["bytes"] == 1 for l in data), "0-0 line")
f = [(l["fault"], l["status"]) for l in data if "fault" in l]
need(f == [("503", 503), ("500", 500), ("500", 500), ("429", 429), ("short", 200), ("reset", 200), ("503", 503)],
     "fault lines %r" % f)
need([l["bytes"] for l in data if l.get("fault") == "short"] == [50000], "short bytes")
need(all(l["query"] == "" or "?" not in l["path"] for l in data), "query split off")
codes = {l.get("error") for l in data}
for c in ("SignatureDoesNotMatch", "InvalidAccessKeyId", "InvalidToken", "AccessDenied",
          "RequestTimeTooSkewed", "XAmzContentSHA256Mismatch", "AuthorizationHeaderMalformed"):
    need(c in codes, "error %s logged" % c)
for x in fails:
    print("log check failed:", x)
sys.exit(1 if fails else 0)
EOF

# --- nginx origin ----------------------------------------------------------------------------
WWW=$WORK/www
mkdir -p "$WWW/models/m1"
head -c 300000 /dev/urandom >"$WWW/models/m1/model.safetensors"
NF=$WWW/models/m1/model.safetensors
for s in plain noranges tls slow; do NGINX_STATES+=("$WORK/ng-$s"); done
"$NGX" start "$WWW" "$WORK/ng-plain" 2>"$WORK/err"
check "nginx start" "0 yes" "$? $([ -s "$WORK/ng-plain/port" ] && echo yes)"
N1=http://127.0.0.1:$(cat "$WORK/ng-plain/port" 2>/dev/null)
check "nginx url file" "$N1" "$(cat "$WORK/ng-plain/url" 2>/dev/null)"
check "nginx Range 0-9" "206 bytes 0-9/300000 10" \
    "$(hc -r 0-9 "$N1/models/m1/model.safetensors") $(hdr "$WORK/h" Content-Range) $(stat -c %s "$WORK/b")"
check "nginx Range bytes" "$(head -c 10 "$NF" | md5sum)" "$(md5sum <"$WORK/b")"
[ -n "$(hdr "$WORK/h" ETag)" ] && [ -n "$(hdr "$WORK/h" Last-Modified)" ] && ok "nginx ETag + Last-Modified" \
    || bad "nginx ETag + Last-Modified"
check "nginx suffix Range" "206 bytes 299990-299999/300000" "$(hc -r -10 "$N1/models/m1/model.safetensors") $(hdr "$WORK/h" Content-Range)"
check "nginx full" 200 "$(hc "$N1/models/m1/model.safetensors")"
cmp -s "$WORK/b" "$NF" && ok "nginx full body" || bad "nginx full body"
check "nginx HEAD" "200 300000" "$(hc -I "$N1/models/m1/model.safetensors") $(hdr "$WORK/h" Content-Length)"
check "nginx If-Match wrong: 412" 412 "$(hc -H 'If-Match: "nope"' "$N1/models/m1/model.safetensors")"
check "nginx 404" 404 "$(hc "$N1/models/nope")"
"$NGX" start "$WWW" "$WORK/ng-plain" >/dev/null 2>&1
check "nginx start twice refused" 1 "$?"
"$PY" - "$WORK/ng-plain/access.log" <<'EOF' && ok "nginx access log is JSON lines" || bad "nginx access log is JSON lines"
import json, sys
L = [json.loads(l) for l in open(sys.argv[1])]
assert len(L) == 6, len(L)
assert set(L[0]) == {"t", "method", "path", "status", "bytes", "range"}, L[0]
assert L[0]["method"] == "GET" and L[0]["path"] == "/models/m1/model.safetensors"
assert L[0]["status"] == 206 and L[0]["bytes"] == 10 and L[0]["range"] == "bytes=0-9", L[0]
assert isinstance(L[0]["t"], float)
assert L[2]["range"] == "" and L[2]["bytes"] == 300000, L[2]
assert L[3]["method"] == "HEAD" and L[3]["bytes"] == 0 and L[4]["status"] == 412
assert L[-1]["status"] == 404
EOF

"$NGX" start "$WWW" "$WORK/ng-noranges" --no-ranges 2>"$WORK/err" || bad "nginx --no-ranges start" "$(cat "$WORK/err")"
N2=http://127.0.0.1:$(cat "$WORK/ng-noranges/port" 2>/dev/null)
check "nginx --no-ranges: Range ignored, 200 full" "200 300000" \
    "$(hc -r 0-9 "$N2/models/m1/model.safetensors") $(stat -c %s "$WORK/b")"
check "nginx --no-ranges: no Content-Range" "" "$(hdr "$WORK/h" Content-Range)"

"$NGX" start "$WWW" "$WORK/ng-tls" --tls 2>"$WORK/err" || bad "nginx --tls start" "$(cat "$WORK/err")"
N3P=$(cat "$WORK/ng-tls/port" 2>/dev/null)
check "nginx --tls ca.pem" yes "$([ -s "$WORK/ng-tls/ca.pem" ] && echo yes)"
check "nginx --tls url" "https://127.0.0.1:$N3P" "$(cat "$WORK/ng-tls/url" 2>/dev/null)"
check "TLS 127.0.0.1 with --cacert: 206" 206 \
    "$(hc --cacert "$WORK/ng-tls/ca.pem" -r 0-9 "https://127.0.0.1:$N3P/models/m1/model.safetensors")"
check "TLS localhost with --cacert: 200" 200 \
    "$(hc --cacert "$WORK/ng-tls/ca.pem" "https://localhost:$N3P/models/m1/model.safetensors")"
cmp -s "$WORK/b" "$NF" && ok "TLS body" || bad "TLS body"
hc "https://127.0.0.1:$N3P/models/m1/model.safetensors" >/dev/null
check "TLS without the CA: curl 60" 60 "$?"
check "plain HTTP to the TLS port: 400" 400 "$(hc "http://127.0.0.1:$N3P/models/m1/model.safetensors")"
CA1=$(md5sum <"$WORK/ng-tls/ca.pem")
"$NGX" stop "$WORK/ng-tls"
"$NGX" start "$WWW" "$WORK/ng-tls" --tls 2>"$WORK/err" || bad "nginx --tls restart" "$(cat "$WORK/err")"
check "TLS CA made once per STATEDIR" "$CA1" "$(md5sum <"$WORK/ng-tls/ca.pem")"
check "TLS after restart" 200 "$(hc --cacert "$WORK/ng-tls/ca.pem" "https://127.0.0.1:$(cat "$WORK/ng-tls/port")/models/m1/model.safetensors")"

"$NGX" start "$WWW" "$WORK/ng-slow" --limit-rate 200k 2>"$WORK/err" || bad "nginx --limit-rate start" "$(cat "$WORK/err")"
T=$(curl -s -o /dev/null -w '%{time_total}' "http://127.0.0.1:$(cat "$WORK/ng-slow/port")/models/m1/model.safetensors")
"$PY" -c 'import sys; sys.exit(0 if float(sys.argv[1]) >= 0.9 else 1)' "$T" \
    && ok "nginx --limit-rate 200k: 300 KB took ${T}s" || bad "nginx --limit-rate" "300 KB in ${T}s"

NPID=$(cat "$WORK/ng-plain/nginx.pid")
"$NGX" stop "$WORK/ng-plain"
check "nginx stop" "0 gone" "$? $(grep -qs '^[0-9]* (.*) [^ZX] ' "/proc/$NPID/stat" && echo alive || echo gone)"
check "nginx stop removes port file" no "$([ -e "$WORK/ng-plain/port" ] && echo yes || echo no)"
for s in noranges tls slow; do "$NGX" stop "$WORK/ng-$s" || bad "nginx stop $s"; done
NGINX_STATES=()

# --- clean shutdown ----------------------------------------------------------------------------
kill -TERM "$PROXY_PID"
wait_for 10 '! kill -0 $PROXY_PID 2>/dev/null'
wait "$PROXY_PID" 2>/dev/null
check "s3proxy exits 0 on SIGTERM" 0 "$?"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
