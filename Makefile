# podium: set-up, demo and tests on a fresh Debian 12 machine (as root).
#   make demo   installs everything, then plays the demo onto real containers
#   make test   installs everything, then runs unit and integration tests
PY      ?= /usr/bin/python3
VENV    := .venv
STAMPS  := .stamps
APT_PACKAGES := runc conmon catatonit busybox-static python3-venv iproute2 iptables procps \
                golang-github-containers-common netavark aardvark-dns podman uidmap

.PHONY: setup demo test bench clean-venv

$(STAMPS)/apt: Makefile
	mkdir -p $(STAMPS)
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(APT_PACKAGES)
	touch $@

$(STAMPS)/venv: pyproject.toml $(STAMPS)/apt
	$(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e '.[test]' --config-settings editable_mode=compat
	touch $@

setup: $(STAMPS)/venv

demo: setup
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash examples/demo.sh

test: setup
	$(VENV)/bin/python -m pytest -q -ra tests

bench: setup
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q hyperfine
	$(VENV)/bin/python bench/run_bench.py

clean-venv:
	rm -rf $(VENV) $(STAMPS)
