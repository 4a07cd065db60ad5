#!/bin/bash
# bench/run.sh - the performance targets of aimfs, each measured against a
# baseline in the same run on the same machine, printed as a ratio with
# PASS/FAIL. Not a test: numbers depend on the machine.
#
#   bench/run.sh            (as root, after a build; installs nginx, aria2)
#   SIZE=1G BIG=4G RATE=50m RUNS=3 FILES=10000 bench/run.sh
#
# Origin: the project's fake Hub on loopback redirecting to nginx, which
# serves the CDN side (with limit_rate RATE per connection for target 1).
set -u
cd "$(dirname "$0")/.."
top=$PWD
PY=/usr/bin/python3
SIZE=${SIZE:-1G}
BIG=${BIG:-4G}
RATE=${RATE:-50m}
RUNS=${RUNS:-3}
FILES=${FILES:-10000}
W=${BENCH_DIR:-/tmp/aimfs-bench}
for p in nginx-light aria2; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null
done
[ -x ./aimfsd ] || { echo "bench: build first (tools/bootstrap build)"; exit 1; }

pids=()
cleanup() {
	[ -n "${DPID:-}" ] && kill -TERM "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	for s in ng-rate ng-fast; do tests/server/nginx-origin.sh stop "$W/$s" >/dev/null 2>&1; done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	grep -q " $W/mnt " /proc/mounts && fusermount3 -uz "$W/mnt"
}
trap cleanup EXIT
. bench/lib.sh

echo "== setting up in $W (model $SIZE, big file $BIG, CDN cap $RATE/connection)"
rm -rf "$W/store" "$W/mnt"
mkdir -p "$W/repos/bench/model/main" "$W/repos/bench/big/main" "$W/cdn/cdn" "$W/mnt"
gen() { # dir size seed
	[ -f "$1/model.safetensors" ] && [ "$(cat "$1/.size" 2>/dev/null)" = "$2" ] && return
	"$PY" tests/server/genmodel.py "$1" --size "$2" --seed "$3" >/dev/null && echo "$2" >"$1/.size"
}
gen "$W/repos/bench/model/main" "$SIZE" 1
gen "$W/repos/bench/big/main" "$BIG" 2
rm -f "$W"/repos/bench/*/main/.size.tmp
mkdir -p "$W/repos/bench/files/main/d"
if [ "$(find "$W/repos/bench/files/main" -type f | wc -l)" -ne "$FILES" ]; then
	rm -rf "$W/repos/bench/files/main"; mkdir -p "$W/repos/bench/files/main"
	"$PY" - "$W/repos/bench/files/main" "$FILES" <<'PYEOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.txt" % i), "w") as f:
        f.write("file %d\n" % i)
PYEOF
fi
for m in model big; do
	f=$W/repos/bench/$m/main/model.safetensors
	sha=$(sha256sum "$f" | cut -d' ' -f1)
	echo "$sha" >"$W/$m.sha"
	ln -f "$f" "$W/cdn/cdn/$sha"
done
tests/server/nginx-origin.sh start "$W/cdn" "$W/ng-rate" --limit-rate "$RATE" >/dev/null || exit 1
tests/server/nginx-origin.sh start "$W/cdn" "$W/ng-fast" >/dev/null || exit 1
RATE_URL=http://127.0.0.1:$(cat "$W/ng-rate/port")
FAST_URL=http://127.0.0.1:$(cat "$W/ng-fast/port")
hub() { # cdn base -> sets HUB
	rm -f "$W/hub.port"
	"$PY" tests/server/fakehub.py --root "$W/repos" --port-file "$W/hub.port" \
		--log "$W/hub.log" --cdn-base "$1" &
	pids+=($!)
	HUBPID=$!
	for _ in $(seq 100); do [ -s "$W/hub.port" ] && break; sleep 0.1; done
	HUB=http://127.0.0.1:$(cat "$W/hub.port")
}
daemon() { # extra -o
	./aimfsd -f -o "store=$W/store,ctl_socket=$W/ctl.sock,hf_endpoint=$HUB$1" "$W/mnt" 2>>"$W/daemon.log" &
	DPID=$!
	for _ in $(seq 200); do ./aimfs-ctl --socket "$W/ctl.sock" status >/dev/null 2>&1 && break; sleep 0.05; done
}
undaemon() { kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; DPID=; }
ctl() { ./aimfs-ctl --socket "$W/ctl.sock" "$@"; }
cold() { ctl evict --unpinned >/dev/null; drop; }
nginx_bytes() { "$PY" -c 'import json,sys; print(sum(json.loads(l)["bytes"] for l in open(sys.argv[1])))' "$1/access.log"; }
nginx_reqs() { wc -l <"$1/access.log"; }
size_of() { stat -c %s "$W/repos/bench/$1/main/model.safetensors"; }
SZ=$(size_of model)

# --- 1: cold sequential read, CDN capped per connection ---------------------
hub "$RATE_URL"
daemon ",model=hf://bench/model,model=hf://bench/big,model=hf://bench/files"
F=$W/mnt/bench/model/model.safetensors
t_aim=(); t_curl=(); t_aria=()
for r in $(seq "$RUNS"); do
	cold; a=$(now); cat "$F" >/dev/null; b=$(now); t_aim+=("$(secs "$a" "$b")")
	drop; a=$(now); curl -s -o /dev/null "$RATE_URL/cdn/$(cat "$W/model.sha")"; b=$(now); t_curl+=("$(secs "$a" "$b")")
	rm -f /dev/shm/aimfs-bench.aria
	drop; a=$(now); aria2c -q -x16 -s16 -k1M --file-allocation=none --allow-overwrite=true \
		-d /dev/shm -o aimfs-bench.aria "$RATE_URL/cdn/$(cat "$W/model.sha")"; b=$(now); t_aria+=("$(secs "$a" "$b")")
	rm -f /dev/shm/aimfs-bench.aria
done
A=$(median "${t_aim[@]}"); C=$(median "${t_curl[@]}"); R=$(median "${t_aria[@]}")
echo "1: aimfs ${A}s, curl ${C}s, aria2c -x16 ${R}s"
report "1a cold read, CDN ${RATE}/conn vs curl" "$(printf %.0f "$(mb "$SZ" "$A")")" MB/s "$(printf %.0f "$(mb "$SZ" "$C")")" "$(echo "$C / $A" | bc -l)" 6 ">="
report "1b cold read, CDN ${RATE}/conn vs aria2c -x16" "$(printf %.0f "$(mb "$SZ" "$A")")" MB/s "$(printf %.0f "$(mb "$SZ" "$R")")" "$(echo "$R / $A" | bc -l)" 1.0 ">="
undaemon; kill "$HUBPID"

# --- 2-6 against the uncapped CDN ------------------------------------------
hub "$FAST_URL"
daemon ""
t_aim=(); t_curl=()
for r in $(seq "$RUNS"); do
	cold; a=$(now); cat "$F" >/dev/null; b=$(now); t_aim+=("$(secs "$a" "$b")")
	drop; a=$(now); curl -s -o /dev/null "$FAST_URL/cdn/$(cat "$W/model.sha")"; b=$(now); t_curl+=("$(secs "$a" "$b")")
done
A=$(median "${t_aim[@]}"); C=$(median "${t_curl[@]}")
ONE=$A
report "2 cold read, uncapped, vs curl" "$(printf %.0f "$(mb "$SZ" "$A")")" MB/s "$(printf %.0f "$(mb "$SZ" "$C")")" "$(echo "$C / $A" | bc -l)" 0.8 ">="

# 3: warm (page cache dropped) vs the store's own file; hot re-read
cat "$F" >/dev/null
BLOB=$(find "$W/store/blobs" -name "$(cat "$W/model.sha")")
t_aim=(); t_nat=()
for r in $(seq "$RUNS"); do
	drop; a=$(now); cat "$F" >/dev/null; b=$(now); t_aim+=("$(secs "$a" "$b")")
	drop; a=$(now); cat "$BLOB" >/dev/null; b=$(now); t_nat+=("$(secs "$a" "$b")")
done
A=$(median "${t_aim[@]}"); N=$(median "${t_nat[@]}")
report "3a warm read (caches dropped) vs the store file" "$(printf %.0f "$(mb "$SZ" "$A")")" MB/s "$(printf %.0f "$(mb "$SZ" "$N")")" "$(echo "$N / $A" | bc -l)" 0.9 ">="
cat "$F" >/dev/null; cat "$BLOB" >/dev/null
served0=$(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["served_bytes"])')
# a hot pass takes ~0.2 s: each sample is four, read in turns with native
t_aim=(); t_nat=()
for r in $(seq $((RUNS * 2))); do
	a=$(now); cat "$F" "$F" "$F" "$F" >/dev/null; b=$(now); t_aim+=("$(secs "$a" "$b")")
	a=$(now); cat "$BLOB" "$BLOB" "$BLOB" "$BLOB" >/dev/null; b=$(now); t_nat+=("$(secs "$a" "$b")")
done
served1=$(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["served_bytes"])')
A=$(median "${t_aim[@]}"); N=$(median "${t_nat[@]}")
report "3b page-cache-hot re-read vs native" "$(printf %.0f "$(mb $((SZ * 4)) "$A")")" MB/s "$(printf %.0f "$(mb $((SZ * 4)) "$N")")" "$(echo "$N / $A" | bc -l)" 0.95 ">="
report "3c FUSE bytes read during hot re-reads" "$((served1 - served0))" B 0 "$((served1 - served0))" 0 "<="

# 4: cold safetensors header
cold
h0=$(wc -l <"$W/hub.log"); n0=$(nginx_reqs "$W/ng-fast"); b0=$(nginx_bytes "$W/ng-fast")
"$PY" -c '
import json, struct, sys
f = open(sys.argv[1], "rb")
n = struct.unpack("<Q", f.read(8))[0]
json.loads(f.read(n))' "$F"
trips=$(( $(wc -l <"$W/hub.log") - h0 + $(nginx_reqs "$W/ng-fast") - n0 ))
got=$(( $(nginx_bytes "$W/ng-fast") - b0 ))
bs=$(ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["block_size"])')
report "4a cold header: blocks fetched" "$(echo "$got / $bs" | bc -l | xargs printf %.2f)" blocks 1 "$(echo "$got / $bs" | bc -l)" 1 "<="
report "4b cold header: origin round trips" "$trips" trips 2 "$trips" 2 "<="

# 5: eight readers of one cold file
cold
b0=$(nginx_bytes "$W/ng-fast")
a=$(now)
readers=()
for k in 1 2 3 4 5 6 7 8; do cat "$F" >/dev/null & readers+=($!); done
wait "${readers[@]}" # not the hub and daemon, which run on
b=$(now)
T8=$(secs "$a" "$b")
got=$(( $(nginx_bytes "$W/ng-fast") - b0 ))
report "5a eight readers: origin bytes / file size" "$got" B "$SZ" "$(echo "$got / $SZ" | bc -l)" 1.02 "<="
report "5b eight readers: wall time / one reader" "$(printf %.2f "$T8")" s "$(printf %.2f "$ONE")" "$(echo "$T8 / $ONE" | bc -l)" 1.15 "<="

# 6: peak RSS streaming the big file
undaemon
daemon ""
cold
cat "$W/mnt/bench/big/model.safetensors" >/dev/null
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$DPID/status")
report "6 daemon peak RSS streaming $BIG" "$((hwm / 1024))" MiB 64 "$(echo "$hwm / 1024" | bc -l)" 64 "<="

# 7: metadata of a $FILES-file model vs a plain tree
stat_tree() { find "$1" -type f | xargs stat >/dev/null; }
stat_tree "$W/mnt/bench/files"; stat_tree "$W/repos/bench/files/main"
t_aim=(); t_nat=()
for r in $(seq "$RUNS"); do
	a=$(now); stat_tree "$W/mnt/bench/files"; b=$(now); t_aim+=("$(secs "$a" "$b")")
	a=$(now); stat_tree "$W/repos/bench/files/main"; b=$(now); t_nat+=("$(secs "$a" "$b")")
done
A=$(median "${t_aim[@]}"); N=$(median "${t_nat[@]}")
report "7 find|stat over $FILES files vs a plain tree" "$(printf %.3f "$A")" s "$(printf %.3f "$N")" "$(echo "$A / $N" | bc -l)" 3 "<="
undaemon

summary "model $SIZE, CDN cap $RATE, median of $RUNS"
