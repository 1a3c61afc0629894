# SPDX-License-Identifier: GPL-2.0
"""The test machine: QEMU q35, 2 vCPUs, 4 GiB, an emulated Intel IOMMU and
two PCI devices for the VFIO tests: ivshmem bound to vfio-pci at boot, edu
bound by the guest's init (to edu-vfio-pci where the kernel has it).

This file is data: harness/qemu.py turns it into a command line.
"""
import dataclasses

from machine import Machine

MACHINE = Machine(
    name='q35',
    binary='qemu-system-x86_64',
    machine='q35',
    smp=2,
    memory='4G',
    # TCG runs anywhere (it is all this project's CI machines have): EPYC with
    # SVM and NPT lets the guest's kvm_amd load with nested paging.  On a host
    # with usable hardware virtualization, KVM with the host CPU model is used
    # instead (and on Intel it exercises the VMX paths).  The IOMMU's
    # interrupt remapping needs the split irqchip under KVM.
    accel={
        'tcg': ['-accel', 'tcg,thread=multi', '-cpu', 'EPYC,+svm,+npt'],
        'kvm': ['-accel', 'kvm', '-cpu', 'host', '-machine', 'kernel-irqchip=split'],
    },
    objects=[
        'memory-backend-ram,id=ivshmem-mem,size=1M,share=on',
    ],
    # intel-iommu must come before the devices it translates.  QEMU 7.2
    # defaults to 39 address bits; 48 matches what Linux expects of VT-d.
    devices=[
        'intel-iommu,aw-bits=48,intremap=on',
        # The edu DMA engine (PCI 1234:11e8) goes through the IOMMU; without
        # the full mask QEMU limits its DMA addresses to 28 bits (the kernel
        # command line tells edu-vfio-pci: edu_vfio_pci.dma_bits).  Alone
        # behind a root port it gets a reset (secondary bus reset), which
        # the migration test's resume-after-reset case uses.
        'pcie-root-port,id=rp2,chassis=2,slot=2',
        'edu,dma_mask=0xffffffffffffffff,bus=rp2',
        # ivshmem-plain (PCI 1af4:1110): BAR2 is plain RAM, a mappable BAR.
        # It has no reset of its own: alone behind a root port, it gets a
        # secondary bus reset (VFIO_DEVICE_RESET and hot reset work).
        'pcie-root-port,id=rp1,chassis=1,slot=1',
        'ivshmem-plain,memdev=ivshmem-mem,bus=rp1',
    ],
    cmdline=[
        'console=ttyS0',
        # A panic or a reboot ends QEMU (-no-reboot) instead of hanging it.
        'panic=-1', 'oops=panic',
        'intel_iommu=on',
        # edu (1234:11e8) is bound by harness/guest/init: to its variant
        # driver edu-vfio-pci where the kernel has one, else to vfio-pci.
        'vfio-pci.ids=1af4:1110',
        # edu's dma_mask above is the full 64 bits; the driver cannot read it.
        'edu_vfio_pci.dma_bits=64',
        'rdinit=/init',
    ],
)


# The same machine with edu as QEMU makes it by default: it drops the DMA
# address bits above 28, and edu-vfio-pci is left at its default, which says
# so.  For the DMA logging test's case that what is logged is what edu wrote.
EDU_DEFAULT_MASK = dataclasses.replace(
    MACHINE,
    name='q35-edu-default-mask',
    devices=[d.replace('edu,dma_mask=0xffffffffffffffff,', 'edu,')
             for d in MACHINE.devices],
    cmdline=[c for c in MACHINE.cmdline if not c.startswith('edu_vfio_pci.dma_bits=')],
)
