//! `VersionBlock`: a frozen graph as the self-contained bytes a segment slot holds, for files and
//! networks (`docs/segment-format.md`, "Version block" and "Beyond one host").

use crate::api::object::Object;
use crate::core::base::error::{Error, Result, Status};
use crate::core::heap::handle;
use crate::core::shared::segment::block::{encode, BlockView};

/// The version block format, outside a segment: `encode` writes a frozen graph into
/// position-independent, little-endian, self-describing bytes (its types travel with it, cycles
/// and shared objects stay as they are), the same bytes a segment slot holds; `decode` checks
/// every byte once (O(N): checksums, types, objects, values, strings) and copies the graph into
/// this process's heap, frozen. Bytes from a file or the network are private once received, so
/// one check on arrival is enough.
///
/// ```
/// use floe::{Object, Status, VersionBlock};
///
/// let list = Object::new_list()?;
/// list.push_string("bytes that travel")?;
/// list.push_ref(Some(&list))?; // a cycle
/// list.freeze(None)?;
/// let mut bytes = VersionBlock::encode(&list)?;
/// let copy = VersionBlock::decode(&bytes)?;
/// assert_eq!(copy.get_string(0)?, "bytes that travel");
/// assert_eq!(copy.get_ref(1)?.unwrap().id()?, copy.id()?);
/// bytes[200] ^= 0xFF; // a byte damaged on the way
/// assert_eq!(VersionBlock::decode(&bytes).unwrap_err().status(), Status::ErrCorrupt);
/// # Ok::<(), floe::Error>(())
/// ```
#[derive(Debug)]
pub struct VersionBlock;

impl VersionBlock {
    /// The version block of the frozen graph of `root`. `ErrNotFrozen` names a mutable object.
    pub fn encode(root: &Object) -> Result<Vec<u8>> {
        encode(handle::resolve(root.handle())?, 0, 0)
    }

    /// Checks every byte of `bytes` as a version block and copies its graph into this process's
    /// heap, frozen; its root. The first problem is `ErrCorrupt` naming it; types are matched by
    /// name and fields (`ErrTypeMismatch`).
    pub fn decode(bytes: &[u8]) -> Result<Object> {
        if bytes.is_empty() {
            return Err(Error::new(Status::ErrCorrupt, "the version block is empty"));
        }
        // SAFETY: `bytes` is readable for its length for the whole call, and no one writes it.
        let view = unsafe { BlockView::open(bytes.as_ptr(), bytes.len(), None) }?;
        view.verify()?;
        view.import().map(Object::from_raw)
    }
}
