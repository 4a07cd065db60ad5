#!/bin/bash
# Hostile listings and input: a Hub listing with '..', absolute paths,
# empty components, control characters or NUL, names over NAME_MAX, paths
# over PATH_MAX, a file that is also a directory, duplicates, negative or
# absurd sizes, bad digests, malformed, non-list or huge JSON; bad config
# values. Each is refused with a clear error, nothing is registered, and
# nothing outside a model's directory is exposed or written.
. "$(dirname "$0")/lib.sh"

make_model evil repo -- --size 1M
start_hub
FETCH_TIMEOUT=60 start_daemon # a 65 MiB listing is slow under ASan
touch "$T/marker"

# listing NAME REASON JSON: serve JSON as the tree of evil/repo, expect
# 'ctl add' to fail with REASON
n=0
listing() {
	local reason=$1 body=$2
	n=$((n + 1))
	"$PY" -c 'import json, sys; print(json.dumps({"repo": "evil/repo", "body": sys.stdin.read()}))' \
		<<<"$body" >"$T/req.json"
	curl -fsS -X POST --data-binary @"$T/req.json" "$HUB/_listing" >/dev/null || fail "cannot set listing"
	ctl add hf://evil/repo >/dev/null 2>"$T/err" && fail "case $n ($reason) was accepted"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "case $n: more than one line: $(cat "$T/err")"
	grep -q "$reason" "$T/err" || fail "case $n: [$(cat "$T/err")] lacks '$reason'"
}
OID=0123456789abcdef0123456789abcdef01234567
SHA=$(printf '%064d' 0)
file() { printf '{"type":"file","oid":"%s","size":%s,"path":%s}' "$OID" "$2" "$1"; }

listing "'.' or '..' path component" "[$(file '"../escape"' 1)]"
listing "'.' or '..' path component" "[$(file '"a/../../b"' 1)]"
listing "absolute path" "[$(file '"/etc/passwd"' 1)]"
listing "empty path component" "[$(file '"a//b"' 1)]"
listing "empty path" "[$(file '""' 1)]"
listing "control character" "[$(file '"a\u0001b"' 1)]"
listing "control character" "[$(file '"a\nb"' 1)]"
listing "malformed tree listing" "[$(file '"a\u0000b"' 1)]"
long=$(printf 'x%.0s' $(seq 256))
listing "longer than NAME_MAX" "[$(file "\"$long\"" 1)]"
deep=$(for i in $(seq 40); do printf '%s/' "$(printf 'd%.0s' $(seq 120))"; done)x
listing "longer than PATH_MAX" "[$(file "\"$deep\"" 1)]"
listing "as file and directory" "[$(file '"a"' 1),$(file '"a/b"' 1)]"
listing "names 'x' twice" "[$(file '"x"' 1),$(file '"x"' 2)]"
listing "impossible size" "[$(file '"x"' -1)]"
listing "impossible size" "[$(file '"x"' 1152921504606846976)]"
listing "malformed tree entry" "[$(file '"x"' '"12"')]"
listing "bad oid" '[{"type":"file","oid":"zz","size":1,"path":"x"}]'
listing "bad LFS oid" "[{\"type\":\"file\",\"oid\":\"$OID\",\"size\":1,\"path\":\"x\",\"lfs\":{\"oid\":\"nothex\"}}]"
listing "malformed tree listing" '[{"type":"file",'
listing "not a list" '{"path": "x"}'
listing "malformed tree entry" '[17]'
"$PY" -c 'import sys; sys.stdout.write("[" + " " * (65 << 20) + "]")' >"$T/huge"
listing "listing page over 64 MiB" "$(cat "$T/huge")"
ok "$n hostile listings refused, each with one clear line"

ctl --json list | "$PY" -c 'import json, sys; assert json.load(sys.stdin) == []' ||
	fail "a hostile listing registered something"
[ "$(ls "$MNT")" = hub ] || fail "the tree shows: $(ls "$MNT")"
[ -z "$(ls "$MNT/hub")" ] || fail "hub/ shows: $(ls "$MNT/hub")"
escaped=$(find "$T" /etc /root -xdev -newer "$T/marker" \( -name escape -o -name passwd -o -name b \) \
	-not -path "/proc/*" -not -path "$T/repos/*" 2>/dev/null | grep -v "^/etc/passwd$" || true)
[ -z "$escaped" ] || fail "files appeared: $escaped"
daemon_alive || fail "daemon died"
ok "nothing registered, nothing exposed or written outside the store"

# the honest listing still works afterwards
curl -fsS -X POST -d '{"repo": "evil/repo", "body": null}' "$HUB/_listing" >/dev/null
ctl add hf://evil/repo >/dev/null || fail "the real listing"
cmp "$MNT/evil/repo/config.json" "$(src evil repo config.json)" || fail "read"
ok "the same repo registers once its listing is sane"
stop_daemon

# bad configuration: one clear line, exit 1, nothing mounted
bad_conf() {
	local reason=$1
	shift
	"$AIMFSD" -f "$@" "$MNT" >"$T/out" 2>"$T/err" && fail "aimfsd accepted: $*"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "'$*': $(cat "$T/err")"
	grep -q "$reason" "$T/err" || fail "'$*': [$(cat "$T/err")] lacks '$reason'"
	grep -q " $MNT " /proc/mounts && fail "mounted after a bad config"
	return 0
}
bad_conf "bad value 'banana' for option 'block_size'" -o block_size=banana
bad_conf "bad value '3M' for option 'block_size'" -o block_size=3M
bad_conf "bad value '150%' for option 'cache_size'" -o cache_size=150%
bad_conf "bad value 'maybe' for option 'offline'" -o offline=maybe
bad_conf "must be an absolute path" -o store=relative
bad_conf "bad value '0' for option 'fetch_timeout'" -o fetch_timeout=0
printf '[aimfsd]\nstore = /tmp/x\nthis line is not ini\n' >"$T/bad.conf"
bad_conf "bad.conf:3: syntax error" --config "$T/bad.conf"
printf 'nosuchkey = 1\n' >"$T/bad2.conf"
bad_conf "unknown option 'nosuchkey'" --config "$T/bad2.conf"
bad_conf "cannot read" --config "$T/missing.conf"
HF_ENDPOINT=ftp://x bad_conf "bad value 'ftp://x' for option 'hf_endpoint'"
ok "bad configuration values: one clear line each, nothing mounted"
