#!/bin/bash
# A store on a small filesystem (a 32 MiB tmpfs): a model larger than the
# filesystem reads right (eviction makes room as it goes); when the disk
# fills (with junk) before the store's limit, ENOSPC evicts unpinned blocks
# and the read succeeds; when the disk is full and only pinned data is left, a read gets EIO and a clear log line,
# the pinned model stays whole and verified, and once space comes back
# reads work again; when the disk is full to the last byte, blocks whose
# index rows SQLite cannot drop keep their bytes, a restart verifies
# clean, and rm is refused in one line or done whole.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 48M
make_model demo pin -- --size 6M --seed 5
mkdir -p "$T/small"
mount -t tmpfs -o size=32m aimfs-test "$T/small" || { echo "SKIP: cannot mount tmpfs"; exit 77; }
at_exit 'umount -l "$T/small" 2>/dev/null'
STORE=$T/small/store
start_hub
start_daemon -o block_size=1M,model=hf://demo/big,model=hf://demo/pin
ctl pin demo/pin >/dev/null || fail "pin"

cmp "$MNT/demo/big/model.safetensors" "$(src demo big model.safetensors)" ||
	fail "a model larger than the filesystem"
used=$(du -s --block-size=1 "$STORE/blobs" | cut -f1)
[ "$used" -le $((32 << 20)) ] || fail "store uses $used bytes"
ok "a 48 MiB model reads right from a store on a 32 MiB filesystem ($used bytes used)"

# the disk fills before the limit does: with cache_size=30M and 14 MiB
# held, junk takes every free byte of the filesystem; new blocks get
# ENOSPC, unpinned blocks are evicted to make room, and the reads succeed
stop_daemon
start_daemon -o block_size=1M,cache_size=30M,prefetch_window=0 # one fetch at a time
ctl evict --to 14M >/dev/null || fail "evict --to 14M"
drop_caches
full_before=$(grep -c "store full" "$DLOG")
ix_before=$(grep -c "index: " "$DLOG")
# every free byte but 256 KiB: less than a block, and room for the
# index's journal (SQLite cannot delete a row on a disk with 0 bytes free)
dd if=/dev/zero of="$T/small/junk" bs=1M status=none 2>/dev/null
truncate -s -256K "$T/small/junk"
free=$(( $(stat -f -c '%a * %S' "$T/small") ))
[ "$free" -le $((256 << 10)) ] || fail "the filesystem has $free bytes free"
used=$(ctl --json status | "$PY" -c 'import json, sys; s = json.load(sys.stdin); print(s["cached_bytes"] if s["cache_limit"] == 30 << 20 else -1)')
[ "$used" -ge 0 ] && [ "$used" -le $((14 << 20)) ] || fail "the store holds $used bytes (-1: the limit is not 30M), want at most 14 MiB"
dd if="$MNT/demo/big/model.safetensors" bs=1M count=4 of="$T/blk" status=none 2>"$T/err" ||
	fail "a read with evictable data on a full disk: $(cat "$T/err")"
dd if="$(src demo big model.safetensors)" bs=1M count=4 status=none | cmp - "$T/blk" ||
	fail "wrong bytes after making room"
grep -q "disk full before the store's limit: evicted [0-9]* bytes for block" "$DLOG" ||
	fail "no log line for the eviction on ENOSPC"
[ "$(grep -c "store full" "$DLOG")" -eq "$full_before" ] || fail "a 'store full' line: $(grep "store full" "$DLOG" | tail -n1)"
[ "$(grep -c "index: " "$DLOG")" -eq "$ix_before" ] || fail "an index error: $(grep "index: " "$DLOG" | tail -n1)"
cmp "$MNT/demo/pin/model.safetensors" "$(src demo pin model.safetensors)" || fail "pinned model after ENOSPC"
ctl verify >/dev/null || fail "verify after ENOSPC"
daemon_alive || fail "daemon died"
ok "disk full under the limit: ENOSPC evicted unpinned blocks, 4 new blocks read right, index verified"
rm -f "$T/small/junk"
stop_daemon
start_daemon -o block_size=1M

# fill the disk with something else, leave only pinned data in the store
ctl evict --unpinned >/dev/null
dd if=/dev/zero of="$T/small/junk" bs=1M status=none 2>/dev/null
drop_caches
dd if="$MNT/demo/big/model.safetensors" bs=1M skip=20 count=1 of=/dev/null status=none 2>"$T/err" &&
	fail "a read succeeded on a full disk"
grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
grep -q "store full: no room for block [0-9]* of 'model.safetensors' in demo/big (" "$DLOG" ||
	fail "no log line naming the file and model for the full store"
daemon_alive || fail "daemon died"
cmp "$MNT/demo/pin/model.safetensors" "$(src demo pin model.safetensors)" || fail "pinned model"
ctl verify demo/pin >/dev/null || fail "verify after the full disk"
ok "full disk with only pinned data: EIO and a clear log line; the pinned model is whole and verified"

rm -f "$T/small/junk"
wait_for 10 'dd if="$MNT/demo/big/model.safetensors" bs=1M skip=20 count=1 of="$T/blk" status=none 2>/dev/null' ||
	fail "reads did not resume after space came back"
dd if="$(src demo big model.safetensors)" bs=1M skip=20 count=1 status=none | cmp - "$T/blk" || fail "bytes after"

# the disk full to its last byte with unpinned blocks in the store: SQLite
# has no room to drop their rows, so they keep their bytes (a row never
# names a hole) and the read gets EIO; if a row can go, its block goes
# and the read succeeds. Either way a restart verifies clean (below).
stop_daemon
start_daemon -o block_size=1M,prefetch_window=0
dd if="$MNT/demo/big/model.safetensors" bs=1M skip=30 count=4 of=/dev/null status=none ||
	fail "reading blocks 30-33"
rows() { # blocks 30-33 of big recorded in the index
	"$PY" -c 'import sqlite3, sys
d = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
print(d.execute("SELECT count(*) FROM blocks WHERE idx BETWEEN 30 AND 33 AND len = 1048576").fetchone()[0])' "$STORE/index.db"
}
wait_for 10 '[ "$(rows)" -ge 4 ]' || fail "blocks 30-33 are not in the index"
dd if=/dev/zero of="$T/small/junk" bs=1M status=none 2>/dev/null
dd if=/dev/zero of="$T/small/junk2" bs=4k status=none 2>/dev/null
drop_caches
if dd if="$MNT/demo/big/model.safetensors" bs=1M skip=10 count=1 of="$T/blk" status=none 2>"$T/err"; then
	dd if="$(src demo big model.safetensors)" bs=1M skip=10 count=1 status=none | cmp - "$T/blk" ||
		fail "wrong bytes on a full disk"
	how="a row could go: the read succeeded"
else
	grep -q "Input/output error" "$T/err" || fail "want EIO: $(cat "$T/err")"
	grep -q "cannot evict block [0-9]* of 'model.safetensors' in demo/big: the index cannot drop its row" "$DLOG" ||
		fail "no log line for the block that could not be evicted"
	# the blocks that stayed are whole
	dd if="$MNT/demo/big/model.safetensors" bs=1M skip=30 count=4 of="$T/blk" status=none ||
		fail "blocks 30-33 after the full disk"
	dd if="$(src demo big model.safetensors)" bs=1M skip=30 count=4 status=none | cmp - "$T/blk" ||
		fail "wrong bytes in blocks 30-33"
	how="EIO, and the blocks that could not be evicted are whole"
fi
daemon_alive || fail "daemon died"
rm -f "$T/small/junk" "$T/small/junk2"
ok "disk full to the last byte with unpinned blocks: $how"
stop_daemon
# the index is consistent: a restart serves the pinned model offline
start_daemon -o offline=yes
cmp "$MNT/demo/pin/model.safetensors" "$(src demo pin model.safetensors)" || fail "pinned after restart"
ctl verify >/dev/null || fail "verify after restart"
ok "space back: reads resume; the index is consistent across a restart"

# removing a model on a disk full to the last byte needs the index too:
# refused in one line with the model kept, or done whole
dd if=/dev/zero of="$T/small/junk" bs=1M status=none 2>/dev/null
dd if=/dev/zero of="$T/small/junk2" bs=4k status=none 2>/dev/null
if ctl rm demo/big >/dev/null 2>"$T/err"; then
	how="done"
else
	[ "$(wc -l <"$T/err")" -eq 1 ] && grep -q "cannot remove 'demo/big' from the index" "$T/err" ||
		fail "rm on a full disk: $(cat "$T/err")"
	ctl list | grep -q "demo/big" && [ -f "$MNT/demo/big/model.safetensors" ] ||
		fail "demo/big is gone after a refused rm"
	how="refused in one line, the model stays"
fi
rm -f "$T/small/junk" "$T/small/junk2"
stop_daemon
start_daemon -o offline=yes
ctl verify >/dev/null || fail "verify after rm on a full disk"
if [ "$how" = done ]; then
	ctl list | grep -q "demo/big" && fail "demo/big is back after its rm"
else
	ctl list | grep -q "demo/big" || fail "demo/big is gone after a refused rm and a restart"
fi
ok "rm on a full disk: $how; after a restart the index verifies"
stop_daemon
