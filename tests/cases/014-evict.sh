#!/bin/bash
# The size limit: reading model A then model B with cache_size below both
# evicts A's least recently used blocks, never a pinned model's, and the
# store stays under the limit on disk: B whole, A (not B) evicted. status
# labels both watermarks. evict and rm give space back. Without cache_size
# the limit leaves 10% of the store's filesystem free; with N% it is N% of
# it.
. "$(dirname "$0")/lib.sh"

make_model demo a -- --size 12M
make_model demo b -- --size 12M --seed 2
# pinned p and all of B fit under the low watermark (18 MiB): only A must go
make_model demo p -- --size 4M --seed 3
start_hub
# auto_add off: a lookup of a removed model would register it again
start_daemon -o prefetch_window=0,auto_add=no,block_size=1M,cache_size=20M,model=hf://demo/a,model=hf://demo/b,model=hf://demo/p
limit=$((20 << 20))
disk() { du -s --block-size=1 "$STORE/blobs" | cut -f1; }

ctl pin demo/p >/dev/null || fail "pin"
cat "$MNT/demo/a/model.safetensors" >/dev/null
touch_a_head=$(head -c 100 "$MNT/demo/a/model.safetensors" | od -An -tx1 | head -c 10)
cat "$MNT/demo/b/model.safetensors" >/dev/null
[ "$(disk)" -le "$limit" ] || fail "store holds $(disk) bytes on disk, limit $limit"
# what went is A's: B (read last) is whole, A lost blocks
ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}
a, b = int(sys.argv[1]), int(sys.argv[2])
assert m["demo/b"]["cached"] == b, ("B", m["demo/b"]["cached"], b)
assert m["demo/a"]["cached"] < a, ("A", m["demo/a"]["cached"], a)
print("A keeps %d of %d bytes, B all %d" % (m["demo/a"]["cached"], a, b))' \
	"$(stat -c %s "$(src demo a model.safetensors)")" "$(stat -c %s "$(src demo b model.safetensors)")" \
	>"$T/ab" || fail "after reading B: $(cat "$T/ab")"
cmp "$MNT/demo/b/model.safetensors" "$(src demo b model.safetensors)" || fail "b bytes"
cmp "$MNT/demo/a/model.safetensors" "$(src demo a model.safetensors)" || fail "a bytes after eviction"
[ "$(disk)" -le "$limit" ] || fail "store holds $(disk) bytes after re-reading a"
ctl --json list >"$T/list.json"
"$PY" - "$T/list.json" <<'PYEOF' || fail "pinned model evicted"
import json, sys
m = {x["name"]: x for x in json.load(open(sys.argv[1]))}
assert m["demo/p"]["state"] == "complete", m["demo/p"]
PYEOF
ctl --json status | "$PY" -c '
import json, sys
s = json.load(sys.stdin)
assert s["evictions"] > 0 and s["cached_bytes"] <= s["cache_limit"], s
assert s["low_watermark"] < s["high_watermark"] == 20 << 20, s' || fail "status"
ctl status >"$T/status" || fail "status"
grep -Eq '^limit: +20\.0 MiB$' "$T/status" || fail "status: no limit line: $(cat "$T/status")"
grep -Eq '^high watermark: +20\.0 MiB$' "$T/status" || fail "status: no high watermark line: $(cat "$T/status")"
grep -Eq '^low watermark: +18\.0 MiB$' "$T/status" || fail "status: no low watermark line: $(cat "$T/status")"
ok "A then B within a 20 MiB limit: $(cat "$T/ab"), evicted $(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["evicted_bytes"])') bytes, pinned kept, $(disk) bytes on disk"

# LRU: the block read last survives an eviction of older ones
ctl evict --unpinned >/dev/null
drop_caches
cat "$MNT/demo/a/config.json" "$MNT/demo/b/config.json" >/dev/null
head -c 10 "$MNT/demo/a/model.safetensors" >/dev/null   # a: older
head -c 10 "$MNT/demo/b/model.safetensors" >/dev/null   # b: newer
pinned=$(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["pinned_bytes"])')
# room for the pinned model and one block: the oldest unpinned blocks go
ctl evict --to $(( pinned + (1 << 20) + 4096 )) >/dev/null || fail "evict --to"
drop_caches # else the kernel's page cache answers without asking
n=$(origin_bytes)
head -c 10 "$MNT/demo/b/model.safetensors" >/dev/null
[ "$(origin_bytes)" -eq "$n" ] || fail "the newest block was evicted"
head -c 10 "$MNT/demo/a/model.safetensors" >/dev/null
[ "$(origin_bytes)" -gt "$n" ] || fail "the oldest block was kept"
ok "evict --to drops the least recently used first"

ctl evict demo/b | grep -q "^freed" || fail "evict NAME"
ctl rm demo/a >/dev/null || fail "rm"
[ ! -e "$MNT/demo/a" ] || fail "removed model still in the tree"
[ ! -e "$MNT/hub/models--demo--a" ] || fail "removed model still in hub/"
ctl --json list | "$PY" -c '
import json, sys
names = sorted(x["name"] for x in json.load(sys.stdin))
assert names == ["demo/b", "demo/p"], names' || fail "list after rm"
[ -z "$(find "$STORE/blobs" -name "$(sha "$(src demo a model.safetensors)")")" ] ||
	fail "rm left the blob file"
ctl add hf://demo/a >/dev/null || fail "re-add after rm"
cmp "$MNT/demo/a/config.json" "$(src demo a config.json)" || fail "read after re-add"
ok "evict NAME, rm (tree, hub view, store) and re-add"

# the default limit: what the store holds plus what is free, less 10% of
# its filesystem (a 64 MiB tmpfs, so that nothing else writes there)
stop_daemon
mkdir -p "$T/fs"
mount -t tmpfs -o size=64m aimfs-test "$T/fs" || { echo "SKIP: cannot mount tmpfs"; exit 77; }
at_exit 'umount -l "$T/fs" 2>/dev/null'
# limit_of [OPTS]: the daemon's cache_limit and cached_bytes, and the
# filesystem's size and free bytes, read one after the other
limit_of() {
	STORE=$T/fs/store start_daemon -o prefetch_window=0,block_size=1M,model=hf://demo/a "$@"
	cat "$MNT/demo/a/config.json" >/dev/null
	ctl --json status >"$T/st.json"
	stat -f -c '%b %a %S' "$T/fs" >"$T/statfs"
	"$PY" - "$T/st.json" "$T/statfs" <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
blocks, avail, frsize = map(int, open(sys.argv[2]).read().split())
print(s["cache_limit"], s["cached_bytes"], blocks * frsize, avail * frsize)
PYEOF
	stop_daemon
}
read -r lim used total avail <<LIMEOF
$(limit_of)
LIMEOF
want=$(( used + avail - total / 10 ))
echo "default limit $lim; expected $want (filesystem $total, free $avail, cached $used)"
# the daemon samples the free space up to a second before status
[ "$lim" -le $((want + (1 << 20))) ] && [ "$lim" -ge $((want - (1 << 20))) ] ||
	fail "default cache_size: limit $lim, want $want (10% of $total free)"
deflim=$lim
read -r lim used total avail <<LIMEOF
$(limit_of -o cache_size=50%)
LIMEOF
[ "$lim" -eq $((total / 2)) ] || fail "cache_size=50%: limit $lim of $total"
ok "the default limit leaves 10% of the filesystem free ($deflim for $used cached and $avail free of $total); 50% is half"
