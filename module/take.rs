// SPDX-License-Identifier: GPL-2.0

//! Taking ranges of user pages: requests from ioctl arguments, checked, and
//! the loop that takes a range in batches.

#![forbid(unsafe_code)]

use kernel::{prelude::*, sync::Arc};

use crate::kernel_ext::{
    dma::{DmaRegistry, Revocable},
    gup::{
        Access, GetOptions, GotPages, GupOptions, Layout, LongTerm, PageSet, PinnedPages,
        ShortTerm, TakePages, Taken, UserPageRange,
    },
    mm::{
        may_pin_uncharged, AddressSpace, CurrentMm, MmOwner, MmapReadGuard, OwnerMm, PinnedVmCharge,
    },
    pci::PciFunction,
    task::Syscall,
    uapi,
    worker::Workers,
};
use crate::stats::Accounting;

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

/// The kind of pin a request makes, for pins a plain holder keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) enum PinSelect {
    ShortTerm,
    LongTerm,
}

/// A holder nothing revokes: pins of a kind, or page references.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Plain {
    Pin(PinSelect),
    Get,
}

/// The holder a request fills.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HolderKind {
    Plain(Plain),
    /// Pins that may hold P2PDMA pages (FOLL_PCI_P2PDMA): held for one
    /// operation, or by a [`Revocable`]. `longterm` is a revocable
    /// long-term registration (P2PDMA pages only).
    P2pdma {
        longterm: bool,
    },
}

/// What a DMA mapping pins: the same without page references, which must
/// not be the target of DMA.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DmaPins {
    Plain(PinSelect),
    P2pdma { longterm: bool },
}

/// The command of rust_gup's own ABI a request comes with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpCommand {
    /// `RUST_GUP_IOC_BENCH`: taken and released within the call.
    Bench,
    /// `RUST_GUP_IOC_PIN`, the only one with `RUST_GUP_F_WORKER` and
    /// `RUST_GUP_F_PID` (remote ops only).
    Pin,
    /// `RUST_GUP_IOC_DMA_MAP`.
    DmaMap,
}

/// The access `RUST_GUP_F_WRITE` and `RUST_GUP_F_DIRTY` in `flags` ask
/// for; `EINVAL` for DIRTY without WRITE.
pub(crate) fn access_of(flags: u32) -> Result<Access> {
    let has = |f: u32| flags & f != 0;
    Ok(
        match (has(uapi::RUST_GUP_F_WRITE), has(uapi::RUST_GUP_F_DIRTY)) {
            (false, false) => Access::Read,
            (false, true) => return Err(EINVAL),
            (true, false) => Access::Write,
            (true, true) => Access::WriteDirty,
        },
    )
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
    /// The holder for a request that pins: the long-term and P2PDMA
    /// choices. Both at once, which GUP would WARN on, is a revocable
    /// long-term registration where `registration` allows it, else
    /// `EINVAL`.
    fn pin_kind(longterm: bool, p2pdma: bool, registration: bool) -> Result<HolderKind> {
        Ok(match (longterm, p2pdma) {
            (true, true) if registration => HolderKind::P2pdma { longterm: true },
            (true, true) => return Err(EINVAL),
            (false, true) => HolderKind::P2pdma { longterm: false },
            (true, false) => HolderKind::Plain(Plain::Pin(PinSelect::LongTerm)),
            (false, false) => HolderKind::Plain(Plain::Pin(PinSelect::ShortTerm)),
        })
    }

    /// For a request whose set is kept past the call (PIN, DMA_MAP), in
    /// the caller's system call `cx`: a long-term one that is not a
    /// registration needs [`check_uncharged`]'s leave.
    pub(crate) fn check_kept(&self, cx: &Syscall) -> Result {
        let longterm = matches!(
            self.kind,
            HolderKind::Plain(Plain::Pin(PinSelect::LongTerm))
                | HolderKind::P2pdma { longterm: true }
        );
        if longterm && !self.account {
            check_uncharged(cx)?;
        }
        Ok(())
    }

    /// What a DMA mapping of the request pins; `None` for a request that
    /// gets (FOLL_GET).
    pub(crate) fn dma_pins(&self) -> Option<DmaPins> {
        match self.kind {
            HolderKind::Plain(Plain::Pin(pin)) => Some(DmaPins::Plain(pin)),
            HolderKind::Plain(Plain::Get) => None,
            HolderKind::P2pdma { longterm } => Some(DmaPins::P2pdma { longterm }),
        }
    }

    /// A request of the kernel's gup_test ABI: the command picks the entry
    /// point and pin or get, `gup_flags` carries raw FOLL bits. Only the
    /// bits listed in the uapi header are taken; anything else is `EINVAL`
    /// rather than passed on to GUP, and so is LONGTERM with PCI_P2PDMA.
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
                false,
            )?
        } else {
            HolderKind::Plain(Plain::Get)
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

    /// A request of rust_gup's own ABI for command `cmd`: `op` is an `enum
    /// rust_gup_op`, `flags` are `RUST_GUP_F_*`. LONGTERM with P2PDMA is a
    /// revocable registration, for the commands that hold pages (PIN,
    /// DMA_MAP).
    pub(crate) fn from_op(op: u32, flags: u32, cmd: OpCommand) -> Result<Self> {
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
        let remote_only = uapi::RUST_GUP_F_WORKER | uapi::RUST_GUP_F_PID;
        if flags & !uapi::RUST_GUP_F_ALL != 0
            || (!pin && (has(uapi::RUST_GUP_F_LONGTERM) || has(uapi::RUST_GUP_F_P2PDMA)))
            || (has(uapi::RUST_GUP_F_DIRTY) && !has(uapi::RUST_GUP_F_WRITE))
            // Pages held by reference are never dirtied (`GetOptions`).
            || (!pin && has(uapi::RUST_GUP_F_DIRTY))
            || (has(uapi::RUST_GUP_F_ACCOUNT) && !has(uapi::RUST_GUP_F_LONGTERM))
            || ((cmd != OpCommand::Pin || !matches!(method, Method::Remote)) && has(remote_only))
        {
            return Err(EINVAL);
        }
        // FOLL_FORCE writes read-only private mappings (breaking COW): on
        // the caller's own address space nothing `mprotect()` would not
        // allow, on another's a debugger's power, which the ptrace access
        // check guards, and a module cannot make that check.
        if has(uapi::RUST_GUP_F_FORCE) && matches!(method, Method::Remote) {
            return Err(EPERM);
        }
        let kind = if pin {
            Self::pin_kind(
                has(uapi::RUST_GUP_F_LONGTERM),
                has(uapi::RUST_GUP_F_P2PDMA),
                cmd != OpCommand::Bench,
            )?
        } else {
            HolderKind::Plain(Plain::Get)
        };
        Ok(Request {
            kind,
            method,
            opts: GupOptions::new(access_of(flags)?).force(has(uapi::RUST_GUP_F_FORCE)),
            account: has(uapi::RUST_GUP_F_ACCOUNT),
            worker: has(uapi::RUST_GUP_F_WORKER),
            by_pid: has(uapi::RUST_GUP_F_PID),
        })
    }
}

/// Pins of a kind a plain holder keeps.
pub(crate) enum Pinned {
    ShortTerm(PinnedPages<ShortTerm>),
    LongTerm(PinnedPages<LongTerm>),
}

/// Runs `$body` with `$p` bound to the pins of `$pinned`, whatever their
/// kind: once per kind, each time with the pins' own type.
macro_rules! with_pinned {
    ($pinned:expr, $p:ident => $body:expr) => {
        match $pinned {
            $crate::take::Pinned::ShortTerm($p) => $body,
            $crate::take::Pinned::LongTerm($p) => $body,
        }
    };
}
pub(crate) use with_pinned;

/// A plain holder of any kind.
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
    /// An empty holder for pins of kind `pin`, keeping its pages as
    /// `layout` says. Short-term pins are held unscoped: the device keeps
    /// them across calls for the tests (PIN, DMA_MAP), and the benchmark
    /// times their release on its own.
    fn new(pin: PinSelect, opts: GupOptions, layout: Layout) -> Result<Self> {
        Ok(match pin {
            PinSelect::ShortTerm => Pinned::ShortTerm(PinnedPages::new_unscoped(opts, layout)?),
            PinSelect::LongTerm => Pinned::LongTerm(PinnedPages::new(opts, layout)?),
        })
    }
}

impl Held {
    /// An empty holder of kind `plain`, keeping its pages as `layout`
    /// says.
    pub(crate) fn new(plain: Plain, opts: GupOptions, layout: Layout) -> Result<Self> {
        Ok(match plain {
            Plain::Pin(pin) => Held::Pinned(Pinned::new(pin, opts, layout)?),
            Plain::Get => Held::Got(GotPages::new(GetOptions::new(opts)?, layout)?),
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

/// A long-term set kept past the call is charged to a `pinned_vm` (a
/// registration, `RUST_GUP_F_ACCOUNT`) or taken by a caller that may pin
/// without a charge (`CAP_IPC_LOCK`, [`may_pin_uncharged`]); `EPERM`
/// otherwise. The file can be passed on, and `RLIMIT_MEMLOCK` is to bound
/// what any holder without the capability keeps pinned long-term.
/// Short-term sets and what a call releases before it returns are not
/// charged. Asked in the caller's context, never in a worker's.
pub(crate) fn check_uncharged(cx: &Syscall) -> Result {
    if may_pin_uncharged(cx) {
        Ok(())
    } else {
        Err(EPERM)
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

/// A new holder of kind `plain` of `range` per `request`, kept as runs: a
/// set held past the call; see [`take_into`]. On failure what was taken is
/// released.
fn take_held(
    plain: Plain,
    request: &Request,
    target: &Target,
    range: UserPageRange,
    whole: bool,
) -> Result<Held> {
    let mut held = Held::new(plain, request.opts, Layout::Runs)?;
    with_held!(&mut held, h => take_into(h, target, range, whole)?);
    Ok(held)
}

/// The same for pins of kind `pin`.
pub(crate) fn take_pinned(
    request: &Request,
    pin: PinSelect,
    target: &Target,
    range: UserPageRange,
    whole: bool,
) -> Result<Pinned> {
    let mut pinned = Pinned::new(pin, request.opts, Layout::Runs)?;
    with_pinned!(&mut pinned, p => take_into(p, target, range, whole)?);
    Ok(pinned)
}

/// P2PDMA pins of `range` per `request`, registered with `registry` and,
/// for a `client`, mapped for it; `charge`, made for them, goes with them.
/// A `longterm` registration takes P2PDMA pages only (see
/// [`Revocable::new`]) and the whole range, like any registration.
pub(crate) fn take_revocable(
    request: &Request,
    longterm: bool,
    target: &Target,
    range: UserPageRange,
    registry: &Arc<DmaRegistry>,
    client: Option<&PciFunction>,
    charge: Option<PinnedVmCharge>,
) -> Result<Revocable<Accounting>> {
    Revocable::new(
        registry,
        request.opts,
        |pins| take_into(pins, target, range, request.account),
        longterm,
        client,
        |pages| Ok(Accounting::new(pages, charge)),
    )
}

/// Pages taken for a new set, with the charge made for them if the request
/// is a registration.
pub(crate) enum ForSet {
    Held(Held, Option<PinnedVmCharge>),
    Revocable(Revocable<Accounting>),
}

/// Takes `range` of `target` for a new set per `request`: a registration
/// (`RUST_GUP_F_ACCOUNT`) is charged first, for the whole range, and then
/// taken whole. P2PDMA pins are registered with `registry`. On failure
/// what was taken is released, then the charge.
pub(crate) fn take_for_set(
    request: &Request,
    target: &Target,
    range: UserPageRange,
    registry: &Arc<DmaRegistry>,
) -> Result<ForSet> {
    let charge = target.charge_for(request, range.nr_pages())?;
    Ok(match request.kind {
        HolderKind::Plain(plain) => ForSet::Held(
            take_held(plain, request, target, range, request.account)?,
            charge,
        ),
        HolderKind::P2pdma { longterm } => ForSet::Revocable(take_revocable(
            request, longterm, target, range, registry, None, charge,
        )?),
    })
}

/// The same, in one of `workers` when the request says so
/// (`RUST_GUP_F_WORKER`, remote requests only): everything the worker
/// needs moves to it, and nothing it runs can reach the caller (see
/// [`Workers::run`]).
pub(crate) fn take_for_set_in(
    request: &Request,
    target: Target,
    range: UserPageRange,
    registry: &Arc<DmaRegistry>,
    workers: &Workers,
) -> Result<ForSet> {
    match target {
        Target::Remote(mm) if request.worker => {
            let request = *request;
            let registry = registry.clone();
            workers.run(move || take_for_set(&request, &Target::Remote(mm), range, &registry))?
        }
        target => take_for_set(request, &target, range, registry),
    }
}
