#!/bin/sh
# SPDX-License-Identifier: MIT
# The license: COPYING is the MIT license of the mail-oauth2 authors, the
# README, debian/copyright and the RPM spec name it, and every source file
# git tracks (or would track) carries "SPDX-License-Identifier: MIT"
# (tests/add-spdx-headers --check; that script adds the missing lines).
# Outside a git work tree of this source tree (a dist tarball, the Debian
# package build) there is no list of source files to check: SKIP (77).
top=$(cd "$(dirname "$0")/../.." && pwd)
git_top=$(git -C "$top" rev-parse --show-toplevel 2>/dev/null) || git_top=
if [ -z "$git_top" ] || [ "$(cd "$git_top" && pwd -P)" != "$(cd "$top" && pwd -P)" ]; then
	echo "SKIP: $top is not a git work tree (no list of source files)"
	exit 77
fi
command -v python3 >/dev/null || { echo "python3 is needed"; exit 1; }
n=0
failed=0
# result DESC STATUS [DETAIL]
result() {
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		[ -n "${3:-}" ] && printf '%s\n' "$3" | sed 's/^/#   /'
		failed=1
	fi
}
rc=0
grep -qx 'MIT License' "$top/COPYING" &&
	grep -q '^Copyright (c) [0-9-]* the mail-oauth2 authors$' "$top/COPYING" &&
	grep -q '^Permission is hereby granted, free of charge' "$top/COPYING" || rc=1
result "COPYING is the MIT license of the mail-oauth2 authors" $rc
for spec in 'README:^mail-oauth2 is free software under the MIT license' \
	'packaging/rpm/mail-oauth2.spec:^License: *MIT$' \
	'packaging/debian/copyright:^License: MIT$'; do
	rc=0
	grep -q "${spec#*:}" "$top/${spec%%:*}" || rc=1
	result "${spec%%:*} names the MIT license" $rc "no line /${spec#*:}/"
done
count=$(python3 "$top/tests/add-spdx-headers" --list | wc -l)
rc=0
out=$(python3 "$top/tests/add-spdx-headers" --check) || rc=1
result "all $count source files carry SPDX-License-Identifier: MIT" $rc "$out"
exit $failed
