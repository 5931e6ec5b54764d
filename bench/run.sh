#!/usr/bin/env bash
# bench/run.sh [fork|builtin|tls|all]: gatehouse against reference servers, measured
# interleaved in one invocation (each round runs every server back to back);
# prints medians per server and gatehouse's per-round ratios to each reference.
#   fork:    the example hello program behind tcpserver (ucspi-tcp), a minimal C
#            fork+exec server and gatehouse (mode = fork)
#   builtin: daytime and echo served in-process: gatehouse (mode = builtin), a
#            minimal C accept loop (the limit without processes) and Net::Server
#            PreFork (Perl), each with the same reply
#   tls:     TLS 1.3 with an ECDSA P-256 certificate in front of the same programs:
#            gatehouse (a relay process per connection) against stunnel4 as a
#            daemon and stunnel4 in inetd mode behind tcpserver. Handshakes: a
#            new session per connection to the hello program; bulk: MB/s of a
#            program that writes 16 MiB (head -c), through the relay.
# Called by `tools/dev bench` after an optimized build. Options: ROUNDS=5 SECONDS_PER_RUN=2
set -euo pipefail
cd "$(dirname "$0")/.."
suite=${1:-all}
[[ $suite == fork || $suite == builtin || $suite == tls || $suite == all ]] ||
  { echo "usage: bench/run.sh [fork|builtin|tls|all]" >&2; exit 2; }
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

declare -A port pid results
# start NAME PORT COMMAND...: a reference server in the background.
start() {
  local name=$1
  port[$name]=$2
  shift 2
  "$@" &
  pids+=($!)
  pid[$name]=$!
}
# gatehouse NAME CONFIG_DIR: gatehouse on the config there; its services are
# named NAME-style by the caller, and their ports set in the config.
start_gatehouse() {
  local name=$1 dir=$2
  bazel-bin/supervisor/gatehouse --config "$dir/gatehouse.conf" 2>"$dir/gatehouse.log" &
  pids+=($!)
  pid[$name]=$!
}
wait_for_port() {
  local tries
  for tries in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "bench: nothing listens on port $1" >&2
  return 1
}

# measure CASE "SERVERS" LOAD_ARGS...: every round, concurrency 1 and 32 (or
# $LEVELS), each server in turn; results[CASE,SERVER,C] gathers load_client's lines.
measure() {
  local case=$1 servers=$2 round concurrency server line
  shift 2
  for server in $servers; do wait_for_port "${port[$server]}"; done
  for round in $(seq "$rounds"); do
    for concurrency in ${LEVELS:-1 32}; do
      for server in $servers; do
        line=$(bazel-bin/bench/load_client --port "${port[$server]}" --concurrency "$concurrency" \
          --seconds "$seconds" --server-pid "${pid[$server]}" "$@")
        results[$case,$server,$concurrency]+="$line"$'\n'
        echo "round $round $case c=$concurrency $server: $line" >&2
      done
    done
  done
}

median() {  # median of field $1 over the lines on stdin
  sed -n "s/.*$1=\([0-9.]*\).*/\1/p" | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'
}
# report CASE GATEHOUSE "REFERENCES" [FIELD]: the table, then the per-round
# ratios of GATEHOUSE's FIELD (default rate: conn/s; mb_per_s for bulk) to each
# reference, as median and range (the range is the run-to-run noise).
report() {
  local case=$1 subject=$2 references=$3 field=${4:-rate} concurrency server r reference
  printf '\n%s\n%-14s %4s %9s %8s %8s %13s %8s %8s\n' "$case" server c conn/s p50_ms p99_ms \
    cpu_ms/conn MB/s failures
  for concurrency in ${LEVELS:-1 32}; do
    for server in $references $subject; do
      r=${results[$case,$server,$concurrency]}
      printf '%-14s %4s %9s %8s %8s %13s %8s %8s\n' "$server" "$concurrency" \
        "$(median rate <<<"$r")" "$(median p50_ms <<<"$r")" "$(median p99_ms <<<"$r")" \
        "$(median cpu_ms_per_conn <<<"$r")" "$(median mb_per_s <<<"$r")" \
        "$(sed -n 's/.*failures=\([0-9]*\).*/\1/p' <<<"$r" | paste -sd+ | bc)"
    done
  done
  echo
  for concurrency in ${LEVELS:-1 32}; do
    for reference in $references; do
      r=$(paste -d' ' \
            <(sed -n "s/.* $field=\\([0-9.]*\\).*/\\1/p;s/^$field=\\([0-9.]*\\).*/\\1/p" \
                <<<"${results[$case,$subject,$concurrency]}") \
            <(sed -n "s/.* $field=\\([0-9.]*\\).*/\\1/p;s/^$field=\\([0-9.]*\\).*/\\1/p" \
                <<<"${results[$case,$reference,$concurrency]}") |
          awk '{printf "%.2f\n", $1 / $2}' | sort -g)
      printf 'c=%-2s %s/%-9s median %s  range %s-%s  (%s rounds)\n' "$concurrency" "$subject" \
        "$reference" "$(awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}' <<<"$r")" \
        "$(head -1 <<<"$r")" "$(tail -1 <<<"$r")" "$(wc -l <<<"$r")"
    done
  done
}

if [[ $suite == fork || $suite == all ]]; then
  # The example hello responder, verbatim, for every server.
  hello='while IFS= read -r line && [ "${#line}" -gt 1 ]; do :; done
printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
printf "Hello from gatehouse, %s port %s\r\n" "$TCPREMOTEIP" "$TCPREMOTEPORT"'
  start tcpserver 18101 tcpserver -R -H -l 0 -c 200 -b 1024 127.0.0.1 18101 sh -c "$hello" \
    2>/dev/null
  start c 18102 bazel-bin/bench/fork_exec_server 18102 sh -c "$hello"
  mkdir -p "$work/fork/services.d"
  echo "log_level = 1" >"$work/fork/gatehouse.conf"
  {
    echo "[hello]"
    echo "port = 127.0.0.1:18103"
    echo "exec = /bin/sh"
    sed -n '/^args/,$p' services.d/hello.conf
  } >"$work/fork/services.d/hello.conf"
  port[gatehouse]=18103
  start_gatehouse gatehouse "$work/fork"
  measure fork "tcpserver c gatehouse"
fi

if [[ $suite == builtin || $suite == all ]]; then
  mkdir -p "$work/builtin/services.d"
  echo "log_level = 1" >"$work/builtin/gatehouse.conf"
  printf '[daytime]\nport = 127.0.0.1:18111\nmode = builtin\nbuiltin = daytime\n' \
    >"$work/builtin/services.d/daytime.conf"
  printf '[echo]\nport = 127.0.0.1:18112\nmode = builtin\nbuiltin = echo\n' \
    >"$work/builtin/services.d/echo.conf"
  start_gatehouse gh_builtin "$work/builtin"
  port[gh_daytime]=18111 port[gh_echo]=18112
  pid[gh_daytime]=${pid[gh_builtin]} pid[gh_echo]=${pid[gh_builtin]}
  start c_daytime 18113 bazel-bin/bench/inprocess_server 18113 daytime
  start c_echo 18114 bazel-bin/bench/inprocess_server 18114 echo
  start perl_daytime 18115 perl bench/netserver_builtin.pl 18115 daytime
  start perl_echo 18116 perl bench/netserver_builtin.pl 18116 echo
  # A daytime client sends nothing and reads the line; an echo client sends a
  # line, half-closes and reads it back; echo clients close first, so their ports
  # wait in TIME_WAIT: they come from 8 addresses (load_client --sources).
  measure daytime "c_daytime perl_daytime gh_daytime" --request "" --expect ":"
  measure echo "c_echo perl_echo gh_echo" --request $'hello, echo\r\n' --half-close 1 \
    --expect $'hello, echo\r\n' --sources 8
fi

if [[ $suite == tls || $suite == all ]]; then
  # One self-signed ECDSA P-256 certificate and the same two programs for every
  # server; the programs must be readable by gatehouse's service uid (the key
  # stays root's: gatehouse reads it for the relays).
  chmod 755 "$work"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj /CN=bench.test -keyout "$work/key.pem" -out "$work/cert.pem" 2>/dev/null
  printf '%s\n' 'while IFS= read -r line && [ "${#line}" -gt 1 ]; do :; done' \
    'printf "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"' \
    'printf "Hello over TLS, %s\r\n" "$SSL_PROTOCOL"' >"$work/hello.sh"
  printf '%s\n' 'while IFS= read -r line && [ "${#line}" -gt 1 ]; do :; done' \
    'exec head -c 16777216 /dev/zero' >"$work/bulk.sh"
  mkdir -p "$work/tls/services.d"
  echo "log_level = 1" >"$work/tls/gatehouse.conf"
  for service in hello:18121 bulk:18122; do
    printf '[tls_%s]\nport = 127.0.0.1:%s\nexec = /bin/sh\nargs = %s\ntls_cert = %s\ntls_key = %s\n' \
      "${service%:*}" "${service#*:}" "$work/${service%:*}.sh" "$work/cert.pem" "$work/key.pem" \
      >"$work/tls/services.d/${service%:*}.conf"
  done
  start_gatehouse gh_tls "$work/tls"
  port[gh_hello]=18121 port[gh_bulk]=18122 pid[gh_hello]=${pid[gh_tls]} pid[gh_bulk]=${pid[gh_tls]}
  {
    printf 'foreground = yes\npid =\ndebug = 0\n'
    for service in hello:18123 bulk:18124; do
      printf '[%s]\naccept = 127.0.0.1:%s\ncert = %s\nkey = %s\nexec = /bin/sh\nexecArgs = sh %s\n' \
        "${service%:*}" "${service#*:}" "$work/cert.pem" "$work/key.pem" "$work/${service%:*}.sh"
    done
  } >"$work/stunnel.conf"
  start stunnel_tls 0 stunnel4 "$work/stunnel.conf"
  port[stunnel_hello]=18123 port[stunnel_bulk]=18124
  pid[stunnel_hello]=${pid[stunnel_tls]} pid[stunnel_bulk]=${pid[stunnel_tls]}
  # inetd mode: no service section; tcpserver accepts and runs one stunnel per connection.
  for service in hello bulk; do
    printf 'foreground = yes\npid =\ndebug = 0\ncert = %s\nkey = %s\nexec = /bin/sh\nexecArgs = sh %s\n' \
      "$work/cert.pem" "$work/key.pem" "$work/$service.sh" >"$work/stunnel-$service.conf"
  done
  start inetd_hello 18125 tcpserver -R -H -l 0 -c 200 -b 1024 127.0.0.1 18125 \
    stunnel4 "$work/stunnel-hello.conf" 2>/dev/null
  start inetd_bulk 18126 tcpserver -R -H -l 0 -c 200 -b 1024 127.0.0.1 18126 \
    stunnel4 "$work/stunnel-bulk.conf" 2>/dev/null
  measure handshakes "stunnel_hello inetd_hello gh_hello" --tls 1
  LEVELS="1 4" measure bulk "stunnel_bulk inetd_bulk gh_bulk" --tls 1 --expect ""
fi

if [[ $suite == fork || $suite == all ]]; then report fork gatehouse "tcpserver c"; fi
if [[ $suite == builtin || $suite == all ]]; then
  report daytime gh_daytime "c_daytime perl_daytime"
  report echo gh_echo "c_echo perl_echo"
fi
if [[ $suite == tls || $suite == all ]]; then
  report handshakes gh_hello "stunnel_hello inetd_hello"
  LEVELS="1 4" report bulk gh_bulk "stunnel_bulk inetd_bulk" mb_per_s
fi
