// SPDX-License-Identifier: GPL-2.0

//! Taking ranges of user pages: requests from ioctl arguments, checked, and
//! the loop that takes a range in batches.

#![forbid(unsafe_code)]

use kernel::prelude::*;

use crate::kernel_ext::{
    gup::{
        Access, GotPages, GupOptions, LongTerm, MaybeP2pdma, PageSet, PinnedPages, ShortTerm,
        TakePages, Taken, UserPageRange,
    },
    mm::{AddressSpace, CurrentMm, MmapReadGuard, RemoteMm},
    uapi,
};

/// The GUP entry point a request uses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Method {
    Fast,
    Locked,
    Unlocked,
    /// The `*_remote` entry point, on the caller's own address space.
    Remote,
}

/// The holder a request fills: a pin of some kind, or page references.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HolderKind {
    PinShortTerm,
    PinLongTerm,
    PinMaybeP2pdma,
    Get,
}

/// A checked request: everything in it is a combination GUP accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request {
    pub(crate) kind: HolderKind,
    pub(crate) method: Method,
    pub(crate) opts: GupOptions,
    /// Charge the pages to the caller's `pinned_vm` (a registration).
    pub(crate) account: bool,
}

impl Request {
    /// The pin kind for the long-term and P2PDMA choices; `EINVAL` for
    /// both at once, which GUP would WARN on.
    fn pin_kind(longterm: bool, p2pdma: bool) -> Result<HolderKind> {
        match (longterm, p2pdma) {
            (true, true) => Err(EINVAL),
            (true, false) => Ok(HolderKind::PinLongTerm),
            (false, true) => Ok(HolderKind::PinMaybeP2pdma),
            (false, false) => Ok(HolderKind::PinShortTerm),
        }
    }

    /// Whether the request pins (FOLL_PIN) rather than gets.
    pub(crate) fn is_pin(&self) -> bool {
        !matches!(self.kind, HolderKind::Get)
    }

    /// A request of the kernel's gup_test ABI: the command picks the entry
    /// point and pin or get, `gup_flags` carries raw FOLL bits. Only the
    /// bits listed in the uapi header are taken; anything else is `EINVAL`
    /// rather than passed on to GUP.
    pub(crate) fn from_gup_test(cmd: u32, gup_flags: u32, test_flags: u32) -> Result<Self> {
        if test_flags & !uapi::GUP_TEST_FLAG_DUMP_PAGES_USE_PIN != 0 {
            return Err(EINVAL);
        }
        let (pin, method, longterm) = match cmd {
            uapi::GUP_FAST_BENCHMARK => (false, Method::Fast, false),
            uapi::GUP_BASIC_TEST => (false, Method::Locked, false),
            uapi::PIN_FAST_BENCHMARK => (true, Method::Fast, false),
            uapi::PIN_BASIC_TEST => (true, Method::Locked, false),
            uapi::PIN_LONGTERM_BENCHMARK => (true, Method::Locked, true),
            uapi::DUMP_USER_PAGES_TEST => (
                test_flags & uapi::GUP_TEST_FLAG_DUMP_PAGES_USE_PIN != 0,
                Method::Locked,
                false,
            ),
            _ => return Err(ENOTTY),
        };
        let common = uapi::RUST_GUP_FOLL_WRITE | uapi::RUST_GUP_FOLL_FORCE;
        let allowed = if pin {
            common | uapi::RUST_GUP_FOLL_LONGTERM | uapi::RUST_GUP_FOLL_PCI_P2PDMA
        } else {
            // FOLL_GET is what the GUP_* commands do anyway.
            common | uapi::RUST_GUP_FOLL_GET
        };
        if gup_flags & !allowed != 0 {
            return Err(EINVAL);
        }
        let kind = if pin {
            Self::pin_kind(
                longterm || gup_flags & uapi::RUST_GUP_FOLL_LONGTERM != 0,
                gup_flags & uapi::RUST_GUP_FOLL_PCI_P2PDMA != 0,
            )?
        } else {
            HolderKind::Get
        };
        let access = if gup_flags & uapi::RUST_GUP_FOLL_WRITE != 0 {
            Access::Write
        } else {
            Access::Read
        };
        Ok(Request {
            kind,
            method,
            opts: GupOptions::new(access).force(gup_flags & uapi::RUST_GUP_FOLL_FORCE != 0),
            account: false,
        })
    }

    /// A request of rust_gup's own ABI: `op` is an `enum rust_gup_op`,
    /// `flags` are `RUST_GUP_F_*`.
    pub(crate) fn from_op(op: u32, flags: u32) -> Result<Self> {
        let (pin, method) = match op {
            uapi::RUST_GUP_OP_PIN_FAST => (true, Method::Fast),
            uapi::RUST_GUP_OP_PIN_LOCKED => (true, Method::Locked),
            uapi::RUST_GUP_OP_PIN_UNLOCKED => (true, Method::Unlocked),
            uapi::RUST_GUP_OP_GET_FAST => (false, Method::Fast),
            uapi::RUST_GUP_OP_GET_LOCKED => (false, Method::Locked),
            uapi::RUST_GUP_OP_GET_UNLOCKED => (false, Method::Unlocked),
            uapi::RUST_GUP_OP_PIN_REMOTE => (true, Method::Remote),
            uapi::RUST_GUP_OP_GET_REMOTE => (false, Method::Remote),
            _ => return Err(EINVAL),
        };
        let has = |f: u32| flags & f != 0;
        if flags & !uapi::RUST_GUP_F_ALL != 0
            || (!pin && (has(uapi::RUST_GUP_F_LONGTERM) || has(uapi::RUST_GUP_F_P2PDMA)))
            || (has(uapi::RUST_GUP_F_DIRTY) && !has(uapi::RUST_GUP_F_WRITE))
            || (has(uapi::RUST_GUP_F_ACCOUNT) && !has(uapi::RUST_GUP_F_LONGTERM))
        {
            return Err(EINVAL);
        }
        let kind = if pin {
            Self::pin_kind(has(uapi::RUST_GUP_F_LONGTERM), has(uapi::RUST_GUP_F_P2PDMA))?
        } else {
            HolderKind::Get
        };
        let access = match (has(uapi::RUST_GUP_F_WRITE), has(uapi::RUST_GUP_F_DIRTY)) {
            (false, _) => Access::Read,
            (true, false) => Access::Write,
            (true, true) => Access::WriteDirty,
        };
        Ok(Request {
            kind,
            method,
            opts: GupOptions::new(access).force(has(uapi::RUST_GUP_F_FORCE)),
            account: has(uapi::RUST_GUP_F_ACCOUNT),
        })
    }
}

/// A holder of any kind, as a request makes it.
pub(crate) enum Held {
    ShortTerm(PinnedPages<ShortTerm>),
    LongTerm(PinnedPages<LongTerm>),
    MaybeP2pdma(PinnedPages<MaybeP2pdma>),
    Got(GotPages),
}

impl Held {
    /// An empty holder for `request`, with room for `capacity` pages.
    pub(crate) fn new(request: &Request, capacity: usize) -> Result<Self> {
        let opts = request.opts;
        Ok(match request.kind {
            HolderKind::PinShortTerm => Held::ShortTerm(PinnedPages::new(opts, capacity)?),
            HolderKind::PinLongTerm => Held::LongTerm(PinnedPages::new(opts, capacity)?),
            HolderKind::PinMaybeP2pdma => Held::MaybeP2pdma(PinnedPages::new(opts, capacity)?),
            HolderKind::Get => Held::Got(GotPages::new(opts, capacity)?),
        })
    }

    pub(crate) fn pages(&self) -> &dyn PageSet {
        match self {
            Held::ShortTerm(p) => p,
            Held::LongTerm(p) => p,
            Held::MaybeP2pdma(p) => p,
            Held::Got(p) => p,
        }
    }
}

/// The address spaces a request works on: the calling task's, and for
/// the remote entry point a reference of its own to it.
pub(crate) struct Target {
    current: CurrentMm,
    remote: Option<RemoteMm>,
}

impl Target {
    /// `EFAULT` in a kernel thread.
    pub(crate) fn new(method: Method) -> Result<Self> {
        Ok(Target {
            current: CurrentMm::get()?,
            remote: match method {
                Method::Remote => Some(RemoteMm::of_current()?),
                _ => None,
            },
        })
    }
}

/// The way to the address space for one request: for the locked and
/// remote entry points, the mmap lock held for the whole range.
pub(crate) enum Path<'a> {
    Fast(&'a CurrentMm),
    Locked(MmapReadGuard<'a, CurrentMm>),
    Unlocked(&'a CurrentMm),
    Remote(MmapReadGuard<'a, RemoteMm>),
}

impl<'a> Path<'a> {
    /// Takes the mmap lock if `method` needs it; `EINTR` if killed while
    /// waiting for it.
    pub(crate) fn new(target: &'a Target, method: Method) -> Result<Self> {
        let mm = &target.current;
        Ok(match (method, &target.remote) {
            (Method::Fast, _) => Path::Fast(mm),
            (Method::Locked, _) => Path::Locked(mm.read_lock_killable()?),
            (Method::Unlocked, _) => Path::Unlocked(mm),
            (Method::Remote, Some(remote)) => Path::Remote(remote.read_lock_killable()?),
            (Method::Remote, None) => return Err(EINVAL),
        })
    }
}

/// Takes the part of `range` that `held` does not hold yet, at most
/// `per_call` pages per GUP call, gup_test's way: see [`TakePages`]. The
/// holder and the entry point are chosen here, once; the loop over GUP
/// calls runs in the holder, with the call inlined.
pub(crate) fn take_range(
    held: &mut Held,
    path: &Path<'_>,
    range: UserPageRange,
    per_call: usize,
) -> Result<Taken> {
    let rest = range.after(held.pages().len()).ok_or(EINVAL)?;
    match held {
        Held::ShortTerm(set) => take_with(set, path, rest, per_call),
        Held::LongTerm(set) => take_with(set, path, rest, per_call),
        Held::MaybeP2pdma(set) => take_with(set, path, rest, per_call),
        Held::Got(set) => take_with(set, path, rest, per_call),
    }
}

fn take_with<S: TakePages>(
    set: &mut S,
    path: &Path<'_>,
    range: UserPageRange,
    per_call: usize,
) -> Result<Taken> {
    match path {
        Path::Fast(mm) => set.take_fast(mm, range, per_call),
        Path::Locked(lock) => set.take_locked(lock, range, per_call),
        Path::Unlocked(mm) => set.take_unlocked(mm, range, per_call),
        Path::Remote(lock) => set.take_remote(lock, range, per_call),
    }
}
