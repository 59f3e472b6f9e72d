# SPDX-License-Identifier: GPL-2.0
#
#   make demo      set up everything, boot a VM, show rsnull under a workload
#   make check     set up everything, then run every test suite in the VM
#   make           build the modules against the project's kernel
#   make bench-blk benchmark rsnull against null_blk, rnull and brd
#   make bench-fs  benchmark rsfs (both writeback modes) against ext4, xfs and f2fs
#   make tools     build mkfs.rsfs, fsck.rsfs (and the tests' helper) in tools/
#   make install   install the modules and mkfs.rsfs / fsck.rsfs
#
# KDIR overrides the kernel build tree (default: the cached debug kernel
# that scripts/kernel.sh builds).
#
# `make install` runs the kernel's modules_install (modules go to
# $(INSTALL_MOD_PATH)/lib/modules/<release>/updates/, then depmod) and copies
# the tools to $(DESTDIR)$(SBINDIR), where `mkfs -t rsfs` and `fsck -t rsfs`
# find them. INSTALL_MOD_PATH defaults to $(DESTDIR), so DESTDIR stages
# everything. `make install-modules` and `make install-tools` do one half.

ifneq ($(KERNELRELEASE),)
# Called from the kernel's build system: Kbuild has the rules.
include $(src)/Kbuild
else

PWD := $(shell pwd)
KDIR ?= $(shell $(PWD)/scripts/kernel.sh debug)
KMAKE = $(MAKE) LLVM=1 RUSTC=/usr/bin/rustc BINDGEN=$(HOME)/.cargo/bin/bindgen -C $(KDIR) M=$(PWD)

PREFIX ?= /usr/local
SBINDIR ?= $(PREFIX)/sbin
INSTALL_MOD_PATH ?= $(DESTDIR)
CARGO ?= $(or $(shell PATH="$(HOME)/.cargo/bin:$$PATH" command -v cargo),cargo)

.PHONY: modules clean setup demo check bench-blk bench-fs tools install install-modules install-tools

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

bench-fs: setup
	scripts/bench-fs.sh

tools:
	cd tools && $(CARGO) build --release

install: install-modules install-tools

install-modules: modules
	$(KMAKE) INSTALL_MOD_PATH=$(INSTALL_MOD_PATH) modules_install

# Cargo cannot name a binary mkfs.rsfs: install mkfs-rsfs under that name.
install-tools: tools
	install -d $(DESTDIR)$(SBINDIR)
	install -m 0755 tools/target/release/mkfs-rsfs $(DESTDIR)$(SBINDIR)/mkfs.rsfs
	install -m 0755 tools/target/release/fsck-rsfs $(DESTDIR)$(SBINDIR)/fsck.rsfs

endif
