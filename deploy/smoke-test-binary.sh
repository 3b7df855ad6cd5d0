#!/usr/bin/env bash
# Smoke test of the single binary (`make binary`): start it from an empty folder on a fresh data dir and a free port,
# wait for /healthz 200, create a user through its own CLI while it serves, log in as that user over HTTP, then stop
# it with SIGTERM and expect a clean exit within a few seconds. Prints the binary's size and the time to first 200.
set -euo pipefail
cd "$(dirname "$0")/.."
BINARY=$(realpath "${1:-dist/agenthost}")
START_TIMEOUT=60
STOP_TIMEOUT=10

[ -x "$BINARY" ] || { echo "no executable at $BINARY: run 'make binary' first" >&2; exit 1; }
WORK=$(mktemp -d)
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
PID=''
cleanup() {
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then  # the bootloader and the app process it started
    pkill -KILL -P "$PID" || true
    kill -KILL "$PID" || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

status_of() {  # HTTP status of a GET (or of a POST when a JSON body is given), 000 when nothing answers
  python3 - "$@" <<'PY'
import sys, urllib.error, urllib.request
url, body = sys.argv[1], (sys.argv[2].encode() if len(sys.argv) > 2 else None)
request = urllib.request.Request(url, data=body, headers={'Content-Type': 'application/json'})
try:
    print(urllib.request.urlopen(request, timeout=2).status)
except urllib.error.HTTPError as error:
    print(error.code)
except OSError:
    print('000')
PY
}

fail() {
  echo "smoke test failed: $1" >&2
  echo "--- server output ---" >&2
  cat "$WORK/server.log" >&2 || true
  exit 1
}

# A clean environment and an empty working directory: nothing may come from this checkout or this shell.
# TMPDIR: the onefile binary unpacks itself there, and a clean stop removes what it unpacked.
mkdir "$WORK/tmp"
ENVIRONMENT=(env -i PATH=/usr/bin:/bin HOME="$WORK" TMPDIR="$WORK/tmp" HOST=127.0.0.1 PORT="$PORT")
run_binary() { (cd "$WORK" && exec "${ENVIRONMENT[@]}" "$BINARY" "$@"); }

elapsed_ms() { echo $((($(date +%s%N) - started) / 1000000)); }
started=$(date +%s%N)
(cd "$WORK" && exec "${ENVIRONMENT[@]}" "$BINARY" serve --data-dir "$WORK/data") >"$WORK/server.log" 2>&1 &
PID=$!  # the binary's own pid (one subshell that execs it), so that SIGTERM reaches it
until [ "$(status_of "$BASE/healthz")" = 200 ]; do
  kill -0 "$PID" 2>/dev/null || fail "the binary exited before answering /healthz"
  [ "$(elapsed_ms)" -gt $((START_TIMEOUT * 1000)) ] && fail "no /healthz 200 within $START_TIMEOUT s"
  sleep 0.1
done
ready_ms=$(elapsed_ms)

user_id=$(run_binary users create --data-dir "$WORK/data" --email smoke@example.com --password 'smoke test pass' |
          tail -n 1)
[[ "$user_id" =~ ^[0-9]+$ ]] || fail "users create printed '$user_id' instead of an id"
[ "$(status_of "$BASE/api/auth/token" '{"email": "smoke@example.com", "password": "smoke test pass"}')" = 201 ] ||
  fail "the served app does not accept the user the CLI created"
[ "$(status_of "$BASE/static/favicon.svg")" = 200 ] || fail "static files are not bundled"
[ "$(status_of "$BASE/metrics")" = 200 ] || fail "/metrics does not answer"
for kept in agenthost.db storage_secret; do
  [ -f "$WORK/data/$kept" ] || fail "$kept is not in the data dir"
done

kill -TERM "$PID"
stopped_by=$(date +%s)
while kill -0 "$PID" 2>/dev/null; do
  [ $(($(date +%s) - stopped_by)) -gt "$STOP_TIMEOUT" ] && fail "still running $STOP_TIMEOUT s after SIGTERM"
  sleep 0.1
done
set +e
wait "$PID"
code=$?
set -e
PID=''
[ "$code" = 0 ] || [ "$code" = 143 ] || fail "exit code $code after SIGTERM"  # 143: uvicorn re-raises SIGTERM
[ -z "$(ls -A "$WORK/tmp")" ] || fail "the stopped binary left its unpacked files in TMPDIR: $(ls "$WORK/tmp")"

printf 'binary: %s, %s MB\n' "$BINARY" "$(($(stat -c %s "$BINARY") / 1000000))"
printf 'first /healthz 200 after %d.%d s; user %s created through the CLI; stopped cleanly (exit %s)\n' \
  $((ready_ms / 1000)) $((ready_ms % 1000 / 100)) "$user_id" "$code"
