#!/bin/bash
# verify finds a block corrupted on disk, drops it, and the next read
# fetches it again; export then import into a fresh store gives a model an
# offline mount serves byte-identical.
. "$(dirname "$0")/lib.sh"

make_model demo m -- --size 8M --nested
start_hub
start_daemon -o block_size=1M,model=hf://demo/m
ctl pull demo/m >/dev/null || fail "pull"
ctl --json verify demo/m >"$T/v0.json"; ctl verify demo/m >"$T/v0" || fail "verify of a good model: $(cat "$T/v0")"
[ "$(grep -c '^ok ' "$T/v0")" = 5 ] || fail "verify report: $(cat "$T/v0")"
ok "verify: every file ok"

blob=$STORE/blobs/$(sha "$(src demo m model.safetensors)" | cut -c1-2)/$(sha "$(src demo m model.safetensors)")
printf '\x00\x01' | dd of="$blob" bs=1 seek=$(( (5 << 20) + 77 )) conv=notrunc status=none
drop_caches
ctl verify >"$T/v1" 2>"$T/err" && fail "verify missed the corruption"
grep -q "^bad  *9  *1  *demo/m/model.safetensors$" "$T/v1" || fail "verify report: $(cat "$T/v1")"
grep -q "1 file failed verification" "$T/err" || fail "verify error line: $(cat "$T/err")"
n=$(origin_bytes)
cmp "$MNT/demo/m/model.safetensors" "$(src demo m model.safetensors)" || fail "bytes after verify"
[ $(( $(origin_bytes) - n )) -eq $((1 << 20)) ] || fail "re-fetched $(( $(origin_bytes) - n )) bytes"
ok "verify drops the bad block; the next read fetches that block again"

ctl export demo/m "$T/export" >/dev/null || fail "export"
[ -f "$T/export/aimfs-export.json" ] || fail "no manifest"
stop_daemon
stop_hub

# a fresh store on another "machine": no daemon, no network
"$CTL_BIN" --store "$T/store2" import "$T/export" | grep -q "imported demo/m" || fail "import"
"$CTL_BIN" --store "$T/store2" verify >/dev/null || fail "verify after import"
STORE=$T/store2 start_daemon -o offline=yes
for p in config.json tokenizer.json model.safetensors onnx/model.onnx onnx/sub/extra.txt; do
	cmp "$MNT/demo/m/$p" "$(src demo m "$p")" || fail "$p after import"
done
c=$(printf 'demo/m@main' | sha1sum | cut -c1-40)
[ "$(cat "$MNT/hub/models--demo--m/refs/main")" = "$c" ] || fail "hub view after import"
ok "export, import into a fresh store, offline mount: byte-identical"

# a tampered export is refused
stop_daemon
printf 'X' | dd of="$T/export/blobs/$(sha "$(src demo m model.safetensors)")" bs=1 seek=100 conv=notrunc status=none
"$CTL_BIN" --store "$T/store3" import "$T/export" 2>"$T/err" && fail "tampered import accepted"
grep -q "does not match its digest" "$T/err" || fail "tampered import: $(cat "$T/err")"
"$CTL_BIN" --store "$T/store3" list | grep -q demo/m && fail "a tampered import registered the model"
ok "a tampered export is refused"
