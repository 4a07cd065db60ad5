#!/bin/bash
# The tree is read-only: every kind of write gets EROFS and nothing changes.
. "$(dirname "$0")/lib.sh"

make_model demo tiny -- --size 1M
start_hub
start_daemon -o model=hf://demo/tiny
d=$MNT/demo/tiny
expect_erofs() {
	local what=$1
	shift
	if "$@" 2>"$T/err"; then
		fail "$what succeeded"
	fi
	grep -q "Read-only file system" "$T/err" || fail "$what: $(cat "$T/err")"
}
expect_erofs "create" touch "$d/new"
expect_erofs "write" sh -c "echo x >> '$d/config.json'"
expect_erofs "truncate" truncate -s 0 "$d/config.json"
expect_erofs "unlink" rm -f "$d/config.json"
expect_erofs "rename" mv "$d/config.json" "$d/c.json"
expect_erofs "mkdir" mkdir "$d/x"
expect_erofs "rmdir" rmdir "$MNT/demo/tiny"
expect_erofs "chmod" chmod 600 "$d/config.json"
expect_erofs "symlink" ln -s config.json "$d/l"
expect_erofs "open for writing" "$PY" -c "open('$d/tokenizer.json', 'r+b')"
cmp "$d/config.json" "$(src demo tiny config.json)" || fail "content changed"
ok "writes, creates, unlinks, renames, setattr: EROFS"
stop_daemon

# allow_other: other users may read, never write (default_permissions)
start_daemon -o allow_other,model=hf://demo/tiny
grep " $MNT " /proc/mounts | grep -q "default_permissions" || fail "no default_permissions"
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
chmod 711 "$T" # mktemp made it 0700: let the other user through
as_nobody cat "$d/config.json" | cmp - "$(src demo tiny config.json)" || fail "another user cannot read"
as_nobody touch "$d/new" 2>/dev/null && fail "another user wrote"
ok "allow_other: other users read, with default_permissions, and cannot write"
