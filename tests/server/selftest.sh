#!/usr/bin/env bash
# Self-test of the fake Hugging Face Hub (tests/server/fakehub.py).
#
# Generates a small demo model (genmodel.py --size 8M --nested) in a temp
# dir, starts fakehub.py on a free loopback port (twice: once normally, once
# with --page-size 2 for pagination) and checks the API, resolve and CDN
# endpoints, error codes, gating, fault injection and the request log with
# curl.  Prints "N passed, N failed" as its last line; exits non-zero on any
# failure.  Needs bash, curl, sha256sum, sha1sum and Debian's /usr/bin/python3
# (used for the servers and for JSON checks).
#
# Usage: tests/server/selftest.sh        (VERBOSE=1 to see every check)

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/fakehub-selftest.XXXXXX)
PIDS=()
PASS=0
FAIL=0

cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$WORK"
}
trap cleanup EXIT

ok()   { PASS=$((PASS + 1)); [ -n "${VERBOSE:-}" ] && echo "ok   - $1"; return 0; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL - $1${2:+: $2}"; }
# check NAME EXPECTED ACTUAL
check() { if [ "$2" == "$3" ]; then ok "$1"; else bad "$1" "expected [$2] got [$3]"; fi; }

# start_server NAME ARGS... : start fakehub, wait (bounded) for its port file.
# Sets PORT_<NAME>.
start_server() {
    local name=$1; shift
    local pf="$WORK/$name.port"
    "$PY" "$HERE/fakehub.py" --port 0 --port-file "$pf" "$@" 2>"$WORK/$name.stderr" &
    PIDS+=($!)
    local i
    for i in $(seq 1 100); do          # up to 10 s
        [ -s "$pf" ] && break
        sleep 0.1
    done
    if [ ! -s "$pf" ]; then
        echo "server $name did not start:"; cat "$WORK/$name.stderr"; exit 1
    fi
    printf -v "PORT_$name" '%s' "$(tr -d '\n' <"$pf")"
}

# hdr FILE NAME : value of a response header (case-insensitive), no CR.
hdr() { grep -i "^$2:" "$1" | head -n1 | cut -d: -f2- | sed 's/^ *//' | tr -d '\r'; }

# hc ARGS... : curl against the main server; counts requests for the log check
# (one line per request in $WORK/nreq: hc usually runs in a $(...) subshell).
# Writes headers to $WORK/h and body to $WORK/b, prints the status code.
hc() {
    echo >>"$WORK/nreq"
    curl -s -D "$WORK/h" -o "$WORK/b" -w '%{http_code}' "$@"
}

# --- set up: model + repository tree ------------------------------------------
REPO="$WORK/root/org/demo"
mkdir -p "$REPO"
GEN=$("$PY" "$HERE/genmodel.py" "$REPO/main" --size 8M --nested) || { echo "genmodel failed"; exit 1; }
M="$REPO/main"
SHA_ST=$(sha256sum "$M/model.safetensors" | cut -d' ' -f1)
check "genmodel prints sha256" "model.safetensors $SHA_ST" "$GEN"
# Determinism: a second run gives the same bytes.
GEN2=$("$PY" "$HERE/genmodel.py" "$WORK/again" --size 8M --nested)
check "genmodel deterministic" "$GEN" "$GEN2"
cmp -s "$M/tokenizer.json" "$WORK/again/tokenizer.json" && ok "tokenizer deterministic" || bad "tokenizer deterministic"
"$PY" - "$M/model.safetensors" <<'EOF' && ok "safetensors layout valid" || bad "safetensors layout valid"
import json, os, struct, sys
p = sys.argv[1]
with open(p, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(n))
assert n % 8 == 0 and h["__metadata__"] == {"format": "pt"}
spans = sorted(v["data_offsets"] for k, v in h.items() if k != "__metadata__")
assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
assert 8 + n + spans[-1][1] == os.path.getsize(p) >= 8 << 20
EOF
cp -r "$M" "$REPO/v1"
echo "v1 only" >"$REPO/v1/v1.txt"
mkdir -p "$WORK/root/org/gated/main"
echo '{"gated": true}' >"$WORK/root/org/gated/main/config.json"

LOG="$WORK/hub.log"
start_server A --root "$WORK/root" --log "$LOG" --gated org/gated --token s3cret
start_server B --root "$WORK/root" --page-size 2
A="http://127.0.0.1:$PORT_A"
B="http://127.0.0.1:$PORT_B"
COMMIT=$(printf '%s' "org/demo@main" | sha1sum | cut -d' ' -f1)
COMMIT_V1=$(printf '%s' "org/demo@v1" | sha1sum | cut -d' ' -f1)

jget() { "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$WORK/b" "$1"; }

# --- model info ------------------------------------------------------------------
check "info status" 200 "$(hc "$A/api/models/org/demo")"
check "info sha" "$COMMIT" "$(jget 'd["sha"]')"
check "info id" "org/demo" "$(jget 'd["id"]')"
check "info siblings" "config.json model.safetensors onnx/model.onnx onnx/sub/extra.txt tokenizer.json" \
    "$(jget '" ".join(s["rfilename"] for s in d["siblings"])')"
check "revision/main sha" 200 "$(hc "$A/api/models/org/demo/revision/main")"
check "revision/main sha value" "$COMMIT" "$(jget 'd["sha"]')"
check "revision/v1 sha" "200 $COMMIT_V1" "$(hc "$A/api/models/org/demo/revision/v1") $(jget 'd["sha"]')"
check "revision by commit" "200 $COMMIT_V1" "$(hc "$A/api/models/org/demo/revision/$COMMIT_V1") $(jget 'd["sha"]')"
check "blobs=true lfs sha256" "200 $SHA_ST" \
    "$(hc "$A/api/models/org/demo/revision/main?blobs=true") $(jget '[s for s in d["siblings"] if s["rfilename"]=="model.safetensors"][0]["lfs"]["sha256"]')"
check "unknown revision" "404 RevisionNotFound" "$(hc "$A/api/models/org/demo/revision/nope") $(hdr "$WORK/h" X-Error-Code)"
check "unknown repo" "401 RepoNotFound" "$(hc "$A/api/models/org/nope") $(hdr "$WORK/h" X-Error-Code)"
check "unknown repo error json" "True" "$(jget '"Repository Not Found" in d["error"]')"
check "unknown repo, authenticated" "404 RepoNotFound" \
    "$(hc -H 'Authorization: Bearer s3cret' "$A/org/nope/resolve/main/x") $(hdr "$WORK/h" X-Error-Code)"

# --- tree --------------------------------------------------------------------------
check "tree recursive" 200 "$(hc "$A/api/models/org/demo/tree/main?recursive=true")"
EXPECT=$(cd "$M" && find . -type f | sed 's|^\./||' | sort | while read -r f; do
    size=$(stat -c %s "$f")
    case "$f" in
        *.safetensors|*.onnx) echo "file $f $size $(sha256sum "$f" | cut -d' ' -f1)" ;;
        *) echo "file $f $size $( (printf 'blob %d\0' "$size"; cat "$f") | sha1sum | cut -d' ' -f1)" ;;
    esac
done; echo "directory onnx 0 -"; echo "directory onnx/sub 0 -")
GOT=$(jget '"\n".join("%s %s %s %s" % (e["type"], e["path"], e["size"], e["lfs"]["oid"] if "lfs" in e else e["oid"] if e["type"]=="file" else "-") for e in d)')
check "tree recursive entries/sizes/oids" "$(sort <<<"$EXPECT")" "$(sort <<<"$GOT")"
check "tree sorted by path" "$(jget '[e["path"] for e in d] == sorted(e["path"] for e in d)')" "True"
check "tree top level" "config.json model.safetensors onnx tokenizer.json" \
    "$(hc "$A/api/models/org/demo/tree/main" >/dev/null; jget '" ".join(e["path"] for e in d)')"
check "tree subpath" "onnx/model.onnx onnx/sub" \
    "$(hc "$A/api/models/org/demo/tree/main/onnx" >/dev/null; jget '" ".join(e["path"] for e in d)')"
check "tree missing subpath" "404 EntryNotFound" "$(hc "$A/api/models/org/demo/tree/main/zzz") $(hdr "$WORK/h" X-Error-Code)"

# Pagination on server B (--page-size 2): follow Link headers to the end.
URL="$B/api/models/org/demo/tree/main?recursive=1"
ALL=""; PAGES=0
while [ -n "$URL" ] && [ $PAGES -lt 50 ]; do
    code=$(curl -s -D "$WORK/h" -o "$WORK/b" -w '%{http_code}' "$URL")
    [ "$code" = 200 ] || { bad "pagination page status" "$code"; break; }
    ALL+=$(jget '"".join(e["path"] + "\n" for e in d)')$'\n'
    n=$(jget 'len(d)'); [ "$n" -le 2 ] || bad "page size" "$n entries"
    PAGES=$((PAGES + 1))
    URL=$(hdr "$WORK/h" Link | sed -n 's/^<\(.*\)>; rel="next"$/\1/p')
done
check "pagination pages" 4 "$PAGES"
check "pagination every entry once" "$(cut -d' ' -f2 <<<"$GOT" | sort)" "$(grep -v '^$' <<<"$ALL" | sort)"

# --- resolve + CDN --------------------------------------------------------------------
check "resolve lfs 302" 302 "$(hc "$A/org/demo/resolve/main/model.safetensors")"
check "resolve X-Linked-Etag" "\"$SHA_ST\"" "$(hdr "$WORK/h" X-Linked-Etag)"
check "resolve X-Linked-Size" "$(stat -c %s "$M/model.safetensors")" "$(hdr "$WORK/h" X-Linked-Size)"
check "resolve X-Repo-Commit" "$COMMIT" "$(hdr "$WORK/h" X-Repo-Commit)"
check "resolve 302 Content-Length" "0" "$(hdr "$WORK/h" Content-Length)"
CDN=$(hdr "$WORK/h" Location)
case "$CDN" in "$A/cdn/$SHA_ST?X-Amz-Expires=3600&X-Amz-Signature="*) ok "Location is CDN URL" ;; *) bad "Location is CDN URL" "$CDN" ;; esac
check "HEAD resolve lfs" "302 $COMMIT" "$(hc -I "$A/org/demo/resolve/$COMMIT/model.safetensors") $(hdr "$WORK/h" X-Repo-Commit)"

check "cdn range 0-7" 206 "$(hc -H 'Range: bytes=0-7' "$CDN")"
check "cdn range header length" "$(head -c 8 "$M/model.safetensors" | od -An -tx1)" "$(od -An -tx1 "$WORK/b")"
SIZE=$(stat -c %s "$M/model.safetensors")
check "cdn Content-Range" "bytes 0-7/$SIZE" "$(hdr "$WORK/h" Content-Range)"
check "cdn suffix range" "206 bytes $((SIZE - 100))-$((SIZE - 1))/$SIZE" "$(hc -H 'Range: bytes=-100' "$CDN") $(hdr "$WORK/h" Content-Range)"
check "cdn 416" "416 bytes */$SIZE" "$(hc -H "Range: bytes=$SIZE-" "$CDN") $(hdr "$WORK/h" Content-Range)"
check "cdn full GET" 200 "$(hc "$CDN")"
check "cdn full GET sha256" "$SHA_ST" "$(sha256sum "$WORK/b" | cut -d' ' -f1)"
check "cdn with Authorization" 400 "$(hc -H 'Authorization: Bearer s3cret' "$CDN")"
check "cdn auth body" "authorization header sent to CDN" "$(cat "$WORK/b")"
check "cdn unknown blob" 404 "$(hc "$A/cdn/$(printf '0%.0s' $(seq 64))")"

check "resolve config.json" 200 "$(hc "$A/org/demo/resolve/main/config.json")"
cmp -s "$WORK/b" "$M/config.json" && ok "config.json content" || bad "config.json content"
GITSHA=$( (printf 'blob %d\0' "$(stat -c %s "$M/config.json")"; cat "$M/config.json") | sha1sum | cut -d' ' -f1)
check "config.json ETag" "\"$GITSHA\"" "$(hdr "$WORK/h" ETag)"
check "config.json X-Repo-Commit" "$COMMIT" "$(hdr "$WORK/h" X-Repo-Commit)"
check "resolve non-lfs range" "206 bytes 2-5/$(stat -c %s "$M/config.json")" \
    "$(hc -H 'Range: bytes=2-5' "$A/org/demo/resolve/main/config.json") $(hdr "$WORK/h" Content-Range)"
check "resolve non-lfs range body" "$(head -c 6 "$M/config.json" | tail -c 4)" "$(cat "$WORK/b")"
check "resolve nested" 200 "$(hc "$A/org/demo/resolve/main/onnx/sub/extra.txt")"
check "resolve unknown file" "404 EntryNotFound" "$(hc "$A/org/demo/resolve/main/nope.txt") $(hdr "$WORK/h" X-Error-Code)"
check "resolve v1-only file on main" 404 "$(hc "$A/org/demo/resolve/main/v1.txt")"
check "resolve v1-only file on v1" 200 "$(hc "$A/org/demo/resolve/v1/v1.txt")"

# Keep-alive: two requests on one connection (curl reuses it only if the
# server kept it open with a correct Content-Length).
for i in 1 2; do echo >>"$WORK/nreq"; done
curl -sv -o /dev/null -o /dev/null "$A/api/models/org/demo" "$A/org/demo/resolve/main/config.json" 2>"$WORK/kv"
grep -qi "Re-using existing connection" "$WORK/kv" && ok "keep-alive" || bad "keep-alive"

# --- gating --------------------------------------------------------------------------
check "gated anonymous" "401 GatedRepo" "$(hc "$A/org/gated/resolve/main/config.json") $(hdr "$WORK/h" X-Error-Code)"
check "gated wrong token" "403 GatedRepo" "$(hc -H 'Authorization: Bearer nope' "$A/api/models/org/gated") $(hdr "$WORK/h" X-Error-Code)"
check "gated right token" 200 "$(hc -H 'Authorization: Bearer s3cret' "$A/org/gated/resolve/main/config.json")"
check "gated info says manual" "200 manual" "$(hc -H 'Authorization: Bearer s3cret' "$A/api/models/org/gated") $(jget 'd["gated"]')"
check "wrong token on public repo" 200 "$(hc -H 'Authorization: Bearer nope' "$A/api/models/org/demo")"

# --- fault injection --------------------------------------------------------------------
ctl() { curl -s -o /dev/null -w '%{http_code}' -X POST -d "$1" "$A/_fault"; }
check "queue 503" 200 "$(ctl '{"kind":"503","match":"config.json"}')"
check "503 served once" 503 "$(hc "$A/org/demo/resolve/main/config.json")"
check "then normal" 200 "$(hc "$A/org/demo/resolve/main/config.json")"
ctl '{"kind":"429"}' >/dev/null
check "429 Retry-After" "429 1" "$(hc "$A/api/models/org/demo") $(hdr "$WORK/h" Retry-After)"
ctl '{"kind":"full200","match":"/cdn/"}' >/dev/null
check "full200 ignores Range" "200 $SIZE" "$(hc -H 'Range: bytes=0-7' "$CDN") $(stat -c %s "$WORK/b")"
ctl '{"kind":"badrange"}' >/dev/null
check "badrange shifts Content-Range" "206 bytes 4096-4103/$SIZE" "$(hc -H 'Range: bytes=0-7' "$CDN") $(hdr "$WORK/h" Content-Range)"
ctl '{"kind":"expire"}' >/dev/null
check "expire on cdn" 403 "$(hc "$CDN")"
ctl '{"kind":"short","match":"/cdn/"}' >/dev/null
hc "$CDN" >/dev/null
check "short: curl sees partial file (18)" 18 "$?"
check "short body is half" "$((SIZE / 2))" "$(stat -c %s "$WORK/b")"
ctl '{"kind":"reset","match":"/cdn/"}' >/dev/null
hc "$CDN" >/dev/null
check "reset: curl sees connection reset (56)" 56 "$?"
[ "$(stat -c %s "$WORK/b")" -lt "$SIZE" ] && ok "reset truncates body" || bad "reset truncates body"
ctl '{"kind":"stall","match":"/cdn/"}' >/dev/null
rm -f "$WORK/b"   # curl only creates -o files once a body byte arrives
hc --max-time 1 -H 'Range: bytes=0-99' "$CDN" >/dev/null
rc=$?
check "stall: headers then nothing (curl timeout 28)" "28 206 100 0" \
    "$rc $(sed -n '1s/^HTTP[^ ]* \([0-9]*\).*/\1/p' "$WORK/h") $(hdr "$WORK/h" Content-Length) $(stat -c %s "$WORK/b" 2>/dev/null || echo 0)"
ctl '{"kind":"500","count":2}' >/dev/null
check "count=2 first" 500 "$(hc "$A/api/models/org/demo")"
check "count=2 second" 500 "$(hc "$A/api/models/org/demo")"
check "count=2 then normal" 200 "$(hc "$A/api/models/org/demo")"
ctl '{"kind":"502"}' >/dev/null
check "clear" 200 "$(ctl '{"kind":"clear"}')"
check "cleared fault not served" 200 "$(hc "$A/api/models/org/demo")"
check "bad fault kind" 400 "$(ctl '{"kind":"bogus"}')"

# --- request log ---------------------------------------------------------------------------
# Every request made with hc is one non-control log line; control requests
# (/_fault, /_stats) are logged too but not counted in /_stats.
STATS=$(curl -s "$A/_stats")
NREQ=$(wc -l <"$WORK/nreq")
sleep 0.2   # the reset request's log line is written after the socket is torn down
"$PY" - "$LOG" "$NREQ" "$SIZE" "$SHA_ST" "$STATS" <<'EOF'
import json, sys
log, nreq, size, sha, stats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], json.loads(sys.argv[5])
lines = [json.loads(l) for l in open(log)]
fails = []
def need(cond, what):
    if not cond:
        fails.append(what)
keys = {"t", "method", "path", "status", "range", "bytes", "auth"}
need(all(keys <= set(l) for l in lines), "every line has all keys")
need(all("?" not in l["path"] for l in lines), "no query string logged")
data = [l for l in lines if l["path"] not in ("/_fault", "/_stats")]
need(len(data) == nreq, "one line per request (%d lines, %d requests)" % (len(data), nreq))
need(stats["requests"] == nreq, "/_stats requests %d == %d" % (stats["requests"], nreq))
need(stats["bytes"] == sum(l["bytes"] for l in data), "/_stats bytes == sum of logged bytes")
cdn = [l for l in data if l["path"] == "/cdn/" + sha]
first = cdn[0]
need(first["status"] == 206 and first["range"] == [0, 7] and first["bytes"] == 8, "range 0-7 line: %r" % first)
need(any(l["status"] == 206 and l["range"] == [size - 100, size - 1] and l["bytes"] == 100 for l in cdn), "suffix range line")
need(any(l["status"] == 416 and l["range"] is None and l["bytes"] == 0 for l in cdn), "416 line")
need(any(l["status"] == 200 and l["bytes"] == size and "fault" not in l for l in cdn), "full GET line")
need(any(l["status"] == 400 and l["auth"] is True and l["bytes"] == 32 for l in cdn), "auth to CDN logged as 400")
heads = [l for l in data if l["method"] == "HEAD"]
need(len(heads) == 1 and heads[0]["bytes"] == 0 and heads[0]["status"] == 302, "HEAD line")
faults = [(l.get("fault"), l["status"]) for l in data if "fault" in l]
need(faults == [("503", 503), ("429", 429), ("full200", 200), ("badrange", 206), ("expire", 403),
                ("short", 200), ("reset", 200), ("stall", 206), ("500", 500), ("500", 500)],
     "fault lines %r" % faults)
short = [l for l in data if l.get("fault") == "short"][0]
need(short["bytes"] == size // 2, "short logs half the bytes")
reset = [l for l in data if l.get("fault") == "reset"][0]
need(0 < reset["bytes"] < size, "reset logs partial bytes (%d)" % reset["bytes"])
need([l["range"] for l in data if l.get("fault") == "badrange"] == [[0, 7]], "badrange logs true range")
need([l["bytes"] for l in data if l.get("fault") == "stall"] == [0], "stall logs 0 bytes")
for f in fails:
    print("log check failed:", f)
sys.exit(1 if fails else 0)
EOF
[ $? -eq 0 ] && ok "request log contents" || bad "request log contents"

# --- clean shutdown on SIGTERM ------------------------------------------------------------
kill -TERM "${PIDS[1]}"
for i in $(seq 1 50); do kill -0 "${PIDS[1]}" 2>/dev/null || break; sleep 0.1; done
wait "${PIDS[1]}" 2>/dev/null; rc=$?
check "SIGTERM exits cleanly" 0 "$rc"

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
