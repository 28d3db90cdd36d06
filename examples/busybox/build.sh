#!/usr/bin/env bash
# Build localhost/busybox from busybox-static with `podium build`, no registry needed:
# the context is a temporary directory holding this Containerfile and /bin/busybox.
#   examples/busybox/build.sh [TAG] [extra podium build options...]
# PODIUM overrides the podium command (the tests use "python -m podium").
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
tag="${1:-localhost/busybox}"
shift || true
busybox="${BUSYBOX:-/bin/busybox}"
[ -x "$busybox" ] || { echo "build.sh: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
cp "$here/Containerfile" "$ctx/Containerfile"
cp "$busybox" "$ctx/busybox"
${PODIUM:-podium} build -t "$tag" "$@" "$ctx"
