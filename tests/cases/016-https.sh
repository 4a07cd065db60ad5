#!/bin/bash
# https:// sources against nginx: lazy ranged reads over TLS (verified with
# ca_file, refused without it), a TLS server without Range support read
# whole once, a file changed upstream refused instead of mixed, clear
# errors for a missing file (404) and an unreachable host.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/www/models" "$T/plain/models"
"$PY" - "$T/www/models/tiny-q4.gguf" <<'PYEOF'
import random, sys
r = random.Random(7)
with open(sys.argv[1], "wb") as f:
    f.write(b"GGUF" + r.randbytes(12 << 20))
PYEOF
cp "$T/www/models/tiny-q4.gguf" "$T/plain/models/tiny-q4.gguf"
ORIGIN=$top_srcdir/tests/server/nginx-origin.sh
at_exit '"$ORIGIN" stop "$T/ng-tls" >/dev/null 2>&1; "$ORIGIN" stop "$T/ng-plain" >/dev/null 2>&1'
"$ORIGIN" start "$T/www" "$T/ng-tls" --tls >/dev/null || fail "nginx (tls)"
# the server without Range support is TLS too, with the same CA (one ca_file)
mkdir -p "$T/ng-plain" && cp -r "$T/ng-tls/tls" "$T/ng-plain/tls"
"$ORIGIN" start "$T/plain" "$T/ng-plain" --no-ranges --tls >/dev/null || fail "nginx (no ranges)"
tls=https://127.0.0.1:$(cat "$T/ng-tls/port")/models/tiny-q4.gguf
plain=https://127.0.0.1:$(cat "$T/ng-plain/port")/models/tiny-q4.gguf
nginx_bytes() { "$PY" -c '
import json, sys
print(sum(json.loads(l)["bytes"] for l in open(sys.argv[1]) if json.loads(l)["method"] == "GET"))' "$1/access.log"; }

# TLS peer verification is on: without the CA the add fails clearly
start_daemon -o block_size=1M
ctl add "$tls" --name lm/tiny 2>"$T/err" && fail "an unverified certificate was accepted"
grep -qi "certificate" "$T/err" || fail "TLS error: $(cat "$T/err")"
ctl add "$tls" 2>"$T/err" && fail "add without --name"
grep -q "needs --name org/model" "$T/err" || fail "no-name error: $(cat "$T/err")"
ok "TLS is verified by default; https:// needs --name"
stop_daemon

start_daemon -o block_size=1M,ca_file=$T/ng-tls/ca.pem
ctl add "$tls" --name lm/tiny >/dev/null || fail "add over TLS"
f=$MNT/lm/tiny/tiny-q4.gguf
[ "$(stat -c %s "$f")" = "$(stat -c %s "$T/www/models/tiny-q4.gguf")" ] || fail "size"
before=$(nginx_bytes "$T/ng-tls")
[ "$(head -c 4 "$f")" = GGUF ] || fail "magic"
got=$(( $(nginx_bytes "$T/ng-tls") - before ))
[ "$got" -le $((1 << 20)) ] || fail "the 4-byte read fetched $got bytes"
cmp "$f" "$T/www/models/tiny-q4.gguf" || fail "full read over TLS"
key=$(printf '%s' "$tls" | sha256sum | cut -c1-16)
# no revision for a URL: REVISION is "-" (not a blank and a digest)
ctl list | grep -Eq "^$key  lm/tiny  $tls +-  " || fail "list: $(ctl list)"
ok "lazy ranged reads over TLS (4 bytes fetched $got bytes), byte-identical, cache key in list"

# a server without Range support: read whole, once, on the first read
ctl add "$plain" --name lm/plain >/dev/null || fail "add (no ranges)"
grep -q "'lm/plain' has no Range support" "$DLOG" || fail "no notice about Range"
before=$(nginx_bytes "$T/ng-plain")
dd if="$MNT/lm/plain/tiny-q4.gguf" bs=1M skip=5 count=1 status=none |
	cmp - <(dd if="$T/plain/models/tiny-q4.gguf" bs=1M skip=5 count=1 status=none) || fail "no-range read"
cmp "$MNT/lm/plain/tiny-q4.gguf" "$T/plain/models/tiny-q4.gguf" || fail "no-range full read"
got=$(( $(nginx_bytes "$T/ng-plain") - before ))
size=$(stat -c %s "$T/plain/models/tiny-q4.gguf")
[ "$got" -eq "$size" ] || fail "no-range server sent $got bytes for a $size-byte file"
ok "no Range support (over TLS): the file is fetched whole once ($got bytes) and served"

# clear one-line errors: a missing file, a host nobody listens on
missing=https://127.0.0.1:$(cat "$T/ng-tls/port")/models/missing.gguf
ctl add "$missing" --name lm/missing 2>"$T/err" && fail "a missing file was registered"
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "404: $(cat "$T/err")"
grep -q "$missing: not found" "$T/err" || fail "404: $(cat "$T/err")"
start=$(date +%s%N)
ctl add https://127.0.0.1:9/models/x.gguf --name lm/gone 2>"$T/err" && fail "an unreachable host was registered"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$(wc -l <"$T/err")" -eq 1 ] || fail "unreachable: $(cat "$T/err")"
grep -q "cannot reach https://127.0.0.1:9/models/x.gguf" "$T/err" || fail "unreachable: $(cat "$T/err")"
[ "$ms" -le 8000 ] || fail "the unreachable host took $ms ms (fetch_timeout 5 s)"
ctl list | grep -q "lm/missing\|lm/gone" && fail "a failed add is listed"
ok "https errors: '$(cat "$T/err")' in $ms ms; a 404 is 'not found'"

# changed upstream: refused, never mixed
part=https://127.0.0.1:$(cat "$T/ng-tls/port")/models/part.gguf
cp "$T/www/models/tiny-q4.gguf" "$T/www/models/part.gguf"
ctl add "$part" --name lm/part >/dev/null || fail "add part"
p=$MNT/lm/part/part.gguf
head -c 4 "$p" | grep -q GGUF || fail "head of part"
"$PY" -c 'import sys; open(sys.argv[1], "r+b").write(b"XXXX")' "$T/www/models/part.gguf"
touch -d '2030-01-01' "$T/www/models/part.gguf"
drop_caches
head -c 4 "$p" | grep -q GGUF || fail "the cached block of the old version"
dd if="$p" bs=1M skip=3 count=1 of=/dev/null status=none 2>"$T/err" && fail "a changed file was mixed in"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
grep -q "changed upstream since it was registered; refusing to mix versions" "$DLOG" ||
	fail "no log line for the changed file"
# registering it again (rm, add) serves the new version
ctl rm lm/part >/dev/null && ctl add "$part" --name lm/part >/dev/null || fail "re-register"
drop_caches
cmp "$p" "$T/www/models/part.gguf" || fail "the new version"
ok "a file changed upstream: cached blocks served, the rest EIO with a log line; rm and add serve the new version"
