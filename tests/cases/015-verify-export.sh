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

# the whole-file check: a block changed on disk together with its checksum
# in the index (as a lost write or a wrong origin could leave it) passes
# every block check, and only the source's digest catches it: the LFS
# sha256 of model.safetensors, the git blob sha1 of config.json
start_hub
STORE=$T/store4 start_daemon -o compress=off,block_size=1M,model=hf://demo/m
ctl pull demo/m >/dev/null || fail "pull into store4"
stop_daemon
# tamper SRC KIND OFFSET: flip a byte of the stored copy of SRC at OFFSET,
# and record the block's new sha256 as its checksum in index.db
tamper() {
	"$PY" - "$T/store4" "$1" "$2" "$3" $((1 << 20)) <<'PYEOF' || fail "tamper $1"
import hashlib, os, sqlite3, sys
store, src, kind, off, bs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
data = open(src, "rb").read()
key = (hashlib.sha256(data).hexdigest() if kind == "lfs" else
       hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest())
path = os.path.join(store, "blobs", key[:2], key)
i = off // bs
start, end = i * bs, min((i + 1) * bs, len(data))
with open(path, "r+b") as f:
    f.seek(start)
    block = bytearray(f.read(end - start))
    assert bytes(block) == data[start:end], "the stored block is not raw"
    block[off - start] ^= 0xFF
    f.seek(start)
    f.write(block)
    f.flush()
    os.fsync(f.fileno())
db = sqlite3.connect(os.path.join(store, "index.db"))
cur = db.execute("UPDATE blocks SET sum = ? WHERE codec = 0 AND idx = ? AND"
                 " blob_id = (SELECT id FROM blobs WHERE key = ?)",
                 (hashlib.sha256(block).digest(), i, key))
assert cur.rowcount == 1, ("blocks updated", cur.rowcount)
db.commit()
db.close()
PYEOF
}
tamper "$(src demo m model.safetensors)" lfs $(( (3 << 20) + 5 ))
tamper "$(src demo m config.json)" git 10
STORE=$T/store4 start_daemon -o compress=off,block_size=1M
drop_caches
ctl verify demo/m >"$T/v4" 2>"$T/err" && fail "verify missed the whole-file mismatches: $(cat "$T/v4")"
grep -Eq "^mismatch +9 +0 +demo/m/model.safetensors$" "$T/v4" || fail "verify (LFS): $(cat "$T/v4")"
grep -Eq "^mismatch +1 +0 +demo/m/config.json$" "$T/v4" || fail "verify (git sha1): $(cat "$T/v4")"
[ "$(grep -c '^ok ' "$T/v4")" = 3 ] || fail "verify of the other files: $(cat "$T/v4")"
grep -q "^aimfs-ctl: 2 files failed verification" "$T/err" || fail "verify error line: $(cat "$T/err")"
n=$(origin_bytes)
cmp "$MNT/demo/m/model.safetensors" "$(src demo m model.safetensors)" || fail "model.safetensors after a mismatch"
cmp "$MNT/demo/m/config.json" "$(src demo m config.json)" || fail "config.json after a mismatch"
want=$(( $(stat -c %s "$(src demo m model.safetensors)") + $(stat -c %s "$(src demo m config.json)") ))
[ $(( $(origin_bytes) - n )) -eq "$want" ] || fail "re-fetched $(( $(origin_bytes) - n )) bytes, want both files whole ($want)"
ctl verify demo/m >/dev/null || fail "verify after the re-fetch"
ok "verify: a block rewritten with its checksum is a whole-file mismatch (sha256 and git sha1); both files are fetched again whole ($want bytes) and right"
