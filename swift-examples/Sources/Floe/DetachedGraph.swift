import CFloe
import Foundation

/// How a graph leaves its owner thread.
public enum TransferMode: Sendable {
    /// Check in O(N) that nothing outside the graph refers into it; refuse (moving nothing) if so.
    case safe
    /// Skip the check. Unlike Kotlin/Native, where this "will likely crash", references left behind
    /// stay memory-safe: using them throws `FLOE_ERR_WRONG_THREAD`.
    case unsafe

    var rawValue: UInt32 {
        switch self {
        case .safe: FLOE_TRANSFER_MODE_SAFE.rawValue
        case .unsafe: FLOE_TRANSFER_MODE_UNSAFE.rawValue
        }
    }
}

/// A graph detached from its thread (Kotlin's DetachedObjectGraph): attach it once, on any thread.
/// Its `pointer` is an opaque `void *` that may be stored anywhere in C memory; floe never
/// dereferences it, so a garbage, disposed or already attached pointer is an error, not a crash.
/// A `DetachedGraph` that is neither attached nor handed to C disposes of its graph in `deinit`.
/// It is `Sendable`, made to travel between threads: its pointer is taken under a lock.
public final class DetachedGraph: @unchecked Sendable {
    private var graph: UnsafeMutableRawPointer?
    private let lock = NSLock()

    /// Adopts `pointer`, as made by `Object.detach` or `floe_object_detach` (and kept in C memory).
    public init(adopting pointer: UnsafeMutableRawPointer) {
        graph = pointer
    }

    deinit {
        if let graph { _ = floe_graph_dispose(graph) }
    }

    /// Attaches the graph to the calling thread, which then owns it; returns its root. A graph is
    /// attached once (`FLOE_ERR_ALREADY_ATTACHED` after, also through another `DetachedGraph` over
    /// the same pointer — the first owner's graph stays valid).
    public func attach() throws -> Object {
        Object(adopting: try taking { graph in try returning(floe_ref(0)) { floe_graph_attach(graph, $0) } })
    }

    /// Frees the graph without attaching it.
    public func dispose() throws {
        try taking { try check(floe_graph_dispose($0)) }
    }

    /// Hands the pointer to C code (to store in a C global, say); this object no longer disposes
    /// of it, and whoever attaches or disposes it there takes over.
    public func release() throws -> UnsafeMutableRawPointer {
        try taking { $0 }
    }

    /// Runs `use` on the pointer under the lock, and lets go of the pointer if it succeeds.
    private func taking<T>(_ use: (UnsafeMutableRawPointer) throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        guard let graph else {
            throw FloeError(.alreadyAttached, "this DetachedGraph was already attached, disposed or released to C")
        }
        let result = try use(graph)
        self.graph = nil
        return result
    }
}
