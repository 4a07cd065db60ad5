#!/bin/bash
# The hub cache view (hub/models--org--name/{blobs,snapshots,refs}) over
# the same stored blobs: layout and symlinks as huggingface_hub makes them,
# the real @huggingface/hub client (scanCacheDir, downloadFileToCacheDir
# with no network) accepts it, both views read identical bytes that are
# fetched once, and a second revision or a second model sharing a large
# file stores it once.
. "$(dirname "$0")/lib.sh"


[ -d "$NODE_MODULES/@huggingface/hub" ] ||
	fail "@huggingface/hub is not installed: run 'npm ci' in tests/node (tools/bootstrap does)"

make_model demo tiny main -- --size 12M --nested
# v1 shares model.safetensors (same LFS sha256) and changes config.json
cp -r "$T/repos/demo/tiny/main" "$T/repos/demo/tiny/v1"
echo '{"model_type": "llama", "revision": "v1"}' >"$T/repos/demo/tiny/v1/config.json"
make_model other small -- --size 1M
# another repo whose model.safetensors is demo/tiny's (the same LFS sha256)
make_model other twin -- --size 1M --seed 5
cp "$(src demo tiny model.safetensors)" "$(src other twin model.safetensors)"
start_hub
start_daemon -o model=hf://demo/tiny,model=hf://demo/tiny@v1,model=hf://other/small,model=hf://other/twin,block_size=1M

c_main=$(printf 'demo/tiny@main' | sha1sum | cut -c1-40)
c_v1=$(printf 'demo/tiny@v1' | sha1sum | cut -c1-40)
r=$MNT/hub/models--demo--tiny
lfs=$(sha "$(src demo tiny model.safetensors)")

[ "$(cat "$r/refs/main")" = "$c_main" ] || fail "refs/main: $(cat "$r/refs/main")"
[ "$(stat -c %s "$r/refs/main")" = 40 ] || fail "refs/main has a newline"
[ "$(cat "$r/refs/v1")" = "$c_v1" ] || fail "refs/v1"
[ "$(readlink "$r/snapshots/$c_main/model.safetensors")" = "../../blobs/$lfs" ] ||
	fail "snapshot link: $(readlink "$r/snapshots/$c_main/model.safetensors")"
sub_sha1=$(git hash-object "$(src demo tiny onnx/sub/extra.txt)")
[ "$(readlink "$r/snapshots/$c_main/onnx/sub/extra.txt")" = "../../../../blobs/$sub_sha1" ] ||
	fail "nested link: $(readlink "$r/snapshots/$c_main/onnx/sub/extra.txt")"
[ "$(stat -c %s "$r/blobs/$lfs")" = "$(stat -c %s "$(src demo tiny model.safetensors)")" ] ||
	fail "blob size"
[ "$(ls "$r/blobs" | wc -l)" = 6 ] || fail "blobs: $(ls "$r/blobs")" # 5 + v1's config
[ "$(ls "$r/snapshots" | sort | tr '\n' ' ')" = "$(printf '%s\n' "$c_main" "$c_v1" | sort | tr '\n' ' ')" ] ||
	fail "snapshots: $(ls "$r/snapshots")"
cmp "$MNT/demo/tiny/config.json" "$(src demo tiny config.json)" ||
	fail "local view should show the first registered revision"
cmp "$r/snapshots/$c_v1/config.json" "$(src demo tiny config.json v1)" || fail "v1 config"
ok "blobs, snapshots (relative links), refs without newline; local view = main"

# the huggingface_hub offline access pattern
commit=$(cat "$r/refs/main")
cmp "$r/snapshots/$commit/tokenizer.json" "$(src demo tiny tokenizer.json)" || fail "offline pattern"
ok "refs/main then snapshots/<commit>/<file>"

# one stored copy: both views, both revisions and the second model read
# the same fetched bytes, and the store grows by one copy of the file (du,
# not the index)
size=$(stat -c %s "$(src demo tiny model.safetensors)")
c_twin=$(printf 'other/twin@main' | sha1sum | cut -c1-40)
[ "$(readlink "$MNT/hub/models--other--twin/snapshots/$c_twin/model.safetensors")" = "../../blobs/$lfs" ] ||
	fail "the second model's snapshot does not name blob $lfs"
disk() { du -s --block-size=1 "$STORE/blobs" | cut -f1; }
disk0=$(disk)
fetched0=$(origin_bytes)
cmp "$MNT/demo/tiny/model.safetensors" "$(src demo tiny model.safetensors)" || fail "demo/tiny bytes"
cmp "$MNT/other/twin/model.safetensors" "$(src other twin model.safetensors)" || fail "other/twin bytes"
fetched=$(( $(origin_bytes) - fetched0 ))
grow=$(( $(disk) - disk0 ))
[ "$fetched" -eq "$size" ] || fail "fetched $fetched bytes for two models sharing a $size-byte file"
[ "$grow" -ge "$size" ] && [ "$grow" -lt $((2 * size)) ] ||
	fail "the store grew by $grow bytes for two models sharing a $size-byte file"
ok "a second model sharing the file: $fetched bytes fetched once, the store grew by $grow bytes for $size"

cmp "$r/snapshots/$c_main/model.safetensors" "$MNT/demo/tiny/model.safetensors" || fail "views differ"
cmp "$r/snapshots/$c_v1/model.safetensors" "$(src demo tiny model.safetensors v1)" || fail "v1 bytes"
cmp "$MNT/hub/models--other--twin/snapshots/$c_twin/model.safetensors" "$(src other twin model.safetensors)" ||
	fail "twin hub view bytes"
fetched=$(( $(origin_bytes) - fetched0 ))
grow=$(( $(disk) - disk0 ))
[ "$fetched" -eq "$size" ] || fail "the hub views and v1 fetched $((fetched - size)) more bytes"
[ "$grow" -ge "$size" ] && [ "$grow" -lt $((2 * size)) ] ||
	fail "the store grew by $grow bytes for two revisions sharing a $size-byte file"
ok "one copy: both views of two revisions and two models fetched $fetched bytes; the store grew by $grow bytes for $size"

# the real client
"$PY" - "$T" >"$T/expect.json" <<'PYEOF' || fail "expectations"
import hashlib, json, os, sys
T = sys.argv[1]
def sha(p): return hashlib.sha256(open(p, "rb").read()).hexdigest()
repos = []
for repo, revs in (("demo/tiny", ["main", "v1"]), ("other/small", ["main"]),
                   ("other/twin", ["main"])):
    blobs, out = {}, []
    for rev in revs:
        d = f"{T}/repos/{repo}/{rev}"
        top = sorted(f for f in os.listdir(d) if os.path.isfile(f"{d}/{f}"))
        for f in top:
            blobs[sha(f"{d}/{f}")] = os.path.getsize(f"{d}/{f}")
        out.append({"commit": hashlib.sha1(f"{repo}@{rev}".encode()).hexdigest(),
                    "refs": [rev], "files": len(top),
                    "size": sum(os.path.getsize(f"{d}/{f}") for f in top),
                    "reads": [{"path": p, "sha256": sha(f"{d}/{p}")}
                              for p in ("config.json", "onnx/sub/extra.txt")
                              if os.path.exists(f"{d}/{p}")]})
    repos.append({"id": repo, "size": sum(blobs.values()),
                  "filesCount": len(blobs), "revisions": out})
print(json.dumps({"repos": repos}))
PYEOF
# warm every file through the mount first: then the client's run must not
# cause a single origin request (and its own hubUrl is a closed port)
for d in "$r/snapshots"/* "$MNT/hub/models--other--small/snapshots"/* \
	"$MNT/hub/models--other--twin/snapshots"/*; do
	find "$d/" -type l -exec cat {} + >/dev/null || fail "warm $d"
done
before=$(hub_sum count '.')
# ES modules resolve packages next to the script, not through NODE_PATH
mkdir -p "$T/node"
cp "$top_srcdir/tests/node/hubcheck.mjs" "$T/node/"
ln -s "$NODE_MODULES" "$T/node/node_modules"
node "$T/node/hubcheck.mjs" "$MNT/hub" "$T/expect.json" >"$T/node.out" 2>&1 ||
	fail "@huggingface/hub: $(tail -n 3 "$T/node.out")"
[ "$(hub_sum count '.')" -eq "$before" ] || fail "the client's reads went to the origin"
ok "@huggingface/hub scanCacheDir and downloadFileToCacheDir accept the view ($(grep -c '^ok' "$T/node.out") checks)"
