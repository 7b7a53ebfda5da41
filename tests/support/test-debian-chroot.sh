#!/bin/sh
# SPDX-License-Identifier: MIT
# Self-test of tests/support/debian-chroot.sh, as root:
#   tests/support/test-debian-chroot.sh [SUITE] [--create]
# uses the chroot build/chroots/SUITE (default trixie; made by ensure when
# missing) and checks that nothing stays mounted: moa2_chroot_mount with
# a failing BIND then moa2_chroot_umount; twice each (idempotent); a
# script killed by TERM (its trap unmounts) and by KILL (the watchdog
# does); moa2_chroot_run with its caller killed by KILL (private
# namespace: nothing on the host, ever). --create also kills an ensure of
# a scratch chroot (under build/chroots-selftest) in the middle of its
# package installation and checks that the next ensure removes the
# leftovers and builds a complete one (about a minute).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck disable=SC2034 # read by debian-chroot.sh
TOP=$top
. "$top/tests/support/debian-chroot.sh"
suite=trixie
create=
for arg; do
	case $arg in
	--create) create=yes ;;
	*) suite=$arg ;;
	esac
done
n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [ $# -gt 1 ] && printf '#   %s\n' "$2"; }
check_mounts() { # DESC DIR WANT
	_got=$(_moa2_chroot_mounts_under "$2" | grep -c .)
	if [ "$_got" = "$3" ]; then ok "$1"; else not_ok "$1" "$_got mounts under $2, want $3"; fi
}
# the PIDs this test started, killed at its end
mine=
trap 'for p in $mine; do kill "$p" 2>/dev/null; done; rm -rf "$W"' EXIT

moa2_chroot_ensure "$suite" >/dev/null || { echo "no $suite chroot"; exit 1; }
D=$MOA2_CHROOT_DIR
W=$(mktemp -d /tmp/moa2-chroot-test.XXXXXX)

# half a mount, then umount
moa2_chroot_mount "$D" "$W" /nonexistent-moa2-dir 2>/dev/null &&
	not_ok "a BIND of a missing dir fails" || ok "a BIND of a missing dir fails"
check_mounts "... the mounts before it are there" "$D" 5
moa2_chroot_mount "$D" "$W" && check_mounts "mount again: idempotent" "$D" 5
[ -e /dev/pts/ptmx ] && [ "$(stat -f -c %T /dev/pts)" = devpts ] && ok "the host's /dev/pts is not covered" ||
	not_ok "the host's /dev/pts is not covered"
moa2_chroot_umount "$D" && check_mounts "umount: nothing left" "$D" 0
moa2_chroot_umount "$D" && ok "umount twice: fine" || not_ok "umount twice"

# a script with a trap, killed by TERM; then one killed by KILL
cat >"$W/mounter.sh" <<EOF
TOP=$top
. "$top/tests/support/debian-chroot.sh"
trap 'moa2_chroot_umount "$D"; exit 143' TERM
moa2_chroot_mount "$D" "$W" && echo mounted >"$W/state"
sleep 60 &
mine=\$!
wait \$mine
EOF
for sig in TERM KILL; do
	rm -f "$W/state"
	sh "$W/mounter.sh" &
	pid=$!
	i=0
	while [ ! -s "$W/state" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	check_mounts "a script that mounted: 5 mounts" "$D" 5
	kill -"$sig" "$pid"
	wait "$pid" 2>/dev/null
	# its sleep is orphaned: ours to end
	for p in $(pgrep -P 1 -x sleep); do
		[ "$(tr '\0' ' ' <"/proc/$p/cmdline")" = "sleep 60 " ] && kill "$p"
	done
	sleep 2 # the watchdog polls every second
	check_mounts "... killed by $sig: nothing stays mounted" "$D" 0
done
set -- "$D"/.moa2-watch.*
[ -e "$1" ] && not_ok "watchdogs ended" || ok "watchdogs ended"

# moa2_chroot_run: private namespace, caller killed by KILL
echo hello >"$W/file"
cat >"$W/runner.sh" <<EOF
TOP=$top
. "$top/tests/support/debian-chroot.sh"
MOA2_CHROOT_BINDS="$W" moa2_chroot_run "$D" sh -c 'cat $W/file >$W/seen; echo \$\$ >$W/inner; exec sleep 60'
EOF
sh "$W/runner.sh" &
pid=$!
i=0
while [ ! -s "$W/inner" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
inner=$(cat "$W/inner" 2>/dev/null)
mine="$mine $inner"
check_eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1" "got '$2', want '$3'"; fi; }
check_eq "moa2_chroot_run: the BIND is seen in the chroot" "$(cat "$W/seen" 2>/dev/null)" hello
check_eq "moa2_chroot_run: CMD's root is the chroot" "$(readlink "/proc/$inner/root")" "$D"
check_mounts "moa2_chroot_run: nothing mounted in the host's namespace" "$D" 0
kill -KILL "$pid"
check_mounts "... caller killed: still nothing on the host" "$D" 0
kill "$inner"
sleep 0.2
rmdir "$D$W" 2>/dev/null
[ -d "$D$W" ] && not_ok "the BIND's mount point can be removed afterwards" ||
	ok "the BIND's mount point can be removed afterwards"

if [ -n "$create" ]; then
	MOA2_CHROOT_BASE=$top/build/chroots-selftest
	export MOA2_CHROOT_BASE
	rm -rf --one-file-system "$MOA2_CHROOT_BASE"
	setsid sh "$top/tests/support/debian-chroot.sh" ensure "$suite" procps >"$W/ensure.out" 2>&1 &
	pid=$!
	i=0
	while ! grep -q '^debian-chroot: installing' "$W/ensure.out" && [ $i -lt 1200 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "-$pid"
	sleep 1
	tmp=$(ls -d "$MOA2_CHROOT_BASE/.$suite.tmp."* 2>/dev/null)
	[ -n "$tmp" ] && [ ! -e "$MOA2_CHROOT_BASE/$suite" ] &&
		ok "ensure killed while installing: only a temp dir, no chroot" ||
		not_ok "ensure killed while installing: only a temp dir" "$(ls -a "$MOA2_CHROOT_BASE")"
	[ -z "$(grep -l " $MOA2_CHROOT_BASE/" /proc/[0-9]*/mountinfo 2>/dev/null)" ] &&
		ok "... nothing mounted in any namespace" || not_ok "... nothing mounted in any namespace"
	moa2_chroot_ensure "$suite" procps >"$W/ensure2.out" 2>&1
	[ -f "$MOA2_CHROOT_BASE/$suite/$MOA2_CHROOT_MARKER" ] && [ ! -e "$tmp" ] &&
		ok "the next ensure removed the leftovers and made the chroot" ||
		not_ok "the next ensure made the chroot" "$(tail -n 5 "$W/ensure2.out")"
	rm -rf --one-file-system "$MOA2_CHROOT_BASE"
fi

echo "test-debian-chroot: $((n - failed)) passed, $failed failed"
[ "$failed" = 0 ]
