#!/bin/bash
# Origin faults on s3://, injected by the SigV4-checking proxy: 500, 503
# and 429 (both with Retry-After: 1), a reset mid-body and a short body.
# Each fires once (the proxy's log says so) and the read returns the right
# bytes after a retry; an endless 503 gives EIO within the bound and a log
# line, and once the faults stop the same file is served again; the
# daemon stays up and the whole file is right at the end.
. "$(dirname "$0")/lib.sh"

make_model org faulty -- --size 40M
start_s3
s3put mkbucket models >/dev/null || fail "mkbucket"
s3put putdir models zoo/org/faulty "$T/repos/org/faulty/main" >/dev/null || fail "putdir"
export AWS_ENDPOINT_URL=$S3 AWS_ACCESS_KEY_ID=$S3_AK AWS_SECRET_ACCESS_KEY=$S3_SK
# no read-ahead: each check must be the only fetch of its block
FETCH_TIMEOUT=8 start_daemon -o block_size=1M,prefetch_window=0
ctl add s3://models/zoo/org/faulty >/dev/null || fail "add"
f=$MNT/org/faulty/model.safetensors
orig=$(src org faulty model.safetensors)

s3_fault() {
	curl -fsS -X POST -d "$1" "$S3/_fault" >/dev/null || fail "cannot queue fault $1"
}
# fault_count KIND: requests the proxy answered with an injected KIND
fault_count() { "$PY" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("fault") == sys.argv[2]))' "$S3LOG" "$1"; }
blk=0
# read_block: the next block (uncached), compared with the origin's bytes
read_block() {
	dd if="$f" bs=1M skip=$blk count=1 status=none 2>"$T/err" >"$T/got" || return 1
	dd if="$orig" bs=1M skip=$blk count=1 status=none | cmp -s - "$T/got" ||
		fail "WRONG BYTES in block $blk"
	blk=$((blk + 3)) # past what kernel readahead fetched
}

for kind in 500 503 429 reset short; do
	before=$(fault_count "$kind")
	s3_fault "{\"kind\": \"$kind\", \"match\": \"model.safetensors\"}"
	start=$(date +%s%N)
	read_block || fail "$kind: read failed: $(cat "$T/err")"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$(fault_count "$kind")" -eq $((before + 1)) ] ||
		fail "$kind fired $(( $(fault_count "$kind") - before )) times, want once"
	[ "$(curl -fsS "$S3/_fault")" = "[]" ] || fail "$kind: faults left: $(curl -sS "$S3/_fault")"
	case $kind in
	503 | 429) [ "$ms" -ge 1000 ] || fail "$kind with Retry-After: 1 retried after $ms ms" ;;
	esac
	ok "$kind: fired once, right bytes after a retry ($ms ms)"
done

# a fault that never ends: EIO within the bound, a log line, no wrong byte
before=$(fault_count 503)
s3_fault '{"kind": "503", "count": 1000, "match": "model.safetensors"}'
start=$(date +%s%N)
read_block && fail "a read through endless 503s succeeded"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
# fetch_timeout 8 s, and the kernel's re-read of the failed block gets a
# quarter of that (2 s) on top
[ "$ms" -le 12000 ] || fail "EIO after $ms ms (fetch_timeout 8 s)"
[ "$(fault_count 503)" -ge $((before + 3)) ] || fail "endless 503: only $(( $(fault_count 503) - before )) retries"
grep -q "s3://models/zoo/org/faulty/model.safetensors: HTTP 503" "$DLOG" || fail "no log line for the failed fetch"
curl -fsS -X POST -d '{"kind": "clear"}' "$S3/_fault" >/dev/null
[ "$(curl -fsS "$S3/_fault")" = "[]" ] || fail "faults left after clear"
blk=$((blk + 3))
start=$(date +%s%N)
read_block || fail "after the faults: $(cat "$T/err")"
ms2=$(( ($(date +%s%N) - start) / 1000000 ))
ok "endless 503: EIO after $ms ms (fetch_timeout=8); served again $ms2 ms after the faults stop"

cmp "$f" "$orig" || fail "the whole file after the faults"
daemon_alive || fail "daemon died"
# the checker saw every request signed, faulted ones included
"$PY" -c '
import json, sys
r = [d for d in map(json.loads, open(sys.argv[1])) if not d["path"].startswith("/_")]  # not /_fault
assert all(d["signed"] and d["verified"] for d in r), [d for d in r if not d["verified"]][:3]
' "$S3LOG" || fail "unverified S3 requests"
ok "the whole file is right after every fault; every request was verified"
