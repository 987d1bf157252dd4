# Shared helpers for the scripts (sourced, not run).

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_redis: starts redis-server (AOF on) on a free loopback port in a temporary directory.
# Sets REDIS_PORT, REDIS_DIR and REDIS_URL; stop_redis stops it.
start_redis() {
  REDIS_DIR=$(mktemp -d /tmp/siphon-redis.XXXXXX)
  REDIS_PORT=$(free_port)
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$REDIS_DIR" --appendonly yes --save '' \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --logfile "$REDIS_DIR/redis.log"
  for _ in $(seq 100); do
    redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
    sleep 0.05
  done
  export REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0"
}

stop_redis() {
  [ -n "${REDIS_PORT:-}" ] && redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  [ -n "${REDIS_DIR:-}" ] && rm -rf "$REDIS_DIR"
}

# siphon_bin [release]: builds if needed and prints the path of the siphon executable.
siphon_bin() {
  if [ "${1:-}" = release ]; then
    swift build -c release --product siphon >&2
    echo "$(swift build -c release --show-bin-path)/siphon"
  else
    swift build --product siphon >&2
    echo "$(swift build --show-bin-path)/siphon"
  fi
}

# run_fuzzer NAME MODULE FUZZER [RUNS | --explore SECONDS]: builds Fuzz/FUZZER.swift with the
# files FUZZ_FILES of Sources/MODULE under libFuzzer + AddressSanitizer (.build-fuzz/NAME, rebuilt
# when a source is newer) and runs it over the seeds FUZZ_SEEDS (files). RUNS: a fixed seed and run
# count, the same inputs on every machine; --explore: a random seed for SECONDS, the corpus kept in
# .build-fuzz/NAME-corpus. A crash prints its report and leaves the input in .build-fuzz/.
run_fuzzer() {
  local name=$1 module=$2 fuzzer=$3 out=.build-fuzz
  shift 3
  mkdir -p "$out"
  local src=() f
  for f in "${FUZZ_FILES[@]}"; do src+=("Sources/$module/$f.swift"); done
  if [ ! -x "$out/$name" ] || [ -n "$(find "Sources/$module" Fuzz -newer "$out/$name" -name '*.swift' | head -1)" ]; then
    # gold warns about every ASan symbol it cannot export; only a failed build's output is worth reading
    swiftc -sanitize=fuzzer,address -parse-as-library -O -module-name "${module}Fuzz" "${src[@]}" "Fuzz/$fuzzer.swift" \
      -o "$out/$name" >"$out/build-$name.log" 2>&1 || { grep -v 'Cannot export local symbol' "$out/build-$name.log" >&2; return 1; }
  fi
  local corpus limit
  if [ "${1:-}" = "--explore" ]; then
    corpus="$out/$name-corpus"
    limit=(-max_total_time="${2:-300}")
  else
    corpus=$(mktemp -d)
    trap 'rm -rf "$corpus"' RETURN
    limit=(-seed=1 -runs="${1:-250000}")
  fi
  mkdir -p "$corpus"
  cp "${FUZZ_SEEDS[@]}" "$corpus/"
  local log="$out/last-$name.log"
  if "$out/$name" -artifact_prefix="$out/$name-" "${limit[@]}" -max_len=8192 -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" >"$log" 2>&1; then
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log"
  else
    echo "$name: the fuzzer found a failing input (full log: $log):" >&2
    grep -E -A25 'Program crashed|Fatal error|ERROR: (AddressSanitizer|libFuzzer)|deadly signal' "$log" | head -80 >&2
    grep -E 'Test unit written' "$log" >&2 || true
    return 1
  fi
}
