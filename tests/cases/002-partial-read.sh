#!/bin/bash
# Reading the first 8 bytes and the header of a cold safetensors file fetches
# at most one block, in at most two origin round trips (resolve + CDN),
# counted again once the daemon and the fake Hub (which logs a request after
# sending it) have stopped.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 64M
start_hub
start_daemon -o model=hf://demo/big
f=$MNT/demo/big/model.safetensors
before=$(hub_sum count '.')

"$PY" - "$f" "$(src demo big model.safetensors)" <<'PYEOF' || fail "header read"
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    assert 0 < n < 100_000_000, n
    hdr = f.read(n)
with open(sys.argv[2], "rb") as f:
    f.read(8)
    assert f.read(n) == hdr
json.loads(hdr)
PYEOF

bytes=$(origin_bytes)
trips=$(( $(hub_sum count '.') - before ))
echo "header read: $bytes origin bytes in $trips round trips"
[ "$bytes" -le $((4 << 20)) ] || fail "fetched $bytes bytes for the header"
[ "$trips" -le 2 ] || fail "$trips round trips for the header"
ok "header fetched with one block ($bytes bytes), $trips round trips"

ctl --json list | "$PY" -c '
import json, sys
m = json.load(sys.stdin)[0]
assert m["cached"] == 4 << 20 and m["state"] == "partial", m' || fail "list after header"
ok "list shows the small cached fraction"

# the fake Hub logs a request once it has sent it: count again when
# nothing can be in flight (and no read-ahead can still be running)
stop_daemon
stop_hub
[ "$(origin_bytes)" -eq "$bytes" ] || fail "$(origin_bytes) origin bytes in the end, $bytes right after the read"
[ $(( $(hub_sum count '.') - before )) -eq "$trips" ] || fail "more round trips after the read"
ok "the same $bytes bytes and $trips round trips once the daemon and the Hub have stopped"
