#!/bin/bash
# The tree under the mount equals the repo's listing: every file, with its
# size, in its subdirectory, even when the Hub pages its tree two entries at
# a time; times are the Hub's; nothing is downloaded to show it; a model
# added at run time appears; list shows its columns, cache key and state.
. "$(dirname "$0")/lib.sh"

make_model demo tiny -- --size 8M --nested
make_model other small -- --size 1M
# a time in the past, so that "now" cannot pass for the Hub's time
stamp=1700000000 # 2023-11-14T22:13:20Z
find "$T/repos/demo/tiny" -exec touch -h -d "@$stamp" {} +
# two entries per page: demo/tiny's 7 (5 files, 2 dirs) take 4 pages
start_hub --page-size 2
start_daemon -o model=hf://demo/tiny

want=$(cd "$(src demo tiny .)" && find . -type f -printf '%P %s %m\n' | sort)
got=$(cd "$MNT/demo/tiny" && find . -type f -printf '%P %s %m\n' | sed 's/ 444$/ 644/' | sort)
[ "$want" = "$got" ] || fail "tree differs: want [$want] got [$got]"
pages=$(hub_sum count '^/api/models/demo/tiny/tree/')
[ "$pages" -ge 4 ] || fail "the tree came in $pages pages, want 4 (--page-size 2)"
ok "tree equals the repo listing, read over $pages pages"

lastmod=$(curl -fsS "$HUB/api/models/demo/tiny/revision/main" |
	"$PY" -c 'import json,sys; print(json.load(sys.stdin)["lastModified"])')
[ "$(date -u -d "$lastmod" +%s)" = "$stamp" ] || fail "the fake Hub reports $lastmod"
c=$(printf 'demo/tiny@main' | sha1sum | cut -c1-40)
blob=$MNT/hub/models--demo--tiny/blobs/$(sha "$(src demo tiny model.safetensors)")
for p in "$MNT/demo/tiny/config.json" "$MNT/demo/tiny/onnx/sub/extra.txt" \
	"$MNT/demo/tiny/model.safetensors" "$blob"; do
	[ "$(stat -c %Y "$p")" = "$stamp" ] || fail "mtime of $p: $(stat -c %Y "$p"), want $stamp"
done
[ "$(stat -L -c %Y "$MNT/hub/models--demo--tiny/snapshots/$c/config.json")" = "$stamp" ] ||
	fail "mtime through a snapshot link"
ok "mtimes are the Hub's lastModified ($lastmod)"

[ -d "$MNT/demo/tiny/onnx/sub" ] || fail "no subdirectory"
[ "$(stat -c %a "$MNT/demo/tiny/config.json")" = 444 ] || fail "mode"
[ "$(origin_bytes)" = 0 ] || fail "listing downloaded content: $(origin_bytes) bytes"
ok "nothing downloaded to list the tree"

key=$(printf '%s' hf://demo/tiny | sha256sum | cut -c1-16)
ctl list >"$T/list.out" || fail "list"
head -n 1 "$T/list.out" | grep -Eq '^CACHE KEY +NAME +SOURCE +REVISION +SIZE +CACHED +PINNED +STATE$' ||
	fail "list header: $(head -n 1 "$T/list.out")"
grep -Eq "^$key  demo/tiny  hf://demo/tiny  main \(${c:0:8}\)  .*  no  +registered$" "$T/list.out" ||
	fail "list: $(cat "$T/list.out")"
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
