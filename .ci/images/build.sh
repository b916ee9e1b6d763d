#!/usr/bin/env bash
# Build local stand-ins for the Zentoria data tier's default images (and the monitoring
# images) from Debian packages only, for CI machines without a registry: Debian 12
# (bookworm) for PostgreSQL 15, Debian 13 (trixie) for everything else.
#
#   .ci/images/build.sh               build what is missing or out of date,
#                                     then print the image names
#   .ci/images/build.sh --print-tags  only print the names of the built images
#                                     (fails if one is missing or out of date)
#   .ci/images/build.sh --print-tags ID...  the same for these images only (ids:
#                                     postgres15 postgres17 pgbouncer redis prometheus
#                                     alertmanager pgbouncer-exporter postgres-exporter
#                                     redis-exporter), without the base images
#   .ci/images/build.sh --rebuild     throw away the cached rootfs and images,
#                                     rebuild everything (picks up Debian updates)
#
# Output on stdout, one image name per line (same for --print-tags; progress
# goes to stderr), in this order:
#   zentoria-ci/base:bookworm
#   zentoria-ci/base:trixie
#   zentoria-ci/postgres:15-bookworm
#   zentoria-ci/postgres:17-trixie             (with pgvector)
#   zentoria-ci/pgbouncer:<upstream version, e.g. 1.24.1>
#   zentoria-ci/redis:<e.g. 8.0.2>
#   zentoria-ci/prometheus:<e.g. 2.53.3>       (with promtool)
#   zentoria-ci/alertmanager:<e.g. 0.28.1>
#   zentoria-ci/pgbouncer-exporter:<e.g. 0.10.2>
#   zentoria-ci/postgres-exporter:<e.g. 0.17.1>
#   zentoria-ci/redis-exporter:<e.g. 1.69.0>
#
# Caching: every image carries the labels zentoria.ci.image, zentoria.ci.hash
# (hash of its inputs) and zentoria.ci.tag; an image whose tag and hash match is
# not rebuilt. One debootstrap rootfs tarball per Debian release is kept in
# ${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/images, with the build logs.
#
# Environment: ZENTORIA_CACHE, ZENTORIA_DEBIAN_MIRROR (default
# http://deb.debian.org/debian), ZENTORIA_DEBIAN_SECURITY_MIRROR (default
# http://deb.debian.org/debian-security), ZENTORIA_IMAGE_JOBS (parallel image
# builds, default 3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO=zentoria-ci
SUITES=(bookworm trixie)
MIRROR="${ZENTORIA_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY_MIRROR="${ZENTORIA_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
CACHE_DIR="${ZENTORIA_CACHE:-$HOME/.cache/zentoria}/images"
JOBS="${ZENTORIA_IMAGE_JOBS:-3}"
# Packages added to the debootstrap minbase rootfs (setpriv is in util-linux,
# which minbase already has).
BASE_INCLUDE=""
# Bump to force a new rootfs when the debootstrap recipe below changes.
ROOTFS_RECIPE=2

# The legacy builder works with every Docker version we meet (20.10 without
# buildx included); BuildKit is not needed.
export DOCKER_BUILDKIT=0

# ------------------------------------------------------------------ the images
# id: label zentoria.ci.image and key below. Repository zentoria-ci/<repo>, built
# from .ci/images/<dir> on zentoria-ci/base:<suite>. PACKAGES are resolved to the
# mirror's candidate versions and pinned (build arg PACKAGES="name=version ...");
# the tag is TAG, or the upstream version of the first package.
IMAGES=(postgres15 postgres17 pgbouncer redis prometheus alertmanager pgbouncer-exporter postgres-exporter redis-exporter)
declare -A REPO_OF=(
	[postgres15]=postgres [postgres17]=postgres [pgbouncer]=pgbouncer [redis]=redis
	[prometheus]=prometheus [alertmanager]=alertmanager [pgbouncer-exporter]=pgbouncer-exporter
	[postgres-exporter]=postgres-exporter [redis-exporter]=redis-exporter
)
declare -A DIR_OF=(
	[postgres15]=postgres [postgres17]=postgres [pgbouncer]=pgbouncer [redis]=redis
	[prometheus]=prometheus [alertmanager]=alertmanager [pgbouncer-exporter]=pgbouncer-exporter
	[postgres-exporter]=postgres-exporter [redis-exporter]=redis-exporter
)
declare -A SUITE_OF=([postgres15]=bookworm)
declare -A PACKAGES_OF=(
	[postgres15]="postgresql-15"
	[postgres17]="postgresql-17 postgresql-17-pgvector"
	[pgbouncer]="pgbouncer postgresql-client"
	[redis]="redis-server"
	[prometheus]="prometheus"
	[alertmanager]="prometheus-alertmanager"
	# trixie's: prometheus-community's Go exporter (bookworm's is an unrelated Python program)
	[pgbouncer-exporter]="prometheus-pgbouncer-exporter"
	[postgres-exporter]="prometheus-postgres-exporter"
	[redis-exporter]="prometheus-redis-exporter"
)
declare -A TAG_OF=([postgres15]=15-bookworm [postgres17]=17-trixie)
declare -A ARGS_OF=([postgres15]="PG_MAJOR=15" [postgres17]="PG_MAJOR=17")
suite_of() { echo "${SUITE_OF[$1]:-trixie}"; }

mode=build
only=()
for arg in "$@"; do
	case "$arg" in
		--print-tags) mode=print ;;
		--rebuild) mode=rebuild ;;
		-h|--help) sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
		-*) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
		*)
			[ -n "${REPO_OF[$arg]:-}" ] || { echo "build.sh: unknown image id: $arg (one of ${IMAGES[*]})" >&2; exit 2; }
			only+=("$arg")
			;;
	esac
done
[ "${#only[@]}" -eq 0 ] || [ "$mode" = print ] || { echo "build.sh: image ids go with --print-tags only" >&2; exit 2; }

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
	nohup dockerd >/tmp/zentoria-dockerd.log 2>&1 &
	for _ in $(seq 1 60); do
		docker info >/dev/null 2>&1 && return 0
		sleep 1
	done
	die 'dockerd did not come up (see /tmp/zentoria-dockerd.log)'
}

# Runs up to $JOBS commands at once; `wait_jobs` fails if one of them did.
declare -a JOB_PIDS=()
declare -A JOB_NAME=()
run_job() { # name command...
	local name="$1"; shift
	while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.5; done
	"$@" &
	JOB_PIDS+=("$!")
	JOB_NAME[$!]="$name"
}
wait_jobs() {
	local pid failed=()
	for pid in "${JOB_PIDS[@]}"; do
		wait "$pid" || failed+=("${JOB_NAME[$pid]}")
	done
	JOB_PIDS=()
	[ "${#failed[@]}" -eq 0 ] || die "failed: ${failed[*]} (logs in $CACHE_DIR/logs)"
}

# ---------------------------------------------------------------- base images

rootfs_key() { # suite
	printf 'recipe=%s suite=%s mirror=%s security=%s include=%s overlay=%s\n' \
		"$ROOTFS_RECIPE" "$1" "$MIRROR" "$SECURITY_MIRROR" "$BASE_INCLUDE" \
		"$(hash_dir "$SCRIPT_DIR/base/rootfs")" | sha
}

# Temporary rootfs directories, removed on exit (debootstrap may leave proc/sys
# mounted inside the target on failure).
cleanup_rootfs() { # dir
	[ -n "$1" ] && [ -d "$1" ] || return 0
	awk -v d="$1/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$1"
}
cleanup_all_rootfs() {
	local dir
	for dir in "$CACHE_DIR"/rootfs.*; do
		[ -d "$dir" ] && [ -e "$dir/.pid-$$" ] && cleanup_rootfs "$dir"
	done
	return 0
}
trap cleanup_all_rootfs EXIT

make_rootfs_tarball() { # suite tarball
	local suite="$1" tarball="$2" tmp dir
	tmp="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
	touch "$tmp/.pid-$$"
	dir="$tmp/root"
	local -a include=()
	[ -z "$BASE_INCLUDE" ] || include=(--include="$BASE_INCLUDE")
	log "debootstrap --variant=minbase ${include[*]} $suite from $MIRROR (about a minute)"
	debootstrap --variant=minbase "${include[@]}" "$suite" "$dir" "$MIRROR" \
		> "$tmp/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$tmp/debootstrap.log" >&2; die "debootstrap $suite failed"; }

	cp -a "$SCRIPT_DIR/base/rootfs/." "$dir/"
	rm -f "$dir/etc/apt/sources.list.d/"*.sources
	cat > "$dir/etc/apt/sources.list" <<-EOF
		deb $MIRROR $suite main
		deb $MIRROR $suite-updates main
		deb $SECURITY_MIRROR $suite-security main
	EOF
	# bring the release packages up to the point/security updates
	cp /etc/resolv.conf "$dir/etc/resolv.conf"
	chroot "$dir" sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get -y -qq upgrade' \
		>> "$tmp/debootstrap.log" 2>&1 ||
		{ tail -n 30 "$tmp/debootstrap.log" >&2; die "apt-get upgrade in the $suite rootfs failed"; }
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
		-cf "$tarball.tmp" .
	mv -f "$tarball.tmp" "$tarball"
	cleanup_rootfs "$tmp"
}

base_ref() { echo "$REPO/base:$1"; }

base_up_to_date() { # suite
	[ "$mode" != rebuild ] && [ "$(label_of "$(base_ref "$1")" zentoria.ci.hash)" = "$(rootfs_key "$1")" ]
}

build_base() { # suite (runs as a job)
	local suite="$1" key ref tarball
	key="$(rootfs_key "$suite")"
	ref="$(base_ref "$suite")"
	tarball="$CACHE_DIR/rootfs-$suite-${key:0:16}.tar"
	if [ "$mode" = rebuild ] || [ ! -s "$tarball" ]; then
		rm -f "$CACHE_DIR"/rootfs-"$suite"-*.tar
		make_rootfs_tarball "$suite" "$tarball"
	else
		log "using cached rootfs $tarball"
	fi
	log "importing $ref"
	docker import \
		--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
		--change 'CMD ["bash"]' \
		--change "LABEL zentoria.ci.image=base zentoria.ci.hash=$key zentoria.ci.tag=$suite" \
		"$tarball" "$ref" >/dev/null
	echo "$ref" >> "$CACHE_DIR/built.$$"
}

# ----------------------------------------------------------- derived images

image_hash() { # id
	local id="$1"
	printf 'base=%s script=%s dir=%s packages=%s args=%s tag=%s\n' \
		"$(docker image inspect -f '{{.Id}}' "$(base_ref "$(suite_of "$id")")")" \
		"$(sha < "${BASH_SOURCE[0]}")" \
		"$(hash_dir "$SCRIPT_DIR/${DIR_OF[$id]}")" \
		"${PACKAGES_OF[$id]}" "${ARGS_OF[$id]:-}" "${TAG_OF[$id]:-}" | sha
}

# Prints the image ref built for <id> with hash <hash>, if any.
find_cached() { # id hash
	local ref want
	docker images --filter "label=zentoria.ci.image=$1" --filter "label=zentoria.ci.hash=$2" \
		--format '{{.Repository}}:{{.Tag}}' | while read -r ref; do
		[ "${ref%%:*}" = "$REPO/${REPO_OF[$1]}" ] || continue
		want="$(label_of "$ref" zentoria.ci.tag)"
		if [ -n "$want" ] && [ "$ref" = "$REPO/${REPO_OF[$1]}:$want" ]; then
			echo "$ref"
			break
		fi
	done
}

# Candidate versions of the pinned packages of one suite, from the Debian mirror
# (via apt in the base image, so they are exactly what the build will install).
# Writes "package version" lines to $CACHE_DIR/versions-<suite>.$$.
resolve_versions() { # suite packages...
	local suite="$1"; shift
	local out pkg ver
	log "resolving $suite package versions ($*)"
	out="$(docker run --rm "$(base_ref "$suite")" sh -c \
		'apt-get update -qq >/dev/null && for p in "$@"; do printf "%s %s\n" "$p" "$(apt-cache policy "$p" | sed -n "s/^ *Candidate: //p")"; done' \
		sh "$@")" || die "apt-get update in the $suite base image failed (mirror unreachable?)"
	while read -r pkg ver; do
		[ -n "$ver" ] && [ "$ver" != '(none)' ] || die "no candidate version for $pkg in $suite"
	done <<< "$out"
	printf '%s\n' "$out" > "$CACHE_DIR/versions-$suite.$$"
}

version_of() { # suite package
	awk -v p="$2" '$1 == p { print $2 }' "$CACHE_DIR/versions-$1.$$"
}

# Debian version -> upstream version: 5:8.0.2-3 -> 8.0.2, 2.53.3+ds1-1 -> 2.53.3
upstream_version() {
	local v="${1#*:}"
	v="${v%-*}"
	v="${v%%+*}"
	echo "${v%%~*}"
}

build_image() { # id hash (runs as a job)
	local id="$1" hash="$2" suite tag ref pkg ver first='' pinned='' logfile
	suite="$(suite_of "$id")"
	for pkg in ${PACKAGES_OF[$id]}; do
		ver="$(version_of "$suite" "$pkg")"
		[ -n "$ver" ] || die "$id: no resolved version for $pkg"
		[ -n "$first" ] || first="$ver"
		pinned="${pinned:+$pinned }$pkg=$ver"
	done
	tag="${TAG_OF[$id]:-$(upstream_version "$first")}"
	ref="$REPO/${REPO_OF[$id]}:$tag"
	logfile="$CACHE_DIR/logs/$id.log"
	log "building $ref ($pinned); log: $logfile"
	local -a extra=() nocache=()
	[ "$mode" = rebuild ] && nocache=(--no-cache)
	[ -z "${ARGS_OF[$id]:-}" ] || extra=(--build-arg "${ARGS_OF[$id]}")
	if ! docker build "${nocache[@]}" "${extra[@]}" \
		--build-arg "BASE_IMAGE=$(base_ref "$suite")" \
		--build-arg "PACKAGES=$pinned" \
		--label "zentoria.ci.image=$id" \
		--label "zentoria.ci.hash=$hash" \
		--label "zentoria.ci.tag=$tag" \
		--label "zentoria.ci.debian-packages=$pinned" \
		-t "$ref" "$SCRIPT_DIR/${DIR_OF[$id]}" > "$logfile" 2>&1; then
		tail -n 40 "$logfile" >&2
		die "building $ref failed (log: $logfile)"
	fi
	echo "$ref" >> "$CACHE_DIR/built.$$"
}

# ---------------------------------------------------------------------- main

ensure_docker

if [ "$mode" = print ]; then
	wanted=("${IMAGES[@]}")
	[ "${#only[@]}" -eq 0 ] || wanted=("${only[@]}")
	for suite in "${SUITES[@]}"; do
		needed=''
		for id in "${wanted[@]}"; do [ "$(suite_of "$id")" = "$suite" ] && needed=yes; done
		[ "${#only[@]}" -eq 0 ] || [ -n "$needed" ] || continue
		base_up_to_date "$suite" || die "$(base_ref "$suite") is missing or out of date; run $0"
	done
	refs=()
	for id in "${wanted[@]}"; do
		ref="$(find_cached "$id" "$(image_hash "$id")")"
		[ -n "$ref" ] || die "$REPO/${REPO_OF[$id]} ($id) is missing or out of date; run $0"
		refs+=("$ref")
	done
	[ "${#only[@]}" -gt 0 ] || for suite in "${SUITES[@]}"; do base_ref "$suite"; done
	printf '%s\n' "${refs[@]}"
	exit 0
fi

[ "$(id -u)" = 0 ] || die 'building the images needs root (debootstrap, chroot)'
mkdir -p "$CACHE_DIR/logs"
rm -f "$CACHE_DIR"/built.* "$CACHE_DIR"/versions-*.*
start=$SECONDS

# 1. base images, both releases at once
for suite in "${SUITES[@]}"; do
	if base_up_to_date "$suite"; then
		log "$(base_ref "$suite") is up to date"
	else
		command -v debootstrap >/dev/null || die 'debootstrap is not installed (apt-get install debootstrap)'
		run_job "base:$suite" build_base "$suite"
	fi
done
wait_jobs

# 2. which images are out of date, and the package versions they need
declare -A HASH=() REF=()
declare -A NEED_PACKAGES=()
todo=()
for id in "${IMAGES[@]}"; do
	HASH[$id]="$(image_hash "$id")"
	ref=''
	[ "$mode" = rebuild ] || ref="$(find_cached "$id" "${HASH[$id]}")"
	if [ -n "$ref" ]; then
		log "$ref is up to date"
		REF[$id]="$ref"
	else
		todo+=("$id")
		suite="$(suite_of "$id")"
		NEED_PACKAGES[$suite]="${NEED_PACKAGES[$suite]:-} ${PACKAGES_OF[$id]}"
	fi
done
for suite in "${!NEED_PACKAGES[@]}"; do
	# shellcheck disable=SC2086
	run_job "versions:$suite" resolve_versions "$suite" ${NEED_PACKAGES[$suite]}
done
wait_jobs

# 3. the images, $JOBS at a time
for id in "${todo[@]}"; do
	run_job "$id" build_image "$id" "${HASH[$id]}"
done
wait_jobs
for id in "${todo[@]}"; do
	REF[$id]="$(find_cached "$id" "${HASH[$id]}")"
	[ -n "${REF[$id]}" ] || die "$id: built, but no image carries its hash"
done
# drop untagged leftovers of earlier builds of these images
docker image prune -f --filter label=zentoria.ci.image >/dev/null || true

built=()
[ -e "$CACHE_DIR/built.$$" ] && mapfile -t built < "$CACHE_DIR/built.$$"
rm -f "$CACHE_DIR"/built.$$ "$CACHE_DIR"/versions-*.$$
if [ "${#built[@]}" -gt 0 ]; then
	log "built ${built[*]} in $((SECONDS - start))s"
else
	log "nothing to build ($((SECONDS - start))s)"
fi
for suite in "${SUITES[@]}"; do base_ref "$suite"; done
for id in "${IMAGES[@]}"; do echo "${REF[$id]}"; done
