#!/bin/bash
# tools/demo, the embedded demo of the README's Quick start: it exits 0,
# reads the header with a small cached fraction, matches the SHA-256 of the
# whole 256 MiB file and unmounts. Its real-Hub path (an hf:// URI) run
# against the fake Hub on a gated repo at a revision: the expected SHA-256
# comes from the listing of that revision's commit, asked with HF_TOKEN.
. "$(dirname "$0")/lib.sh"

DEMO=$top_srcdir/tools/demo
unmount_demo() {
	local m
	for m in "$T/demo/mnt" "$T/demo2/mnt"; do
		grep -q " $m " /proc/mounts 2>/dev/null && fusermount3 -uz "$m"
	done
	return 0
}
at_exit unmount_demo

start=$(date +%s)
AIMFS_DEMO_DIR=$T/demo AIMFS_BUILDDIR=$top_builddir timeout 120 "$DEMO" \
	>"$T/demo.out" 2>&1 </dev/null
rc=$?
secs=$(( $(date +%s) - start ))
[ "$rc" -eq 0 ] || fail "tools/demo exited with $rc: $(tail -n 5 "$T/demo.out")"
want=$(sha "$T/demo/repos/demo/tiny-llama/main/model.safetensors")
[ "$(stat -c %s "$T/demo/repos/demo/tiny-llama/main/model.safetensors")" -ge $((256 << 20)) ] ||
	fail "the demo model is under 256 MiB"
grep -Eq '^header: [0-9]+ bytes, [0-9]+ tensors$' "$T/demo.out" || fail "no header line"
# the first list, after the header: a few MiB of 256 cached, partial
"$PY" - "$T/demo.out" <<'PYEOF' || fail "the list after the header read: $(grep -A2 'only the blocks' "$T/demo.out")"
import re, sys
rows = [l for l in open(sys.argv[1]) if l.startswith(tuple("0123456789abcdef")) and "demo/tiny-llama" in l]
assert len(rows) == 2, rows
pct = float(re.search(r"\(([0-9.]+)%\)", rows[0]).group(1))
assert 0 < pct < 5 and rows[0].rstrip().endswith("partial"), rows[0]
assert float(re.search(r"\(([0-9.]+)%\)", rows[1]).group(1)) > 99, rows[1]
PYEOF
grep -q "^expected $want$" "$T/demo.out" || fail "expected line: $(grep '^expected' "$T/demo.out")"
grep -q "^got      $want " "$T/demo.out" || fail "got line: $(grep '^got' "$T/demo.out")"
grep -q "^SHA-256 matches$" "$T/demo.out" || fail "no 'SHA-256 matches'"
grep -q "^unmounted cleanly" "$T/demo.out" || fail "no clean unmount line"
! grep -q " $T/demo/mnt " /proc/mounts || fail "the demo left its mount"
ok "the embedded demo: exit 0, header at $(grep -o '([0-9.]*%)' "$T/demo.out" | head -n 1) cached, SHA-256 of 256 MiB matches, unmounted (${secs} s)"

# the real-Hub path: a gated repo at v1, whose weights differ from main's
make_model demo gated main -- --size 8M
make_model demo gated v1 -- --size 8M --seed 7
start_hub --gated demo/gated --token hf_demotoken
c_v1=$(printf 'demo/gated@v1' | sha1sum | cut -c1-40)
want=$(sha "$(src demo gated model.safetensors v1)")
[ "$want" != "$(sha "$(src demo gated model.safetensors)")" ] || fail "v1 should differ from main"
HF_ENDPOINT=$HUB HF_TOKEN=hf_demotoken AIMFS_DEMO_DIR=$T/demo2 AIMFS_BUILDDIR=$top_builddir \
	timeout 60 "$DEMO" hf://demo/gated@v1 >"$T/demo2.out" 2>&1 </dev/null
rc=$?
[ "$rc" -eq 0 ] || fail "tools/demo hf://demo/gated@v1 exited with $rc: $(tail -n 5 "$T/demo2.out")"
grep -q "^expected $want$" "$T/demo2.out" || fail "expected line: $(grep '^expected' "$T/demo2.out")"
grep -q "^SHA-256 matches$" "$T/demo2.out" || fail "no 'SHA-256 matches'"
"$PY" - "$HUBLOG" "$c_v1" <<'PYEOF' || fail "the demo's tree request"
import json, sys
log, commit = sys.argv[1:3]
trees = [d for d in map(json.loads, open(log)) if "/api/models/demo/gated/tree/" in d["path"]]
assert trees, "no tree request"
# the daemon lists the commit too; every listing is of v1's commit, with the token
for d in trees:
    assert d["path"] == "/api/models/demo/gated/tree/" + commit, d
    assert d["auth"] and d["status"] == 200, d
assert len(trees) >= 2, trees  # the daemon's and the demo's
PYEOF
ok "the real-Hub path at a revision: listing of commit ${c_v1:0:8} with the token, SHA-256 matches"
