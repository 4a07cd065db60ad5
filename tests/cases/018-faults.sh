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

for kind in 500 502 503 reset short full200 badrange; do
	hub_fault "{\"kind\": \"$kind\", \"match\": \"/cdn/\"}"
	start=$(date +%s%N)
	read_block || fail "$kind: read failed: $(cat "$T/err")"
	ms=$(( ($(date +%s%N) - start) / 1000000 ))
	ok "$kind: right bytes after a retry ($ms ms)"
done

hub_fault '{"kind": "429", "match": "/cdn/"}'
start=$(date +%s%N)
read_block || fail "429: $(cat "$T/err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -ge 1000 ] || fail "429 with Retry-After: 1 was retried after $ms ms"
ok "429: Retry-After honoured (${ms} ms), right bytes"

hub_fault '{"kind": "stall", "match": "/cdn/"}'
start=$(date +%s%N)
read_block || fail "stall: $(cat "$T/err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
ok "stalled body: abandoned and retried ($ms ms), right bytes"

resolves=$(hub_sum count '/resolve/')
hub_fault '{"kind": "expire", "match": "/cdn/"}'
read_block || fail "expire: $(cat "$T/err")"
[ "$(hub_sum count '/resolve/')" -eq $((resolves + 1)) ] || fail "the expired URL was not resolved again"
ok "an expired CDN URL (403) is resolved again once"

# a fault that never ends: EIO within the bound, then normal service
hub_fault '{"kind": "503", "count": 1000, "match": "/cdn/"}'
start=$(date +%s%N)
read_block && fail "a read through endless 503s succeeded"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$ms" -le 12000 ] || fail "EIO after $ms ms (fetch_timeout 8 s)"
hub_fault '{"kind": "clear"}'
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
