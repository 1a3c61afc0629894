# SPDX-License-Identifier: GPL-2.0
# The VMM side of issue 18: Debian 12's QEMU 7.2 with vmm/qemu/*.patch, built
# under build/vmm/.  Included from the top Makefile (include vmm/qemu/qemu.mk).

VMM_QEMU := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
VMM_N    ?= 5

.PHONY: qemu qemu-export vmm-check vmm-bench

## qemu          build build/vmm/qemu-system-x86_64: apt-get source qemu (same version as the host's), git am vmm/qemu/*.patch, configure, ninja (incremental)
qemu:
	sh $(VMM_QEMU)/build.sh

## qemu-export   regenerate vmm/qemu/*.patch from the git tree build/vmm/src/qemu-*/ (commit there first)
qemu-export:
	sh $(VMM_QEMU)/build.sh export

## vmm-check     TCG checks of the patched QEMU on the host, then one nested KVM boot with stock and patched QEMU (needs the patched kernel)
vmm-check: qemu
	$(PY) $(VMM_QEMU)/nested.py tcg
	$(PY) $(VMM_QEMU)/nested.py nested -n 1 stock patched

## vmm-bench     nested boots (VMM_N=5 each) with stock, patched and variant QEMUs; a table of exits and boot times
vmm-bench: qemu
	N=$(VMM_N) sh $(VMM_QEMU)/bench.sh

.PHONY: vmm-p2p
## vmm-p2p       P2P DMA (edu -> ivshmem BAR2) through the host's stock QEMU 7.2 + vfio-pci in a nested KVM guest, decode on/off/on, on the patched and the base kernel
vmm-p2p:
	$(PY) $(VMM_QEMU)/p2p.py patched base
