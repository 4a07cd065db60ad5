#!/bin/bash
# Reads through mmap (as safetensors and vLLM do) return the right bytes.
. "$(dirname "$0")/lib.sh"

make_model demo big -- --size 16M
start_hub
start_daemon -o model=hf://demo/big
"$PY" - "$MNT/demo/big/model.safetensors" "$(src demo big model.safetensors)" <<'PYEOF' || fail "mmap"
import hashlib, mmap, random, sys
a = open(sys.argv[1], "rb")
b = open(sys.argv[2], "rb").read()
m = mmap.mmap(a.fileno(), 0, access=mmap.ACCESS_READ)
assert len(m) == len(b)
rnd = random.Random(1)
for _ in range(200):
    off = rnd.randrange(len(b))
    n = rnd.randrange(1, 70000)
    assert m[off:off + n] == b[off:off + n], off
assert hashlib.sha256(m).digest() == hashlib.sha256(b).digest()
PYEOF
ok "mmap reads match"
