#!/bin/sh
# SPDX-License-Identifier: MIT
# shellcheck shell=sh
# Debian chroots for running the tests against other Debian releases (e.g.
# Dovecot 2.4.1 of trixie, 2.4.x of sid) on a Debian host. POSIX sh, as
# root. Source it (TOP or MOA2_TOP = the repository; else the current
# directory's git top) or run it:
#
#   tests/support/debian-chroot.sh ensure SUITE [PACKAGE...]
#                       create/update build/chroots/SUITE (no PACKAGE: the
#                       default set, MOA2_CHROOT_PACKAGES of tests/lib-deps.sh)
#   tests/support/debian-chroot.sh run SUITE CMD...   CMD in the chroot
#                       (MOA2_CHROOT_BINDS as below; the source tree is bound)
#   tests/support/debian-chroot.sh shell SUITE        an interactive shell there
#   tests/support/debian-chroot.sh remove SUITE       delete the chroot
#   tests/support/debian-chroot.sh status             chroots and their mounts
#
# Functions:
#   moa2_chroot_ensure SUITE [PACKAGE...]
#       MOA2_CHROOT_DIR=$TOP/build/chroots/SUITE. When it is missing:
#       debootstrap --variant=minbase SUITE from the host's own Debian mirror
#       (moa2_chroot_mirror), resolv.conf and hosts copied, a policy-rc.d
#       that refuses every service start, dpkg/apt set for a throwaway
#       system (unsafe-io, no docs, no recommends), apt-get update; then the
#       missing PACKAGEs are installed (noninteractive; postfix's debconf
#       question preseeded to "No configuration"). The chroot is built in
#       build/chroots/.SUITE.tmp.PID and renamed into place only when
#       complete, its marker file (.moa2-chroot) written last: an
#       interrupted creation never counts as a chroot; its leftovers are
#       removed by the next ensure. Present: only the missing PACKAGEs are
#       installed (apt-get update first only when the install fails), and
#       empty mount points left in tmp/moa2-* by killed runs are removed. One
#       ensure per suite at a time (flock on build/chroots/.SUITE.lock).
#       Everything that mounts runs in a private mount namespace, so an
#       ensure killed at any point (even by SIGKILL) leaves nothing mounted.
#   moa2_chroot_mount DIR [BIND...]
#       in the current mount namespace: proc on DIR/proc, a bind mount of
#       /dev on DIR/dev (not recursive), a new devpts instance on
#       DIR/dev/pts (-o newinstance: the host's ptys are not visible), a
#       tmpfs on DIR/dev/shm, then each BIND: HOSTPATH (bound to the same
#       path in the chroot) or HOSTPATH:CHROOTPATH. Every mount is made
#       private, so nothing propagates to the host's mounts even where /
#       is shared. Idempotent (a mount already there is kept). A watchdog
#       (setsid, polling every second) unmounts them when the calling shell
#       ($$) is gone without doing so, e.g. after kill -9. Returns 1
#       at the first mount that fails, leaving the others: call
#       moa2_chroot_umount (e.g. from a trap).
#   moa2_chroot_umount DIR
#       unmounts everything mounted under DIR in the current namespace,
#       deepest first (lazily when busy), whether or not moa2_chroot_mount
#       completed: safe in a trap, idempotent, always returns 0 unless a
#       mount is still there afterwards. The mount points of BINDs stay
#       (empty dirs in the chroot): moa2_chroot_rmdir_bind removes one.
#   moa2_chroot_rmdir_bind DIR PATH
#       removes the empty mount point DIR/PATH of a BIND unless a process
#       (in any mount namespace) still has a mount there: a plain rmdir
#       would detach the mount under that process.
#   moa2_chroot_run DIR CMD...
#       CMD in the chroot, in a new private mount namespace (unshare -m)
#       that has the mounts of moa2_chroot_mount and the BINDs listed in
#       MOA2_CHROOT_BINDS (space-separated, as above): they exist only for
#       CMD and whatever it starts, and go with the last of those processes,
#       however the caller ends. The environment is cleared (PATH, HOME,
#       LANG=C.UTF-8, TERM kept; add others with `env VAR=VALUE CMD`); the
#       working directory is the caller's when that path exists in the
#       chroot (e.g. inside a bound source tree), else /. A daemon CMD starts
#       (e.g. dovecot) keeps its namespace, so its mounts, until it exits.
#       Exit status: CMD's.
#   moa2_chroot_mirror
#       prints the Debian mirror of the host's apt sources
#       (/etc/apt/sources.list.d/*.sources, then /etc/apt/sources.list): the
#       URI of the entry for the host's own codename. MOA2_CHROOT_MIRROR
#       overrides it.
#
# Paths in BINDs and chroot dirs must not contain whitespace (refused).
# A chroot can be several hundred MB: `remove SUITE` (or rm -rf after
# `status` shows nothing mounted) deletes it.

MOA2_CHROOT_MARKER=.moa2-chroot

_moa2_chroot_say() {
	printf '%s\n' "debian-chroot: $*" >&2
}

_moa2_chroot_top() {
	if [ -n "${MOA2_TOP:-}" ]; then
		printf '%s\n' "$MOA2_TOP"
	elif [ -n "${TOP:-}" ]; then
		printf '%s\n' "$TOP"
	else
		git rev-parse --show-toplevel 2>/dev/null || pwd
	fi
}

# the path of this file, for running it in a new namespace
_moa2_chroot_self() {
	printf '%s\n' "$(_moa2_chroot_top)/tests/support/debian-chroot.sh"
}

moa2_chroot_base() {
	printf '%s\n' "${MOA2_CHROOT_BASE:-$(_moa2_chroot_top)/build/chroots}"
}

_moa2_chroot_check_path() {
	case $1 in
	*[[:space:]]*)
		_moa2_chroot_say "path with whitespace refused: '$1'"
		return 1
		;;
	/*) return 0 ;;
	*)
		_moa2_chroot_say "not an absolute path: '$1'"
		return 1
		;;
	esac
}

# the host's codename (bookworm), from os-release
_moa2_chroot_host_codename() {
	# shellcheck disable=SC1091
	(. /etc/os-release 2>/dev/null && printf '%s\n' "${VERSION_CODENAME:-}")
}

moa2_chroot_mirror() {
	if [ -n "${MOA2_CHROOT_MIRROR:-}" ]; then
		printf '%s\n' "$MOA2_CHROOT_MIRROR"
		return 0
	fi
	_mcm_code=$(_moa2_chroot_host_codename)
	_mcm_uri=
	for _mcm_f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$_mcm_f" ] || continue
		# deb822 stanzas: Types has deb, Suites has the host codename itself
		_mcm_uri=$(awk -v code="$_mcm_code" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " code " ") &&
				    enabled != "no" && uri != "" && found == "") found = uri
				types = ""; suites = ""; uri = ""; enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			{
				key = tolower($1); sub(/:$/, "", key)
				val = $0; sub(/^[^:]*:[ \t]*/, "", val)
				if (key == "types") types = val
				else if (key == "suites") suites = val
				else if (key == "uris") { split(val, u, /[ \t]+/); uri = u[1] }
				else if (key == "enabled") enabled = tolower(val)
			}
			END { flush(); if (found != "") print found }' "$_mcm_f")
		[ -n "$_mcm_uri" ] && break
	done
	if [ -z "$_mcm_uri" ] && [ -f /etc/apt/sources.list ]; then
		# deb [options] URI SUITE COMPONENT...
		_mcm_uri=$(awk -v code="$_mcm_code" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
				if ($(i + 1) == code) { print $i; exit }
			}' /etc/apt/sources.list)
	fi
	if [ -z "$_mcm_uri" ]; then
		_moa2_chroot_say "no Debian mirror for '$_mcm_code' in the host's apt sources; using http://deb.debian.org/debian (set MOA2_CHROOT_MIRROR to choose)"
		_mcm_uri=http://deb.debian.org/debian
	fi
	printf '%s\n' "${_mcm_uri%/}"
}

# ---------------------------------------------------------------- mounts

# mount points under DIR (or DIR itself) in this namespace, one a line,
# deepest first (a mount below another has the longer path)
_moa2_chroot_mounts_under() {
	awk -v dir="$1" '
		function unescape(s,   out, i, c) {
			out = ""
			for (i = 1; i <= length(s); i++) {
				c = substr(s, i, 1)
				if (c == "\\" && substr(s, i + 1, 3) ~ /^[0-7][0-7][0-7]$/) {
					out = out sprintf("%c", (substr(s, i + 1, 1) * 64 + substr(s, i + 2, 1) * 8 + substr(s, i + 3, 1)))
					i += 3
				} else out = out c
			}
			return out
		}
		{ p = unescape($5); if (p == dir || index(p, dir "/") == 1) print length(p) " " p }
	' /proc/self/mountinfo | sort -rn | cut -d' ' -f2-
}

_moa2_chroot_is_mountpoint() {
	awk -v p="$1" '$5 == p { found = 1 } END { exit !found }' /proc/self/mountinfo
}

# _moa2_chroot_mount1 TARGET MOUNT-ARGS...: mounts unless TARGET is a
# mount point already, then makes it private
_moa2_chroot_mount1() {
	_mc1_target=$1
	shift
	_moa2_chroot_is_mountpoint "$_mc1_target" && return 0
	mount "$@" "$_mc1_target" || {
		_moa2_chroot_say "mount $* $_mc1_target failed"
		return 1
	}
	mount --make-private "$_mc1_target"
}

moa2_chroot_mount() {
	_mm_dir=$1
	shift
	_moa2_chroot_check_path "$_mm_dir" || return 1
	if [ ! -d "$_mm_dir/proc" ] || [ ! -d "$_mm_dir/dev" ]; then
		_moa2_chroot_say "$_mm_dir is not a chroot (no proc/ or dev/)"
		return 1
	fi
	_moa2_chroot_watch "$_mm_dir"
	_moa2_chroot_mount1 "$_mm_dir/proc" -t proc proc || return 1
	# the bind of /dev is private before anything is mounted below it: a
	# devpts on a shared bind would propagate onto the host's /dev/pts
	_moa2_chroot_mount1 "$_mm_dir/dev" --bind /dev || return 1
	mkdir -p "$_mm_dir/dev/pts" "$_mm_dir/dev/shm" 2>/dev/null
	_moa2_chroot_mount1 "$_mm_dir/dev/pts" -t devpts \
		-o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts || return 1
	_moa2_chroot_mount1 "$_mm_dir/dev/shm" -t tmpfs -o mode=1777,size=64m tmpfs || return 1
	for _mm_bind; do
		case $_mm_bind in
		*:*) _mm_src=${_mm_bind%%:*} _mm_dst=${_mm_bind#*:} ;;
		*) _mm_src=$_mm_bind _mm_dst=$_mm_bind ;;
		esac
		_moa2_chroot_check_path "$_mm_src" && _moa2_chroot_check_path "$_mm_dst" || return 1
		[ -d "$_mm_src" ] || {
			_moa2_chroot_say "bind source $_mm_src is not a directory"
			return 1
		}
		mkdir -p "$_mm_dir$_mm_dst" || return 1
		_moa2_chroot_mount1 "$_mm_dir$_mm_dst" --bind "$_mm_src" || return 1
	done
	return 0
}

# a watchdog, outside the caller's process group: when the caller ($$) is
# gone, however it ended (kill -9 too), it unmounts what is left; it ends
# by itself once nothing is mounted under DIR any more
_moa2_chroot_watch() {
	[ -n "${_MOA2_CHROOT_NO_WATCH:-}" ] && return 0
	_mw_pidfile=$1/.moa2-watch.$$
	if [ -s "$_mw_pidfile" ] && kill -0 "$(cat "$_mw_pidfile")" 2>/dev/null; then
		return 0
	fi
	setsid sh "$(_moa2_chroot_self)" __watch "$$" "$1" </dev/null >/dev/null 2>&1 &
	echo $! >"$_mw_pidfile"
}

_moa2_chroot_watch_loop() {
	_wl_pid=$1
	_wl_dir=$2
	while kill -0 "$_wl_pid" 2>/dev/null; do
		sleep 1
		[ -z "$(_moa2_chroot_mounts_under "$_wl_dir")" ] && break
	done
	kill -0 "$_wl_pid" 2>/dev/null || moa2_chroot_umount "$_wl_dir"
	rm -f "$_wl_dir/.moa2-watch.$_wl_pid"
}

moa2_chroot_umount() {
	_mu_dir=$1
	_moa2_chroot_check_path "$_mu_dir" || return 1
	_mu_round=0
	while [ $_mu_round -lt 5 ]; do
		_mu_list=$(_moa2_chroot_mounts_under "$_mu_dir")
		[ -z "$_mu_list" ] && break
		for _mu_m in $_mu_list; do
			umount "$_mu_m" 2>/dev/null || umount -l "$_mu_m" 2>/dev/null
		done
		_mu_round=$((_mu_round + 1))
	done
	if [ -n "$(_moa2_chroot_mounts_under "$_mu_dir")" ]; then
		_moa2_chroot_say "still mounted under $_mu_dir: $(_moa2_chroot_mounts_under "$_mu_dir" | tr '\n' ' ')"
		return 1
	fi
	return 0
}

moa2_chroot_rmdir_bind() {
	_rb_dir=$1
	_rb_path=$2
	[ -d "$_rb_dir$_rb_path" ] || return 0
	# a process rooted in the chroot sees PATH, any other DIR/PATH
	for _rb_mi in $(grep -l -F -e " $_rb_path " -e " $_rb_dir$_rb_path " \
		/proc/[0-9]*/mountinfo 2>/dev/null); do
		_rb_root=$(readlink "${_rb_mi%/mountinfo}/root" 2>/dev/null) || continue
		_rb_want=$_rb_dir$_rb_path
		[ "$_rb_root" = "$_rb_dir" ] && _rb_want=$_rb_path
		awk -v p="$_rb_want" '$5 == p { f = 1 } END { exit !f }' "$_rb_mi" 2>/dev/null &&
			return 0
	done
	rmdir "$_rb_dir$_rb_path" 2>/dev/null
	return 0
}

moa2_chroot_run() {
	_mr_dir=$1
	shift
	[ -f "$_mr_dir/$MOA2_CHROOT_MARKER" ] || {
		_moa2_chroot_say "$_mr_dir is not a ready chroot (no $MOA2_CHROOT_MARKER; moa2_chroot_ensure)"
		return 1
	}
	# shellcheck disable=SC2086 # MOA2_CHROOT_BINDS is a list
	unshare -m --propagation private sh "$(_moa2_chroot_self)" __run "$_mr_dir" \
		"$(pwd)" "${MOA2_CHROOT_BINDS:-}" "$@"
}

# in the new namespace: mounts, then exec chroot
_moa2_chroot_run_inside() {
	_ri_dir=$1
	_ri_cwd=$2
	_ri_binds=$3
	shift 3
	# shellcheck disable=SC2086
	moa2_chroot_mount "$_ri_dir" $_ri_binds || exit 125
	[ -d "$_ri_dir$_ri_cwd" ] || _ri_cwd=/
	exec chroot "$_ri_dir" /usr/bin/env -i \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
		/bin/sh -c 'cd "$1" || exit 125; shift; exec "$@"' sh "$_ri_cwd" "$@"
}

# ---------------------------------------------------------------- create

moa2_chroot_dir() {
	printf '%s/%s\n' "$(moa2_chroot_base)" "$1"
}

moa2_chroot_ensure() {
	_me_suite=$1
	shift
	case $_me_suite in
	'' | *[!a-z0-9-]*)
		_moa2_chroot_say "suite name '$_me_suite': a Debian codename (trixie, sid)"
		return 1
		;;
	esac
	_me_base=$(moa2_chroot_base)
	_moa2_chroot_check_path "$_me_base" || return 1
	mkdir -p "$_me_base" || return 1
	MOA2_CHROOT_DIR=$_me_base/$_me_suite
	# one ensure per suite at a time; the lock also covers the leftovers
	(
		flock 9 || exit 1
		_moa2_chroot_ensure_locked "$_me_suite" "$@"
	) 9>"$_me_base/.$_me_suite.lock"
}

_moa2_chroot_ensure_locked() {
	_el_suite=$1
	shift
	_el_dir=$MOA2_CHROOT_DIR
	_el_base=$(moa2_chroot_base)
	# leftovers of interrupted creations (their namespaces are gone: we
	# hold the lock); never rm across a mount point
	for _el_old in "$_el_base/.$_el_suite.tmp."*; do
		[ -d "$_el_old" ] || continue
		if [ -n "$(_moa2_chroot_mounts_under "$_el_old")" ]; then
			moa2_chroot_umount "$_el_old" || {
				_moa2_chroot_say "cannot unmount under $_el_old; remove it by hand"
				return 1
			}
		fi
		_moa2_chroot_say "removing $_el_old (an interrupted creation)"
		rm -rf --one-file-system "$_el_old"
	done
	if [ -d "$_el_dir" ] && [ ! -f "$_el_dir/$MOA2_CHROOT_MARKER" ]; then
		_moa2_chroot_say "$_el_dir exists but is not a chroot made here (no $MOA2_CHROOT_MARKER): remove it"
		return 1
	fi
	if [ ! -d "$_el_dir" ]; then
		_el_tmp=$_el_base/.$_el_suite.tmp.$$
		_el_t0=$(date +%s)
		unshare -m --propagation private sh "$(_moa2_chroot_self)" __create \
			"$_el_suite" "$_el_tmp" "$@" || {
			_moa2_chroot_say "creating the $_el_suite chroot failed (leftovers in $_el_tmp are removed by the next ensure)"
			return 1
		}
		mv "$_el_tmp" "$_el_dir" || return 1
		_moa2_chroot_say "$_el_suite chroot ready in $(($(date +%s) - _el_t0)) s: $_el_dir"
		return 0
	fi
	# present: empty mount points that killed test runs left in tmp/
	for _el_mp in "$_el_dir"/tmp/moa2-*; do
		[ -d "$_el_mp" ] && moa2_chroot_rmdir_bind "$_el_dir" "${_el_mp#"$_el_dir"}"
	done
	# only the missing packages
	_el_missing=$(_moa2_chroot_missing "$_el_dir" "$@")
	[ -z "$_el_missing" ] && return 0
	# shellcheck disable=SC2086
	unshare -m --propagation private sh "$(_moa2_chroot_self)" __install \
		"$_el_dir" $_el_missing
}

# packages among PKG... not installed in the chroot DIR
_moa2_chroot_missing() {
	_cm_dir=$1
	shift
	for _cm_p; do
		chroot "$_cm_dir" dpkg-query -W -f='${Status}\n' "$_cm_p" 2>/dev/null |
			grep -q '^install ok installed$' || printf '%s ' "$_cm_p"
	done
}

# _moa2_chroot_in DIR CMD...: CMD in DIR, already mounted (for apt, dpkg)
_moa2_chroot_in() {
	_cin_dir=$1
	shift
	chroot "$_cin_dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
		LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"
}

# in a private namespace: install PKG... into DIR (mounted here)
_moa2_chroot_install_inside() {
	_ii_dir=$1
	shift
	moa2_chroot_mount "$_ii_dir" || exit 1
	_moa2_chroot_say "installing in $(basename "$_ii_dir"): $*"
	echo 'postfix postfix/main_mailer_type select No configuration' |
		_moa2_chroot_in "$_ii_dir" debconf-set-selections
	# an install interrupted earlier left packages unconfigured
	_moa2_chroot_in "$_ii_dir" dpkg --configure -a >/dev/null 2>&1
	_ii_apt="apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold"
	# shellcheck disable=SC2086
	if ! _moa2_chroot_in "$_ii_dir" $_ii_apt "$@" >"$_ii_dir/var/log/moa2-install.log" 2>&1; then
		# stale package lists (sid moves on): update and try again
		_moa2_chroot_in "$_ii_dir" apt-get update -q >>"$_ii_dir/var/log/moa2-install.log" 2>&1
		# shellcheck disable=SC2086
		_moa2_chroot_in "$_ii_dir" $_ii_apt "$@" >>"$_ii_dir/var/log/moa2-install.log" 2>&1 || {
			tail -n 20 "$_ii_dir/var/log/moa2-install.log" >&2
			exit 1
		}
	fi
	_moa2_chroot_in "$_ii_dir" apt-get clean
	exit 0
}

# in a private namespace: the whole creation into TMP
_moa2_chroot_create_inside() {
	_ci_suite=$1
	_ci_tmp=$2
	shift 2
	_ci_mirror=$(moa2_chroot_mirror)
	_moa2_chroot_say "debootstrap --variant=minbase $_ci_suite $_ci_tmp $_ci_mirror"
	mkdir -p "$_ci_tmp" || exit 1
	if ! debootstrap --variant=minbase "$_ci_suite" "$_ci_tmp" "$_ci_mirror" \
		>"$_ci_tmp.debootstrap.log" 2>&1; then
		tail -n 20 "$_ci_tmp.debootstrap.log" >&2
		[ -f "$_ci_tmp/debootstrap/debootstrap.log" ] &&
			tail -n 20 "$_ci_tmp/debootstrap/debootstrap.log" >&2
		rm -f "$_ci_tmp.debootstrap.log"
		exit 1
	fi
	mv "$_ci_tmp.debootstrap.log" "$_ci_tmp/var/log/moa2-debootstrap.log"
	cp /etc/resolv.conf "$_ci_tmp/etc/resolv.conf" 2>/dev/null
	cp /etc/hosts "$_ci_tmp/etc/hosts" 2>/dev/null
	printf '#!/bin/sh\n# mail-oauth2 test chroot: no package starts a service\nexit 101\n' \
		>"$_ci_tmp/usr/sbin/policy-rc.d"
	chmod 755 "$_ci_tmp/usr/sbin/policy-rc.d"
	# a throwaway system: no fsync per file, no documentation, no recommends
	cat >"$_ci_tmp/etc/dpkg/dpkg.cfg.d/moa2-chroot" <<'EOF'
force-unsafe-io
path-exclude=/usr/share/doc/*
path-include=/usr/share/doc/*/copyright
path-exclude=/usr/share/man/*
path-exclude=/usr/share/info/*
EOF
	# sid's Release file is valid for a week only (Valid-Until): a mirror
	# or snapshot behind the clock would make apt refuse it. The signatures
	# are still checked; only the replay protection, pointless here, is off.
	cat >"$_ci_tmp/etc/apt/apt.conf.d/90moa2-chroot" <<'EOF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
EOF
	printf 'deb %s %s main\n' "$_ci_mirror" "$_ci_suite" >"$_ci_tmp/etc/apt/sources.list"
	moa2_chroot_mount "$_ci_tmp" || exit 1
	_moa2_chroot_in "$_ci_tmp" apt-get update -q >"$_ci_tmp/var/log/moa2-apt-update.log" 2>&1 || {
		tail -n 20 "$_ci_tmp/var/log/moa2-apt-update.log" >&2
		exit 1
	}
	if [ $# -gt 0 ]; then
		(_moa2_chroot_install_inside "$_ci_tmp" "$@") || exit 1
	fi
	moa2_chroot_umount "$_ci_tmp" || exit 1
	{
		echo "suite=$_ci_suite"
		echo "mirror=$_ci_mirror"
		echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	} >"$_ci_tmp/$MOA2_CHROOT_MARKER"
	exit 0
}

# ---------------------------------------------------------------- CLI

_moa2_chroot_cli() {
	MOA2_TOP=$(cd "$(dirname "$0")/../.." && pwd)
	export MOA2_TOP
	_cli_cmd=${1:-}
	[ $# -gt 0 ] && shift
	case $_cli_cmd in
	__run | __create | __install)
		# a private namespace: its mounts go with it
		_MOA2_CHROOT_NO_WATCH=1
		case $_cli_cmd in
		__run) _moa2_chroot_run_inside "$@" ;;
		__create) _moa2_chroot_create_inside "$@" ;;
		__install) _moa2_chroot_install_inside "$@" ;;
		esac
		;;
	__watch) _moa2_chroot_watch_loop "$@" ;;
	ensure)
		[ $# -ge 1 ] || { echo "usage: $0 ensure SUITE [PACKAGE...]" >&2; exit 2; }
		_cli_suite=$1
		shift
		if [ $# -eq 0 ]; then
			. "$MOA2_TOP/tests/lib-deps.sh"
			# shellcheck disable=SC2086
			set -- $MOA2_CHROOT_PACKAGES
		fi
		moa2_chroot_ensure "$_cli_suite" "$@" || exit 1
		echo "$MOA2_CHROOT_DIR"
		;;
	run | shell)
		[ $# -ge 1 ] || { echo "usage: $0 run SUITE CMD... | shell SUITE" >&2; exit 2; }
		_cli_dir=$(moa2_chroot_dir "$1")
		shift
		[ "$_cli_cmd" = shell ] && set -- bash -l
		MOA2_CHROOT_BINDS="$MOA2_TOP ${MOA2_CHROOT_BINDS:-}" moa2_chroot_run "$_cli_dir" "$@"
		;;
	remove)
		[ $# -eq 1 ] || { echo "usage: $0 remove SUITE" >&2; exit 2; }
		_cli_dir=$(moa2_chroot_dir "$1")
		[ -d "$_cli_dir" ] || exit 0
		moa2_chroot_umount "$_cli_dir" || exit 1
		rm -rf --one-file-system "$_cli_dir"
		;;
	status)
		for _cli_d in "$(moa2_chroot_base)"/*/; do
			[ -f "$_cli_d$MOA2_CHROOT_MARKER" ] || continue
			_cli_d=${_cli_d%/}
			printf '%s: %s, %s\n' "$(basename "$_cli_d")" \
				"$(sed -n 's/^created=//p' "$_cli_d/$MOA2_CHROOT_MARKER")" \
				"$(du -sh --one-file-system "$_cli_d" 2>/dev/null | cut -f1)"
			_moa2_chroot_mounts_under "$_cli_d" | sed 's/^/  mounted: /'
		done
		;;
	*)
		sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
		exit 2
		;;
	esac
}

case ${0##*/} in
debian-chroot.sh) _moa2_chroot_cli "$@" ;;
esac
