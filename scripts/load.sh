#!/usr/bin/env bash
# Load test of `steptalk serve` against a bare axum baseline (examples/baseline.rs) that parses
# the same Alexa envelope and answers fixed JSON. Both run on loopback under wrk with 32
# connections, one after the other, in ROUNDS interleaved rounds (default 3); the script prints
# each round and the medians: requests/s, p99 latency, the steptalk/baseline ratio (the median
# of the rounds' ratios, so a noisy neighbour slowing one round does not skew it) and steptalk's
# peak resident memory.
#
# Targets (docs: design.md): steptalk >= 70 % of the baseline, p99 < 5 ms, RSS < 30 MB.
#
# Usage: scripts/load.sh [DURATION_S] [SCENARIO]       (defaults: 10, account-linking)
#        ROUNDS=5 scripts/load.sh …  more rounds (each runs every server for DURATION_S)
#        VERIFY=1 scripts/load.sh …   also measures steptalk with signature checks ON
#        (examples/verified_serve.rs: a throwaway CA, pre-signed requests replayed by wrk).
# Needs: wrk (apt-get install -y wrk). Builds the release binaries first (fat LTO: a few minutes
# from scratch).
#
# Each request is an AMAZON.HelpIntent (no outbound HTTP) from one of USERS users (default 10,000)
# in turn, as a skill's returning users would; with 32 connections two requests of one user almost
# never overlap, so the per-user lock does not serialize them. USERS=0 gives every request a new
# user (the memory:// store then grows without bound). Signature checks are off
# (--insecure-skip-verify).
set -euo pipefail

DURATION="${1:-10}"
SCENARIO="${2:-account-linking}"
CONNECTIONS=32
THREADS=2
STEPTALK_ADDR=127.0.0.1:3100
BASELINE_ADDR=127.0.0.1:3101
VERIFIED_ADDR=127.0.0.1:3102
VERIFY="${VERIFY:-0}"
ROUNDS="${ROUNDS:-3}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/lib.sh
source "$ROOT/scripts/lib.sh"
WORK="$(mktemp -d)"
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 2; }

cd "$ROOT"
cargo build --release --quiet --bin steptalk --example baseline
if [[ "$VERIFY" == 1 ]]; then cargo build --release --quiet --example verified_serve; fi

# A wrk script that POSTs an envelope with a userId from the pool (a fresh one with USERS=0).
wrk_thread_ids_lua >"$WORK/post.lua"
cat >>"$WORK/post.lua" <<'LUA'
local template = [[{"version":"1.0","session":{"new":false,"sessionId":"amzn1.echo-api.session.load","application":{"applicationId":"amzn1.ask.skill.load"},"attributes":{},"user":{"userId":"amzn1.ask.account.load-%d-%d"}},"context":{"System":{"application":{"applicationId":"amzn1.ask.skill.load"},"user":{"userId":"amzn1.ask.account.load-%d-%d"},"device":{"deviceId":"amzn1.ask.device.load","supportedInterfaces":{}},"apiEndpoint":"https://api.amazonalexa.com"}},"request":{"type":"IntentRequest","requestId":"amzn1.echo-api.request.load","timestamp":"2024-01-01T00:00:00Z","locale":"en-US","intent":{"name":"AMAZON.HelpIntent","confirmationStatus":"NONE"}}}]]
function request()
    counter = counter + 1
    local user = counter
    local pool = tonumber(os.getenv("USERS") or "10000")
    if pool > 0 then user = counter % pool end
    local body = string.format(template, thread_id, user, thread_id, user)
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
LUA

wait_ready() {
    for _ in $(seq 1 100); do
        if curl -s -o /dev/null -X POST "http://$1/" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "server on $1 did not start" >&2
    exit 1
}

# Replays pre-signed requests (`signature<TAB>body` lines) with their headers.
cat >"$WORK/signed.lua" <<'LUA'
local requests = {}
local next_index = 1
function init(args)
    for line in io.lines(os.getenv("SIGNED_REQUESTS")) do
        local tab = string.find(line, "\t", 1, true)
        table.insert(requests, { string.sub(line, 1, tab - 1), string.sub(line, tab + 1) })
    end
end
function request()
    local r = requests[next_index]
    next_index = next_index % #requests + 1
    return wrk.format("POST", nil, {
        ["Content-Type"] = "application/json",
        ["Signature-256"] = r[1],
        ["SignatureCertChainUrl"] = "https://s3.amazonaws.com/echo.api/echo-api-cert-load.pem",
    }, r[2])
end
LUA

# Runs wrk against URL (with the wrk script $2, default post.lua); prints "requests_per_s p99_ms".
run_wrk() {
    local out
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$WORK/${2:-post.lua}" "$1")"
    echo "$out" >"$WORK/last-wrk.txt"
    local rps p99 non2xx
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p99="$(awk '$1 == "99%" {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx/ {print $5}' <<<"$out")"
    if [[ -n "$non2xx" ]]; then echo "warning: $non2xx non-2xx answers from $1" >&2; fi
    echo "$rps $(to_ms "$p99")"
}

# One round: baseline, steptalk, and (VERIFY=1) steptalk verified, one after the other.
# Appends "name requests_per_s p99_ms [peak_rss_kb]" lines to $WORK/results.
run_round() {
    local pid rps p99
    target/release/examples/baseline "$BASELINE_ADDR" 2>/dev/null &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$BASELINE_ADDR"
    read -r rps p99 < <(run_wrk "http://$BASELINE_ADDR/alexa/$SCENARIO")
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "baseline $rps $p99" >>"$WORK/results"

    RUST_LOG=warn target/release/steptalk serve "scenarios/$SCENARIO" \
        --listen "$STEPTALK_ADDR" --store memory:// --insecure-skip-verify 2>>"$WORK/steptalk.log" &
    pid=$!
    PIDS+=("$pid")
    wait_ready "$STEPTALK_ADDR"
    read -r rps p99 < <(run_wrk "http://$STEPTALK_ADDR/alexa/$SCENARIO")
    local rss_kb
    rss_kb="$(awk '/^VmHWM:/ {print $2}' "/proc/$pid/status")"
    kill "$pid"; wait "$pid" 2>/dev/null || true
    echo "steptalk $rps $p99 $rss_kb" >>"$WORK/results"

    if [[ "$VERIFY" == 1 ]]; then
        export SIGNED_REQUESTS="$WORK/signed.tsv"
        target/release/examples/verified_serve "$VERIFIED_ADDR" "scenarios/$SCENARIO" "$SIGNED_REQUESTS" 5000 \
            2>>"$WORK/verified.log" &
        pid=$!
        PIDS+=("$pid")
        wait_ready "$VERIFIED_ADDR"
        read -r rps p99 < <(run_wrk "http://$VERIFIED_ADDR/alexa/$SCENARIO" signed.lua)
        kill "$pid"; wait "$pid" 2>/dev/null || true
        echo "verified $rps $p99" >>"$WORK/results"
    fi
}

for round in $(seq 1 "$ROUNDS"); do
    run_round
    tail -n "$([[ "$VERIFY" == 1 ]] && echo 3 || echo 2)" "$WORK/results" | sed "s/^/round $round: /" >&2
done

awk -v c="$CONNECTIONS" -v d="$DURATION" -v r="$ROUNDS" '
function median(list,    n, a) { n = split(list, a, " "); asort(a); return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
$1 == "baseline" { base = $2; b = b " " $2; bp = bp " " $3 }
$1 == "steptalk" { s = s " " $2; sp = sp " " $3; sr = sr " " (100 * $2 / base); if ($4 > rss) rss = $4 }
$1 == "verified" { v = v " " $2; vp = vp " " $3; vr = vr " " (100 * $2 / base) }
END {
    printf "load: %d connections, %d rounds of %d s, medians over the rounds\n", c, r, d
    printf "baseline : %10.0f req/s   p99 %7.3f ms\n", median(b), median(bp)
    printf "steptalk : %10.0f req/s   p99 %7.3f ms   peak RSS %.1f MB   (signature checks off)\n", median(s), median(sp), rss / 1024
    printf "ratio    : %9.1f %%  (target >= 70 %%)\n", median(sr)
    if (v != "") {
        printf "verified : %10.0f req/s   p99 %7.3f ms   (signature checks on)\n", median(v), median(vp)
        printf "ratio    : %9.1f %%  (verified / baseline)\n", median(vr)
    }
}' "$WORK/results"
