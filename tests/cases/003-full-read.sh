#!/bin/bash
# A full read matches the source's SHA-256; a second full read (page cache
# dropped) fetches nothing; a read straddling blocks at an odd offset is
# byte-identical; small non-LFS files are served too.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 40M --nested
start_hub
start_daemon -o model=hf://demo/big,block_size=1M
f=$MNT/demo/big/model.safetensors
size=$(stat -c %s "$(src demo big model.safetensors)")

[ "$(sha "$f")" = "$(sha "$(src demo big model.safetensors)")" ] || fail "sha256 differs"
ok "full read matches the source sha256"
first=$(origin_bytes)
[ "$first" -eq "$size" ] || fail "fetched $first bytes for a $size-byte file"

served() { ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["served_bytes"])'; }
# the second read must reach the daemon, not the page cache: where the
# caches cannot be dropped, a remount starts a cold one
drop_caches || { stop_daemon; start_daemon -o model=hf://demo/big,block_size=1M; }
served0=$(served)
[ "$(sha "$f")" = "$(sha "$(src demo big model.safetensors)")" ] || fail "second read differs"
[ "$(origin_bytes)" -eq "$first" ] || fail "second read fetched $(( $(origin_bytes) - first )) bytes"
served2=$(( $(served) - served0 ))
[ "$served2" -ge "$size" ] || fail "the daemon served $served2 bytes of the $size-byte second read"
ok "second full read fetched nothing; the daemon served it ($served2 bytes) from the store"

dd if="$f" bs=1 skip=$(( (3 << 20) - 5 )) count=4099 status=none >"$T/a"
dd if="$(src demo big model.safetensors)" bs=1 skip=$(( (3 << 20) - 5 )) count=4099 status=none >"$T/b"
cmp "$T/a" "$T/b" || fail "straddling read differs"
ok "read across a block boundary"

for p in config.json tokenizer.json onnx/model.onnx onnx/sub/extra.txt; do
	cmp "$MNT/demo/big/$p" "$(src demo big "$p")" || fail "$p differs"
done
ok "small and nested files are byte-identical"
tail -c 100 "$f" | cmp - <(tail -c 100 "$(src demo big model.safetensors)") || fail "tail"
ok "last partial block"
