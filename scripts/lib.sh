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
