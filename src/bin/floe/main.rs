//! The `floe` command: `floe demo` tours the runtime (the benchmark report is `floe-bench`, in `benchmarks/`).

mod demo;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        _ => {
            eprintln!("usage: floe demo");
            2
        }
    };
    std::process::exit(code);
}
