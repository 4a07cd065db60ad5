#!/bin/bash
# Read-ahead: a sequential reader of a cold file is served by parallel
# range requests (the CDN caps each connection, so one connection would
# be slow), every byte is fetched once, and random reads fetch no more
# than they read.
. "$(dirname "$0")/lib.sh"

make_model demo seq -- --size 32M
make_model demo rnd -- --size 32M --seed 4
start_hub --rate 8M # per connection: one at a time would take 4 s
start_daemon -o block_size=1M,model=hf://demo/seq,model=hf://demo/rnd
f=$MNT/demo/seq/model.safetensors
size=$(stat -c %s "$(src demo seq model.safetensors)")

start=$(date +%s%N)
cmp "$f" "$(src demo seq model.safetensors)" || fail "sequential read"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
got=$(hub_sum bytes '^/cdn/')
echo "32 MiB at 8 MB/s per connection: ${ms} ms, $got bytes from the origin"
[ "$ms" -lt 2000 ] || fail "a sequential cold read took $ms ms (one connection: ~4000)"
[ "$got" -eq "$size" ] || fail "fetched $got bytes for $size"
"$PY" - "$HUBLOG" <<'PYEOF' || fail "no parallel fetches"
import json, sys
# the most requests in flight at once, from their end times and durations
ends = [d["t"] for d in map(json.loads, open(sys.argv[1])) if d["path"].startswith("/cdn/")]
ends.sort()
busiest = max(sum(1 for e in ends if t <= e < t + 0.125) for t in ends)
assert busiest >= 4, busiest
PYEOF
ok "sequential cold read: ${ms} ms with parallel ranges, each byte fetched once"

# random reads: no read-ahead window
r=$MNT/demo/rnd/model.safetensors
for off in 5 17 29; do
	dd if="$r" bs=4K skip=$((off * 256 + 7)) count=1 of=/dev/null status=none
done
got=$(( $(hub_sum bytes '^/cdn/') - size ))
[ "$got" -le $((3 << 20)) ] || fail "three random reads fetched $got bytes"
ok "three random 4 KiB reads fetched $got bytes (at most a block each)"
