#!/bin/bash
# The Debian packages: tools/build-deb builds them from the sources as
# distributed (make distdir) with dpkg-buildpackage -b -us -uc; lintian
# finds no error; the package holds the programs, the helper, the man
# pages, the unit and the conffile, and its scripts never start the
# daemon; it installs, `aimfsd --version` and `aimfs-ctl --version` give
# the version and those of the libraries (libfuse, libcurl, SQLite,
# OpenSSL, lz4, jansson, expat), systemd-analyze verifies the installed
# unit, the installed helper mounts with the installed daemon, and purge
# leaves nothing.
# aimfs-reconciler is expected exactly when the build made the program.
# The RPM spec's version is configure.ac's.
#
# Needs dpkg-dev, debhelper and lintian (tools/bootstrap installs them);
# without them it fails, it does not skip. An aimfs package already
# installed on the machine is left alone: the binaries are then run from
# the extracted .deb instead.
. "$(dirname "$0")/lib.sh"

INSTALLED=   # the packages this case installed, to purge at exit
HPID=

pkg_cleanup() {
	[ -n "$HPID" ] && kill -TERM "$HPID" 2>/dev/null &&
		wait_for 10 '! kill -0 '"$HPID"' 2>/dev/null'
	grep -q " $MNT " /proc/mounts && umount -l "$MNT" 2>/dev/null
	if [ -n "$INSTALLED" ]; then
		# shellcheck disable=SC2086
		dpkg --purge $INSTALLED >>"$T/dpkg.log" 2>&1 ||
			echo "--- dpkg --purge $INSTALLED failed: see $T/dpkg.log"
	fi
	return 0
}
at_exit pkg_cleanup

for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian; do
	command -v "${tool%%:*}" >/dev/null ||
		fail "${tool%%:*} is not installed: apt-get install ${tool#*:} (tools/bootstrap check does)"
done

version=$(sed -n 's/^#define PACKAGE_VERSION "\(.*\)"$/\1/p' "$top_builddir/config.h")
[ -n "$version" ] || fail "no PACKAGE_VERSION in $top_builddir/config.h"
arch=$(dpkg --print-architecture)

specver=$(awk '$1 == "Version:" { print $2; exit }' "$top_srcdir/packaging/rpm/aimfs.spec")
[ "$specver" = "$version" ] ||
	fail "packaging/rpm/aimfs.spec is at version '$specver', configure.ac at $version"
ok "the RPM spec is at $version"

# versions_ok PROG FILE NAME=MODULE...: FILE (PROG --version) names each
# library with the version pkg-config has for it (the .deb is built and run
# on this machine, so the two agree); "libfuse 3.14.0", "expat_2.5.0"
versions_ok() {
	local prog=$1 out=$2 pair name want
	shift 2
	for pair in "$@"; do
		name=${pair%%=*}
		want=$(pkg-config --modversion "${pair#*=}") || fail "pkg-config has no ${pair#*=}"
		grep -q "\(^\|, \)$name[ _]$want\( \|,\|$\)" "$out" ||
			fail "$prog --version does not say $name $want: $(cat "$out")"
	done
}
LIBS="libcurl=libcurl SQLite=sqlite3 OpenSSL=openssl lz4=liblz4 jansson=jansson expat=expat"

# --- build -----------------------------------------------------------------
src=$T/src/aimfs-$version
mkdir -p "$T/src"
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$top_builddir" distdir \
	distdir="$src" >"$T/distdir.log" 2>&1 || fail "make distdir: $(tail -n 5 "$T/distdir.log")"
[ -x "$src/tools/build-deb" ] || fail "tools/build-deb is not distributed"
start=$(date +%s)
"$src/tools/build-deb" -o "$T/debs" "$src" >"$T/build.log" 2>&1 || {
	tail -n 40 "$T/build.log"
	fail "tools/build-deb failed (log above, whole in $T/build.log)"
}
secs=$(($(date +%s) - start))
deb=$(echo "$T/debs/aimfs_$version-"*"_$arch.deb")
[ -f "$deb" ] || fail "no aimfs .deb: $(ls "$T/debs")"
debs=$deb
pkgs=aimfs
if [ -x "$top_builddir/aimfs-reconciler" ]; then
	rdeb=$(echo "$T/debs/aimfs-reconciler_$version-"*"_$arch.deb")
	[ -f "$rdeb" ] || fail "aimfs-reconciler is built but has no .deb"
	debs="$debs $rdeb"
	pkgs="$pkgs aimfs-reconciler"
else
	! compgen -G "$T/debs/aimfs-reconciler_*" >/dev/null ||
		fail "an aimfs-reconciler .deb without the program"
fi
ok "dpkg-buildpackage -b -us -uc built $pkgs $version in ${secs}s"

# --- what the package holds ----------------------------------------------
dpkg-deb -c "$deb" | awk '{ print $6 }' >"$T/contents"
for f in usr/sbin/aimfsd usr/bin/aimfs-ctl usr/sbin/mount.aimfs \
	lib/systemd/system/aimfsd.service etc/aimfs/aimfs.conf \
	usr/share/man/man8/aimfsd.8.gz usr/share/man/man1/aimfs-ctl.1.gz \
	usr/share/man/man5/aimfs.conf.5.gz usr/share/man/man8/mount.aimfs.8.gz \
	usr/share/doc/aimfs/copyright; do
	grep -qxF "./$f" "$T/contents" || fail "the package lacks /$f"
done
dpkg-deb -I "$deb" conffiles 2>/dev/null | grep -qx /etc/aimfs/aimfs.conf ||
	fail "/etc/aimfs/aimfs.conf is not a conffile"
dpkg-deb -e "$deb" "$T/control"
if grep -Eq 'deb-systemd-invoke +(start|restart|try-restart)|systemctl +(start|restart|enable)' \
	"$T/control/"*inst "$T/control/"*rm 2>/dev/null; then
	fail "a maintainer script starts or enables the daemon"
fi
ok "programs, helper, man pages, unit and conffile; no script starts the daemon"

# --- lintian ---------------------------------------------------------------
rc=0
lintian --fail-on error "$T/debs/"*.changes >"$T/lintian.out" 2>&1 || rc=$?
grep '^E:' "$T/lintian.out" && fail "lintian errors (above)"
[ "$rc" -eq 0 ] || fail "lintian exited $rc: $(cat "$T/lintian.out")"
grep '^W:' "$T/lintian.out" | sed 's/^/# lintian: /'
ok "lintian: no errors, $(grep -c '^W:' "$T/lintian.out") warnings"

# --- install, run, purge ---------------------------------------------------
# installed, or removed with its conffiles kept: not ours to touch
if dpkg-query -W -f='${Status}\n' aimfs aimfs-reconciler 2>/dev/null | grep -qv 'not-installed$'; then
	dpkg-deb -x "$deb" "$T/root"
	"$T/root/usr/sbin/aimfsd" --version >"$T/version.out" 2>&1
	grep -q "^aimfsd $version\( \|$\)" "$T/version.out" || fail "aimfsd --version: $(cat "$T/version.out")"
	# shellcheck disable=SC2086
	versions_ok aimfsd "$T/version.out" libfuse=fuse3 $LIBS
	"$T/root/usr/bin/aimfs-ctl" --version >"$T/version.out" 2>&1
	grep -q "^aimfs-ctl $version\( \|$\)" "$T/version.out" || fail "aimfs-ctl --version: $(cat "$T/version.out")"
	# shellcheck disable=SC2086
	versions_ok aimfs-ctl "$T/version.out" $LIBS
	ok "aimfs is already installed here: not installing over it; the extracted binaries give $version and the libraries' versions"
	exit 0
fi

# shellcheck disable=SC2086
dpkg -i $debs >"$T/dpkg.log" 2>&1 || {
	INSTALLED=$pkgs
	fail "dpkg -i: $(tail -n 5 "$T/dpkg.log")"
}
INSTALLED=$pkgs
/usr/sbin/aimfsd --version >"$T/version.out" || fail "aimfsd --version failed"
grep -q "^aimfsd $version\( \|$\)" "$T/version.out" || fail "aimfsd --version: $(cat "$T/version.out")"
# shellcheck disable=SC2086
versions_ok aimfsd "$T/version.out" libfuse=fuse3 $LIBS
/usr/bin/aimfs-ctl --version >"$T/version.out" || fail "aimfs-ctl --version failed"
grep -q "^aimfs-ctl $version\( \|$\)" "$T/version.out" || fail "aimfs-ctl --version: $(cat "$T/version.out")"
# shellcheck disable=SC2086
versions_ok aimfs-ctl "$T/version.out" $LIBS
ok "installed: $(/usr/sbin/aimfsd --version | head -n 1); $(/usr/bin/aimfs-ctl --version | head -n 1); with libfuse, libcurl, SQLite, OpenSSL, lz4, jansson and expat versions"

! ls /etc/systemd/system/*.wants/aimfsd.service >/dev/null 2>&1 ||
	fail "the package enabled aimfsd.service"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify /lib/systemd/system/aimfsd.service >"$T/verify.out" 2>&1
	grep aimfsd "$T/verify.out" && fail "systemd-analyze verify (above)"
	ok "the unit is installed, not enabled, and systemd-analyze verify passes"
else
	ok "the unit is installed and not enabled (no systemd-analyze here to verify it)"
fi

# the packaged helper, where mount(8) finds it, runs the packaged daemon
[ -x /sbin/mount.aimfs ] || fail "mount(8) cannot find /sbin/mount.aimfs"
make_model demo tiny -- --size 1M
start_hub
mount -t aimfs -o "ctl_socket=$SOCK,hf_endpoint=$HUB,model=hf://demo/tiny" \
	"$STORE" "$MNT" 2>"$T/mount.err" || fail "mount -t aimfs: $(cat "$T/mount.err")"
wait_for 10 'HPID=$(tr -cd 0-9 <"$STORE/lock" 2>/dev/null); [ -n "$HPID" ] && kill -0 $HPID 2>/dev/null' ||
	fail "no daemon holds the store"
[ "$(readlink -f "/proc/$HPID/exe")" = /usr/sbin/aimfsd ] ||
	fail "the daemon is $(readlink -f "/proc/$HPID/exe"), not /usr/sbin/aimfsd"
wait_for 10 '/usr/bin/aimfs-ctl --socket "$SOCK" status >/dev/null 2>&1' || fail "no control socket"
cmp -s "$MNT/demo/tiny/config.json" "$(src demo tiny config.json)" || fail "config.json differs"
/usr/bin/aimfs-ctl --socket "$SOCK" list | grep -q " demo/tiny " || fail "list"
umount "$MNT" || fail "umount"
wait_for 10 '! kill -0 $HPID 2>/dev/null' || fail "the daemon outlived umount"
HPID=
ok "mount -t aimfs runs /sbin/mount.aimfs and /usr/sbin/aimfsd; umount stops it"

# shellcheck disable=SC2086
dpkg --purge $pkgs >>"$T/dpkg.log" 2>&1 || fail "dpkg --purge: $(tail -n 5 "$T/dpkg.log")"
INSTALLED=
for f in /usr/sbin/aimfsd /usr/bin/aimfs-ctl /usr/sbin/mount.aimfs /etc/aimfs \
	/lib/systemd/system/aimfsd.service /usr/bin/aimfs-reconciler; do
	[ ! -e "$f" ] || fail "$f is left after purge"
done
! dpkg-query -W -f='${Status}\n' aimfs aimfs-reconciler 2>/dev/null | grep -qv 'not-installed$' ||
	fail "dpkg still has: $(dpkg-query -W -f='${Package} ${Status}\n' aimfs aimfs-reconciler 2>&1)"
ok "dpkg --purge leaves nothing behind"
