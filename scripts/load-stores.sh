#!/usr/bin/env bash
# Turn throughput of `steptalk serve` per store backend (memory, sqlite, redis, postgres) under wrk.
#
# Every request is an `add_one` intent of tests/fixtures/counter, so every turn takes the user's
# lock, loads, runs `set: 'counter = counter + 1'`, saves and releases: the store is on the path of
# every request. Users: one request in HOT_EVERY goes to a single hot user (serialized by the
# per-user lock), the others each to a fresh user. Signature checks are off.
#
# Usage: scripts/load-stores.sh [DURATION_S] [BACKEND...]   (defaults: 10, memory sqlite redis postgres)
#   REDIS_URL    (default redis://127.0.0.1:6379)         a fresh ?prefix= is added per run
#   POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/test)   a fresh ?schema= is added per run
#   CONNECTIONS (32), THREADS (2), HOT_EVERY (10)
# Needs: wrk (apt-get install -y wrk), curl; redis-cli / psql to clean up. Builds the release binary.
# Prints one line per backend: requests/s, p50, p99, non-2xx answers, and the hot user's final counter.
set -euo pipefail

DURATION="${1:-10}"
shift || true
BACKENDS=("$@")
if [[ ${#BACKENDS[@]} -eq 0 ]]; then BACKENDS=(memory sqlite redis postgres); fi
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
HOT_EVERY="${HOT_EVERY:-10}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
POSTGRES_URL="${POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
ADDR=127.0.0.1:3110
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
WORK="$(mktemp -d)"
RUN="$(date +%s)$$"
PID=""

cleanup() {
    if [[ -n "$PID" ]]; then kill "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }

cd "$ROOT"
cargo build --release --quiet --bin steptalk

# POSTs add_one; every HOT_EVERY-th request of a thread is the hot user's.
wrk_thread_ids_lua >"$WORK/post.lua"
cat >>"$WORK/post.lua" <<LUA
local template = [[{"version":"1.0","session":{"new":true,"sessionId":"amzn1.echo-api.session.load","application":{"applicationId":"amzn1.ask.skill.load"},"attributes":{},"user":{"userId":"%s"}},"context":{"System":{"application":{"applicationId":"amzn1.ask.skill.load"},"user":{"userId":"%s"},"apiEndpoint":"https://api.amazonalexa.com"}},"request":{"type":"IntentRequest","requestId":"amzn1.echo-api.request.load","timestamp":"2024-01-01T00:00:00Z","locale":"en-US","intent":{"name":"add_one","confirmationStatus":"NONE"}}}]]
function request()
    counter = counter + 1
    local user
    if counter % ${HOT_EVERY} == 0 then
        user = "amzn1.ask.account.hot"
    else
        user = string.format("amzn1.ask.account.load-%d-%d", thread_id, counter)
    end
    local body = string.format(template, user, user)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA

# Appends a query parameter to a URL that may already have a query.
with_param() {
    if [[ "$1" == *\?* ]]; then echo "$1&$2"; else echo "$1?$2"; fi
}

store_url() {
    case "$1" in
        memory) echo "memory://" ;;
        sqlite) echo "sqlite://$WORK/load.db" ;;
        redis) with_param "$REDIS_URL" "prefix=steptalk-load-$RUN:" ;;
        postgres) with_param "$POSTGRES_URL" "schema=steptalk_load_$RUN" ;;
        *) echo "unknown backend $1" >&2; exit 2 ;;
    esac
}

drop_namespace() {
    case "$1" in
        redis) redis-cli -u "$REDIS_URL" --scan --pattern "steptalk-load-$RUN:*" \
                   | xargs -r redis-cli -u "$REDIS_URL" del >/dev/null || true ;;
        postgres) psql -q "$POSTGRES_URL" -c "DROP SCHEMA IF EXISTS steptalk_load_$RUN CASCADE" \
                   >/dev/null 2>&1 || true ;;
    esac
}

printf "load: %d connections, %d threads, %d s per backend, 1 request in %d to one hot user\n" \
    "$CONNECTIONS" "$THREADS" "$DURATION" "$HOT_EVERY"
printf "%-9s %10s %9s %9s %8s %12s\n" backend "req/s" "p50 ms" "p99 ms" non-2xx "hot counter"
for backend in "${BACKENDS[@]}"; do
    url="$(store_url "$backend")"
    NO_COLOR=1 RUST_LOG=warn target/release/steptalk serve tests/fixtures/counter \
        --listen "$ADDR" --store "$url" --insecure-skip-verify 2>"$WORK/$backend.log" &
    PID=$!
    for _ in $(seq 1 100); do
        if curl -sf -o /dev/null "http://$ADDR/healthz"; then break; fi
        sleep 0.1
    done
    curl -sf -o /dev/null "http://$ADDR/healthz" || {
        echo "$backend: steptalk did not become healthy" >&2; cat "$WORK/$backend.log" >&2; exit 1; }
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/post.lua" \
        "http://$ADDR/alexa/counter")"
    echo "$out" >"$WORK/$backend-wrk.txt"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")"
    p99="$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")"
    non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
    # The hot user's counter, as this server says it after one more turn.
    hot="$(curl -s -H 'Content-Type: application/json' "http://$ADDR/alexa/counter" --data \
        '{"version":"1.0","session":{"new":true,"sessionId":"s","application":{"applicationId":"a"},"attributes":{},"user":{"userId":"amzn1.ask.account.hot"}},"context":{"System":{"application":{"applicationId":"a"},"user":{"userId":"amzn1.ask.account.hot"},"apiEndpoint":"https://api.amazonalexa.com"}},"request":{"type":"IntentRequest","requestId":"r","timestamp":"2024-01-01T00:00:00Z","locale":"en-US","intent":{"name":"add_one","confirmationStatus":"NONE"}}}' \
        | sed -n 's/.*Counter is \([0-9]*\).*/\1/p')"
    printf "%-9s %10.0f %9s %9s %8s %12s\n" "$backend" "$rps" "$p50" "$p99" "${non2xx:-0}" "${hot:--}"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
    drop_namespace "$backend"
    if grep -q "ERROR" "$WORK/$backend.log"; then
        echo "  $backend: $(grep -c ERROR "$WORK/$backend.log") error line(s), first: $(grep -m1 ERROR "$WORK/$backend.log")"
    fi
done
