# SPDX-License-Identifier: GPL-2.0
#
# mirror-sources.sh - sourced by the build-*-module.sh scripts, which build
# a module in a private copy of its sources (OUT/src), so that builds for
# several kernels can coexist with the in-tree one.
#
#   mirror_begin OUT    start a fresh copy in OUT/src.new; fill it in
#   mirror_finish OUT   make it OUT/src, unless OUT/src already has the same
#                       sources (then Kbuild's objects there stay valid)
#
# A fresh copy each time means a file removed from the tree cannot linger.

mirror_begin()
{
	rm -rf "$1/src.new"
	mkdir -p "$1/src.new"
}

mirror_finish()
{
	if [ -d "$1/src" ] && diff -rq "$1/src.new" "$1/src" \
		-x '*.o' -x '*.ko' -x '*.mod*' -x '.*.cmd' -x 'modules.order' \
		-x 'Module.symvers' >/dev/null 2>&1; then
		rm -rf "$1/src.new"
	else
		rm -rf "$1/src"
		mv "$1/src.new" "$1/src"
	fi
}
