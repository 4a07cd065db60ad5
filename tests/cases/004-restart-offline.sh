#!/bin/bash
# After a restart with the origin stopped, everything read before is served
# byte-identical from the store; uncached ranges fail with EIO, promptly and
# without taking the daemon down; offline=yes and HF_HUB_OFFLINE=1 fail
# them at once, with a log line naming the model.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 24M
start_hub
start_daemon -o model=hf://demo/big,block_size=1M,prefetch_window=0
f=$MNT/demo/big/model.safetensors
orig=$(src demo big model.safetensors)

head -c $((3 << 20)) "$f" >"$T/head.1"
dd if="$f" bs=1M skip=10 count=2 status=none >"$T/mid.1"
cat "$MNT/demo/big/config.json" >"$T/config.1"
stop_daemon
stop_hub

# online configuration, origin gone
FETCH_TIMEOUT=2 start_daemon -o prefetch_window=0
head -c $((3 << 20)) "$f" | cmp - "$T/head.1" || fail "head differs after restart"
dd if="$f" bs=1M skip=10 count=2 status=none | cmp - "$T/mid.1" || fail "middle differs"
cmp "$MNT/demo/big/config.json" "$(src demo big config.json)" || fail "config.json"
head -c $((3 << 20)) "$orig" | cmp - "$T/head.1" || fail "head differs from the origin"
ok "cached ranges served with the origin stopped"

start=$(date +%s)
if timeout 30 dd if="$f" bs=1M skip=20 count=1 of=/dev/null status=none 2>"$T/err"; then
	fail "an uncached read succeeded with no origin"
fi
grep -q "Input/output error" "$T/err" || fail "expected EIO, got: $(cat "$T/err")"
[ $(( $(date +%s) - start )) -le 15 ] || fail "EIO took too long"
daemon_alive || fail "daemon died"
head -c 100 "$f" | cmp - <(head -c 100 "$T/head.1") || fail "served after the error"
ok "uncached range: EIO, daemon still serving"
stop_daemon

# offline: no network at all, uncached reads fail at once
start_daemon -o offline=yes
cmp <(head -c $((3 << 20)) "$f") "$T/head.1" || fail "offline head"
start=$(date +%s)
dd if="$f" bs=1M skip=20 count=1 of=/dev/null status=none 2>/dev/null && fail "offline fetched"
[ $(( $(date +%s) - start )) -le 2 ] || fail "offline EIO was slow"
grep -q "offline: block" "$DLOG" || fail "no offline log line"
ok "offline mode serves the cache and fails uncached reads at once"
stop_daemon

# HF_HUB_OFFLINE=1 in the environment, as huggingface_hub has it
n=$(grep -c "offline: block" "$DLOG")
HF_HUB_OFFLINE=1 start_daemon
ctl --json status | "$PY" -c 'import json,sys; assert json.load(sys.stdin)["offline"] is True' ||
	fail "HF_HUB_OFFLINE=1: status says online"
cmp <(head -c $((3 << 20)) "$f") "$T/head.1" || fail "HF_HUB_OFFLINE head"
start=$(date +%s%N)
dd if="$f" bs=1M skip=21 count=1 of=/dev/null status=none 2>"$T/err" && fail "HF_HUB_OFFLINE=1 fetched"
ms=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q "Input/output error" "$T/err" || fail "HF_HUB_OFFLINE=1: want EIO, got: $(cat "$T/err")"
[ "$ms" -lt 1000 ] || fail "HF_HUB_OFFLINE=1: EIO took $ms ms"
[ "$(grep -c "offline: block .* in demo/big is not cached" "$DLOG")" -gt "$n" ] ||
	fail "HF_HUB_OFFLINE=1: no log line naming the model: $(tail -n 3 "$DLOG")"
ok "HF_HUB_OFFLINE=1: cached data served, an uncached read gets EIO in $ms ms, logged with the model"
