#!/usr/bin/env bash
# podium demo: build an image from busybox-static (no registry is reachable),
# play a Kubernetes example onto real containers (runc + conmon, bridge network),
# show what runs, write it back out as YAML, take it down; then a plain
# container serving on the host's loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${DEMO_PORT:-18080}
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

tmp=$(mktemp -d)
cleanup() {
  podium kube down examples/kube/web.yaml >/dev/null 2>&1 || true
  podium rm -f demo-web >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT
cleanup
tmp=$(mktemp -d)
$PY -m tests.rootfs "$tmp/busybox.tar" "www/index.html=<h1>Hello from a podium container</h1>" >/dev/null

run podium import "$tmp/busybox.tar" busybox --change 'CMD ["sh"]'
run podium images

# The main job: declared workloads onto real containers.
run podium play kube examples/kube/web.yaml
run podium pod ps
run podium ps --format '{{.Names}}\t{{.Status}}'
step "podium exec web-pod-0-checker cat /tmp/last-check   (the sidecar fetched the page over the pod's localhost)"
for i in $(seq 50); do
  if out=$(podium exec web-pod-0-checker cat /tmp/last-check 2>/dev/null) && [ -n "$out" ]; then
    echo "$out"; break
  fi
  sleep 0.2
done
run podium generate kube web-pod-0
run podium kube down examples/kube/web.yaml
run podium pod ps

# And the everyday commands on one container.
run podium run --rm busybox sh -c 'echo "hello from $(hostname)"; exit 3' || echo "(exit code $?)"
run podium run -d --init --name demo-web -p "127.0.0.1:$PORT:80" busybox httpd -f -v -p 80 -h /www
run podium ps
step "fetch http://127.0.0.1:$PORT/ from the host"
for i in $(seq 50); do
  if $PY -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$PORT/', timeout=2).read().decode())" 2>/dev/null; then
    echo; break
  fi
  sleep 0.1
done
run podium exec demo-web sh -c 'echo "inside: $(id -un) in $(pwd), eth0 $(ip -4 -o addr show eth0 | cut -d" " -f7)"'
run podium logs demo-web
run podium inspect --format '{{.Name}} {{.State.Status}} pid={{.State.Pid}} image={{.ImageName}}' demo-web
run podium stop demo-web
run podium rm demo-web
echo
echo "demo complete"
