#!/usr/bin/env bash
# Build local stand-ins for the Zentoria data tier's default images from
# Debian 12 (bookworm) packages only, for CI machines without a registry.
#
#   .ci/images/build.sh               build what is missing or out of date,
#                                     then print the image names
#   .ci/images/build.sh --print-tags  only print the names of the built images
#                                     (fails if one is missing or out of date)
#   .ci/images/build.sh --rebuild     throw away the cached rootfs and images,
#                                     rebuild everything (picks up Debian updates)
#
# Output on stdout, one image name per line (same for --print-tags; progress
# goes to stderr):
#   zentoria-ci/base:bookworm
#   zentoria-ci/postgres:15-bookworm
#   zentoria-ci/pgbouncer:<Debian pgbouncer upstream version, e.g. 1.18.0>
#   zentoria-ci/redis:<Debian redis upstream version, e.g. 7.0.15>
#
# Caching: every image carries the labels zentoria.ci.image, zentoria.ci.hash
# (hash of its inputs) and zentoria.ci.tag; an image whose tag and hash match is
# not rebuilt. The debootstrap rootfs tarball is kept in
# ${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/images.
#
# Environment: ZENTORIA_CACHE, ZENTORIA_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), ZENTORIA_DEBIAN_SECURITY_MIRROR (default
# http://deb.debian.org/debian-security).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO=zentoria-ci
SUITE=bookworm
BASE_REF="$REPO/base:$SUITE"
MIRROR="${ZENTORIA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${ZENTORIA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE_DIR="${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/images"
# Packages added to the debootstrap minbase rootfs (setpriv is in util-linux,
# which minbase already has).
BASE_INCLUDE=""
# Bump to force a new rootfs when the debootstrap recipe below changes.
ROOTFS_RECIPE=2

# The legacy builder works with every Docker version we meet (20.10 without
# buildx included); BuildKit is not needed.
export DOCKER_BUILDKIT=0

mode=build
for arg in "$@"; do
	case "$arg" in
		--print-tags) mode=print ;;
		--rebuild) mode=rebuild ;;
		-h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
		*) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
	esac
done

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] error: %s\n' "$*" >&2; exit 1; }

sha() { sha256sum | cut -c1-64; }

# Hash of a directory's files (paths, modes and contents).
hash_dir() {
	(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
		while IFS= read -r -d '' f; do
			printf '%s %s ' "$f" "$(stat -c %a "$f")"
			sha256sum < "$f"
		done) | sha
}

label_of() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

ensure_docker() {
	docker info >/dev/null 2>&1 && return 0
	[ "$mode" = print ] && die 'docker is not running'
	log 'docker info failed; starting dockerd'
	command -v dockerd >/dev/null || die 'dockerd not found'
	nohup dockerd >/tmp/dockerd.log 2>&1 &
	for _ in $(seq 1 60); do
		docker info >/dev/null 2>&1 && return 0
		sleep 1
	done
	die 'dockerd did not come up (see /tmp/dockerd.log)'
}

# ---------------------------------------------------------------- base image

rootfs_key() {
	printf 'recipe=%s suite=%s mirror=%s security=%s include=%s overlay=%s\n' \
		"$ROOTFS_RECIPE" "$SUITE" "$MIRROR" "$SECURITY_MIRROR" "$BASE_INCLUDE" \
		"$(hash_dir "$SCRIPT_DIR/base/rootfs")" | sha
}

ROOTFS_TMP=''
cleanup_rootfs_tmp() {
	[ -n "$ROOTFS_TMP" ] && [ -d "$ROOTFS_TMP" ] || return 0
	# debootstrap may leave proc/sys mounted inside the target on failure
	awk -v d="$ROOTFS_TMP/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$ROOTFS_TMP"
}
trap cleanup_rootfs_tmp EXIT

make_rootfs_tarball() { # $1 = tarball path
	[ "$(id -u)" = 0 ] || die 'debootstrap needs root'
	command -v debootstrap >/dev/null || die 'debootstrap is not installed (apt-get install debootstrap)'
	mkdir -p "$CACHE_DIR"
	ROOTFS_TMP="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
	local dir="$ROOTFS_TMP/root"
	local -a include=()
	[ -z "$BASE_INCLUDE" ] || include=(--include="$BASE_INCLUDE")
	log "debootstrap --variant=minbase ${include[*]} $SUITE from $MIRROR (about a minute)"
	debootstrap --variant=minbase "${include[@]}" "$SUITE" "$dir" "$MIRROR" \
		> "$ROOTFS_TMP/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$ROOTFS_TMP/debootstrap.log" >&2; die 'debootstrap failed'; }

	cp -a "$SCRIPT_DIR/base/rootfs/." "$dir/"
	cat > "$dir/etc/apt/sources.list" <<-EOF
		deb $MIRROR $SUITE main
		deb $MIRROR $SUITE-updates main
		deb $SECURITY_MIRROR $SUITE-security main
	EOF
	# bring the release packages up to the point/security updates
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
	chroot "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' \
		>> "$ROOTFS_TMP/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$ROOTFS_TMP/debootstrap.log" >&2; die 'apt-get upgrade in the rootfs failed'; }
	# trim: package caches and lists, docs, host-specific files
	rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/cache/apt/*.bin \
		"$dir"/var/lib/apt/lists/* "$dir"/var/log/* "$dir"/tmp/* "$dir"/var/tmp/* \
		"$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/groff/* \
		"$dir"/usr/share/lintian/* "$dir"/usr/share/linda/* "$dir"/var/cache/debconf/*-old
	find "$dir/usr/share/doc" -mindepth 1 \! -name copyright \! -type d -delete
	find "$dir/usr/share/doc" -mindepth 1 -type d -empty -delete
	find "$dir/usr/share/locale" -mindepth 1 -maxdepth 1 \! -name locale.alias -exec rm -rf '{}' +
	: > "$dir/etc/machine-id"
	rm -f "$dir/etc/hostname" "$dir/etc/resolv.conf"
	printf 'localhost\n' > "$dir/etc/hostname"

	tar --numeric-owner --xattrs -C "$dir" --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' \
		-cf "$1.tmp" .
	mv -f "$1.tmp" "$1"
	cleanup_rootfs_tmp
	ROOTFS_TMP=''
}

build_base() { # sets BASE_HASH
	BASE_HASH="$(rootfs_key)"
	if [ "$mode" != rebuild ] && [ "$(label_of "$BASE_REF" zentoria.ci.hash)" = "$BASE_HASH" ]; then
		log "$BASE_REF is up to date"
		return 0
	fi
	[ "$mode" = print ] && return 1
	local tarball="$CACHE_DIR/rootfs-$SUITE-${BASE_HASH:0:16}.tar"
	if [ "$mode" = rebuild ] || [ ! -s "$tarball" ]; then
		rm -f "$CACHE_DIR"/rootfs-"$SUITE"-*.tar
		make_rootfs_tarball "$tarball"
	else
		log "using cached rootfs $tarball"
	fi
	log "importing $BASE_REF"
	docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' \
		--change "LABEL zentoria.ci.image=base zentoria.ci.hash=$BASE_HASH zentoria.ci.tag=$SUITE" \
		"$tarball" "$BASE_REF" >/dev/null
	BUILT+=("$BASE_REF")
}

# ----------------------------------------------------------- derived images

# name -> Debian package whose version is pinned / names the tag
declare -A PKG=([postgres]=postgresql-15 [pgbouncer]=pgbouncer [redis]=redis-server)
declare -A BUILD_ARG=([postgres]=PG_DEB_VERSION [pgbouncer]=PGBOUNCER_DEB_VERSION [redis]=REDIS_DEB_VERSION)
declare -A DEB_VERSION=()

image_hash() { # name
	printf 'base=%s script=%s dir=%s\n' \
		"$(docker image inspect -f '{{.Id}}' "$BASE_REF")" \
		"$(sha < "${BASH_SOURCE[0]}")" \
		"$(hash_dir "$SCRIPT_DIR/$1")" | sha
}

# Prints the image ref built for <name> with hash <hash>, if any.
find_cached() { # name hash
	local ref want
	docker images --filter "label=zentoria.ci.image=$1" --filter "label=zentoria.ci.hash=$2" \
		--format '{{.Repository}}:{{.Tag}}' | while read -r ref; do
		[ "${ref%%:*}" = "$REPO/$1" ] || continue
		want="$(label_of "$ref" zentoria.ci.tag)"
		if [ -n "$want" ] && [ "$ref" = "$REPO/$1:$want" ]; then
			echo "$ref"
			break
		fi
	done
}

# Candidate versions of the pinned packages, from the Debian mirror (via apt in
# the base image, so they are exactly what the build will install).
resolve_versions() {
	[ "${#DEB_VERSION[@]}" -gt 0 ] && return 0
	log "resolving Debian package versions (${PKG[*]})"
	local out pkg ver
	out="$(docker run --rm "$BASE_REF" sh -c \
		'apt-get update -qq >/dev/null && for p in "$@"; do printf "%s %s\n" "$p" "$(apt-cache policy "$p" | sed -n "s/^ *Candidate: //p")"; done' \
		sh "${PKG[@]}")" || die 'apt-get update in the base image failed (mirror unreachable?)'
	while read -r pkg ver; do
		[ -n "$ver" ] && [ "$ver" != '(none)' ] || die "no candidate version for $pkg"
		DEB_VERSION[$pkg]="$ver"
	done <<< "$out"
}

# Debian version -> upstream version: 5:7.0.15-1~deb12u10 -> 7.0.15
upstream_version() { local v="${1#*:}"; echo "${v%-*}"; }

build_image() { # name -> sets REF[name]
	local name="$1" hash ref tag pkg ver
	hash="$(image_hash "$name")"
	ref=''
	[ "$mode" = rebuild ] || ref="$(find_cached "$name" "$hash")"
	if [ -n "$ref" ]; then
		log "$ref is up to date"
		REF[$name]="$ref"
		return 0
	fi
	[ "$mode" = print ] && return 1
	resolve_versions
	pkg="${PKG[$name]}"
	ver="${DEB_VERSION[$pkg]}"
	case "$name" in
		postgres) tag=15-$SUITE ;;
		*) tag="$(upstream_version "$ver")" ;;
	esac
	ref="$REPO/$name:$tag"
	log "building $ref ($pkg $ver)"
	local -a nocache=()
	[ "$mode" = rebuild ] && nocache=(--no-cache)
	docker build "${nocache[@]}" \
		--build-arg "BASE_IMAGE=$BASE_REF" \
		--build-arg "${BUILD_ARG[$name]}=$ver" \
		--label "zentoria.ci.image=$name" \
		--label "zentoria.ci.hash=$hash" \
		--label "zentoria.ci.tag=$tag" \
		--label "zentoria.ci.debian-package=$pkg" \
		--label "zentoria.ci.debian-version=$ver" \
		-t "$ref" "$SCRIPT_DIR/$name" >&2
	REF[$name]="$ref"
	BUILT+=("$ref")
}

# ---------------------------------------------------------------------- main

ensure_docker
BUILT=()
declare -A REF=()
NAMES=(postgres pgbouncer redis)

if [ "$mode" = print ]; then
	build_base || die "$BASE_REF is missing or out of date; run $0"
	for n in "${NAMES[@]}"; do
		build_image "$n" || die "$REPO/$n is missing or out of date; run $0"
	done
	echo "$BASE_REF"
	for n in "${NAMES[@]}"; do echo "${REF[$n]}"; done
	exit 0
fi

start=$SECONDS
build_base
for n in "${NAMES[@]}"; do build_image "$n"; done
# drop untagged leftovers of earlier builds of these images
docker image prune -f --filter label=zentoria.ci.image >/dev/null || true

if [ "${#BUILT[@]}" -gt 0 ]; then
	log "built ${BUILT[*]} in $((SECONDS - start))s"
else
	log "nothing to build ($((SECONDS - start))s)"
fi
echo "$BASE_REF"
for n in "${NAMES[@]}"; do echo "${REF[$n]}"; done
