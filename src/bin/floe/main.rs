//! The `floe` command: `floe demo` tours the runtime; `floe bench` prints the benchmark report.

mod bench;
mod demo;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&args[1..]),
        _ => {
            eprintln!("usage: floe demo | floe bench [--quick]");
            2
        }
    };
    std::process::exit(code);
}
