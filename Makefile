# SPDX-License-Identifier: GPL-2.0
# The KVM/VFIO series (patches/) and the harness that builds, boots and
# tests it.  `make help` lists the targets; the README says what each costs.

PY      := python3
SERIESPY := $(PY) harness/series.py
KBUILD  := $(PY) harness/kbuild.py
RUNNER  := $(PY) harness/runner.py

# The VMM side: QEMU on the new uAPI (vmm/qemu/README.md).
include vmm/qemu/qemu.mk

# BASE=1: the pristine base kernel instead of the patched one (same tests,
# built from the patched tree, so new tests show how the base fails them).
# DEBUG=1: the kernel with configs/debug.config on top; timeouts scaled.
# SERIES=NAME: one series of patches/series.cfg, on the series it requires
# alone, instead of all of them: its own tree (build/series/NAME), kernel,
# selftests and plan entries, for build, check, lint and bisect.
SERIES  ?=
SRC     := $(if $(BASE),base,$(if $(SERIES),$(SERIES),patched))
TESTSRC := $(if $(SERIES),$(SERIES),patched)
KIND    := $(if $(DEBUG),debug,test)
SCALE   ?= $(if $(DEBUG),4,1)
# ccache stores paths under the project relative to it, so another clone
# (CI's) hits the cache this one filled.
export CCACHE_BASEDIR := $(CURDIR)

# T= and CMD= reach the runner through the environment (make exports
# command-line variables), so any quoting in them survives.
T       ?=
CMD     ?=
BOOT    ?=
MACHINE ?=
export T CMD BOOT MACHINE SERIES
RUNARGS := --src $(SRC) --kind $(KIND) --scale $(SCALE)

.PHONY: help deps tree export source base kernel selftests initramfs guest check \
	check-full bench fuzz run lint coccicheck bisect headers harness-selftest clean \
	coverage

help:
	@sed -n 's/^## //p' $(MAKEFILE_LIST)

## deps          install missing Debian packages (as root), or print the apt-get line
deps:
	@sh harness/deps.sh

## tree          build/linux: pristine base commit + `git am` of every series (FORCE=1 recreates)
tree: deps
	@$(SERIESPY) tree

## export        regenerate patches/<series>/ from the commits in build/linux
export:
	@$(SERIESPY) export

build/linux/.git:
	@$(SERIESPY) tree

base: deps
	@$(SERIESPY) base

# With SERIES=NAME: build/series/NAME, made afresh from build/linux.
source: build/linux/.git
	$(if $(SERIES),@$(SERIESPY) checkout $(SERIES))

kernel: deps $(if $(BASE),base,source)
	@$(KBUILD) kernel $(SRC) $(KIND)

selftests: deps source
	@$(KBUILD) selftests $(TESTSRC)

initramfs: selftests
	@$(KBUILD) initramfs $(TESTSRC)

guest: kernel initramfs

## check         build, boot, run the test plan (T=pattern, BASE=1, DEBUG=1, SERIES=name, ACCEL=tcg|kvm)
check: guest
	@$(SERIESPY) status
	@$(RUNNER) check $(RUNARGS) --mode check

## check-full    the plan plus every upstream KVM selftest it does not list
check-full: guest
	@$(RUNNER) check $(RUNARGS) --mode full --results $(SRC)-$(KIND)-full

## bench         the plan's benchmarks (entries in group `bench`); never pass/fail
bench: guest
	@$(RUNNER) check $(RUNARGS) --mode bench --results $(SRC)-$(KIND)-bench

## soak          the check plan (T=, DEBUG=, ...) N= times in a row (default 5), then
##               a table of how each test ended in every run (flaky: passed and failed)
N       ?= 5
soak: guest
	@$(RUNNER) check $(RUNARGS) --mode check --repeat $(N) --results $(SRC)-$(KIND)-soak

## fuzz          the plan's fuzzers (group `fuzz`) on the debug kernel, SECONDS= each
##               (default 300) from SEED= (default 1), then the kmemleak check
SECONDS ?= 300
SEED    ?= 1
fuzz:
	@$(MAKE) --no-print-directory guest DEBUG=1
	@$(RUNNER) check --src $(SRC) --kind debug --scale 4 --mode fuzz \
		--seconds $(SECONDS) --seed $(SEED) --results $(SRC)-debug-fuzz

## coverage      the plan (T=pattern) on a kernel with gcov on the files the series change:
##               per series, the added lines it reached and the ones it did not
##               (build/results/coverage/); integration tree only, not part of check
# A failing test does not stop the report (it counts what ran); a harness
# error (exit 2) does.
coverage: deps build/linux/.git initramfs
	@$(if $(SERIES)$(BASE),echo 'coverage: the integration tree only (no SERIES=, BASE=)' >&2; exit 2)
	@$(KBUILD) kernel patched gcov
	@rm -rf build/results/patched-gcov   # a T= that selects nothing must not report the last run
	@$(RUNNER) check --src patched --kind gcov --scale $(SCALE) --mode check; \
		rc=$$?; [ $$rc -le 1 ] || exit $$rc
	@$(PY) harness/coverage.py report --src patched

## run           boot to a shell on the serial console; CMD='...' runs one command,
##               BOOT='...' adds to the kernel command line (e.g. kvm_amd.npt=0),
##               MACHINE=name boots another machine of harness/machines/
run: guest
	@$(RUNNER) run $(RUNARGS)

## lint          checkpatch --strict, W=1 build of touched dirs, sparse, kernel-doc
lint: source
	@sh harness/lint.sh

## coccicheck    every scripts/coccinelle script on the changed .c files: findings the base lacks
coccicheck: source
	@sh harness/robots.sh cocci build/$(if $(SERIES),series/$(SERIES),linux)

## bisect        build the tree after every patch of the series (incremental; FROM=n starts at patch n)
bisect: source
	@sh harness/bisect.sh

## headers       exported uapi headers for VMM authors, in build/headers/include
headers: build/linux/.git
	@$(MAKE) -s -C build/linux O=$(CURDIR)/build/out/headers \
		headers_install INSTALL_HDR_PATH=$(CURDIR)/build/headers
	@echo "uapi headers: build/headers/include"

## harness-selftest  the harness checks itself: parser on saved logs, then a
##               live run where a looping test and a hung guest must be caught
harness-selftest: guest
	@$(PY) harness/selftest.py

## clean         remove build output (keeps build/linux, which holds your commits)
clean:
	rm -rf build/out build/results build/headers
