//! The `floe` command: `floe demo` tours the runtime (the benchmark report is `floe-bench`, in
//! `benchmarks/`). The arguments are few enough to match by hand, without an argument-parsing
//! library.

mod demo;
mod segment;

const USAGE: &str = "\
usage: floe <command> [options]

commands:
  demo             tour the runtime: a graph built, frozen, read from another thread
                   and another process, and one diagnostic of each kind
  segment          create, inspect, verify, recover or remove a segment (shared memory
                   whose slots hold frozen graphs other processes read)
  help [command]   print this help, or a command's

options:
  -h, --help       print help
  -V, --version    print floe's version
";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("demo") => demo_command(&args[1..]),
        Some("segment") => match args.get(1).map(String::as_str) {
            Some("-h" | "--help") => help(Some("segment")),
            _ => segment::run(&args[1..]),
        },
        Some("help" | "-h" | "--help") => help(args.get(1).map(String::as_str)),
        Some("-V" | "--version") => {
            println!("floe {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some(other) => usage_error(&format!("unknown command or option `{other}`"), USAGE),
        None => usage_error("no command given", USAGE),
    };
    std::process::exit(code);
}

fn demo_command(args: &[String]) -> i32 {
    match args {
        [] => demo::run(),
        [flag] if flag == "-h" || flag == "--help" => help(Some("demo")),
        [flag, name] if flag == demo::READ_SEGMENT => demo::read_segment(name),
        [other, ..] => usage_error(&format!("floe demo takes no argument `{other}`"), demo::USAGE),
    }
}

/// Prints the help asked for to stdout.
fn help(command: Option<&str>) -> i32 {
    match command {
        None => print!("{USAGE}"),
        Some("demo") => print!("{}", demo::USAGE),
        Some("segment") => print!("{}", segment::USAGE),
        Some(other) => return usage_error(&format!("no help for `{other}`"), USAGE),
    }
    0
}

/// Reports a mistake in the arguments, with the usage that applies, on stderr; returns the exit code 2.
fn usage_error(mistake: &str, usage: &str) -> i32 {
    eprint!("floe: {mistake}\n\n{usage}");
    2
}
