// floe-example: a main-run-loop app with a text "UI" — a counter and a list that re-render.
//
// A scripted user presses "Price order" a few times. Each press builds an order graph on the main
// thread and sends it to the `pricing` worker; the priced result comes back through floe's main
// queue, wired to the main run loop, is attached on the main thread and rendered. Along the way the
// app meets the three diagnostics a Swift developer will see first: touching a worker's object from
// the main thread, mutating a frozen object, and a transfer refused for an outside reference.
// It exits by itself (status 0 when everything came back and nothing leaked).

import Floe
import Foundation

try Runtime.initialize()  // this thread, the main one, is floe's main thread

let orderType = try ObjectType.define("Order", fields: ["number": .int, "lines": .ref, "customer": .string])
let lineType = try ObjectType.define("Line", fields: ["item": .string, "cents": .int, "quantity": .int])
let pricedType = try ObjectType.define("Priced", fields: ["number": .int, "cents": .int, "by": .string])
let settingsType = try ObjectType.define("Settings", fields: ["currency": .string])

/// The job: runs on the pricing worker, which owns the order while it runs. It cannot capture
/// anything (it is a C function pointer); everything it needs is in the order graph.
let priceOrder: Job = { input, result in
    runJob(input, result) { order in
        guard let order, let lines = try order.ref("lines") else { throw FloeError(.null, "no order to price") }
        var cents: Int64 = 0
        for index in 0..<(try lines.count()) {
            let line = try lines.ref(index)!
            cents += try line.int("cents") * line.int("quantity")
        }
        let priced = try Object(pricedType)
        try priced.set("number", try order.int("number"))
        try priced.set("cents", cents)
        try priced.set("by", Thread.current.name ?? "a worker")
        return priced
    }
}

/// The main thread's screen: state and a text rendering of it.
final class Screen {
    var ordersSent = 0
    var priced: [String] = []
    var diagnostics: [String] = []

    func render(_ event: String) {
        precondition(Thread.isMainThread, "the UI renders on the main thread")
        var lines = ["┌─ \(event)", "│ orders sent: \(ordersSent)   priced: \(priced.count)"]
        lines += priced.map { "│   • \($0)" }
        lines += diagnostics.map { "│   ! \($0)" }
        print((lines + ["└─"]).joined(separator: "\n"))
    }
}

let screen = Screen()
var finished = false
var failures = 0

func fail(_ what: String) {
    failures += 1
    print("FAILED: \(what)")
}

/// A new order graph, owned by the main thread: Order → List → Line × n.
func buildOrder(number: Int64, items: [(String, Int64, Int64)]) throws -> Object {
    let order = try Object(orderType)
    try order.set("number", number)
    try order.set("customer", "customer \(number)")
    let lines = try Object.list()
    for (item, cents, quantity) in items {
        let line = try Object(lineType)
        try line.set("item", item)
        try line.set("cents", cents)
        try line.set("quantity", quantity)
        try lines.append(line)
    }
    try order.set("lines", lines)
    return order
}

func show(_ outcome: Result<Object?, FloeError>, expectedCents: Int64) {
    do {
        guard let priced = try outcome.get() else { return fail("a priced order came back empty") }
        let number = try priced.int("number"), cents = try priced.int("cents")
        if cents != expectedCents { fail("order \(number) priced \(cents), expected \(expectedCents)") }
        screen.priced.append("order \(number): \(cents / 100).\(String(format: "%02d", cents % 100)) (by \(try priced.string("by")))")
        screen.render("result for order \(number), attached on the main thread")
    } catch {
        fail("showing a result: \(error)")
    }
}

/// A press of "Price order": builds the order on the main thread and sends it to the worker (the
/// order's handle moves in); returns the job's future and the total the result must show.
func sendOrder(_ worker: Worker, number: Int64, items: [(String, Int64, Int64)], how: String) throws
    -> (Future, expectedCents: Int64)
{
    let future = try worker.execute(.safe, try buildOrder(number: number, items: items), job: priceOrder)
    screen.ordersSent += 1
    screen.render("pressed Price order #\(number)\(how)")
    return (future, items.reduce(0) { $0 + $1.1 * $1.2 })
}

/// "Price order": the result comes back through the main queue.
func pressPriceOrder(_ worker: Worker, number: Int64, items: [(String, Int64, Int64)]) throws {
    let (future, expected) = try sendOrder(worker, number: number, items: items, how: "")
    try future.deliver(to: .main) { show($0, expectedCents: expected) }
}

/// The same, awaited from the main actor: `try await future.value` resumes on the main thread.
func pressPriceOrderAsync(_ worker: Worker, number: Int64) throws {
    let (future, expected) = try sendOrder(worker, number: number, items: [("tea", 350, 2)], how: " (async)")
    Task { @MainActor in
        do {
            show(.success(try await future.value), expectedCents: expected)
        } catch let error as FloeError {
            show(.failure(error), expectedCents: expected)
        }
    }
}

/// Runs `attempt`, which must fail with `status`; shows floe's message on the screen.
func diagnose(_ title: String, _ status: Status, _ attempt: () throws -> Void) {
    do {
        try attempt()
        fail("\(title): expected \(status.name), but it succeeded")
    } catch let error as FloeError where error.status == status {
        screen.diagnostics.append("\(title) → \(error.status.name)\n│       \(error.message)")
        screen.render("diagnostic: \(title)")
    } catch {
        fail("\(title): \(error)")
    }
}

func diagnostics(_ worker: Worker) throws {
    // 1. Touching a worker's object from the main thread. An UNSAFE transfer skips the check, so
    //    the handle kept to a line stays behind — and floe refuses it rather than racing.
    let order = try buildOrder(number: 90, items: [("scone", 275, 1)])
    let keptLine = try order.ref("lines")!.ref(0)!
    _ = try worker.execute(.unsafe, order, job: priceOrder).wait()
    diagnose("touching a worker's object from the main thread", .wrongThread) {
        try keptLine.set("quantity", Int64(5))
    }

    // 2. Mutating a frozen object: the message names the freeze that froze it.
    let settings = try Object(settingsType)
    try settings.set("currency", "EUR")
    try settings.freeze(label: "app settings")
    diagnose("mutating a frozen object", .frozen) { try settings.set("currency", "USD") }

    // 3. A SAFE transfer refused: something outside the graph (here, a Swift handle) refers into it.
    let refused = try buildOrder(number: 91, items: [("cake", 400, 1), ("jam", 150, 2)])
    let outside = try refused.ref("lines")!.ref(1)!
    diagnose("a transfer refused for an outside reference", .notTransferable) {
        _ = try worker.execute(.safe, refused, job: priceOrder)
    }
    _ = outside  // still valid: nothing moved
    if refused.isMoved { fail("a refused transfer moved the order") }
}

func finish(_ worker: Worker) {
    do {
        try worker.requestTermination().wait()
        try MainQueue.stopDraining()
        try Runtime.collectCycles()
        let stats = try Runtime.stats()
        print("floe: \(stats)")
        if !stats.isEmpty { fail("something leaked: \(stats)") }
    } catch {
        fail("finishing: \(error)")
    }
    finished = true
}

// The script of the scripted user, one step per run-loop timer tick.
let worker = try Worker.start(name: "pricing")
try MainQueue.drainOnMainDispatchQueue()
screen.render("started")

var script: [() throws -> Void] = [
    { try pressPriceOrder(worker, number: 1, items: [("coffee", 320, 2), ("croissant", 210, 1)]) },
    { try pressPriceOrder(worker, number: 2, items: [("bagel", 180, 3)]) },
    { try pressPriceOrderAsync(worker, number: 3) },
    { try diagnostics(worker) },
]
let expectedResults = 3

_ = Timer.scheduledTimer(withTimeInterval: 0.02, repeats: true) { timer in
    if !script.isEmpty {
        do { try script.removeFirst()() } catch { fail("script step: \(error)") }
    } else if screen.priced.count == expectedResults {
        timer.invalidate()
        finish(worker)
    }
}

let deadline = Date().addingTimeInterval(20)
while !finished && Date() < deadline {
    _ = RunLoop.main.run(mode: .default, before: Date().addingTimeInterval(0.1))
}
if !finished { fail("the demo did not finish within 20 s") }
print(failures == 0 ? "floe-example: done" : "floe-example: \(failures) failure(s)")
exit(failures == 0 ? 0 : 1)
