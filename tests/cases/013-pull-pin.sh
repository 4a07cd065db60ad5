#!/bin/bash
# pull and pin: a pulled model is complete and served with the origin
# stopped; reads during a running pull do not wait for it; a pull killed
# halfway resumes and fetches only the missing blocks; pin refuses what
# would pass the size limit; pinned models cannot be evicted, unpinned ones
# can; on a terminal pull draws a progress line per model; pull --store
# works with no daemon and refuses a store a daemon holds.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 48M
make_model demo small -- --size 2M --seed 2
make_model demo t1 -- --size 24M --seed 11
make_model demo t2 -- --size 24M --seed 12
make_model demo t3 -- --size 4M --seed 13
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

ctl unpin demo/small >"$T/unpin.out" || fail "unpin"
grep -qx "demo/small: unpinned" "$T/unpin.out" || fail "unpin output: $(cat "$T/unpin.out")"
ctl evict demo/small | grep -q "^freed" || fail "evict after unpin"
ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}["demo/small"]
assert not m["pinned"] and m["cached"] == 0, m' || fail "list after unpin and evict"
ok "unpin: pinned false in list --json, and evict frees the model"
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
# the Hub logs a transfer when it ends: let the cut ones land in the log
wait_for 5 'a=$(origin_bytes); sleep 0.2; [ "$a" -eq "$(origin_bytes)" ]'
before=$(origin_bytes)
got=$(( before - base ))
start_daemon
read -r total cached <<LISTEOF
$(ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}["demo/big"]
print(m["size"], m["cached"])')
LISTEOF
[ "$cached" -gt 0 ] && [ "$cached" -lt "$total" ] || fail "after the kill $cached of $total bytes are cached"
ctl --json status | "$PY" -c 'import json,sys; assert json.load(sys.stdin)["pinned_bytes"] == 0' ||
	fail "unpinned demo/small is pinned again after a restart"
ctl pull demo/big >/dev/null 2>"$T/resume.err" || fail "resumed pull: $(cat "$T/resume.err")"
second=$(( $(origin_bytes) - before ))
missing=$(( total - cached ))
echo "first pull got $got bytes before the kill, $cached were cached; the resumed pull fetched $second of the $missing missing"
# what the index does not hold, no more (give or take a block). What the
# kill lost (got - cached: the blocks in flight, and those fetched but not
# yet synced and recorded by the committer) depends on fsync latency, so
# it is not bounded here.
[ "$second" -ge "$missing" ] && [ "$second" -le $((missing + (1 << 20))) ] ||
	fail "resume fetched $second bytes, $missing were missing (model $total)"
[ "$cached" -le "$got" ] || fail "the index holds $cached bytes, only $got were fetched"
cmp "$f" "$orig" || fail "bytes after resume"
ok "a pull killed halfway resumes and fetches only what is missing"

# pin refuses what would not fit
stop_daemon
start_daemon -o cache_size=16M
ctl pin demo/big 2>"$T/err" && fail "pin over the limit worked"
grep -q "cannot pin 'demo/big': pinned models would need" "$T/err" || fail "pin refusal: $(cat "$T/err")"
ok "pin refuses data that would pass the size limit"

# on a terminal: one progress line per model, redrawn with \r (bytes, rate,
# ETA) and ended once; then the final line per model
stop_daemon
start_daemon
script -qec "$CTL_BIN --socket $SOCK pull hf://demo/t1 hf://demo/t2" /dev/null \
	</dev/null >"$T/tty.out" 2>&1 || fail "pull on a tty: $(tr '\r' '\n' <"$T/tty.out" | tail -n 3)"
draws=$("$PY" - "$T/tty.out" <<'PYEOF'
import re, sys
out = open(sys.argv[1], "rb").read().decode()
lines = out.replace("\r\n", "\n").split("\n")
assert lines[-1] == "", repr(lines[-1])  # ends with a newline
lines = lines[:-1]
assert len(lines) == 4, lines
counts = []
for name, line in zip(("demo/t1", "demo/t2"), lines[:2]):
    draws = [d for d in line.split("\r") if d]
    assert len(draws) >= 2, (name, draws)  # redrawn, not printed once
    pat = (r"^\x1b\[K" + re.escape(name) +
           r" +\[[#.]{24}\] +[0-9.]+%  [0-9.]+ (B|KiB|MiB) / 24\.[0-9] MiB"
           r"  [0-9.]+ (B|KiB|MiB)/s  ETA ([0-9]+:[0-9]{2}:[0-9]{2}|--:--)$")
    for d in draws:
        assert re.match(pat, d), (name, d)
    assert "100.0%" in draws[-1] and "#" * 24 in draws[-1], draws[-1]
    assert any(re.search(r" [1-9][0-9.]* (KiB|MiB)/s  ETA [0-9]", d) for d in draws[:-1]), \
        (name, "no rate and ETA while running", draws)
    counts.append(str(len(draws)))
assert lines[2:] == ["hf://demo/t1: pulled, complete",
                     "hf://demo/t2: pulled, complete"], lines[2:]
print(" and ".join(counts))
PYEOF
) || fail "progress on a tty: $draws $(cat -A "$T/tty.out" | head -c 3000)"
ok "pull on a terminal: a progress line per model redrawn $draws times with bytes, rate and ETA, one final line each"

# pull --store: refused while a daemon holds the store, works without one
"$CTL_BIN" --store "$STORE" pull demo/big >/dev/null 2>"$T/err" && fail "pull --store on a held store worked"
grep -qx "aimfs-ctl: store '$STORE' is in use by another aimfs process (pid $DPID)" "$T/err" ||
	fail "pull --store on a held store: $(cat "$T/err")"
stop_daemon
n=$(origin_bytes)
HF_ENDPOINT=$HUB "$CTL_BIN" --store "$STORE" pull hf://demo/t3 >"$T/store.out" 2>"$T/err" ||
	fail "pull --store with no daemon: $(cat "$T/err")"
grep -qx "hf://demo/t3: pulled, complete" "$T/store.out" || fail "pull --store output: $(cat "$T/store.out")"
t3=0
for p in config.json tokenizer.json model.safetensors; do
	t3=$(( t3 + $(stat -c %s "$(src demo t3 "$p")") ))
done
[ $(( $(origin_bytes) - n )) -eq "$t3" ] || fail "pull --store fetched $(( $(origin_bytes) - n )) bytes for $t3"
stop_hub
start_daemon -o offline=yes
for p in config.json tokenizer.json model.safetensors; do
	cmp "$MNT/demo/t3/$p" "$(src demo t3 "$p")" || fail "$p pulled with --store, read offline"
done
ok "pull --store: refused with the holder's pid while a daemon runs; with none it fetched $t3 bytes, served offline"
