// SPDX-License-Identifier: GPL-2.0

//! configfs: a driver's settings as a directory tree under
//! `/sys/kernel/config/<subsystem>/`.
//!
//! C header: [`include/linux/configfs.h`](srctree/include/linux/configfs.h)
//!
//! A driver describes its subsystem with [`SubsystemOps`] (the root
//! directory: its attributes, and what `mkdir`/`rmdir` in it do) and the
//! directories users create with [`ItemOps`] (their attributes). Each
//! attribute is a file; reading it calls [`ItemOps::show`] and writing it
//! [`ItemOps::store`] with the attribute's index in [`ItemOps::ATTRS`].
//! [`Subsystem::register`] builds the C tables and registers the tree;
//! dropping the [`Subsystem`] unregisters it.
//!
//! configfs passes only the item to an attribute's `show`/`store`, not the
//! attribute, so every attribute needs its own C function: this layer has
//! one trampoline per index (up to [`MAX_ATTRS`]), generated once here, so
//! that drivers write no macros and see no raw pointers.
//!
//! Lifetimes: each child directory is a `config_group` embedded with the
//! driver's data in one allocation, freed by the item's `release` when
//! configfs drops its last reference. configfs holds a reference on the
//! owning module for every child, so the module (and the [`Subsystem`])
//! outlives them all: `rmmod` is refused until they are removed.

use crate::kext::bindings;
use core::{
    marker::PhantomData,
    pin::Pin,
    ptr,
};
use kernel::{
    alloc::{flags, KBox, KVec},
    error::{code, Error, Result},
    ffi::c_char,
    str::CStr,
    types::Opaque,
    ThisModule,
};

/// The most attributes one kind of directory may have.
pub const MAX_ATTRS: usize = 32;

/// One attribute file.
pub struct Attribute {
    /// The file name.
    pub name: &'static CStr,
    /// Whether root may write it (mode 0644; else 0444).
    pub writable: bool,
}

impl Attribute {
    /// A read-only attribute.
    pub const fn ro(name: &'static CStr) -> Self {
        Self { name, writable: false }
    }

    /// A read-write attribute.
    pub const fn rw(name: &'static CStr) -> Self {
        Self { name, writable: true }
    }
}

/// Where [`ItemOps::show`] writes: the page configfs returns to `read(2)`.
/// Output past the page is cut off.
pub struct Page {
    buf: *mut u8,
    len: usize,
}

impl Page {
    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `bytes`, as far as they fit.
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        // One byte stays free, as `sysfs_emit` keeps it for a NUL.
        let room = (crate::kext::mm::PAGE_SIZE - 1).saturating_sub(self.len);
        let n = bytes.len().min(room);
        // SAFETY: `buf` is the PAGE_SIZE buffer configfs gave `show`, and
        // `len + n` stays inside it; `bytes` cannot overlap it (it is ours).
        unsafe { ptr::copy_nonoverlapping(bytes.as_ptr(), self.buf.add(self.len), n) };
        self.len += n;
    }

    /// The raw buffer, for C functions that fill a page themselves; they
    /// must write at most `PAGE_SIZE - len()` bytes.
    pub(crate) fn tail_ptr(&mut self) -> *mut c_char {
        // SAFETY: `len` never exceeds the page.
        unsafe { self.buf.add(self.len).cast() }
    }

    /// Accounts for `n` bytes written by a C function through `tail_ptr`.
    pub(crate) fn advance(&mut self, n: usize) {
        self.len = (self.len + n).min(crate::kext::mm::PAGE_SIZE - 1);
    }
}

impl core::fmt::Write for Page {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// A directory's attributes. Implemented by the data of each child
/// directory, and by the subsystem (the root directory).
pub trait ItemOps: Send + Sync + Sized + 'static {
    /// The attribute files, in the order of the indices passed below.
    const ATTRS: &'static [Attribute];

    /// Writes attribute `attr`'s value to `out` (usually ending in `\n`).
    fn show(&self, attr: usize, out: &mut Page) -> Result;

    /// Sets attribute `attr` from what was written (`input`, as written,
    /// trailing newline included). Errors are returned to `write(2)`.
    fn store(&self, _attr: usize, _input: &[u8]) -> Result {
        Err(code::EACCES)
    }
}

/// The root directory of a subsystem: what `mkdir` and `rmdir` in it do.
pub trait SubsystemOps: ItemOps {
    /// The data of a directory made by `mkdir`.
    type Child: ItemOps;

    /// The subsystem's directory name under `/sys/kernel/config`.
    const NAME: &'static CStr;

    /// `mkdir NAME`: the new directory's data.
    fn make_child(&self, name: &CStr) -> Result<Self::Child>;

    /// `rmdir`: the directory is going away. Its data is dropped later,
    /// when configfs lets go of its last reference (an open attribute file
    /// may still hold one), so release what must go now here.
    fn drop_child(&self, child: &Self::Child);
}

/// A `config_group` and the driver's data for one child directory. The
/// group comes first, so a `config_item` pointer is a pointer to this.
#[repr(C)]
struct Child<C> {
    group: Opaque<bindings::config_group>,
    data: C,
}

/// The C tables for one kind of directory.
struct Tables {
    item_type: Opaque<bindings::config_item_type>,
    attrs: KVec<bindings::configfs_attribute>,
    attr_ptrs: KVec<*mut bindings::configfs_attribute>,
}

/// The registered subsystem and its data. The `configfs_subsystem` comes
/// first, so a `config_item` pointer of the root is a pointer to this.
#[repr(C)]
struct Root<S: SubsystemOps> {
    subsys: Opaque<bindings::configfs_subsystem>,
    data: S,
    root_tables: Tables,
    child_tables: Tables,
    group_ops: Opaque<bindings::configfs_group_operations>,
    child_item_ops: Opaque<bindings::configfs_item_operations>,
}

/// Finds a directory's data from the `config_item` configfs passes.
trait Holder: Sized {
    type Data: ItemOps;

    /// # Safety
    ///
    /// `item` must be the item of a live `Self`, which stays live for `'a`.
    unsafe fn data<'a>(item: *mut bindings::config_item) -> &'a Self::Data;
}

impl<C: ItemOps> Holder for Child<C> {
    type Data = C;

    unsafe fn data<'a>(item: *mut bindings::config_item) -> &'a C {
        // SAFETY: `Child` is `repr(C)` with the group (whose first member is
        // the item) first, and the caller guarantees it is live for `'a`.
        unsafe { &(*item.cast::<Child<C>>()).data }
    }
}

impl<S: SubsystemOps> Holder for Root<S> {
    type Data = S;

    unsafe fn data<'a>(item: *mut bindings::config_item) -> &'a S {
        // SAFETY: `Root` is `repr(C)` with the subsystem (whose group's item
        // is its first member) first; the caller guarantees liveness.
        unsafe { &(*item.cast::<Root<S>>()).data }
    }
}

type ShowFn = unsafe extern "C" fn(*mut bindings::config_item, *mut c_char) -> isize;
type StoreFn = unsafe extern "C" fn(*mut bindings::config_item, *const c_char, usize) -> isize;

/// The attribute trampolines for directories held by `H`.
struct Trampolines<H: Holder>(PhantomData<H>);

impl<H: Holder> Trampolines<H> {
    /// # Safety
    ///
    /// Called by configfs for attribute `I` of a live directory of type
    /// `H` (configfs holds a reference on the item during the call), with
    /// `page` a zeroed PAGE_SIZE buffer.
    unsafe extern "C" fn show<const I: usize>(item: *mut bindings::config_item, page: *mut c_char) -> isize {
        // SAFETY: see the function's safety section.
        let data = unsafe { H::data(item) };
        let mut out = Page { buf: page.cast(), len: 0 };
        match data.show(I, &mut out) {
            Ok(()) => out.len as isize,
            Err(e) => e.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// As for `show`, with `page` holding `count` bytes written by the user.
    unsafe extern "C" fn store<const I: usize>(
        item: *mut bindings::config_item,
        page: *const c_char,
        count: usize,
    ) -> isize {
        // SAFETY: see the function's safety section.
        let data = unsafe { H::data(item) };
        // SAFETY: configfs copied `count` bytes from the user into `page`.
        let input = unsafe { core::slice::from_raw_parts(page.cast::<u8>(), count) };
        match data.store(I, input) {
            Ok(()) => count as isize,
            Err(e) => e.to_errno() as isize,
        }
    }
}

/// `[f::<0>, f::<1>, ..]` for the trampoline `f` of every index.
macro_rules! per_index {
    ($t:ident :: $f:ident, $($i:literal)*) => { [$($t::$f::<$i>),*] };
}

impl<H: Holder> Trampolines<H> {
    const SHOW: [ShowFn; MAX_ATTRS] = per_index!(Self::show,
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
    const STORE: [StoreFn; MAX_ATTRS] = per_index!(Self::store,
        0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31);
}

impl Tables {
    /// The attribute table and item type for directories held by `H`.
    fn new<H: Holder>(module: &'static ThisModule) -> Result<Self> {
        let attrs_in = H::Data::ATTRS;
        if attrs_in.len() > MAX_ATTRS {
            return Err(code::EINVAL);
        }
        let mut attrs = KVec::with_capacity(attrs_in.len(), flags::GFP_KERNEL)?;
        for (i, a) in attrs_in.iter().enumerate() {
            attrs.push(
                bindings::configfs_attribute {
                    ca_name: a.name.as_char_ptr(),
                    ca_owner: module.as_ptr().cast(),
                    ca_mode: if a.writable { 0o644 } else { 0o444 },
                    show: Some(Trampolines::<H>::SHOW[i]),
                    store: if a.writable { Some(Trampolines::<H>::STORE[i]) } else { None },
                },
                flags::GFP_KERNEL,
            )?;
        }
        // The pointer array is filled in by `link`, once `attrs` has its
        // final address.
        Ok(Self {
            item_type: Opaque::new(bindings::config_item_type {
                ct_owner: module.as_ptr().cast(),
                ..Default::default()
            }),
            attrs,
            attr_ptrs: KVec::new(),
        })
    }

    /// Points the item type at the NULL-terminated attribute array.
    fn link(&mut self) -> Result {
        let mut ptrs = KVec::with_capacity(self.attrs.len() + 1, flags::GFP_KERNEL)?;
        for a in self.attrs.iter_mut() {
            ptrs.push(ptr::from_mut(a), flags::GFP_KERNEL)?;
        }
        ptrs.push(ptr::null_mut(), flags::GFP_KERNEL)?;
        self.attr_ptrs = ptrs;
        // SAFETY: nothing has seen the item type yet; both arrays are heap
        // allocations that do not move while `self` lives.
        unsafe { (*self.item_type.get()).ct_attrs = self.attr_ptrs.as_mut_ptr() };
        Ok(())
    }
}

/// A registered configfs subsystem, `/sys/kernel/config/<S::NAME>/`,
/// owning its data `S`. Unregistered on drop.
pub struct Subsystem<S: SubsystemOps> {
    root: Pin<KBox<Root<S>>>,
}

// SAFETY: after registration the root is only reached through `&S` (which
// is `Sync`) and by `drop`.
unsafe impl<S: SubsystemOps> Send for Subsystem<S> {}
// SAFETY: as above.
unsafe impl<S: SubsystemOps> Sync for Subsystem<S> {}

impl<S: SubsystemOps> Subsystem<S> {
    /// Registers the subsystem with `data` as its root's data.
    pub fn register(data: S, module: &'static ThisModule) -> Result<Self> {
        const { assert!(S::ATTRS.len() <= MAX_ATTRS && <S::Child as ItemOps>::ATTRS.len() <= MAX_ATTRS) };
        let root = KBox::pin(
            Root {
                subsys: Opaque::uninit(),
                data,
                root_tables: Tables::new::<Root<S>>(module)?,
                child_tables: Tables::new::<Child<S::Child>>(module)?,
                group_ops: Opaque::new(bindings::configfs_group_operations {
                    make_group: Some(Self::make_group),
                    drop_item: Some(Self::drop_item),
                    ..Default::default()
                }),
                child_item_ops: Opaque::new(bindings::configfs_item_operations {
                    release: Some(Self::release),
                    ..Default::default()
                }),
            },
            flags::GFP_KERNEL,
        )?;
        // Pinned: C holds pointers into the root from here on.
        let mut root = root;
        // SAFETY: we only fill in fields in place; nothing is moved out.
        let r = unsafe { Pin::get_unchecked_mut(root.as_mut()) };
        r.root_tables.link()?;
        r.child_tables.link()?;
        // SAFETY: the tables are unshared and at their final addresses.
        unsafe {
            (*r.root_tables.item_type.get()).ct_group_ops = r.group_ops.get();
            (*r.child_tables.item_type.get()).ct_item_ops = r.child_item_ops.get();
        }
        let subsys = r.subsys.get();
        // SAFETY: `subsys` is ours, zeroed here and initialised by configfs's
        // own functions before registration; it stays at this address until
        // `drop` unregisters it.
        unsafe {
            ptr::write_bytes(subsys, 0, 1);
            bindings::config_group_init_type_name(
                &mut (*subsys).su_group,
                S::NAME.as_char_ptr(),
                r.root_tables.item_type.get(),
            );
            bindings::kext_mutex_init(&mut (*subsys).su_mutex);
            crate::kext::error::from_ret(bindings::configfs_register_subsystem(subsys))?;
        }
        Ok(Self { root })
    }

    /// The subsystem's data.
    pub fn data(&self) -> &S {
        &self.root.data
    }

    /// # Safety
    ///
    /// Called by configfs for `mkdir` in the root of a registered
    /// `Subsystem<S>`, with `name` a NUL-terminated string.
    unsafe extern "C" fn make_group(group: *mut bindings::config_group, name: *const c_char) -> *mut bindings::config_group {
        // SAFETY: the root group is the first member of the subsystem, which
        // is the first member of our live `Root`.
        let root = unsafe { &*group.cast::<Root<S>>() };
        // SAFETY: configfs passes the new directory's NUL-terminated name.
        let name = unsafe { CStr::from_char_ptr(name) };
        let child = match root.data.make_child(name) {
            Ok(child) => child,
            Err(e) => return err_ptr(e),
        };
        let boxed = match KBox::new(Child { group: Opaque::uninit(), data: child }, flags::GFP_KERNEL) {
            Ok(b) => b,
            Err(e) => return err_ptr(e.into()),
        };
        let child = KBox::into_raw(boxed);
        // SAFETY: `child` is a fresh allocation; configfs initialises the
        // group, which from now on owns the allocation: `release` frees it.
        unsafe {
            let g = (*child).group.get();
            ptr::write_bytes(g, 0, 1);
            bindings::config_group_init_type_name(g, name.as_char_ptr(), root.child_tables.item_type.get());
            g
        }
    }

    /// # Safety
    ///
    /// Called by configfs for `rmdir` of a child made by `make_group`.
    unsafe extern "C" fn drop_item(group: *mut bindings::config_group, item: *mut bindings::config_item) {
        // SAFETY: as in `make_group`; the child is live until the put below.
        let (root, child) = unsafe { (&*group.cast::<Root<S>>(), Child::<S::Child>::data(item)) };
        root.data.drop_child(child);
        // SAFETY: gives back the reference `make_group` returned; `release`
        // runs when the last one is gone.
        unsafe { bindings::config_item_put(item) };
    }

    /// # Safety
    ///
    /// Called by configfs when the last reference to a child is dropped.
    unsafe extern "C" fn release(item: *mut bindings::config_item) {
        // SAFETY: the item is the first member of a `Child` that
        // `make_group` leaked from a `KBox`; nobody can reach it any more.
        drop(unsafe { KBox::from_raw(item.cast::<Child<S::Child>>()) });
    }
}

impl<S: SubsystemOps> Drop for Subsystem<S> {
    fn drop(&mut self) {
        // SAFETY: registered in `register`. No child exists any more: each
        // holds a reference on the module, which is being unloaded.
        unsafe { bindings::configfs_unregister_subsystem(self.root.subsys.get()) };
    }
}

fn err_ptr<T>(e: Error) -> *mut T {
    // Same encoding as the C `ERR_PTR()`.
    (e.to_errno() as isize) as *mut T
}

/// Parses an attribute value: decimal (or `0x` hex) digits, surrounding
/// white space (the newline `echo` adds) allowed.
pub fn parse_u64(input: &[u8]) -> Result<u64> {
    let s = input.trim_ascii();
    let (digits, radix) = match s.strip_prefix(b"0x").or_else(|| s.strip_prefix(b"0X")) {
        Some(hex) => (hex, 16),
        None => (s, 10),
    };
    if digits.is_empty() {
        return Err(code::EINVAL);
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = (c as char).to_digit(radix).ok_or(code::EINVAL)?;
        v = v.checked_mul(u64::from(radix)).and_then(|v| v.checked_add(u64::from(d))).ok_or(code::ERANGE)?;
    }
    Ok(v)
}

/// Parses a boolean attribute value as `kstrtobool` does (`1`/`0`,
/// `y`/`n`, `on`/`off`, case-insensitive).
pub fn parse_bool(input: &[u8]) -> Result<bool> {
    let s = input.trim_ascii();
    let is = |words: &[&str]| words.iter().any(|w| s.eq_ignore_ascii_case(w.as_bytes()));
    if is(&["1", "y", "yes", "on", "true"]) {
        Ok(true)
    } else if is(&["0", "n", "no", "off", "false"]) {
        Ok(false)
    } else {
        Err(code::EINVAL)
    }
}
