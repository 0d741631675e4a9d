#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# checkpatch.sh - run the kernel's checkpatch.pl --strict over every kernel
# source file of the project. checkpatch.pl comes from Debian's
# linux-source package (fetched into the cache); if that cannot be had the
# check is skipped with a message saying so, and exit status 2.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)

if ! src=$("$top/scripts/fetch-source.sh" 2>/dev/null); then
	echo "checkpatch: SKIPPED: could not fetch linux-source for scripts/checkpatch.pl" >&2
	exit 2
fi
cd "$top" || exit 1
files=$(git ls-files -- 'mdev/*.[ch]' 'p2p/*.[ch]' 'include/*.h' \
	'selftests/*.[ch]' 'samples/*.[ch]' 2>/dev/null)
[ -n "$files" ] || files=$(find mdev p2p include selftests samples -name '*.[ch]' | sort)
# shellcheck disable=SC2086
perl "$src/scripts/checkpatch.pl" --strict --no-tree --terse --show-types \
	--ignore FILE_PATH_CHANGES,SPDX_LICENSE_TAG \
	-f $files
