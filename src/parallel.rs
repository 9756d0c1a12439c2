//! Two-way fork-join for large files: part of a parse or a decryption runs on a second core.
//!
//! Some hosts keep a new thread on its parent's core for a millisecond or more before they
//! balance it out (2-vCPU VMs that pack vCPUs, e.g. the kernel option `sched_vcpu_pack`), and a
//! millisecond is the whole job for a 10k-value file. So the helper thread, once it first runs
//! (the parent yields to let it), moves itself off the parent's core; on a host that places it
//! well to begin with, this changes nothing.

use std::sync::OnceLock;

/// The calling thread's share of a large document's top-level entries in decryption: less than
/// half, as it also computes the MAC over all values.
pub const FIRST_SHARE: f64 = 0.4;

/// Runs `a` here and `b` on a helper thread at the same time, and returns both results. When
/// there is one core, or no thread can be started, it runs `b` first, then `a`: so `a` may wait
/// for what `b` sends it. A panic in either is passed on.
pub fn join<RA, RB>(a: impl FnOnce() -> RA, b: impl FnOnce() -> RB + Send) -> (RA, RB)
where
    RB: Send,
{
    #[cfg(test)]
    if ONE_THREAD.with(std::cell::Cell::get) {
        return join_with(false, a, b);
    }
    join_with(second_core(), a, b)
}

#[cfg(test)]
thread_local! {
    /// Tests of the callers set this to take the path of a machine where no thread starts.
    pub(crate) static ONE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn join_with<RA, RB>(
    thread: bool,
    a: impl FnOnce() -> RA,
    b: impl FnOnce() -> RB + Send,
) -> (RA, RB)
where
    RB: Send,
{
    if !thread {
        let rb = b();
        return (a(), rb);
    }
    // SAFETY: no arguments; -1 (unknown) is handled by `move_off`.
    let here = unsafe { libc::sched_getcpu() };
    // Taken by the helper when it starts, or here when it cannot be started.
    let slot = std::sync::Mutex::new(Some(b));
    let take = || slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    std::thread::scope(|s| {
        let helper = std::thread::Builder::new()
            .name("nix-sops-helper".into())
            .spawn_scoped(s, || {
                move_off(here);
                take().map(|b| b())
            });
        match helper {
            Ok(helper) => {
                std::thread::yield_now();
                let ra = a();
                match helper.join() {
                    Ok(Some(rb)) => (ra, rb),
                    Ok(None) => unreachable!("only the helper takes `b` once it exists"),
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
            Err(_) => {
                let b = take().expect("the helper never started");
                let rb = b();
                (a(), rb)
            }
        }
    })
}

/// Readies the calling thread's allocator for about `bytes` of small allocations. glibc gives
/// each thread but the main one an arena that grows by one page per `mprotect` call: hundreds
/// of system calls while a helper parses its part of a large file. Allocating (then freeing)
/// blocks just under the size glibc would map on their own grows the arena in a few steps, and
/// the arena keeps its reach (freed memory is given back, the mapping's permissions stay).
/// Elsewhere this costs a few allocations.
pub fn grow_heap(bytes: usize) {
    const BLOCK: usize = 96 * 1024;
    let blocks: Vec<Vec<u8>> = (0..bytes.div_ceil(BLOCK))
        .map(|_| Vec::with_capacity(BLOCK))
        .collect();
    // Kept from the optimiser, which may drop an allocation nothing uses.
    drop(std::hint::black_box(blocks));
}

/// Whether two threads can run at once (asked once per process; it reads cgroup files, so ask
/// only for work large enough to share).
pub fn second_core() -> bool {
    static TWO: OnceLock<bool> = OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// Restricts the calling thread to the cores it may use other than `cpu`, if there are any.
fn move_off(cpu: libc::c_int) {
    let Ok(cpu) = usize::try_from(cpu) else {
        return;
    };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: `set` is a plain bit set of `size` bytes, read and written by the kernel only
    // within that size; pid 0 is the calling thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, size, &mut set) != 0 || cpu >= libc::CPU_SETSIZE as usize {
            return;
        }
        libc::CPU_CLR(cpu, &mut set);
        if libc::CPU_COUNT(&set) > 0 {
            libc::sched_setaffinity(0, size, &set);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_results_come_back_and_borrow_the_caller() {
        let mut left = vec![1u64; 1000];
        let mut right = vec![2u64; 1000];
        let (a, b) = join(
            || {
                left.iter_mut().for_each(|x| *x += 1);
                left.iter().sum::<u64>()
            },
            || {
                right.iter_mut().for_each(|x| *x *= 3);
                right.iter().sum::<u64>()
            },
        );
        assert_eq!((a, b), (2000, 6000));
        assert_eq!((left[0], right[999]), (2, 6));
    }

    #[test]
    fn without_a_thread_b_runs_first() {
        for thread in [false, true] {
            let (tx, rx) = std::sync::mpsc::channel();
            let (got, ()) = join_with(
                thread,
                || rx.recv_timeout(std::time::Duration::from_secs(10)).ok(),
                || tx.send(7).unwrap(),
            );
            assert_eq!(got, Some(7), "thread: {thread}");
        }
    }

    #[test]
    fn a_panic_on_the_helper_reaches_the_caller() {
        let r = std::panic::catch_unwind(|| join(|| 1, || -> u8 { panic!("helper") }));
        assert!(r.is_err());
    }
}
