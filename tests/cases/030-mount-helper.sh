#!/bin/bash
# mount.aimfs: `mount -t aimfs` with the store, a model URI or options as
# the source, and an fstab line through `mount -T FILE`, mount through the
# helper with the daemon in the background; a file reads right and
# aimfs-ctl answers on the socket; mount(8)-only options are dropped and
# mount options reach the kernel; -f mounts nothing; a bad option fails
# with mount's status 32; umount unmounts and the daemon exits.
#
# mount(8) runs helpers from /sbin only (libmount's fixed search path:
# /sbin, /sbin/fs.d, /sbin/fs; no environment variable changes it, and
# -i only turns helpers off). So the case runs in a private mount
# namespace with a tmpfs over /sbin holding the helper, which sees no
# other file there: the host's /sbin is never touched, and the namespace
# and its mounts go away with the case whatever happens.
if [ -z "${AIMFS_CASE_MOUNT_NS:-}" ]; then
	if ! unshare -m --propagation private true 2>/dev/null; then
		echo "SKIP: cannot create a mount namespace"
		exit 77
	fi
	AIMFS_CASE_MOUNT_NS=1 exec unshare -m --propagation private \
		/bin/bash "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"

HPID= # the daemon mount.aimfs started (in the background, not our child)

# the daemon records its pid in the store's lock once it has forked,
# a moment after mount returns: poll it
helper_pid() {
	HPID=$(tr -cd 0-9 <"$STORE/lock" 2>/dev/null)
	[ -n "$HPID" ] && kill -0 "$HPID" 2>/dev/null
}

helper_cleanup() {
	[ -n "$HPID" ] && kill -TERM "$HPID" 2>/dev/null &&
		wait_for 10 '! kill -0 '"$HPID"' 2>/dev/null'
	grep -q " $MNT " /proc/mounts && umount -l "$MNT" 2>/dev/null
	return 0
}
at_exit helper_cleanup

# umount MNT: it unmounts, and the background daemon exits
unmount_check() {
	umount "$MNT" 2>"$T/umount.err" || fail "umount: $(cat "$T/umount.err")"
	! grep -q " $MNT " /proc/mounts || fail "still mounted after umount"
	wait_for 10 '! kill -0 $HPID 2>/dev/null' || fail "daemon $HPID still runs after umount"
	HPID=
}

# /sbin/mount.aimfs -> $T/bin/mount.aimfs, next to an aimfsd symlink: the
# helper must follow the link to find the daemon (there is no aimfsd in
# /sbin), as the packaged one does through /sbin -> usr/sbin
sbin=$(readlink -f /sbin)
mkdir -p "$T/bin"
cp "$top_srcdir/tools/mount.aimfs" "$T/bin/mount.aimfs"
chmod 755 "$T/bin/mount.aimfs"
ln -s "$AIMFSD" "$T/bin/aimfsd"
mount -t tmpfs -o mode=755 aimfs-case-sbin "$sbin" || fail "cannot mount a tmpfs on $sbin"
ln -s "$T/bin/mount.aimfs" "$sbin/mount.aimfs"

make_model demo tiny -- --size 8M --nested
make_model other small -- --size 1M
start_hub
base="ctl_socket=$SOCK,hf_endpoint=$HUB,fetch_timeout=5,connect_timeout=2"

# --- mount -t aimfs -o OPTIONS STORE MNT ------------------------------------
mount -t aimfs -o "$base,model=hf://demo/tiny" "$STORE" "$MNT" 2>"$T/mount.err" ||
	fail "mount -t aimfs: $(cat "$T/mount.err")"
# mount(8) passes -o rw; the helper drops it, so aimfsd has nothing to say
[ ! -s "$T/mount.err" ] || fail "mount printed: $(cat "$T/mount.err")"
grep -q "^aimfs $MNT fuse.aimfs ro," /proc/mounts || fail "not mounted: $(grep " $MNT " /proc/mounts)"
wait_for 10 helper_pid || fail "no daemon holds the store '$STORE'"
wait_for 10 'ctl status >/dev/null 2>&1' || fail "the daemon does not answer on $SOCK"
cmp -s "$MNT/demo/tiny/config.json" "$(src demo tiny config.json)" || fail "config.json differs"
head -c 8 "$MNT/demo/tiny/model.safetensors" | cmp -s - <(head -c 8 "$(src demo tiny model.safetensors)") ||
	fail "model.safetensors header differs"
ctl list >"$T/list.out" || fail "aimfs-ctl list"
grep -q " demo/tiny  hf://demo/tiny .* partial$" "$T/list.out" || fail "list: $(cat "$T/list.out")"
ok "mount -t aimfs -o ... STORE MNT: the store is the source, files read, list over the socket"

unmount_check
ok "umount unmounts and the daemon exits"

# --- an fstab line: the source as options, mount(8)-only options ----------
cat >"$T/fstab" <<EOF
# aimfs, as an operator would write it
store=$STORE,offline=no $MNT aimfs defaults,noauto,nofail,_netdev,x-systemd.automount,x-systemd.requires=network-online.target,comment=test,noatime,nodev,$base 0 0
EOF
mount -T "$T/fstab" "$MNT" 2>"$T/mount.err" || fail "mount -T fstab: $(cat "$T/mount.err")"
[ ! -s "$T/mount.err" ] || fail "mount printed: $(cat "$T/mount.err")"
opts=$(awk -v m="$MNT" '$2 == m { print $4 }' /proc/mounts)
case ",$opts," in
*,ro,*nodev,*noatime,*) ;;
*) fail "mount options '$opts' lack ro, nodev or noatime" ;;
esac
wait_for 10 helper_pid || fail "no daemon holds the store '$STORE' (fstab)"
wait_for 10 'ctl status >/dev/null 2>&1' || fail "no socket (fstab)"
[ "$(sha "$MNT/demo/tiny/config.json")" = "$(sha "$(src demo tiny config.json)")" ] ||
	fail "config.json differs (fstab)"
ctl list | grep -q " demo/tiny " || fail "the store's model is not listed (fstab)"
unmount_check
ok "fstab line via mount -T: options as the source, mount-only options dropped, noatime/nodev applied"

# --- a model URI as the source -----------------------------------------------
mount -t aimfs -o "store=$STORE,$base" hf://other/small "$MNT" 2>"$T/mount.err" ||
	fail "mount hf://other/small: $(cat "$T/mount.err")"
wait_for 10 helper_pid || fail "no daemon (URI source)"
wait_for 10 'ctl status >/dev/null 2>&1' || fail "no socket (URI source)"
# list before any lookup, which auto_add would answer too
ctl list | grep -q " other/small  hf://other/small " || fail "URI source not registered: $(ctl list)"
cmp -s "$MNT/other/small/config.json" "$(src other small config.json)" || fail "other/small differs"
unmount_check
ok "a model URI as the source registers it"

# --- -f mounts nothing; a bad option fails with 32 --------------------------
mount -f -t aimfs -o "$base" "$STORE" "$MNT" || fail "mount -f failed"
! grep -q " $MNT " /proc/mounts || fail "mount -f mounted"
ok "mount -f mounts nothing"

rc=0
mount -t aimfs -o "$base,no_such_option" "$STORE" "$MNT" 2>"$T/mount.err" || rc=$?
[ "$rc" -eq 32 ] || fail "bad option: mount exited $rc, want 32"
grep -q no_such_option "$T/mount.err" || fail "bad option not named: $(cat "$T/mount.err")"
! grep -q " $MNT " /proc/mounts || fail "mounted despite a bad option"
ok "a bad option fails the mount with status 32 and names it"
