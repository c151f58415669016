//! The sector cache: [`CACHE_SECTORS`] slots, each a sector that is held, asked for, or
//! failed. Slots being fetched are never evicted; among the rest the least recently used
//! goes first.

use crate::platform::SECTOR_BYTES;

/// Sectors the cache holds: 64, two tracks of 32 (4,384 bytes each). Read-ahead fills
/// one track while the other keeps what CP/M uses between tracks (the directory while
/// it copies a file). With their bookkeeping, 64 slots are 10.5 KiB of the device's RAM.
pub const CACHE_SECTORS: usize = 64;

/// What one slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Nothing.
    Free,
    /// A request is due to be sent; `tries` sent so far.
    Wanted { tries: u8 },
    /// A request went out at `at_ms`; `tries` sent so far.
    Asked { at_ms: u64, tries: u8 },
    /// The sector's data.
    Valid,
    /// Every try went unanswered; the next read reports it once.
    Failed,
}

impl State {
    /// Whether a reply is awaited (the slot must not be evicted).
    pub(super) fn in_flight(self) -> bool {
        matches!(self, State::Wanted { .. } | State::Asked { .. })
    }
}

/// One cached sector.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) offset: u32,
    pub(super) state: State,
    /// The use stamp of the last hit, for LRU eviction.
    used: u32,
    pub(super) data: [u8; SECTOR_BYTES],
}

/// The slots and the use clock.
pub(super) struct Cache {
    slots: [Slot; CACHE_SECTORS],
    clock: u32,
}

impl Cache {
    pub(super) const fn new() -> Self {
        Cache {
            slots: [Slot {
                offset: 0,
                state: State::Free,
                used: 0,
                data: [0; SECTOR_BYTES],
            }; CACHE_SECTORS],
            clock: 0,
        }
    }

    /// The slot holding `offset` in any state but free.
    pub(super) fn find(&self, offset: u32) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.state != State::Free && s.offset == offset)
    }

    pub(super) fn slot(&self, index: usize) -> &Slot {
        &self.slots[index]
    }

    pub(super) fn slot_mut(&mut self, index: usize) -> &mut Slot {
        &mut self.slots[index]
    }

    /// Marks `index` as just used.
    pub(super) fn touch(&mut self, index: usize) {
        self.clock = self.clock.wrapping_add(1);
        self.slots[index].used = self.clock;
    }

    /// A slot for `offset` in `state`: a free one, else the least recently used one that
    /// awaits no reply. `None` when every slot awaits a reply.
    pub(super) fn claim(&mut self, offset: u32, state: State) -> Option<usize> {
        let clock = self.clock;
        let index = self
            .slots
            .iter()
            .position(|s| s.state == State::Free)
            .or_else(|| {
                self.slots
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.state.in_flight())
                    // Age, not the stamp itself, so the order survives the clock wrapping.
                    .max_by_key(|(_, s)| clock.wrapping_sub(s.used))
                    .map(|(i, _)| i)
            })?;
        let slot = &mut self.slots[index];
        slot.offset = offset;
        slot.state = state;
        self.touch(index);
        Some(index)
    }

    /// Every slot's index and state.
    pub(super) fn states(&self) -> impl Iterator<Item = (usize, State)> + '_ {
        self.slots.iter().map(|s| s.state).enumerate()
    }
}
