#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Source this file to get apt_private, a wrapper around apt-get/apt-cache that
# reads a private sources list (bookworm, bookworm-backports, trixie, ...)
# kept in the cache folder. The system's apt configuration is never touched,
# and the mirror is whatever the system's own sources name.

: "${CACHE:=${XDG_CACHE_HOME:-$HOME/.cache}/refmdev}"
APT_DIR="$CACHE/apt"

# The first deb822 "URIs:" or one-line "deb" entry that serves the bookworm
# suite (not the security archive) is the mirror we reuse.
system_mirror()
{
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		uri=$(awk '/^URIs:/ { u = $2 } /^Suites:.*bookworm([ ]|$)/ { if (u !~ /security/) { print u; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk '$1 == "deb" && $0 !~ /security/ && / bookworm / { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "$uri"; return 0; }
	done
	return 1
}

# Every suite a script here takes packages from. One list for all, so
# that one script's refresh is never undone by the next one's.
APT_SUITES="bookworm bookworm-backports trixie trixie-backports sid"

# apt_private_setup [SUITE...] : write the private sources (APT_SUITES by
# default) and refresh lists when they are missing or older than a day.
# Under a lock: make check fetches the debug kernel's source and another
# kernel at the same moment, and they share these files.
apt_private_setup()
{
	mkdir -p "$APT_DIR"
	(
		flock 9
		apt_private_setup_locked "$@"
	) 9> "$APT_DIR/setup.lock"
}

apt_private_setup_locked()
{
	local mirror suite stamp
	[ $# -gt 0 ] || set -- $APT_SUITES
	mirror=$(system_mirror) || {
		echo "apt-private: no bookworm mirror found in /etc/apt/sources*" >&2
		return 1
	}
	mkdir -p "$APT_DIR/lists/partial" "$APT_DIR/archives/partial"
	: > "$APT_DIR/sources.list.new"
	for suite in "$@"; do
		echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
			>> "$APT_DIR/sources.list.new"
	done
	stamp="$APT_DIR/lists/.stamp"
	if ! cmp -s "$APT_DIR/sources.list.new" "$APT_DIR/sources.list" ||
	   [ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ]; then
		mv "$APT_DIR/sources.list.new" "$APT_DIR/sources.list"
		apt_private update -qq >&2 || return 1
		touch "$stamp"
	else
		rm -f "$APT_DIR/sources.list.new"
	fi
}

apt_private()
{
	local tool=apt-get
	case "$1" in
	policy|show|depends|search|madison) tool=apt-cache ;;
	esac
	"$tool" -o Dir::Etc::SourceList="$APT_DIR/sources.list" \
		-o Dir::Etc::SourceParts=/dev/null \
		-o Dir::State::Lists="$APT_DIR/lists" \
		-o Dir::Cache::Archives="$APT_DIR/archives" \
		-o Dir::Cache::pkgcache="" -o Dir::Cache::srcpkgcache="" \
		-o APT::Get::List-Cleanup=0 -o APT::Sandbox::User=root "$@"
}
