#!/bin/bash
# A block altered on disk is caught by its checksum, never served, fetched
# again, and logged.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 8M
start_hub
start_daemon -o model=hf://demo/big,block_size=1M
f=$MNT/demo/big/model.safetensors
orig=$(src demo big model.safetensors)
cat "$f" >/dev/null
stop_daemon

blob=$(find "$STORE/blobs" -type f -size +4M)
[ -n "$blob" ] || fail "no blob file"
# flip one byte in block 3
printf '\xff' | dd of="$blob" bs=1 seek=$(( (3 << 20) + 12345 )) conv=notrunc status=none
before=$(origin_bytes)
start_daemon
cmp "$f" "$orig" || fail "corrupted bytes were served"
got=$(( $(origin_bytes) - before ))
[ "$got" -eq $((1 << 20)) ] || fail "re-fetched $got bytes, want one block"
grep -q "block 3 of 'model.safetensors' in demo/big failed its check (checksum mismatch)" "$DLOG" ||
	fail "no log line for the bad block"
ok "bad block detected, re-fetched (one block), logged"
