#!/usr/bin/env bash
# Builds the offline base image (default tandem/base:bookworm) with debootstrap + `docker import`,
# because CI cannot pull from any container registry. Uses the Debian mirror apt already uses on
# this machine, so the build only talks to a package mirror we know is reachable.
set -euo pipefail

IMAGE=${BASE_IMAGE:-tandem/base:bookworm}
SUITE=${BASE_SUITE:-bookworm}

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "base-image: $IMAGE already present"
  exit 0
fi

# First URI that apt is configured to use for suite $1 (one-line .list and deb822 .sources).
mirror_for() {
  local f files=()
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    if [ -f "$f" ]; then files+=("$f"); fi
  done
  [ ${#files[@]} -gt 0 ] || return 0
  awk -v s="$1" '
    FNR == 1 || /^[[:space:]]*$/ { uri = ""; types = "" }
    /^deb / { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /=/) { if ($(i + 1) == s) { print $i; exit } break } }
    /^Types:/ { types = $0 }
    /^URIs:/ { uri = $2 }
    /^Suites:/ && types ~ /[[:space:]]deb([[:space:]]|$)/ { for (i = 2; i <= NF; i++) if ($i == s && uri != "") { print uri; exit } }' "${files[@]}"
}

MIRROR=${DEBIAN_MIRROR:-$(mirror_for "$SUITE")}
SECURITY=$(mirror_for "$SUITE-security")
[ -n "$MIRROR" ] || { echo "base-image: no apt mirror for $SUITE found in /etc/apt" >&2; exit 1; }

ROOT=$(mktemp -d /tmp/tandem-base.XXXXXX)
trap 'rm -rf "$ROOT" "$ROOT.log"' EXIT

echo "base-image: debootstrap $SUITE from $MIRROR"
debootstrap --variant=minbase "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 \
  || { tail -30 "$ROOT.log" >&2; exit 1; }

# Keep updates and security in the image's sources, so `apt-get install` in Dockerfiles gets fixes.
{
  echo "deb $MIRROR $SUITE main"
  echo "deb $MIRROR $SUITE-updates main"
  [ -z "$SECURITY" ] || echo "deb $SECURITY $SUITE-security main"
} >"$ROOT/etc/apt/sources.list"
# Shrink the image: package caches and indexes are refetched by `apt-get update` anyway.
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*

tar -C "$ROOT" -c . | docker import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV LANG=C.UTF-8' \
  -c 'CMD ["bash"]' \
  - "$IMAGE" >/dev/null
echo "base-image: imported $IMAGE"
