#!/usr/bin/env bash
# Builds the sandbox image with the Codex version pinned in package.json, then smoke-tests it
# offline (--network none), the way tests run sandboxes.
set -euo pipefail
cd "$(dirname "$0")/.."

CODEX_VERSION=$(node -p 'require("./package.json").dependencies["@openai/codex"]')
IMAGE=${SANDBOX_IMAGE:-tandem/sandbox:latest}
# CI builds on the debootstrapped tandem/base:bookworm (base-image.sh); elsewhere, without it,
# fall back to the Dockerfile's default (debian:bookworm-slim from Docker Hub).
if [ -z "${BASE_IMAGE:-}" ] && docker image inspect tandem/base:bookworm >/dev/null 2>&1; then
  BASE_IMAGE=tandem/base:bookworm
fi

# Build from a scratch context so the host's local CAs can be added without touching the repo.
CTX=$(mktemp -d /tmp/tandem-sandbox-ctx.XXXXXX)
trap 'rm -rf "$CTX" "$CTX.log"' EXIT
cp -a sandbox-image/. "$CTX/"
mkdir -p "$CTX/local-ca"
CA_DIR=${SANDBOX_EXTRA_CA_DIR-/usr/local/share/ca-certificates}
if [ -n "$CA_DIR" ] && compgen -G "$CA_DIR/*.crt" >/dev/null; then cp "$CA_DIR"/*.crt "$CTX/local-ca/"; fi

# --network host: there is no default bridge network (CI runs dockerd with --bridge=none),
# and apt/npm in the build must reach their registries.
echo "sandbox-image: building $IMAGE from ${BASE_IMAGE:-the default base} (codex $CODEX_VERSION)"
build=(docker build --network host --force-rm --build-arg CODEX_VERSION="$CODEX_VERSION"
       ${BASE_IMAGE:+--build-arg BASE_IMAGE="$BASE_IMAGE"} -t "$IMAGE" "$CTX")
if [ -n "${CI:-}" ]; then
  # Keep CI output short; show the end of the log only when the build fails.
  "${build[@]}" >"$CTX.log" 2>&1 || { tail -40 "$CTX.log" >&2; exit 1; }
else
  "${build[@]}"
fi

got=$(docker run --rm --network none "$IMAGE" codex --version)
case "$got" in
  *"$CODEX_VERSION"*) ;;
  *) echo "sandbox-image: expected codex $CODEX_VERSION, got: $got" >&2; exit 1 ;;
esac
docker run --rm --network none "$IMAGE" sh -c "git --version && socat -V" >/dev/null
docker run --rm --network none "$IMAGE" gh --version >/dev/null
echo "sandbox-image: ok ($got)"
