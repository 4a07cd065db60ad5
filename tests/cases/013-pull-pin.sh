#!/bin/bash
# pull and pin: a pulled model is complete and served with the origin
# stopped; reads during a running pull do not wait for it; a pull killed
# halfway resumes and fetches only the missing blocks; pin refuses what
# would pass the size limit; pinned models cannot be evicted.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 48M
make_model demo small -- --size 2M --seed 2
start_hub --rate 8M
start_daemon -o block_size=1M,model=hf://demo/big
f=$MNT/demo/big/model.safetensors
orig=$(src demo big model.safetensors)
size=$(stat -c %s "$orig")

# reads jump the queue: a running pull (4 x 8 MB/s) does not delay them
ctl pull demo/big >"$T/pull.out" 2>"$T/pull.err" &
puller=$!
wait_for 10 '[ "$(origin_bytes)" -gt $((2 << 20)) ]' || fail "pull did not start"
start=$(date +%s%N)
dd if="$f" bs=1M skip=46 count=1 status=none | cmp - <(dd if="$orig" bs=1M skip=46 count=1 status=none) ||
	fail "read during the pull"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
kill -0 "$puller" 2>/dev/null || fail "the pull ended before the read: make the model bigger"
[ "$ms" -lt 1500 ] || fail "a read during the pull took $ms ms"
ok "a read during a running pull took $ms ms and returned the right bytes"
wait "$puller" || fail "pull failed: $(cat "$T/pull.err")"
grep -q "^demo/big: pulled, complete$" "$T/pull.out" || fail "pull output: $(cat "$T/pull.out")"
[ ! -s "$T/pull.err" ] || fail "progress on a non-tty: $(cat "$T/pull.err")"
ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}["demo/big"]
assert m["state"] == "complete" and m["cached"] == m["size"], m' || fail "list after pull"
[ "$(origin_bytes)" -le $((size + 600000)) ] || fail "pulled $(origin_bytes) bytes for $size"
ok "pull: complete, each byte fetched once, one final line off a terminal"

# pin: pulled in full, never evicted, survives a restart with no origin
ctl pin hf://demo/small >/dev/null || fail "pin by URI"
ctl evict demo/small 2>"$T/err" && fail "evicting a pinned model worked"
grep -q "is pinned: unpin it first" "$T/err" || fail "evict pinned: $(cat "$T/err")"
ctl evict --unpinned >/dev/null || fail "evict --unpinned"
ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}
assert m["demo/small"]["pinned"] and m["demo/small"]["state"] == "complete", m
assert m["demo/big"]["cached"] == 0, m["demo/big"]' || fail "evict --unpinned touched the pinned model"
ok "pin pulls in full; evict refuses it and --unpinned leaves it"
stop_daemon
stop_hub
start_daemon -o offline=yes
for p in config.json tokenizer.json model.safetensors; do
	cmp "$MNT/demo/small/$p" "$(src demo small "$p")" || fail "$p after restart offline"
done
ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}["demo/small"]
assert m["pinned"], m' || fail "pin lost on restart"
ok "pinned model served in full after a restart, offline"
stop_daemon

# a pull killed halfway resumes: only the missing blocks are fetched
start_hub --rate 8M
start_daemon
base=$(origin_bytes)
ctl pull demo/big >/dev/null 2>&1 &
wait_for 20 '[ "$(origin_bytes)" -gt $((base + (12 << 20))) ]' || fail "second pull did not start"
kill -9 "$DPID"
wait "$DPID" 2>/dev/null
DPID=
before=$(origin_bytes)
got=$(( before - base ))
start_daemon
ctl pull demo/big >/dev/null 2>"$T/resume.err" || fail "resumed pull: $(cat "$T/resume.err")"
second=$(( $(origin_bytes) - before ))
echo "first pull got $got bytes before the kill; the resumed pull fetched $second"
total=$(ctl --json list | "$PY" -c '
import json, sys
print({x["name"]: x for x in json.load(sys.stdin)}["demo/big"]["size"])')
# at most the 4 blocks in flight at the kill are fetched twice
[ $((got + second)) -le $((total + (4 << 20))) ] ||
	fail "resume fetched $second bytes after $got (model $total)"
[ "$second" -lt "$size" ] || fail "resume fetched everything again"
cmp "$f" "$orig" || fail "bytes after resume"
ok "a pull killed halfway resumes and fetches only what is missing"

# pin refuses what would not fit
stop_daemon
start_daemon -o cache_size=16M
ctl pin demo/big 2>"$T/err" && fail "pin over the limit worked"
grep -q "cannot pin 'demo/big': pinned models would need" "$T/err" || fail "pin refusal: $(cat "$T/err")"
ok "pin refuses data that would pass the size limit"
