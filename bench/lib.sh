# Shared helpers of the bench scripts (sourced).

# A free loopback port.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Waits until `URL/readyz` answers 200.
wait_ready() { until curl -sf "$1/readyz" >/dev/null; do sleep 0.2; done; }

# `BIN run` on INPUT (2 workers) in a fresh state directory, killed and removed on exit; sets
# `port`, `pid` and `state`, and returns once everything present at start-up is processed.
serve_input() {
  port=$(free_port)
  state=$(mktemp -d)
  (cd "$state" && exec "$1" run --input "$2" --workers 2 --listen "127.0.0.1:$port" --dead-letter /dev/null 2>/dev/null) &
  pid=$!
  trap 'kill -9 $pid 2>/dev/null; rm -rf "$state"' EXIT
  wait_ready "http://127.0.0.1:$port"
}
