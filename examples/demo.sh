#!/usr/bin/env bash
# podium demo: build an image from busybox-static, run a real web server in a
# container on runc + conmon, show it serving, then clean up.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${DEMO_PORT:-18080}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

tmp=$(mktemp -d)
trap 'podium rm -f demo-web >/dev/null 2>&1 || true; rm -rf "$tmp"' EXIT
$PY -m tests.rootfs "$tmp/busybox.tar" "www/index.html=<h1>Hello from a podium container</h1>" >/dev/null
podium rm -f demo-web >/dev/null 2>&1 || true

run podium import "$tmp/busybox.tar" demo/busybox --change 'CMD ["sh"]'
run podium images
run podium run --rm demo/busybox sh -c 'echo "hello from $(hostname)"; exit 3' || echo "(exit code $?)"
run podium run -d --init --name demo-web --network host demo/busybox httpd -f -v -p "127.0.0.1:$PORT" -h /www
run podium ps
step "fetch http://127.0.0.1:$PORT/"
for i in $(seq 50); do
  if $PY -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$PORT/', timeout=2).read().decode())" 2>/dev/null; then
    echo; break
  fi
  sleep 0.1
done
run podium exec demo-web sh -c 'echo "inside: $(id -un) in $(pwd), pid 1 is $(cat /proc/1/comm)"'
run podium logs demo-web
run podium inspect --format '{{.Name}} {{.State.Status}} pid={{.State.Pid}} image={{.ImageName}}' demo-web
run podium stop demo-web
run podium ps -a
run podium rm demo-web
echo
echo "demo complete"
