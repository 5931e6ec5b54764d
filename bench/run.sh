#!/usr/bin/env bash
# bench/run.sh: fork-mode gatehouse against tcpserver (ucspi-tcp) and a minimal C
# fork+exec server, all running the same hello program, measured interleaved in
# one invocation; prints medians per server and gatehouse's per-round ratios.
# Called by `tools/dev bench` after an optimized build. Options: ROUNDS=5 SECONDS_PER_RUN=2
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5}
seconds=${SECONDS_PER_RUN:-2}
work=$(mktemp -d /tmp/gatehouse-bench.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# The example hello responder, verbatim, for every server.
hello='while IFS= read -r line && [ "${#line}" -gt 1 ]; do :; done
printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
printf "Hello from gatehouse, %s port %s\r\n" "$TCPREMOTEIP" "$TCPREMOTEPORT"'

port_tcpserver=18101 port_c=18102 port_gatehouse=18103
tcpserver -R -H -l 0 -c 200 -b 1024 127.0.0.1 "$port_tcpserver" sh -c "$hello" 2>/dev/null &
pids+=($!); pid_tcpserver=$!
bazel-bin/bench/fork_exec_server "$port_c" sh -c "$hello" &
pids+=($!); pid_c=$!
mkdir -p "$work/services.d"
echo "log_level = 1" > "$work/gatehouse.conf"
{
  echo "[hello]"
  echo "port = 127.0.0.1:$port_gatehouse"
  echo "exec = /bin/sh"
  sed -n '/^args/,$p' services.d/hello.conf
} > "$work/services.d/hello.conf"
bazel-bin/supervisor/gatehouse --config "$work/gatehouse.conf" 2>"$work/gatehouse.log" &
pids+=($!); pid_gatehouse=$!
sleep 1

declare -A results
for round in $(seq "$rounds"); do
  for concurrency in 1 32; do
    for server in tcpserver c gatehouse; do
      port_var=port_$server pid_var=pid_$server
      line=$(bazel-bin/bench/load_client --port "${!port_var}" --concurrency "$concurrency" \
        --seconds "$seconds" --server-pid "${!pid_var}")
      results[$server,$concurrency]+="$line"$'\n'
      echo "round $round c=$concurrency $server: $line" >&2
    done
  done
done

median() {  # median of field $1 over the lines on stdin
  sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
printf '\n%-10s %4s %9s %8s %8s %13s %8s\n' server c conn/s p50_ms p99_ms cpu_ms/conn failures
for concurrency in 1 32; do
  for server in tcpserver c gatehouse; do
    r=${results[$server,$concurrency]}
    printf '%-10s %4s %9s %8s %8s %13s %8s\n' "$server" "$concurrency" \
      "$(median rate <<<"$r")" "$(median p50_ms <<<"$r")" "$(median p99_ms <<<"$r")" \
      "$(median cpu_ms_per_conn <<<"$r")" "$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' <<<"$r" | paste -sd+ | bc)"
  done
done
# Ratios per round (each round measures the servers back to back), then their
# median and range: the range is the run-to-run noise.
ratios() {  # ratios of gatehouse's conn/s to $1's, one per round, sorted
  paste -d' ' <(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"${results[gatehouse,$2]}") \
              <(sed -n 's/.*rate=\([0-9.]*\).*/\1/p' <<<"${results[$1,$2]}") |
    awk '{printf "%.2f\n", $1 / $2}' | sort -g
}
echo
for concurrency in 1 32; do
  for reference in tcpserver c; do
    r=$(ratios "$reference" "$concurrency")
    printf 'c=%-2s gatehouse/%-9s median %s  range %s-%s  (%s rounds)\n' "$concurrency" "$reference" \
      "$(awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}' <<<"$r")" "$(head -1 <<<"$r")" \
      "$(tail -1 <<<"$r")" "$(wc -l <<<"$r")"
  done
done
