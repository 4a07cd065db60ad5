#!/bin/bash
# Where settings come from: the environment (HF_ENDPOINT), overridden by
# the config file (--config), overridden by -o. Each step is shown to
# matter: the environment alone is honoured, the file beats a dead
# HF_ENDPOINT, -o beats the file's block_size and hf_endpoint. SIGINT
# unmounts cleanly (exit 0), as SIGTERM does.
. "$(dirname "$0")/lib.sh"

make_model demo cfg -- --size 2M
start_hub
DEAD=http://127.0.0.1:9 # the discard port: nothing listens on loopback

# run_daemon CONFIG [OPTS]: like start_daemon, but hf_endpoint is not forced
# on the command line; the environment of the call applies
run_daemon() {
	local opts="ctl_socket=$SOCK,fetch_timeout=3,connect_timeout=2${2:+,$2}"
	# a background job of a script starts with SIGINT ignored, which
	# libfuse keeps (as after nohup): give it the default a terminal would
	env --default-signal=INT "$AIMFSD" -f --config "$1" -o "$opts" "$MNT" 2>>"$DLOG" &
	DPID=$!
	wait_for 30 '"$CTL_BIN" --socket "$SOCK" status >/dev/null 2>&1 || ! kill -0 $DPID 2>/dev/null'
	kill -0 "$DPID" 2>/dev/null || fail "daemon exited (see $DLOG)"
	grep -q " $MNT " /proc/mounts || fail "daemon did not mount (see $DLOG)"
}
# conf FILE STORE [KEY=VALUE...]: a config file with the model and a store
conf() {
	local f=$1 kv
	{
		echo "# written by $CASE"
		echo "[aimfsd]"
		echo "store = $2"
		echo "model = hf://demo/cfg"
		shift 2
		for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done
	} >"$f"
}
registered() {
	ctl --json list | "$PY" -c '
import json, sys
m = [x for x in json.load(sys.stdin) if x["name"] == "demo/cfg"]
sys.exit(0 if m and m[0]["files"] == 3 else 1)'
}
block_size() {
	ctl --json status | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["block_size"])'
}
asked() { hub_sum count '^/api/models/demo/cfg/'; }

# the environment alone: HF_ENDPOINT is honoured
conf "$T/c0.conf" "$T/s0"
HF_ENDPOINT=$HUB run_daemon "$T/c0.conf"
registered || fail "HF_ENDPOINT alone: the model was not registered"
[ "$(block_size)" -eq $((4 << 20)) ] || fail "default block_size: $(block_size)"
cmp "$MNT/demo/cfg/config.json" "$(src demo cfg config.json)" || fail "read (env)"
stop_daemon
ok "HF_ENDPOINT from the environment is used when nothing else sets hf_endpoint"

# the file beats the environment
conf "$T/c1.conf" "$T/s1" "hf_endpoint=$HUB" "block_size=2M"
n=$(asked)
HF_ENDPOINT=$DEAD run_daemon "$T/c1.conf"
registered || fail "the config file's hf_endpoint lost to HF_ENDPOINT: $(tail -n 3 "$DLOG")"
[ "$(asked)" -gt "$n" ] || fail "the Hub of the config file was not asked"
[ "$(block_size)" -eq $((2 << 20)) ] || fail "the config file's block_size: $(block_size)"
stop_daemon
ok "the config file beats HF_ENDPOINT (hf_endpoint) and the default (block_size=2M)"

# -o beats the file: block_size, and hf_endpoint; stopped with SIGINT
conf "$T/c2.conf" "$T/s2" "hf_endpoint=$HUB" "block_size=2M"
HF_ENDPOINT=$DEAD run_daemon "$T/c2.conf" block_size=1M
registered || fail "with the file's hf_endpoint: not registered"
[ "$(block_size)" -eq $((1 << 20)) ] || fail "-o block_size=1M lost to the file: $(block_size)"
cmp "$MNT/demo/cfg/model.safetensors" "$(src demo cfg model.safetensors)" || fail "read (-o)"
stop_daemon INT
ok "-o block_size=1M beats the file's 2M; SIGINT unmounts and exits 0"

conf "$T/c3.conf" "$T/s3" "hf_endpoint=$HUB"
n=$(asked)
run_daemon "$T/c3.conf" "hf_endpoint=$DEAD"
registered && fail "-o hf_endpoint lost to the config file's"
[ "$(asked)" -eq "$n" ] || fail "the config file's Hub was asked despite -o hf_endpoint"
grep -q "127.0.0.1:9" "$DLOG" || fail "no log line about the endpoint of -o"
stop_daemon
ok "-o hf_endpoint beats the config file's"

# read_ahead_kb reaches the mount: the kernel's handling of the FUSE_INIT
# answer must not put it back to its own 128
conf "$T/c4.conf" "$T/s4" "hf_endpoint=$HUB" "read_ahead_kb=512"
run_daemon "$T/c4.conf"
stat "$MNT/demo" >/dev/null || fail "stat"
dev=$(awk -v m="$MNT" '$5 == m { print $3 }' /proc/self/mountinfo)
[ -n "$dev" ] && [ -r "/sys/class/bdi/$dev/read_ahead_kb" ] || fail "no bdi for the mount ($dev)"
ra=$(cat "/sys/class/bdi/$dev/read_ahead_kb")
[ "$ra" = 512 ] || fail "read_ahead_kb=512 in the file: the mount has $ra"
stop_daemon
ok "read_ahead_kb=512 from the file is the mount's read-ahead (/sys/class/bdi/$dev)"
