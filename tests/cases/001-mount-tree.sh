#!/bin/bash
# The tree under the mount equals the repo's listing: every file, with its
# size, in its subdirectory; nothing is downloaded to show it; a model added
# at run time appears; list shows the cache key and state.
. "$(dirname "$0")/lib.sh"

make_model demo tiny -- --size 8M --nested
make_model other small -- --size 1M
start_hub
start_daemon -o model=hf://demo/tiny

want=$(cd "$(src demo tiny .)" && find . -type f -printf '%P %s %m\n' | sort)
got=$(cd "$MNT/demo/tiny" && find . -type f -printf '%P %s %m\n' | sed 's/ 444$/ 644/' | sort)
[ "$want" = "$got" ] || fail "tree differs: want [$want] got [$got]"
ok "tree equals the repo listing"

[ -d "$MNT/demo/tiny/onnx/sub" ] || fail "no subdirectory"
[ "$(stat -c %a "$MNT/demo/tiny/config.json")" = 444 ] || fail "mode"
[ "$(origin_bytes)" = 0 ] || fail "listing downloaded content: $(origin_bytes) bytes"
ok "nothing downloaded to list the tree"

key=$(printf '%s' hf://demo/tiny | sha256sum | cut -c1-16)
ctl list | grep -q "^$key  demo/tiny  hf://demo/tiny .* registered$" ||
	fail "list: $(ctl list)"
ctl --json list | "$PY" -c '
import json, sys
m = json.load(sys.stdin)[0]
assert m["cached"] == 0 and m["state"] == "registered", m
assert len(m["commit"]) == 40 and m["revision"] == "main", m
assert m["files"] == 5, m' || fail "list --json"
ok "list shows cache key, revision and state"

ctl add hf://other/small >"$T/add.out" || fail "add at run time"
grep -q registered "$T/add.out" || fail "add output"
[ -f "$MNT/other/small/model.safetensors" ] || fail "added model not in the tree"
ctl add hf://other/small | grep -q "already registered" || fail "second add"
ok "a model added at run time appears"

ls "$MNT" | sort | tr '\n' ' ' | grep -qx "demo hub other " || fail "root: $(ls "$MNT")"
[ ! -e "$MNT/demo/nosuch" ] || fail "phantom entry"
ok "root lists the orgs"
