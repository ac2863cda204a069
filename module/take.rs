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
    mm::{AddressSpace, CurrentMm, MmOwner, MmapReadGuard, OwnerMm, PinnedVmCharge},
    task::Syscall,
    uapi,
    worker::Workers,
};

/// The GUP entry point a request uses.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Method {
    Fast,
    Locked,
    Unlocked,
    /// The `*_remote` entry point, on the address space of the file's
    /// owner, whoever calls.
    Remote,
}

/// The kind of pin a request makes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PinSelect {
    ShortTerm,
    LongTerm,
    MaybeP2pdma,
}

/// The holder a request fills: a pin of some kind, or page references.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HolderKind {
    Pin(PinSelect),
    Get,
}

/// A checked request: everything in it is a combination GUP accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Request {
    pub(crate) kind: HolderKind,
    pub(crate) method: Method,
    pub(crate) opts: GupOptions,
    /// Charge the pages to the target's `pinned_vm` (a registration).
    pub(crate) account: bool,
    /// A remote request whose pages a kernel worker takes.
    pub(crate) worker: bool,
    /// A remote request on the address space of a process named by pid,
    /// rather than the file's owner.
    pub(crate) by_pid: bool,
}

impl Request {
    /// The pin kind for the long-term and P2PDMA choices; `EINVAL` for
    /// both at once, which GUP would WARN on.
    fn pin_kind(longterm: bool, p2pdma: bool) -> Result<HolderKind> {
        Ok(HolderKind::Pin(match (longterm, p2pdma) {
            (true, true) => return Err(EINVAL),
            (true, false) => PinSelect::LongTerm,
            (false, true) => PinSelect::MaybeP2pdma,
            (false, false) => PinSelect::ShortTerm,
        }))
    }

    /// The kind of pin, for a request that pins (FOLL_PIN); `None` for one
    /// that gets (FOLL_GET).
    pub(crate) fn pin(&self) -> Option<PinSelect> {
        match self.kind {
            HolderKind::Pin(pin) => Some(pin),
            HolderKind::Get => None,
        }
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
            worker: false,
            by_pid: false,
        })
    }

    /// A request of rust_gup's own ABI: `op` is an `enum rust_gup_op`,
    /// `flags` are `RUST_GUP_F_*`, without `RUST_GUP_F_WORKER` and
    /// `RUST_GUP_F_PID`, which only `RUST_GUP_IOC_PIN` takes.
    pub(crate) fn from_op(op: u32, flags: u32) -> Result<Self> {
        if flags & (uapi::RUST_GUP_F_WORKER | uapi::RUST_GUP_F_PID) != 0 {
            return Err(EINVAL);
        }
        Self::from_pin_op(op, flags)
    }

    /// The same with all of `RUST_GUP_IOC_PIN`'s flags: `RUST_GUP_F_WORKER`
    /// and `RUST_GUP_F_PID` are for the remote ops only.
    pub(crate) fn from_pin_op(op: u32, flags: u32) -> Result<Self> {
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
            || (!matches!(method, Method::Remote)
                && (has(uapi::RUST_GUP_F_WORKER) || has(uapi::RUST_GUP_F_PID)))
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
            worker: has(uapi::RUST_GUP_F_WORKER),
            by_pid: has(uapi::RUST_GUP_F_PID),
        })
    }
}

/// Pins of any kind, as a request makes them.
pub(crate) enum Pinned {
    ShortTerm(PinnedPages<ShortTerm>),
    LongTerm(PinnedPages<LongTerm>),
    MaybeP2pdma(PinnedPages<MaybeP2pdma>),
}

/// Runs `$body` with `$p` bound to the pins of `$pinned`, whatever their
/// kind: once per kind, each time with the pins' own type.
macro_rules! with_pinned {
    ($pinned:expr, $p:ident => $body:expr) => {
        match $pinned {
            $crate::take::Pinned::ShortTerm($p) => $body,
            $crate::take::Pinned::LongTerm($p) => $body,
            $crate::take::Pinned::MaybeP2pdma($p) => $body,
        }
    };
}
pub(crate) use with_pinned;

/// A holder of any kind, as a request makes it.
pub(crate) enum Held {
    Pinned(Pinned),
    Got(GotPages),
}

/// Runs `$body` with `$h` bound to the holder in `$held`, whatever it is.
macro_rules! with_held {
    ($held:expr, $h:ident => $body:expr) => {
        match $held {
            $crate::take::Held::Pinned(pinned) => $crate::take::with_pinned!(pinned, $h => $body),
            $crate::take::Held::Got($h) => $body,
        }
    };
}
pub(crate) use with_held;

impl Pinned {
    /// An empty holder for pins of kind `pin`, with room for `capacity`
    /// pages. Short-term pins are held unscoped: the device keeps them
    /// across calls for the tests (PIN, DMA_MAP), and the benchmark times
    /// their release on its own.
    fn new(pin: PinSelect, opts: GupOptions, capacity: usize) -> Result<Self> {
        Ok(match pin {
            PinSelect::ShortTerm => Pinned::ShortTerm(PinnedPages::new_unscoped(opts, capacity)?),
            PinSelect::LongTerm => Pinned::LongTerm(PinnedPages::new(opts, capacity)?),
            PinSelect::MaybeP2pdma => {
                Pinned::MaybeP2pdma(PinnedPages::new_unscoped(opts, capacity)?)
            }
        })
    }
}

impl Held {
    /// An empty holder for `request`, with room for `capacity` pages.
    pub(crate) fn new(request: &Request, capacity: usize) -> Result<Self> {
        Ok(match request.kind {
            HolderKind::Pin(pin) => Held::Pinned(Pinned::new(pin, request.opts, capacity)?),
            HolderKind::Get => Held::Got(GotPages::new(request.opts, capacity)?),
        })
    }

    pub(crate) fn pages(&self) -> &dyn PageSet {
        with_held!(self, h => h)
    }
}

/// The address space a request works on, as its entry point needs it: the
/// calling task's, or for the remote entry point another's (the file's
/// owner's, or a pid-named process's), referenced for the request.
pub(crate) enum Target {
    Fast(CurrentMm),
    Locked(CurrentMm),
    Unlocked(CurrentMm),
    Remote(OwnerMm),
}

impl Target {
    /// The target of `method` in system call `cx`, whose remote address
    /// space is `owner`'s: `EFAULT` in a kernel thread; for the remote
    /// entry point, `ESRCH` when `owner`'s tasks have exited.
    pub(crate) fn new(cx: &Syscall, method: Method, owner: &MmOwner) -> Result<Self> {
        Ok(match method {
            Method::Fast => Target::Fast(CurrentMm::get(cx)?),
            Method::Locked => Target::Locked(CurrentMm::get(cx)?),
            Method::Unlocked => Target::Unlocked(CurrentMm::get(cx)?),
            Method::Remote => Target::Remote(owner.mmget()?),
        })
    }

    /// The target of `request`: with `RUST_GUP_F_PID`, the address space
    /// of process `pid` (see [`OwnerMm::of_pid`]), otherwise as
    /// [`Self::new`]; `pid` must then be 0.
    pub(crate) fn of_request(
        cx: &Syscall,
        request: &Request,
        owner: &MmOwner,
        pid: u32,
    ) -> Result<Self> {
        if !request.by_pid {
            if pid != 0 {
                return Err(EINVAL);
            }
            return Self::new(cx, request.method, owner);
        }
        Ok(Target::Remote(OwnerMm::of_pid(
            cx,
            i32::try_from(pid).map_err(|_| ESRCH)?,
        )?))
    }

    /// The pages of `[addr, addr + size)` in the target address space; see
    /// [`UserPageRange::new`].
    pub(crate) fn range(&self, cx: &Syscall, addr: u64, size: u64) -> Result<UserPageRange> {
        match self {
            Target::Remote(mm) => UserPageRange::new_in(mm.mm(), addr, size),
            _ => UserPageRange::new(cx, addr, size),
        }
    }

    /// For a registration (`RUST_GUP_F_ACCOUNT`), charges `pages` to the
    /// target address space: the caller's, against its own limit, or the
    /// remote one's, against its owner's. `None` for other requests.
    pub(crate) fn charge_for(
        &self,
        request: &Request,
        pages: usize,
    ) -> Result<Option<PinnedVmCharge>> {
        if !request.account {
            return Ok(None);
        }
        Ok(Some(match self {
            Target::Fast(mm) | Target::Locked(mm) | Target::Unlocked(mm) => {
                PinnedVmCharge::charge(mm, pages)?
            }
            Target::Remote(mm) => mm.charge(pages)?,
        }))
    }
}

/// The way to the address space for one request: for the locked and
/// remote entry points, the mmap lock held for the whole range.
pub(crate) enum Path<'a> {
    Fast(&'a CurrentMm),
    Locked(MmapReadGuard<'a, CurrentMm>),
    Unlocked(&'a CurrentMm),
    Remote(MmapReadGuard<'a, OwnerMm>),
}

impl<'a> Path<'a> {
    /// Takes the mmap lock if the entry point needs it; `EINTR` if killed
    /// while waiting for it.
    pub(crate) fn new(target: &'a Target) -> Result<Self> {
        Ok(match target {
            Target::Fast(mm) => Path::Fast(mm),
            Target::Locked(mm) => Path::Locked(mm.mmap_read_lock_killable()?),
            Target::Unlocked(mm) => Path::Unlocked(mm),
            Target::Remote(mm) => Path::Remote(mm.mmap_read_lock_killable()?),
        })
    }
}

/// Takes the part of `range` that `holder` does not hold yet, at most
/// `per_call` pages per GUP call, gup_test's way: see [`TakePages`]. The
/// entry point is chosen here, once; the loop over GUP calls runs in the
/// holder, with the call inlined.
pub(crate) fn take_range<H: TakePages>(
    holder: &mut H,
    path: &Path<'_>,
    range: UserPageRange,
    per_call: usize,
) -> Result<Taken> {
    let rest = range.after(holder.len()).ok_or(EINVAL)?;
    match path {
        Path::Fast(mm) => holder.take_fast(mm, rest, per_call),
        Path::Locked(lock) => holder.take_locked(lock, rest, per_call),
        Path::Unlocked(mm) => holder.take_unlocked(mm, rest, per_call),
        Path::Remote(lock) => holder.take_remote(lock, rest, per_call),
    }
}

/// Takes `range` of `target` into `holder`: the whole range or nothing
/// when `whole` (GUP is called again after a short batch, and the first
/// error fails it), otherwise what the first pass gets, at least a page.
pub(crate) fn take_into<H: TakePages>(
    holder: &mut H,
    target: &Target,
    range: UserPageRange,
    whole: bool,
) -> Result {
    let path = Path::new(target)?;
    loop {
        let taken = take_range(holder, &path, range, range.nr_pages())?;
        if !whole || holder.len() == range.nr_pages() {
            return Ok(());
        }
        if let Some(e) = taken.error {
            return Err(e);
        }
    }
}

/// A new holder of `range` per `request`; see [`take_into`]. On failure
/// what was taken is released.
pub(crate) fn take_held(
    request: &Request,
    target: &Target,
    range: UserPageRange,
    whole: bool,
) -> Result<Held> {
    let mut held = Held::new(request, range.nr_pages())?;
    with_held!(&mut held, h => take_into(h, target, range, whole)?);
    Ok(held)
}

/// The same for a request that pins, as `pin`, the kind
/// [`Request::pin()`] gave.
pub(crate) fn take_pinned(
    request: &Request,
    pin: PinSelect,
    target: &Target,
    range: UserPageRange,
    whole: bool,
) -> Result<Pinned> {
    let mut pinned = Pinned::new(pin, request.opts, range.nr_pages())?;
    with_pinned!(&mut pinned, p => take_into(p, target, range, whole)?);
    Ok(pinned)
}

/// Pages taken for a new set, with the charge made for them if the request
/// is a registration.
pub(crate) type ForSet = (Held, Option<PinnedVmCharge>);

/// Takes `range` of `target` for a new set per `request`: a registration
/// (`RUST_GUP_F_ACCOUNT`) is charged first, for the whole range, and then
/// taken whole. On failure what was taken is released, then the charge.
pub(crate) fn take_for_set(
    request: &Request,
    target: &Target,
    range: UserPageRange,
) -> Result<ForSet> {
    let charge = target.charge_for(request, range.nr_pages())?;
    let held = take_held(request, target, range, request.account)?;
    Ok((held, charge))
}

/// The same, in one of `workers` when the request says so
/// (`RUST_GUP_F_WORKER`, remote requests only): everything the worker
/// needs moves to it, and nothing it runs can reach the caller (see
/// [`Workers::run`]).
pub(crate) fn take_for_set_in(
    request: &Request,
    target: Target,
    range: UserPageRange,
    workers: &Workers,
) -> Result<ForSet> {
    match target {
        Target::Remote(mm) if request.worker => {
            let request = *request;
            workers.run(move || take_for_set(&request, &Target::Remote(mm), range))?
        }
        target => take_for_set(request, &target, range),
    }
}
