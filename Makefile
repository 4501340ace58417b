# SynoChatGPT: one Makefile for developers and CI (CI runs `make test` through .ci/run).

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DATA   ?= data
PORT   ?= 8008

VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' app/__init__.py)
# Architectures by DSM's names; the wheels are manylinux2014 (glibc 2.17), so they also run on
# DSM 7.0's glibc 2.26.
ARCH   ?= $(if $(filter aarch64 arm64,$(shell uname -m)),armv8,x86_64)
WHEEL_PLATFORM_x86_64 := manylinux2014_x86_64
WHEEL_PLATFORM_armv8  := manylinux2014_aarch64
WHEELHOUSE := build/wheelhouse/$(ARCH)
BASE_IMAGE ?= python:3.11-slim
IMAGE      ?= synochatgpt
# DSM wants X.Y.Z-BUILD; raise SPK_BUILD for a new package of the same app version.
SPK_BUILD  ?= 0001
SPK_VERSION := $(VERSION)-$(SPK_BUILD)
SPK        := dist/SynoChatGPT-$(SPK_VERSION)-$(ARCH).spk
# pip itself goes into the package: postinst runs it from its wheel, so the NAS needs no ensurepip.
PIP_VERSION := 26.3
APP_FILES  := $(shell find app -type f -not -path '*/__pycache__/*' 2>/dev/null)

.PHONY: help venv run test lint typecheck unit clean wheelhouse docker docker-test spk spk-test spk-arm-test bench bench-reference

help:
	@echo "make run    start the server on http://localhost:$(PORT) with data in ./$(DATA)"
	@echo "make test   lint, type-check and run the whole test suite"
	@echo "make docker       build the image $(IMAGE):$(VERSION) for this machine ($(ARCH))"
	@echo "make docker-test  build, run and check the image (starts dockerd if needed; root)"
	@echo "make spk    build $(SPK) (ARCH=x86_64 or armv8)"
	@echo "make spk-test      check both .spk files and install them in a simulated DSM (root)"
	@echo "make spk-arm-test  run the armv8 package in an emulated arm64 Debian (root, qemu)"
	@echo "make bench  speed and memory figures; writes bench/results/runs/latest.md and .png (untracked)"
	@echo "make bench-reference  the same, and makes it the committed bench/results/reference.md"
	@echo "make clean  remove the venv, build output and caches (never ./$(DATA))"

## Environment ##############################################################

# The stamp file makes the venv rebuild only when the pinned requirements change.
$(VENV)/.installed: requirements.txt requirements-dev.txt
	@$(PYTHON) -c 'import sys; sys.exit("Python 3.11 or newer is needed, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## Running ##################################################################

run: venv
	$(PY) -m app serve --port $(PORT) --data-dir $(DATA)

## Checks ###################################################################

lint: venv
	$(PY) -m ruff check app tests spk bench
	$(PY) -m ruff format --check app tests spk bench

typecheck: venv
	$(PY) -m mypy

unit: venv
	$(PY) -m pytest -q -m "not docker and not spk and not arm"

test: lint typecheck unit

# Speed and memory against the fakes (a model taking 3 s); a report, not a pass/fail test.
bench: venv
	$(PY) bench/run.py

# On purpose only: the committed figures README points to.
bench-reference: venv
	$(PY) bench/run.py --new-reference

## Packages ################################################################

# Every runtime wheel for one architecture plus the app's own wheel, for Python 3.11: what the
# image and the .spk install from, with no package index at install time.
wheelhouse: $(WHEELHOUSE)/.done

$(WHEELHOUSE)/.done: requirements.txt pyproject.toml $(APP_FILES) | venv
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	$(PY) -m pip download --quiet --disable-pip-version-check --only-binary=:all: \
		--platform $(WHEEL_PLATFORM_$(ARCH)) --python-version 3.11 --implementation cp \
		-d $(WHEELHOUSE) -r requirements.txt
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps -w $(WHEELHOUSE) .
	rm -rf build/lib build/bdist.* *.egg-info
	touch $@

docker: wheelhouse
	docker build --network host --build-arg BASE_IMAGE=$(BASE_IMAGE) --build-arg WHEELHOUSE=$(WHEELHOUSE) \
		-t $(IMAGE):$(VERSION) -t $(IMAGE):latest .

# Needs root: starts dockerd when none runs, and makes a Debian base image with debootstrap
# when $(BASE_IMAGE) cannot be pulled (no registry reachable).
docker-test: venv
	$(PY) -m pytest -q -m docker tests/test_docker.py

# The DSM package: spk/build.py assembles INFO, package.tgz (wheelhouse + ui/), scripts/, conf/,
# the wizards and icons.
spk: $(SPK)

$(SPK): $(WHEELHOUSE)/.done build/pip/.done $(wildcard spk/* spk/*/* scripts/* conf/*)
	$(PY) -m spk.build --arch $(ARCH) --version $(SPK_VERSION) --wheelhouse $(WHEELHOUSE) \
		--pip-wheel build/pip/pip-$(PIP_VERSION)-py3-none-any.whl --out dist

build/pip/.done: | venv
	mkdir -p build/pip
	$(PY) -m pip download --quiet --disable-pip-version-check --only-binary=:all: --no-deps \
		-d build/pip pip==$(PIP_VERSION)
	touch $@

# Checks both packages against DSM's rules; as root it also installs, runs, upgrades and
# removes the x86_64 one in a simulated DSM (/var/packages), postinst with no network.
spk-test: venv
	$(MAKE) spk ARCH=x86_64
	$(MAKE) spk ARCH=armv8
	rm -f build/spk-report.txt
	$(PY) -m pytest -q -m spk tests/test_spk.py

# Root: qemu-user-static + debootstrap --arch arm64; the armv8 package's postinst and server run
# under emulation and answer a chat.
spk-arm-test: venv
	$(MAKE) spk ARCH=armv8
	$(PY) -m pytest -q -m arm tests/test_spk_arm.py

clean:
	rm -rf $(VENV) build dist .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
