# SPDX-License-Identifier: GPL-2.0
#
#   make demo      set up everything, boot a VM, show rsnull under a workload
#   make check     set up everything, then run every test suite in the VM
#   make           build the modules against the project's kernel
#   make bench-blk benchmark rsnull against null_blk, rnull and brd
#
# KDIR overrides the kernel build tree (default: the cached debug kernel
# that scripts/kernel.sh builds).

ifneq ($(KERNELRELEASE),)
# Called from the kernel's build system: Kbuild has the rules.
include $(src)/Kbuild
else

PWD := $(shell pwd)
KDIR ?= $(shell $(PWD)/scripts/kernel.sh debug)
KMAKE = $(MAKE) LLVM=1 RUSTC=/usr/bin/rustc BINDGEN=$(HOME)/.cargo/bin/bindgen -C $(KDIR) M=$(PWD)

.PHONY: modules clean setup demo check bench-blk tools

modules:
	$(KMAKE) modules

clean:
	$(KMAKE) clean
	rm -f rust/kext/bindings_generated.rs

setup:
	scripts/setup.sh

demo: setup
	scripts/demo.sh

check: setup
	tests/run.sh

bench-blk: setup
	scripts/bench-blk.sh

endif
