# Shared by scripts/load.sh and scripts/load-stores.sh (sourced, not run).

# wrk prints latencies as 1.23ms, 456.00us or 1.2s: prints them in ms.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else { print v } }'
}

# The start of a wrk Lua script: numbers wrk's threads 1, 2, … into the global
# `thread_id`, so each thread can make its own users, and declares `counter`.
wrk_thread_ids_lua() {
    cat <<'LUA'
local counter = 0
local thread_id = 0
local threads = {}
function setup(thread)
    thread:set("thread_id", #threads + 1)
    table.insert(threads, thread)
end
function init(args)
    thread_id = tonumber(wrk.thread:get("thread_id")) or 0
end
LUA
}
