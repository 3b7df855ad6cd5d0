#!/usr/bin/env bash
# Build deploy/docker/Dockerfile with Podman (Debian's packages) and start it: wait for /healthz, run the image's
# HEALTHCHECK, create a user with the CLI, stop it with SIGTERM and expect a clean exit.
#
# No container registry is needed: the base image is a minimal Debian bookworm (Python 3.11 and its venv module,
# as in python:3.11-slim) made with debootstrap and imported into Podman once; it trusts the CA bundle that the
# host's pip uses, so the build's `pip install` works behind the same proxy as the host.
set -euo pipefail
cd "$(dirname "$0")/../.."

BASE=localhost/agenthost-base:bookworm
IMAGE=localhost/agenthost:smoke-test
NAME=agenthost-smoke-test
VOLUME=agenthost-smoke-test-data
PORT=18080
# runc rather than crun (crun refuses this host's mixed cgroup v1/v2 layout), and limits the host lets a
# container set (the defaults Podman asks for are refused).
RUNTIME=(--runtime runc)
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)

missing=()
for tool in podman runc debootstrap curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if ((${#missing[@]})); then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! podman image exists "$BASE"; then
  echo "== base image $BASE (debootstrap bookworm, minbase + python3-venv) =="
  rootfs=$(mktemp -d)
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" >/dev/null
  cert=${PIP_CERT:-$(python3 -m pip config list 2>/dev/null | sed -n "s/^[^=]*\.cert='\(.*\)'$/\1/p" | head -n 1)}
  if [[ -n "$cert" && -f "$cert" ]]; then
    cp "$cert" "$rootfs/etc/ssl/certs/ca-certificates.crt"
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > "$rootfs/etc/pip.conf"
  fi
  tar -C "$rootfs" -c . | podman import - "$BASE" >/dev/null
  rm -rf "$rootfs"
fi

echo "== podman build $IMAGE =="
# --format docker keeps HEALTHCHECK (the OCI image format has no field for it).
podman "${RUNTIME[@]}" build --format docker --network host "${LIMITS[@]}" --build-arg "BASE_IMAGE=$BASE" \
  -f deploy/docker/Dockerfile -t "$IMAGE" . >/dev/null

cleanup() {
  podman "${RUNTIME[@]}" rm --force "$NAME" >/dev/null 2>&1 || true
  podman volume rm --force "$VOLUME" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

echo "== start it on 127.0.0.1:$PORT =="
podman "${RUNTIME[@]}" run -d --name "$NAME" "${LIMITS[@]}" -p "127.0.0.1:$PORT:8080" -v "$VOLUME:/data" "$IMAGE" \
  >/dev/null
for _ in $(seq 120); do
  curl -fsS -m 2 "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  [[ "$(podman inspect "$NAME" --format '{{.State.Running}}')" == true ]] || break
  sleep 0.5
done
if ! curl -fsS -m 2 "http://127.0.0.1:$PORT/healthz"; then
  echo "the container did not answer /healthz" >&2
  podman logs "$NAME" 2>&1 | tail -40 >&2
  exit 1
fi
echo
podman "${RUNTIME[@]}" healthcheck run "$NAME" 2>/dev/null
test "$(podman exec "$NAME" id -u)" = 10001
podman exec "$NAME" python main.py users create --email smoke@example.com --password 'smoke-test-password-1'
# Without GitHub settings a Deploy runs `python -m runtime` inside this container: the runtime must be in the image.
podman exec "$NAME" python -c 'import runtime.app'
podman "${RUNTIME[@]}" stop --time 30 "$NAME" >/dev/null
status=$(podman inspect "$NAME" --format '{{.State.ExitCode}}')
echo "stopped with exit code $status"
test "$status" = 0
echo 'container smoke test passed'
