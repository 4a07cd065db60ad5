#!/bin/bash
# bench/compress.sh - what compress=auto costs and saves, against
# compress=off in the same run: disk used by the store (du) and warm
# sequential read throughput (page cache dropped) for
#   bf16     a random bf16 weights file (lz4 cannot shrink it: no block may
#            be stored compressed, and the warm read must be unchanged)
#   sparse   a large JSON tokenizer and a zero-padded fp32 tensor (lz4
#            shrinks them: disk drops, reads decompress)
#
#   bench/compress.sh            (as root, after a build)
#   SIZE=512M PADDED=256M RUNS=5 bench/compress.sh
set -u
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
SIZE=${SIZE:-512M}
PADDED=${PADDED:-256M}
RUNS=${RUNS:-5}
W=${BENCH_DIR:-/tmp/aimfs-bench-compress}
[ -x ./aimfsd ] || { echo "bench: build first (tools/bootstrap build)"; exit 1; }
command -v lz4 >/dev/null ||
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lz4 >/dev/null
. bench/lib.sh

HUBPID=
cleanup() {
	local m
	for m in off auto; do
		[ -n "${DPIDS[$m]:-}" ] && kill -TERM "${DPIDS[$m]}" 2>/dev/null &&
			wait "${DPIDS[$m]}" 2>/dev/null
		grep -q " $W/$m/mnt " /proc/mounts && fusermount3 -uz "$W/$m/mnt"
	done
	[ -n "$HUBPID" ] && kill "$HUBPID" 2>/dev/null
}
trap cleanup EXIT

echo "== setting up in $W (bf16 $SIZE; tokenizer and padded fp32 $PADDED)"
mkdir -p "$W/repos/bench/bf16/main" "$W/repos/bench/sparse/main"
gen() { # dir stamp args...
	local d=$1 stamp=$2
	shift 2
	[ "$(cat "$d/.stamp" 2>/dev/null)" = "$stamp" ] && return
	"$PY" tests/server/genmodel.py "$d" "$@" >/dev/null && echo "$stamp" >"$d/.stamp"
}
gen "$W/repos/bench/bf16/main" "$SIZE" --size "$SIZE" --seed 3
gen "$W/repos/bench/sparse/main" "$PADDED" --size 4M --seed 4 --vocab 150000 --padded "$PADDED"
rm -f "$W/hub.port"
"$PY" tests/server/fakehub.py --root "$W/repos" --port-file "$W/hub.port" --log /dev/null &
HUBPID=$!
for _ in $(seq 100); do [ -s "$W/hub.port" ] && break; sleep 0.1; done
HUB=http://127.0.0.1:$(cat "$W/hub.port")

# one daemon per mode, side by side, so warm reads of the two can take
# turns (the disk's speed drifts more between runs than the modes differ)
declare -A DPIDS
ctl() { # mode args...
	local m=$1
	shift
	./aimfs-ctl --socket "$W/$m/ctl.sock" "$@"
}
daemon() { # mode
	rm -rf "$W/$1"
	mkdir -p "$W/$1/mnt"
	./aimfsd -f -o "store=$W/$1/store,ctl_socket=$W/$1/ctl.sock,hf_endpoint=$HUB,compress=$1,model=hf://bench/bf16,model=hf://bench/sparse" \
		"$W/$1/mnt" 2>>"$W/daemon.log" &
	DPIDS[$1]=$!
	for _ in $(seq 200); do ctl "$1" status >/dev/null 2>&1 && break; sleep 0.05; done
}
files() { # model: what is measured (bf16: the weights file alone)
	if [ "$1" = bf16 ]; then
		echo model.safetensors
	else
		find "$W/repos/bench/$1/main" -type f ! -name .stamp -printf '%P\n' | sort
	fi
}
bytes() { # model
	local f t=0
	for f in $(files "$1"); do t=$((t + $(stat -c %s "$W/repos/bench/$1/main/$f"))); done
	echo "$t"
}
readall() { # mode model
	local f
	for f in $(files "$2"); do cat "$W/$1/mnt/bench/$2/$f"; done >/dev/null
}
warm() { # mode model -> seconds of one read with the page cache dropped
	local a b
	drop; a=$(now); readall "$1" "$2"; b=$(now); secs "$a" "$b"
}
blobs_du() { # mode model: du of the blobs of its measured files
	local f p sum=0
	for f in $(files "$2"); do
		f=$W/repos/bench/$2/main/$f
		# LFS files are stored by sha256, the others by git blob sha1
		p=$(find "$W/$1/store/blobs" -name "$(sha256sum "$f" | cut -d' ' -f1)" \
			-o -name "$(git hash-object "$f")" | head -n1)
		[ -n "$p" ] && sum=$((sum + $(du -B1 "$p" | cut -f1)))
	done
	echo "$sum"
}
lz4_blocks_of() { # mode model path: blocks of it stored as lz4
	"$PY" - "$W/$1/store/index.db" "$2" "$3" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
n, = db.execute("SELECT count(*) FROM blocks JOIN files USING (blob_id)"
                " JOIN models ON models.id = files.model_id"
                " WHERE models.name = ? AND files.path = ? AND blocks.codec = 1",
                ("bench/" + sys.argv[2], sys.argv[3])).fetchone()
print(n)
PYEOF
}

declare -A T D
for mode in off auto; do
	daemon "$mode"
	for m in bf16 sparse; do
		readall "$mode" "$m" # cold: fetch everything once
		D[$mode.$m]=$(blobs_du "$mode" "$m")
	done
done
Zbf16=$(lz4_blocks_of auto bf16 model.safetensors)
Zoff=$(ctl off --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["lz4_blocks"])')
declare -A S
for r in $(seq "$RUNS"); do
	for m in bf16 sparse; do
		for mode in off auto; do
			S[$mode.$m]="${S[$mode.$m]:-} $(warm "$mode" "$m")"
		done
	done
done
for k in "${!S[@]}"; do
	# shellcheck disable=SC2086
	T[$k]=$(median ${S[$k]})
done
for mode in off auto; do
	echo "compress=$mode: warm bf16 ${T[$mode.bf16]}s, sparse ${T[$mode.sparse]}s; du bf16 ${D[$mode.bf16]}, sparse ${D[$mode.sparse]}"
done
[ "$Zoff" -eq 0 ] || echo "compress=off stored $Zoff lz4 blocks?"
# what the lz4 tool achieves on the sparse model's files
tool=0
for f in $(files sparse); do
	tool=$((tool + $(lz4 -q -c "$W/repos/bench/sparse/main/$f" | wc -c)))
done

B=$(bytes bf16); S=$(bytes sparse)
report "c1 bf16: blocks stored as lz4 (must stay raw)" "$Zbf16" blocks 0 "$Zbf16" 0 "<="
report "c2 bf16: warm read, auto vs off" "$(printf %.0f "$(mb "$B" "${T[auto.bf16]}")")" MB/s \
	"$(printf %.0f "$(mb "$B" "${T[off.bf16]}")")" "$(echo "${T[off.bf16]} / ${T[auto.bf16]}" | bc -l)" 0.95 ">="
report "c3 sparse: du auto / du off" "${D[auto.sparse]}" B "${D[off.sparse]}" \
	"$(echo "${D[auto.sparse]} / ${D[off.sparse]}" | bc -l)" \
	"$(printf %.3f "$(echo "$tool / $S * 1.05" | bc -l)")" "<="
report "c4 sparse: warm read, auto vs off" "$(printf %.0f "$(mb "$S" "${T[auto.sparse]}")")" MB/s \
	"$(printf %.0f "$(mb "$S" "${T[off.sparse]}")")" "$(echo "${T[off.sparse]} / ${T[auto.sparse]}" | bc -l)" 0.5 ">="
echo "(c3's goal is 1.05 x what the lz4 tool achieves on the same files: $(printf %.3f "$(echo "$tool / $S" | bc -l)"))"
summary "bf16 $SIZE, sparse $(printf %.0f "$(mb "$S" 1)") MiB, median of $RUNS"
