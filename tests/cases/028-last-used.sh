#!/bin/bash
# last use: `list --json` gives each model's last_used, the time of its
# last read through the mount. It is 0 until then: registering, pulling,
# verifying, stat and readdir are no use. A read sets it to about now,
# through either view and whether or not the blocks were cached; the
# index gets it within seconds while the daemon runs (not on every read),
# and a later read is kept across a restart.
. "$(dirname "$0")/lib.sh"

make_model demo used -- --size 2M
make_model demo pulled -- --size 2M --seed 2
start_hub
start_daemon -o block_size=1M,model=hf://demo/used,model=hf://demo/pulled

# lu NAME: the model's last_used as `list --json` reports it
lu() {
	ctl --json list | "$PY" -c '
import json, sys
m = {x["name"]: x for x in json.load(sys.stdin)}[sys.argv[1]]
print(m.get("last_used", "absent"))' "$1"
}

# ix_lu NAME: what the index holds (0 for NULL)
ix_lu() {
	"$PY" - "$STORE/index.db" "$1" <<'PYEOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=5)
r = db.execute("SELECT last_used FROM models WHERE name=?", (sys.argv[2],)).fetchone()
print(r[0] or 0)
PYEOF
}

[ "$(lu demo/used)" = 0 ] && [ "$(lu demo/pulled)" = 0 ] ||
	fail "registered models have a last use: $(lu demo/used), $(lu demo/pulled)"
ctl pull demo/pulled >/dev/null || fail "pull"
ctl verify demo/pulled >/dev/null || fail "verify"
ls -lR "$MNT/demo" "$MNT/hub" >/dev/null
stat "$MNT/demo/used/model.safetensors" >/dev/null
[ "$(lu demo/pulled)" = 0 ] || fail "a pull or verify counts as a use: $(lu demo/pulled)"
[ "$(lu demo/used)" = 0 ] || fail "stat or readdir counts as a use: $(lu demo/used)"
ok "last_used is 0 before any read; pull, verify, stat and readdir are no use"

before=$(date +%s)
head -c 100 "$MNT/demo/used/config.json" >/dev/null || fail "read"
after=$(date +%s)
t1=$(lu demo/used)
[ "$t1" -ge "$before" ] && [ "$t1" -le "$after" ] ||
	fail "after a read at $before..$after, last_used is $t1"
[ "$(lu demo/pulled)" = 0 ] || fail "a read of demo/used counted for demo/pulled"
ok "a read sets last_used to the time of the read ($t1) for that model only"

# the cached model through the hub view: no fetch, still a use
commit=$(ctl --json list | "$PY" -c '
import json, sys
print({x["name"]: x for x in json.load(sys.stdin)}["demo/pulled"]["commit"])')
before=$(date +%s)
cat "$MNT/hub/models--demo--pulled/snapshots/$commit/config.json" >/dev/null ||
	fail "read through the hub view"
t=$(lu demo/pulled)
[ "$t" -ge "$before" ] && [ "$t" -le "$(date +%s)" ] ||
	fail "a cached read through the hub view: last_used $t"
ok "a read of cached blocks through the hub view counts too"

# lazily durable: the index gets it from a background thread
wait_for 15 '[ "$(ix_lu demo/used)" = "$t1" ]' ||
	fail "the index still says $(ix_lu demo/used), not $t1"
ok "the index records the first read within seconds"

# a read a second later: in memory at once, in the index by shutdown
wait_for 3 '[ "$(date +%s)" -gt "$t1" ]'
head -c 100 "$MNT/demo/used/tokenizer.json" >/dev/null || fail "second read"
t2=$(lu demo/used)
[ "$t2" -gt "$t1" ] || fail "a later read left last_used at $t2"
stop_daemon
[ "$(ix_lu demo/used)" = "$t2" ] || fail "after SIGTERM the index says $(ix_lu demo/used), not $t2"
start_daemon -o block_size=1M
[ "$(lu demo/used)" = "$t2" ] || fail "after a restart last_used is $(lu demo/used), not $t2"
ok "the last read ($t2) survives a restart"
