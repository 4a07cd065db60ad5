#!/bin/bash
# Origin faults, injected by the fake Hub: 500/502/503, 429 with
# Retry-After, a reset mid-body, a short body, a 200 with the whole file in
# answer to a Range, a stalled connection, an expired CDN URL (403: resolve
# again), a wrong Content-Range. Each read returns the right bytes after
# retries, or EIO within the bound; never wrong bytes; the daemon stays up.
. "$(dirname "$0")/lib.sh"

make_model demo f -- --size 48M
start_hub
# no read-ahead: each check must be the only fetch of its block
FETCH_TIMEOUT=8 start_daemon -o block_size=1M,prefetch_window=0,model=hf://demo/f
f=$MNT/demo/f/model.safetensors
orig=$(src demo f model.safetensors)
blk=0
# read_block: the next block (uncached), compared with the origin's bytes
read_block() {
	dd if="$f" bs=1M skip=$blk count=1 status=none 2>"$T/err" >"$T/got" || return 1
	dd if="$orig" bs=1M skip=$blk count=1 status=none | cmp -s - "$T/got" ||
		fail "WRONG BYTES in block $blk"
	blk=$((blk + 3)) # past what kernel readahead fetched
}
head -c 10 "$f" >/dev/null # the CDN URL is resolved once
blk=3
# fired KIND: the hub logged the injected KIND once more than before the
# read (FIRED holds the count), and no fault is left queued
FIRED=0
fault_count() { "$PY" -c '
import json, sys
print(sum(1 for l in open(sys.argv[1]) if json.loads(l).get("fault") == sys.argv[2]))' "$HUBLOG" "$1"; }
fired() {
	local n
	n=$(fault_count "$1")
	[ "$n" -eq $((FIRED + 1)) ] || fail "$1: the fault fired $((n - FIRED)) times, want once"
	[ "$(curl -fsS "$HUB/_fault")" = "[]" ] || fail "$1: faults left queued: $(curl -sS "$HUB/_fault")"
}

for kind in 500 502 503 reset short full200 badrange; do
	FIRED=$(fault_count "$kind")
	hub_fault "{\"kind\": \"$kind\", \"match\": \"/cdn/\"}"
	start=$(date +%s%N)
	read_block || fail "$kind: read failed: $(cat "$T/err")"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	fired "$kind"
	ok "$kind: fired once, right bytes after a retry ($ms ms)"
done

FIRED=$(fault_count 429)
hub_fault '{"kind": "429", "match": "/cdn/"}'
start=$(date +%s%N)
read_block || fail "429: $(cat "$T/err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
fired 429
[ "$ms" -ge 1000 ] || fail "429 with Retry-After: 1 was retried after $ms ms"
ok "429: Retry-After honoured (${ms} ms), right bytes"

FIRED=$(fault_count stall)
hub_fault '{"kind": "stall", "match": "/cdn/"}'
start=$(date +%s%N)
read_block || fail "stall: $(cat "$T/err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
fired stall
# no byte for a third of fetch_timeout (8 s) is a stall: well under 5 s
[ "$ms" -lt 5000 ] || fail "the stall held the read for $ms ms"
ok "stalled body: abandoned and retried ($ms ms), right bytes"

resolves=$(hub_sum count '/resolve/')
FIRED=$(fault_count expire)
hub_fault '{"kind": "expire", "match": "/cdn/"}'
read_block || fail "expire: $(cat "$T/err")"
fired expire
[ "$(hub_sum count '/resolve/')" -eq $((resolves + 1)) ] || fail "the expired URL was not resolved again"
ok "an expired CDN URL (403) is resolved again once"

# a fault that never ends: EIO within the bound, then normal service
FIRED=$(fault_count 503)
hub_fault '{"kind": "503", "count": 1000, "match": "/cdn/"}'
start=$(date +%s%N)
read_block && fail "a read through endless 503s succeeded"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -le 12000 ] || fail "EIO after $ms ms (fetch_timeout 8 s)"
[ "$(fault_count 503)" -ge $((FIRED + 5)) ] || fail "endless 503: only $(($(fault_count 503) - FIRED)) fired"
hub_fault '{"kind": "clear"}'
[ "$(curl -fsS "$HUB/_fault")" = "[]" ] || fail "the fault queue is not empty after clear"
read_block || fail "after the faults: $(cat "$T/err")"
ok "endless 503: EIO after $ms ms (fetch_timeout=8), then served again"

# backoff is spread out (jitter): attempts are not evenly spaced
"$PY" - "$HUBLOG" <<'PYEOF' || fail "retries without backoff"
import json, sys
t = [d["t"] for d in map(json.loads, open(sys.argv[1])) if d.get("fault") == "503"]
gaps = [b - a for a, b in zip(t, t[1:])]
# (two readers may retry side by side: look at the spread, not the order)
assert len(gaps) >= 5, gaps
assert max(gaps) >= 1.0 and min(gaps) < 0.5, gaps  # grows to seconds
assert len({round(g, 2) for g in gaps}) > 3, gaps  # not a fixed step
PYEOF
ok "retries back off with jitter"

cmp "$f" "$orig" || fail "the whole file after the faults"
daemon_alive || fail "daemon died"
ok "the whole file is right after every fault"
