#!/bin/bash
# Hostile S3 object keys: keys uploaded with boto3 (a file that is also a
# directory, '..' as a name, a newline, a backslash, a control character)
# and listings only a hostile or broken store sends (a '../' inside a key,
# an absolute path, duplicates, a name over NAME_MAX, a tab). Each add is
# refused with one clear line that carries no raw control character,
# nothing is registered, nothing outside a model's directory is exposed
# or written, and an honest prefix still registers and reads.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/src"
printf 'x\n' >"$T/src/x"
printf '{"ok": true}\n' >"$T/src/config.json"
start_s3
s3put mkbucket evil >/dev/null || fail "mkbucket"
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
start_daemon
touch "$T/marker"

put() { s3put put evil "$1" "$T/src/x" >/dev/null || fail "put $(printf %q "$1")"; }
n=0
# refused PREFIX REASON: 'ctl add s3://evil/PREFIX' fails with one line
# containing REASON and no control character
refused() {
	local prefix=$1 reason=$2
	n=$((n + 1))
	ctl add "s3://evil/$prefix" --name "h/m$n" >/dev/null 2>"$T/err" && fail "case $n ($reason) was accepted"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "case $n: not one line: $(cat -A "$T/err")"
	LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <"$T/err") && fail "case $n: a control character in: $(cat -A "$T/err")"
	grep -q -- "$reason" "$T/err" || fail "case $n: [$(cat -A "$T/err")] lacks '$reason'"
}

# --- keys s3rver stores and lists as uploaded ---
put "fd/a"
put "fd/a/b"
refused fd "as file and directory"
put "dots/.."
refused dots "refusing object key 'dots/..': '.' or '..' path component"
put "nl/a
b"
refused nl "refusing object key 'nl/a\\\\nb': control character"
put 'bs/a\b'
refused bs "refusing object key 'bs/a\\\\\\\\b': control character or backslash"
put "ctl/a$(printf '\033')[31mred"
refused ctl "malformed XML" # s3rver ignores encoding-type=url and sends ESC raw
ok "$n hostile keys from the store refused, one clean line each"

# --- listings only a hostile store sends (s3proxy answers them) ---
# listing KEY...: the bucket's ListObjectsV2 answers exactly these keys;
# with ENC=url, they are given percent-encoded, as S3 answers encoding-type=url
listing() {
	"$PY" - "$@" >"$T/req.json" <<'PYEOF'
import json, os, sys
from xml.sax.saxutils import escape
keys = sys.argv[1:]
enc = "<EncodingType>url</EncodingType>" if os.environ.get("ENC") == "url" else ""
body = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult '
        'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>evil</Name><Prefix></Prefix>'
        '<KeyCount>%d</KeyCount><MaxKeys>1000</MaxKeys>%s<IsTruncated>false</IsTruncated>' % (len(keys), enc)]
for k in keys:
    body.append('<Contents><Key>%s</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>'
                '<ETag>&quot;401b30e3b8b5d629635a5c613cdb7919&quot;</ETag><Size>2</Size>'
                '<StorageClass>STANDARD</StorageClass></Contents>' % escape(k))
body.append("</ListBucketResult>")
print(json.dumps({"bucket": "evil", "body": "".join(body)}))
PYEOF
	curl -fsS -X POST --data-binary @"$T/req.json" "$S3/_listing" >/dev/null || fail "cannot set the listing"
}
listing "p/m/ok" "p/m/../../escape"
refused p/m "'.' or '..' path component"
listing "p/m//etc/passwd"
refused p/m "empty path component\|absolute path"
listing "p/m/x" "p/m/x"
refused p/m "names 'x' twice"
long=$(printf 'y%.0s' $(seq 256))
listing "p/m/$long"
refused p/m "longer than NAME_MAX"
listing "p/m/a	b"
refused p/m "control character"
listing "p/m/a" "p/m/a/b"
refused p/m "as file and directory"
# what S3 sends for keys XML 1.0 cannot carry, asked for encoding-type=url
ENC=url listing "p/m/ok" "p/m/a%1B%5B31mred"
refused p/m "control character"
ENC=url listing "p/m/%2E%2E/escape"
refused p/m "'.' or '..' path component"
ENC=url listing "p/m/a%00b"
refused p/m "bad percent-encoding in a key"
curl -fsS -X POST -d '{"bucket": "evil", "body": null}' "$S3/_listing" >/dev/null
ok "$n hostile keys and listings refused in all"

ctl --json list | "$PY" -c 'import json, sys; assert json.load(sys.stdin) == []' ||
	fail "a hostile listing registered something"
[ "$(ls "$MNT")" = hub ] || fail "the tree shows: $(ls "$MNT")"
[ -z "$(ls "$MNT/hub")" ] || fail "hub/ shows: $(ls "$MNT/hub")"
escaped=$(find "$T" /etc /root /tmp -xdev -newer "$T/marker" \( -name escape -o -name passwd \) \
	-not -path "$T/s3data/*" 2>/dev/null | grep -v "^/etc/passwd$" || true)
[ -z "$escaped" ] || fail "files appeared: $escaped"
daemon_alive || fail "daemon died"
ok "nothing registered, nothing exposed or written outside the store"

s3put put evil good/org/m/config.json "$T/src/config.json" >/dev/null || fail "put good"
ctl add s3://evil/good/org/m >/dev/null || fail "the honest prefix"
cmp "$MNT/org/m/config.json" "$T/src/config.json" || fail "read"
ok "an honest prefix of the same bucket registers and reads"

# every listing asked for encoding-type=url, signed and verified
"$PY" - "$S3LOG" <<'PYEOF' || fail "a listing without encoding-type=url, or unverified"
import json, sys
n = 0
for line in open(sys.argv[1]):
    d = json.loads(line)
    q = d.get("query") or ""
    if d["method"] == "GET" and "list-type=2" in q:
        n += 1
        assert "encoding-type=url" in q.split("&") and d["verified"], d
assert n >= 10, n
PYEOF
# a percent-encoded listing decodes ('+' is a space): the names are S3's
ENC=url listing "enc/m/a+b%25c.json"
ctl add s3://evil/enc/m --name enc/m >/dev/null || fail "an encoded listing"
[ "$(ls "$MNT/enc/m")" = "a b%c.json" ] || fail "decoded as: $(ls "$MNT/enc/m")"
curl -fsS -X POST -d '{"bucket": "evil", "body": null}' "$S3/_listing" >/dev/null
ok "listings ask for encoding-type=url (signed, verified); an encoded listing decodes"
