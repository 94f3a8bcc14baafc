// Must NOT compile — scripts/test-swift checks that it fails with the error below.
//
// A floe job is a C function pointer (as in Kotlin/Native, where the job lambda may not capture):
// the only data it sees is its input graph. A closure that captures a local variable cannot become
// one, and Swift says so:
//
//     error: a C function pointer cannot be formed from a closure that captures context
//
// Put the discount in the input graph (or in a frozen global) instead.

func discountedTotalJob(discount: Int64) -> Job {
    return { input, result in
        runJob(input, result) { order in
            try order?.set("total", try order!.int("total") - discount)
            return order
        }
    }
}
