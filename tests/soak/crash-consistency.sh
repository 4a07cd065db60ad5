#!/bin/bash
# Crash consistency: kill -9 the daemon at random moments during pulls and
# reads, restart it, and check every cached byte of both models. COUNT
# kills (default 200; the CI case runs 20). After each restart `aimfs-ctl verify` must find no
# bad block (data is synced before the index records it), and at the end a
# full read of every file must match the origin byte for byte.
#
#   COUNT=200 tests/soak/crash-consistency.sh     (about 4 minutes)
. "$(dirname "$0")/../cases/lib.sh"

COUNT=${COUNT:-200}
make_model demo m -- --size 32M --nested
make_model demo n -- --size 8M --seed 9
# paced so that pulls are still running when the kill comes
start_hub --rate 24M
start_daemon -o block_size=1M,model=hf://demo/m,model=hf://demo/n
stop_daemon
files="model.safetensors config.json tokenizer.json onnx/model.onnx onnx/sub/extra.txt"
nfiles="model.safetensors config.json tokenizer.json"
bad=0
stale=0
for i in $(seq "$COUNT"); do
	start_daemon
	ctl pull demo/m demo/n >/dev/null 2>&1 &
	puller=$!
	(
		for r in 1 2 3; do
			dd if="$MNT/demo/m/model.safetensors" bs=64K count=3 \
				skip=$((RANDOM % 500)) of=/dev/null status=none 2>/dev/null
		done
	) &
	reader=$!
	# a random moment, 0 to 0.6 s into the work
	sleep "0.$(printf '%03d' $((RANDOM % 600)))"
	kill -9 "$DPID"
	wait "$DPID" 2>/dev/null
	DPID=
	wait "$puller" "$reader" 2>/dev/null
	grep -q " $MNT " /proc/mounts && stale=$((stale + 1))
	start_daemon -o offline=yes
	if ! ctl verify >"$T/verify.out" 2>&1; then
		bad=$((bad + 1))
		echo "kill $i: verify found bad data:"
		grep -v "^ok\|^partial\|^STATUS" "$T/verify.out"
	fi
	# whatever is cached of either model must be served as the origin has it
	for mp in $(for p in $files; do echo "m/$p"; done; for p in $nfiles; do echo "n/$p"; done); do
		"$PY" - "$MNT/demo/$mp" "$(src demo "${mp%%/*}" "${mp#*/}")" \
			>>"$T/compared.${mp%%/*}" <<'PYEOF' || bad=$((bad + 1))
import sys
# compare only what reads without the network (offline: the rest is EIO)
got, want = open(sys.argv[1], "rb", buffering=0), open(sys.argv[2], "rb")
off = same = 0
while True:
    want_chunk = want.read(65536)
    if not want_chunk:
        break
    try:
        got.seek(off)
        chunk = got.read(len(want_chunk))
    except OSError:
        chunk = None
    if chunk is not None and chunk != want_chunk:
        print("WRONG BYTES at", off, sys.argv[1], file=sys.stderr)
        sys.exit(1)
    same += len(chunk or b"")
    off += len(want_chunk)
print(same)  # bytes compared, summed per model below
PYEOF
	done
	stop_daemon
done
[ "$bad" -eq 0 ] || fail "$bad checks found wrong bytes after $COUNT kills"
# both models had cached bytes to compare after some kill
for m in m n; do
	sum=$(awk '{ s += $1 } END { print s + 0 }' "$T/compared.$m" 2>/dev/null)
	[ "${sum:-0}" -gt 0 ] || fail "no cached byte of demo/$m was ever compared"
	eval "compared_$m=$sum"
done
# every stale mount the kills left was cleaned up by the next start
[ "$stale" -gt 0 ] && { grep -q "cleaning up a stale mount" "$DLOG" || fail "no stale mount cleanup"; }
start_daemon
ctl pull demo/m demo/n >/dev/null || fail "final pull"
for p in $files; do
	cmp "$MNT/demo/m/$p" "$(src demo m "$p")" || fail "$p differs after $COUNT kills"
done
for p in $nfiles; do
	cmp "$MNT/demo/n/$p" "$(src demo n "$p")" || fail "n: $p differs after $COUNT kills"
done
ok "$COUNT kills during pulls and reads: 0 wrong bytes in $compared_m + $compared_n cached bytes of both models compared, $stale stale mounts cleaned up"
