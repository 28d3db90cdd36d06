#!/usr/bin/env bash
# podium demo, on the embedded engine (runc + conmon, real bridge networks):
#   1. build localhost/busybox FROM scratch with `podium build` (no registry is reachable);
#   2. the main job: `podium apply` a directory that mixes a Kubernetes pod and a compose
#      project sharing a network and a volume; show the plan, the result, and that a
#      second diff has nothing to do;
#   3. `podium generate kube` of the running pod, then `podium delete` of the stack;
#   4. an everyday container published on the host's loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${DEMO_PORT:-18080}
STACK=examples/stack
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { step "$*"; "$@"; }

cleanup() {
  podium delete --stack stack --volumes >/dev/null 2>&1 || true
  podium rm -f demo-web >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# 1. The image, built from busybox-static by podium's own builder.
run bash examples/busybox/build.sh localhost/busybox
run podium images

# 2. The main job: desired state from a directory, diffed against the host, applied as a plan.
step "podium diff -f $STACK        (exit 1: there are changes to make)"
podium diff -f "$STACK" && code=0 || code=$?
echo "(diff exit code $code)"
[ "$code" = 1 ] || { echo "expected diff to report changes (exit 1)" >&2; exit 1; }
run podium apply -f "$STACK"
run podium stacks
run podium pod ps
run podium ps --format '{{.Names}}\t{{.Status}}'
step "podium exec web-probe cat /tmp/last   (the kube pod fetched the compose service by name over the shared network)"
for i in $(seq 100); do
  if out=$(podium exec web-probe cat /tmp/last 2>/dev/null) && [ -n "$out" ]; then
    echo "$out"; break
  fi
  sleep 0.2
done
[ -n "${out:-}" ] || { echo "the pod never reached the compose service" >&2; exit 1; }
step "podium diff -f $STACK        (a second diff: nothing to do, exit 0)"
podium diff -f "$STACK"
run podium apply -f "$STACK"

# 3. Write the running pod back out as Kubernetes YAML, then remove the whole stack.
run podium generate kube web
run podium delete --stack stack --volumes
run podium ps -a --format '{{.Names}}'

# 4. The everyday commands on one container.
run podium run --rm localhost/busybox sh -c 'echo "hello from $(hostname)"; exit 3' || echo "(exit code $?)"
run podium run -d --init --name demo-web -p "127.0.0.1:$PORT:80" localhost/busybox \
    sh -c 'mkdir -p /www && echo "<h1>Hello from a podium container</h1>" > /www/index.html && exec httpd -f -v -p 80 -h /www'
step "fetch http://127.0.0.1:$PORT/ from the host"
for i in $(seq 50); do
  if $PY -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$PORT/', timeout=2).read().decode())" 2>/dev/null; then
    echo; break
  fi
  sleep 0.1
done
run podium logs demo-web
run podium inspect --format '{{.Name}} {{.State.Status}} pid={{.State.Pid}} ip={{.NetworkSettings.IPAddress}}' demo-web
run podium rm -f demo-web
run podium events --stream=false --since 5m --filter type=container --filter event=create --format '{{.Time}} {{.Status}} {{.Name}}'
echo
echo "demo complete"
