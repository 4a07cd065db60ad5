#!/bin/bash
# An origin that fails mid-body or dies gives EIO after bounded retries, not
# a hang or a crash; the daemon keeps serving, and a recovered origin is
# used again.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 24M
# 8 MB/s: a long read is still running when the origin is killed
start_hub --rate 8M
FETCH_TIMEOUT=3 start_daemon -o model=hf://demo/big,block_size=1M,prefetch_window=0
f=$MNT/demo/big/model.safetensors
orig=$(src demo big model.safetensors)

head -c 1000 "$f" | cmp - <(head -c 1000 "$orig") || fail "first read"

# every answer cut off mid-body for a while
hub_fault '{"kind": "reset", "count": 1000}'
start=$(date +%s)
timeout 60 dd if="$f" bs=1M skip=5 count=1 of=/dev/null status=none 2>"$T/err" &&
	fail "read succeeded through resets"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
[ $(( $(date +%s) - start )) -le 20 ] || fail "EIO took $(( $(date +%s) - start )) s"
daemon_alive || fail "daemon died on resets"
grep -q "cannot fetch block 5" "$DLOG" || fail "no log line for the failed fetch"
ok "connection resets: EIO within the retry bound"

hub_fault '{"kind": "clear"}'
dd if="$f" bs=1M skip=5 count=1 status=none | cmp - <(dd if="$orig" bs=1M skip=5 count=1 status=none) ||
	fail "read after recovery"
ok "recovered origin serves again"

# the origin process dies while a long read is running
dd if="$f" of="$T/partial" bs=1M skip=8 status=none 2>"$T/err2" &
reader=$!
wait_for 10 '[ "$(origin_bytes)" -gt $((8 << 20)) ]' || fail "read did not start"
kill -9 "$HUB_PID"
HUB_PID=
wait_for 40 '! kill -0 $reader 2>/dev/null' || fail "reader hangs after the origin died"
wait "$reader" && fail "read past the origin's death succeeded"
daemon_alive || fail "daemon died with the origin"
# whatever the reader got before the error is right
cmp "$T/partial" <(dd if="$orig" bs=1M skip=8 status=none | head -c "$(stat -c %s "$T/partial")") ||
	fail "bytes before the error are wrong"
head -c 1000 "$f" | cmp - <(head -c 1000 "$orig") || fail "cached data after the origin died"
ok "origin killed mid-read: EIO, right bytes before it, daemon up"
