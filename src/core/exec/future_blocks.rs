//! Where futures live: cells carved, one after another, from a block that belongs to the thread
//! that makes them, so that `execute` allocates nothing in a steady stream and a future's memory
//! is warm. Allocating each future on its own cost a stream of jobs more than the queue did: the
//! allocator carved cold memory for every one of them.
//!
//! Invariants:
//! - A block is `BLOCK_BYTES` long and aligned to `BLOCK_BYTES`, so a cell finds its block by
//!   masking its address.
//! - `live` counts the cells of a block that are in use or not carved yet. A thread carves from
//!   one block at a time, each cell once; when it leaves a block unfinished (its thread exits), it
//!   subtracts the cells it will never carve.
//! - Whoever brings `live` to zero owns the block: no cell of it is in use, and no thread carves
//!   from it. It is kept as a spare or freed (`keeps_spare`).
//!
//! Spares: up to `KEPT_SPARES` blocks are always kept; more, as long as a thread wanted a block
//! (a spare or a new one) within `SPARE_DECAY`. A burst of futures kept at once (10^6 is 32 MB)
//! tends to come again, and its memory freed and faulted back costs more than the stream itself:
//! a page fault took about 3 µs on the VM where floe is benchmarked, 24 ns for each of a page's
//! 126 cells. Once no block has been wanted for `SPARE_DECAY`, the next block emptied brings the
//! list back to `KEPT_SPARES`.
//!
//! Under loom each cell is a box of its own: the models check the future's protocol, not this.

use crate::core::exec::future::Cell;
#[cfg(not(floe_loom))]
pub(crate) use blocks::{carve, retire};
#[cfg(floe_loom)]
pub(crate) use boxes::{carve, retire};

#[cfg(not(floe_loom))]
pub(crate) mod blocks {
    use super::Cell;
    use std::alloc::Layout;
    use std::mem::{offset_of, size_of, MaybeUninit};
    use std::ptr::NonNull;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    const BLOCK_BYTES: usize = 4096;
    /// Cells per block: what fits after the header's cache line.
    const CELLS: usize = (BLOCK_BYTES - 64) / size_of::<Cell>();
    /// Emptied blocks always kept for reuse (4 MiB).
    const KEPT_SPARES: usize = 1024;
    /// How long more spares than `KEPT_SPARES` are kept after a block was last wanted.
    const SPARE_DECAY: Duration = Duration::from_secs(1);

    #[repr(C, align(4096))]
    struct Block {
        live: AtomicUsize,
        cells: [MaybeUninit<Cell>; CELLS],
    }

    const _: () = assert!(size_of::<Block>() == BLOCK_BYTES && offset_of!(Block, cells) <= 64);

    struct BlockPtr(NonNull<Block>);
    // SAFETY: a spare block is owned by the spare list alone (see the invariants).
    unsafe impl Send for BlockPtr {}

    struct Spares {
        blocks: Vec<BlockPtr>,
        /// When a thread last wanted a block to carve from (a spare or a new one).
        last_wanted: Option<Instant>,
    }

    static SPARES: parking_lot::Mutex<Spares> =
        parking_lot::Mutex::new(Spares { blocks: Vec::new(), last_wanted: None });

    /// Whether an emptied block joins `spares` spares already kept, at `now`.
    pub(super) fn keeps_spare(spares: usize, last_wanted: Option<Instant>, now: Instant) -> bool {
        spares < KEPT_SPARES || last_wanted.is_some_and(|wanted| now.saturating_duration_since(wanted) < SPARE_DECAY)
    }

    /// The block a thread carves from, and its next cell.
    struct Carver {
        block: std::cell::Cell<Option<NonNull<Block>>>,
        next: std::cell::Cell<usize>,
    }

    impl Drop for Carver {
        fn drop(&mut self) {
            if let Some(block) = self.block.get() {
                // SAFETY: this thread carves from `block`, which is live until `live` reaches zero.
                unsafe { release_cells(block, CELLS - self.next.get()) };
            }
        }
    }

    thread_local! {
        static CARVER: Carver =
            const { Carver { block: std::cell::Cell::new(None), next: std::cell::Cell::new(0) } };
    }

    /// Memory for one cell, uninitialised; give it back with `retire`.
    pub(crate) fn carve() -> NonNull<Cell> {
        CARVER
            .try_with(|carver| {
                let (block, index) = match carver.block.get() {
                    Some(block) if carver.next.get() < CELLS => (block, carver.next.get()),
                    _ => {
                        let block = fresh_block();
                        carver.block.set(Some(block));
                        (block, 0)
                    }
                };
                carver.next.set(index + 1);
                cell_at(block, index)
            })
            // The thread is exiting and its carver is gone: a block for this one cell.
            .unwrap_or_else(|_| {
                let block = fresh_block();
                // SAFETY: no thread carves from `block`; its other cells never will be.
                unsafe { release_cells(block, CELLS - 1) };
                cell_at(block, 0)
            })
    }

    /// Gives back a cell from `carve`, whose value the caller has dropped.
    ///
    /// # Safety
    /// `cell` came from `carve`, is given back once, and is not used afterwards.
    pub(crate) unsafe fn retire(cell: NonNull<Cell>) {
        // SAFETY: the cell counts in its block until this call.
        unsafe { release_cells(block_of(cell), 1) }
    }

    /// The block of a cell: blocks are aligned to their size (invariants), so masking its address.
    fn block_of(cell: NonNull<Cell>) -> NonNull<Block> {
        let block = cell.as_ptr().map_addr(|address| address & !(BLOCK_BYTES - 1)).cast::<Block>();
        NonNull::new(block).expect("a block is not at address 0")
    }

    fn cell_at(block: NonNull<Block>, index: usize) -> NonNull<Cell> {
        // SAFETY: `index < CELLS`, inside the block's allocation; no reference to the block or its
        // cells is made, as other threads use other cells of it.
        unsafe { NonNull::new_unchecked(std::ptr::addr_of_mut!((*block.as_ptr()).cells).cast::<Cell>().add(index)) }
    }

    /// A block with every cell counted as not carved: a spare, or a new one.
    fn fresh_block() -> NonNull<Block> {
        let spare = {
            let mut spares = SPARES.lock();
            spares.last_wanted = Some(Instant::now());
            spares.blocks.pop()
        };
        let block = spare.map(|spare| spare.0).unwrap_or_else(|| {
            let layout = Layout::new::<Block>();
            // SAFETY: the layout is not zero-sized.
            let memory = unsafe { std::alloc::alloc(layout) }.cast::<Block>();
            NonNull::new(memory).unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
        });
        // SAFETY: the block is this thread's alone (a spare taken off the list, or new memory);
        // `live` is written before any cell of it is handed out.
        unsafe { std::ptr::addr_of_mut!((*block.as_ptr()).live).write(AtomicUsize::new(CELLS)) };
        block
    }

    /// How many cells of `cell`'s block are in use or not carved yet.
    #[cfg(test)]
    pub(crate) fn live_cells_beside(cell: NonNull<Cell>) -> usize {
        // SAFETY: as in `retire`: the caller's cell keeps its block live.
        unsafe { (*block_of(cell).as_ptr()).live.load(Ordering::Acquire) }
    }

    /// Takes `count` cells of `block` out of its count; whoever takes the last keeps or frees it.
    ///
    /// # Safety
    /// The caller holds `count` of the cells counted in `block.live`.
    unsafe fn release_cells(block: NonNull<Block>, count: usize) {
        if count == 0 {
            return;
        }
        // SAFETY: the caller's cells keep the block live until this subtraction.
        let previous = unsafe { (*block.as_ptr()).live.fetch_sub(count, Ordering::AcqRel) };
        debug_assert!(previous >= count, "a future block's cells are given back once");
        if previous != count {
            return;
        }
        let mut spares = SPARES.lock();
        if keeps_spare(spares.blocks.len(), spares.last_wanted, Instant::now()) {
            spares.blocks.push(BlockPtr(block));
            return;
        }
        let kept = KEPT_SPARES.min(spares.blocks.len());
        let stale = spares.blocks.split_off(kept);
        drop(spares);
        for block in stale.iter().map(|spare| spare.0).chain([block]) {
            // SAFETY: no cell of the block is in use or left to carve (it is an emptied one, or
            // a spare taken off the list): it is ours (invariants).
            unsafe { std::alloc::dealloc(block.as_ptr().cast(), Layout::new::<Block>()) };
        }
    }
}

#[cfg(floe_loom)]
mod boxes {
    use super::Cell;
    use std::mem::MaybeUninit;
    use std::ptr::NonNull;

    pub(crate) fn carve() -> NonNull<Cell> {
        NonNull::from(Box::leak(Box::new(MaybeUninit::<Cell>::uninit()))).cast()
    }

    /// # Safety
    /// As for the blocks' `retire`.
    pub(crate) unsafe fn retire(cell: NonNull<Cell>) {
        // SAFETY: `cell` came from `carve`'s box, and its value was dropped.
        drop(unsafe { Box::from_raw(cell.cast::<MaybeUninit<Cell>>().as_ptr()) });
    }
}

#[cfg(all(test, not(floe_loom)))]
mod tests {
    use super::blocks::{keeps_spare, live_cells_beside};
    use crate::core::exec::future::Future;
    use std::time::{Duration, Instant};

    #[test]
    fn spares_beyond_the_kept_ones_stay_while_blocks_are_wanted_and_go_after() {
        let wanted = Instant::now();
        let (soon, later) = (wanted + Duration::from_millis(10), wanted + Duration::from_secs(5));
        assert!(keeps_spare(0, None, later) && keeps_spare(1023, Some(wanted), later), "a few are always kept");
        assert!(keeps_spare(1024, Some(wanted), soon) && keeps_spare(50_000, Some(wanted), soon), "a burst's are kept");
        assert!(!keeps_spare(1024, Some(wanted), later) && !keeps_spare(1024, None, soon), "a quiet list shrinks");
    }

    #[test]
    fn an_exiting_thread_gives_back_the_cells_it_never_carved_and_dropped_futures_theirs() {
        let futures = std::thread::spawn(|| [Future::new(), Future::new(), Future::new()]).join().unwrap();
        let [first, second, third] = futures;
        let cell = third.cell_ptr();
        assert_eq!(live_cells_beside(cell), 3, "the exited thread's block counts its three futures alone");
        drop(first);
        let extra = third.clone();
        drop(second);
        assert_eq!(live_cells_beside(cell), 1, "a dropped future's cell is given back; a clone is no new cell");
        drop(extra);
        assert_eq!(live_cells_beside(cell), 1, "the cell stays while a handle does");
        drop(third);
    }

    #[test]
    fn cells_of_many_blocks_made_here_and_dropped_elsewhere_are_all_given_back() {
        let futures: Vec<Future> = (0..300).map(|_| Future::new()).collect();
        let (kept, sent): (Vec<_>, Vec<_>) = futures.into_iter().enumerate().partition(|(i, _)| i % 2 == 0);
        std::thread::spawn(move || drop(sent)).join().unwrap();
        for (_, future) in &kept {
            future.complete(None);
        }
        drop(kept);
    }
}
