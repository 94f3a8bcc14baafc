//! Kotlin/Native's cinterop for Rust hosts of floe, at build time.
//!
//! A `.def` file in Kotlin/Native's format names C headers, compiler and linker options, a Rust
//! module (`package`) and, after `---`, C code. From a `build.rs`, [`build`] (or [`Interop`])
//! compiles that C code and any C sources with `cc`, runs `bindgen` over the headers and the C code,
//! and writes a Rust module to `$OUT_DIR/<def name>.rs` holding:
//!
//! - `sys`: bindgen's bindings, with floe's own `floe_shared_data` (not a second struct);
//! - a safe accessor per SharedData global, `fn shared_data() -> &'static floe::SharedCell` for a
//!   C global `sharedData`, whose C type is `floe_shared_data` or Kotlin/Native's
//!   `SharedData { int version; void* kotlinObject; }` layout under any name (checked at build
//!   time, and again by the Rust compiler);
//! - a type per segment layout, a C struct whose fields are all `floe_shared_data`: it creates or
//!   opens a segment with one slot per field, in field order, named by field, and gives each
//!   slot's `floe::SlotData` by field (`floe_cinterop.h`'s `FLOE_SLOT(Layout, field)` gives C
//!   the same index);
//! - for each `void *` the `.def`'s `detachedGraphs` names, methods that attach the detached graph
//!   C code left there, or store one for C code.
//!
//! A global that is meant as a SharedData (its struct's name holds `SharedData`, or the struct has
//! a `kotlinObject` field, or the `.def`'s `sharedData` names it) but has another layout fails the
//! build, and so does any other mistake: the message names the `.def` line, the header and the
//! global.
//!
//! ```text
//! // build.rs
//! fn main() {
//!     floe_cinterop::build("global.def");
//! }
//! // src/main.rs
//! include!(concat!(env!("OUT_DIR"), "/global.rs")); // mod global { ... }
//! ```
//!
//! The `.def` keys: Kotlin's `headers`, `headerFilter`, `compilerOpts`, `linkerOpts`, `package`,
//! `staticLibraries`, `libraryPaths`, `excludedFunctions` and `language` (C only), each with
//! Kotlin's platform suffixes (`compilerOpts.linux`); floe's `sources` (C files compiled into the
//! library), `sharedData` (globals that must be SharedData), `segmentLayouts` (structs that must
//! be segment layouts) and `detachedGraphs` (`Struct.field`, `global` or `global.field`, each a
//! `void *` holding a detached graph). Relative paths are resolved against the `.def` file's
//! folder. Kotlin keys that mean nothing for Rust (`depends`, `strictEnums`, ...) are ignored
//! with a warning; any other key is an error.

mod analyse;
mod bindings;
mod def;
mod emit;

use analyse::Plan;
use bindings::Bindings;
use def::{DefFile, Target};
use std::fmt;
use std::path::{Path, PathBuf};

/// floe's C header, which C code compiled here includes (`#include <floe.h>`).
const FLOE_H: &str = include_str!("../../include/floe.h");
/// `FLOE_SLOT` and `FLOE_SLOTS`, for segment layouts in C.
const FLOE_CINTEROP_H: &str = include_str!("../include/floe_cinterop.h");

/// A build-time error: the `.def` file and line, the header, the item (a global, a struct, a
/// field) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    /// The `.def` file.
    pub def: PathBuf,
    /// Its 1-based line; 0 when the error is about the file as a whole.
    pub line: usize,
    /// The header (or the `.def`'s own C code) that declares the item, when known.
    pub header: Option<String>,
    /// The item: ``global `sharedData` ``, ``struct `AppShared` ``, ...
    pub item: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl Error {
    pub(crate) fn at(def: &Path, line: usize, message: impl Into<String>) -> Error {
        Error { def: def.to_path_buf(), line, header: None, item: None, message: message.into() }
    }

    pub(crate) fn header(mut self, header: impl Into<String>) -> Error {
        self.header = Some(header.into());
        self
    }

    pub(crate) fn item(mut self, item: impl Into<String>) -> Error {
        self.item = Some(item.into());
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.def.display())?;
        if self.line > 0 {
            write!(f, ":{}", self.line)?;
        }
        write!(f, ": ")?;
        if let Some(header) = &self.header {
            write!(f, "header {header}, ")?;
        }
        if let Some(item) = &self.item {
            write!(f, "{item}: ")?;
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for Error {}

/// One `.def` file to build: its C compiled and linked, its bindings and accessors written.
#[derive(Debug, Clone)]
pub struct Interop {
    def: PathBuf,
    headers: Vec<PathBuf>,
    sources: Vec<PathBuf>,
    floe_include: Option<PathBuf>,
    out_dir: Option<PathBuf>,
}

/// From a `build.rs`: builds `def` (see [`Interop::generate`]); on an error, prints it and fails
/// the build.
pub fn build(def: impl AsRef<Path>) {
    Interop::new(def).run()
}

/// What [`Interop::generate`] wrote.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The Rust module, `$OUT_DIR/<def name>.rs`.
    pub module: PathBuf,
    /// The C file holding the `.def`'s C code after its headers, compiled into the library.
    pub c_file: PathBuf,
    /// The folder with `floe.h` and `floe_cinterop.h`, on the C compiler's include path.
    pub include_dir: PathBuf,
}

impl Interop {
    pub fn new(def: impl AsRef<Path>) -> Interop {
        Interop {
            def: def.as_ref().to_path_buf(),
            headers: Vec::new(),
            sources: Vec::new(),
            floe_include: None,
            out_dir: None,
        }
    }

    /// A header to bind, after the `.def`'s `headers` (a path from the crate's folder, or one
    /// found on the include path).
    pub fn header(mut self, path: impl AsRef<Path>) -> Interop {
        self.headers.push(path.as_ref().to_path_buf());
        self
    }

    /// A C source to compile into the library, besides the `.def`'s `sources`.
    pub fn source(mut self, path: impl AsRef<Path>) -> Interop {
        self.sources.push(path.as_ref().to_path_buf());
        self
    }

    /// Where `floe.h` is, instead of the copy this crate carries (written to `$OUT_DIR`).
    pub fn floe_include(mut self, dir: impl AsRef<Path>) -> Interop {
        self.floe_include = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Where to write, instead of `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Interop {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// [`Interop::generate`], for a `build.rs`: an error is printed (the `.def` line, the header,
    /// the global) and fails the build.
    pub fn run(self) {
        if let Err(error) = self.generate() {
            // Cargo shows it as the build's error.
            println!("cargo::error={error}");
            std::process::exit(1);
        }
    }

    /// Compiles the C with `cc` (the `.def`'s C code, with its headers, and the C sources) into a
    /// static library that Cargo links, tells Cargo the `.def`'s linker options, and writes the
    /// Rust module. Runs from a `build.rs` (it reads Cargo's variables and prints its directives).
    pub fn generate(self) -> Result<Generated, Error> {
        let def = DefFile::read(&self.def)?;
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => PathBuf::from(std::env::var_os("OUT_DIR").ok_or_else(|| {
                Error::at(&self.def, 0, "OUT_DIR is not set: run from a build.rs, or give Interop::out_dir")
            })?),
        };
        for (key, line) in &def.ignored {
            println!("cargo::warning={}:{line}: `{key}` means nothing for Rust bindings; ignored", def.path.display());
        }
        let prepared = self.prepare(&def, &out_dir, &Target::from_cargo(), true)?;
        let plan = prepared.plan()?;
        let module = out_dir.join(format!("{}.rs", prepared.stem));
        std::fs::write(&module, emit::module(&prepared, &plan))
            .map_err(|e| Error::at(&def.path, 0, format!("cannot write {}: {e}", module.display())))?;
        prepared.compile(&self.sources)?;
        prepared.link()?;
        for path in prepared.watched(&self.sources) {
            println!("cargo::rerun-if-changed={}", path.display());
        }
        Ok(Generated { module, c_file: prepared.c_file.clone(), include_dir: prepared.include_dir.clone() })
    }

    /// Reads the `.def`, writes the C file and runs bindgen: everything but `cc` and Cargo.
    /// `cargo`: from a build script, which reruns when any file the C code includes changes.
    fn prepare(&self, def: &DefFile, out_dir: &Path, target: &Target, cargo: bool) -> Result<Prepared, Error> {
        let stem = def.path.file_stem().and_then(|s| s.to_str()).unwrap_or("interop").to_string();
        if let Some((language, line)) = def.single("language", target) {
            if language.trim() != "C" {
                return Err(Error::at(&def.path, line, format!("language `{language}`: only C is supported")));
            }
        }
        let (package, package_line) =
            def.single("package", target).unwrap_or_else(|| (identifier_of(&stem), def.line_of("package")));
        let package: Vec<String> = package.trim().split('.').map(str::to_string).collect();
        if let Some(bad) = package.iter().find(|p| !is_identifier(p)) {
            return Err(Error::at(&def.path, package_line, format!("package: `{bad}` is not a Rust identifier")));
        }
        let work = out_dir.join("floe-cinterop").join(&stem);
        let include_dir = match &self.floe_include {
            Some(dir) => dir.clone(),
            None => out_dir.join("floe-cinterop").join("include"),
        };
        let written = |path: &Path, text: &str| -> Result<(), Error> {
            std::fs::create_dir_all(path.parent().expect("a file in a folder"))
                .and_then(|()| write_if_changed(path, text))
                .map_err(|e| Error::at(&def.path, 0, format!("cannot write {}: {e}", path.display())))
        };
        if self.floe_include.is_none() {
            written(&include_dir.join("floe.h"), FLOE_H)?;
        }
        written(&include_dir.join("floe_cinterop.h"), FLOE_CINTEROP_H)?;

        let dir = def.dir();
        let mut compiler_opts = Vec::new();
        let mut include_dirs = vec![include_dir.clone(), dir.clone()];
        let mut words = def.words("compilerOpts", target)?.into_iter().map(|w| w.text).peekable();
        while let Some(word) = words.next() {
            // Include folders are resolved against the .def's folder, and searched for headers.
            let flag = ["-I", "-isystem", "-iquote"].into_iter().find(|f| word.starts_with(f));
            match flag {
                Some(flag) => {
                    let path =
                        if word == flag { words.next().unwrap_or_default() } else { word[flag.len()..].to_string() };
                    let path = dir.join(path);
                    compiler_opts.push(flag.to_string());
                    compiler_opts.push(path.display().to_string());
                    include_dirs.push(path);
                }
                None => compiler_opts.push(word),
            }
        }

        let mut headers = Vec::new();
        for word in def.words("headers", target)? {
            let found = include_dirs.iter().map(|d| d.join(&word.text)).find(|p| p.is_file());
            let path = found.map(|p| std::fs::canonicalize(&p).unwrap_or(p));
            headers.push(Header { written: word.text, line: word.line, path });
        }
        for extra in &self.headers {
            let written = extra.display().to_string();
            let found =
                std::iter::once(extra.clone()).chain(include_dirs.iter().map(|d| d.join(extra))).find(|p| p.is_file());
            headers.push(Header { written, line: 0, path: found.map(|p| std::fs::canonicalize(&p).unwrap_or(p)) });
        }
        let header_filter = def.words("headerFilter", target)?;

        let c_file = work.join(format!("{stem}.c"));
        let mut c =
            format!("/* Written by floe-cinterop from {}: its headers, then its C code. */\n", def.path.display());
        for header in &headers {
            match &header.path {
                Some(path) => c.push_str(&format!("#include \"{}\"\n", c_string(&path.display().to_string()))),
                None => c.push_str(&format!("#include <{}>\n", header.written)),
            }
        }
        if let Some(inline) = &def.inline {
            let def_path = std::fs::canonicalize(&def.path).unwrap_or_else(|_| def.path.clone());
            c.push_str(&format!("#line {} \"{}\"\n", inline.first_line, c_string(&def_path.display().to_string())));
            c.push_str(&inline.text);
            c.push('\n');
        }
        written(&c_file, &c)?;

        let mut builder = bindgen::Builder::default()
            .header(c_file.display().to_string())
            .clang_arg(format!("-I{}", include_dir.display()))
            .clang_arg(format!("-I{}", dir.display()))
            .clang_args(compiler_opts.iter().cloned())
            .allowlist_file(regex_escape(&c_file.display().to_string()))
            .blocklist_type("floe_shared_data")
            .derive_default(false)
            .generate_comments(true)
            .merge_extern_blocks(true)
            .layout_tests(true);
        if cargo {
            builder = builder.parse_callbacks(Box::new(bindgen::CargoCallbacks::new()));
        }
        if header_filter.is_empty() {
            for header in &headers {
                builder = builder.allowlist_file(match &header.path {
                    Some(path) => regex_escape(&path.display().to_string()),
                    None => format!("(.*/)?{}", regex_escape(&header.written)),
                });
            }
        } else {
            for glob in &header_filter {
                builder = builder.allowlist_file(glob_regex(&glob.text));
            }
        }
        for function in def.words("excludedFunctions", target)? {
            builder = builder.blocklist_function(regex_escape(&function.text));
        }
        let code = builder
            .generate()
            .map_err(|e| {
                let line = def.inline.as_ref().map_or(def.line_of("headers"), |i| i.first_line);
                Error::at(&def.path, line, format!("bindgen could not read the headers and C code: {e}")).header(
                    headers
                        .iter()
                        .map(|h| h.written.as_str())
                        .chain([c_file.to_str().unwrap_or("")])
                        .collect::<Vec<_>>()
                        .join(", "),
                )
            })?
            .to_string();
        let bindings = Bindings::read(&code).map_err(|e| Error::at(&def.path, 0, e))?;
        Ok(Prepared {
            def: def.clone(),
            target: target.clone(),
            stem,
            package,
            headers,
            include_dir,
            compiler_opts,
            c_file,
            code,
            bindings,
        })
    }
}

/// A header of the `.def`'s `headers`, as written and where it was found (when it was).
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub written: String,
    pub line: usize,
    pub path: Option<PathBuf>,
}

/// A `.def` read, its C file written and its bindings generated.
pub(crate) struct Prepared {
    pub def: DefFile,
    pub target: Target,
    pub stem: String,
    pub package: Vec<String>,
    pub headers: Vec<Header>,
    pub include_dir: PathBuf,
    pub compiler_opts: Vec<String>,
    pub c_file: PathBuf,
    /// bindgen's output.
    pub code: String,
    pub bindings: Bindings,
}

impl Prepared {
    fn plan(&self) -> Result<Plan, Error> {
        analyse::plan(self)
    }

    fn sources(&self, extra: &[PathBuf]) -> Result<Vec<PathBuf>, Error> {
        let dir = self.def.dir();
        let mut sources: Vec<PathBuf> =
            self.def.words("sources", &self.target)?.into_iter().map(|w| dir.join(w.text)).collect();
        sources.extend(extra.iter().cloned());
        Ok(sources)
    }

    fn compile(&self, extra: &[PathBuf]) -> Result<(), Error> {
        let mut build = cc::Build::new();
        build.file(&self.c_file).include(&self.include_dir).include(self.def.dir());
        for flag in &self.compiler_opts {
            build.flag(flag);
        }
        for source in self.sources(extra)? {
            if !source.is_file() {
                return Err(Error::at(
                    &self.def.path,
                    self.def.line_of("sources"),
                    format!("no C source {}", source.display()),
                ));
            }
            build.file(source);
        }
        build
            .try_compile(&format!("floe_cinterop_{}", self.stem))
            .map_err(|e| Error::at(&self.def.path, 0, format!("the C code did not compile: {e}")))
    }

    /// Tells Cargo the `.def`'s libraries and linker options.
    fn link(&self) -> Result<(), Error> {
        let dir = self.def.dir();
        for path in self.def.words("libraryPaths", &self.target)? {
            println!("cargo::rustc-link-search=native={}", dir.join(path.text).display());
        }
        for library in self.def.words("staticLibraries", &self.target)? {
            let name = library.text.strip_prefix("lib").unwrap_or(&library.text);
            let name = name.strip_suffix(".a").unwrap_or(name);
            println!("cargo::rustc-link-lib=static={name}");
        }
        let mut words = self.def.words("linkerOpts", &self.target)?.into_iter().map(|w| w.text).peekable();
        while let Some(word) = words.next() {
            if let Some(library) = word.strip_prefix("-l") {
                let library = if library.is_empty() { words.next().unwrap_or_default() } else { library.to_string() };
                println!("cargo::rustc-link-lib={library}");
            } else if let Some(path) = word.strip_prefix("-L") {
                let path = if path.is_empty() { words.next().unwrap_or_default() } else { path.to_string() };
                println!("cargo::rustc-link-search=native={}", dir.join(path).display());
            } else if word == "-framework" {
                println!("cargo::rustc-link-lib=framework={}", words.next().unwrap_or_default());
            } else {
                println!("cargo::rustc-link-arg={word}");
            }
        }
        Ok(())
    }

    /// The files whose change reruns the build script.
    fn watched(&self, extra: &[PathBuf]) -> Vec<PathBuf> {
        let mut files = vec![self.def.path.clone()];
        files.extend(self.headers.iter().filter_map(|h| h.path.clone()));
        files.extend(self.sources(extra).unwrap_or_default());
        files
    }
}

/// Writes `text` to `path` unless it holds it already (an unchanged C file keeps its time).
fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
        return Ok(());
    }
    std::fs::write(path, text)
}

/// `text` inside a C string literal.
fn c_string(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

fn regex_escape(text: &str) -> String {
    let mut escaped = String::new();
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// A `headerFilter` glob as a regex over a header's path: `*` within a folder, `**` across them;
/// the glob matches the path's end (`SDL2/*` matches `/usr/include/SDL2/SDL.h`).
fn glob_regex(glob: &str) -> String {
    let mut regex = String::from("(.*/)?");
    let mut chars = glob.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                regex.push_str(".*");
            }
            '*' => regex.push_str("[^/]*"),
            '?' => regex.push_str("[^/]"),
            other => regex.push_str(&regex_escape(&other.to_string())),
        }
    }
    regex
}

pub(crate) fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `text` made a Rust identifier (`my-lib` → `my_lib`).
fn identifier_of(text: &str) -> String {
    let mut id: String = text.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert(0, '_');
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    /// bindgen over `def` (written as `test.def`) and `files` in a folder of their own: the
    /// module floe-cinterop would write, or the error. No `cc`, no Cargo.
    fn generate(name: &str, def: &str, files: &[(&str, &str)]) -> Result<String, Error> {
        static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        let dir = std::env::temp_dir().join(format!("floe-cinterop-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("test.def"), def).unwrap();
        for (file, text) in files {
            std::fs::write(dir.join(file), text).unwrap();
        }
        let def = DefFile::read(&dir.join("test.def"))?;
        let target = Target { family: "linux".into(), arch: "x64".into() };
        let result =
            Interop::new(&def.path).prepare(&def, &dir, &target, false).and_then(|p| Ok(emit::module(&p, &p.plan()?)));
        std::fs::remove_dir_all(&dir).unwrap();
        result
    }

    #[test]
    fn the_seed_def_gives_a_shared_cell_over_its_global() {
        let module = generate(
            "seed",
            "package = global\n---\ntypedef struct { int version; void* kotlinObject; } SharedData;\nSharedData sharedData;\n",
            &[],
        )
        .unwrap();
        assert!(module.starts_with("// Written by floe-cinterop"), "{module}");
        assert!(module.contains("pub mod global {"));
        assert!(module.contains("pub fn shared_data() -> &'static floe::SharedCell"), "{module}");
        assert!(module.contains("offset_of!(sys::SharedData, kotlinObject) == ::core::mem::offset_of!(floe::ffi::shared_data::SharedData, object)"));
        assert!(module.contains("pub type floe_shared_data = floe::ffi::shared_data::SharedData;"));
    }

    #[test]
    fn floes_struct_is_reused_not_generated_and_its_globals_and_layouts_are_found() {
        let header = "#include <floe.h>\nextern floe_shared_data prices;\ntypedef struct { floe_shared_data config; floe_shared_data prices; } AppShared;\n";
        let module = generate("floe", "headers = app.h\npackage = a.b\n", &[("app.h", header)]).unwrap();
        assert!(module.contains("pub mod a {\npub mod b {"), "{module}");
        assert!(!module.contains("pub struct floe_shared_data"), "bindgen declared floe_shared_data again");
        assert!(module.contains("pub fn prices() -> &'static floe::SharedCell"));
        assert!(module.contains("pub struct AppShared {"));
        assert!(module.contains("pub const FIELDS: [&'static str; 2] = [\"config\", \"prices\"];"));
        assert!(module.contains("pub fn config(&self) -> &floe::SlotData"));
    }

    #[test]
    fn a_struct_of_the_layout_that_is_not_meant_as_shared_data_is_left_alone_unless_named() {
        let def = "package = p\n---\nstruct pair { int count; void *data; };\nstruct pair pair;\n";
        assert!(!generate("pair", def, &[]).unwrap().contains("floe::SharedCell"));
        let named = format!("sharedData = pair\n{def}");
        assert!(generate("pair-named", &named, &[]).unwrap().contains("pub fn pair() -> &'static floe::SharedCell"));
        let wrong = "sharedData = count\npackage = p\n---\nint count;\n";
        assert_eq!(
            generate("count", wrong, &[]).unwrap_err().to_string(),
            format!(
                "{}:4: header test.def (its C code after ---), global `count`: `sharedData` names it, but its type `int` is not a struct with floe_shared_data's {{ int32_t version; void *object; }}",
                std::env::temp_dir().join(format!("floe-cinterop-{}-count/test.def", std::process::id())).display()
            )
        );
    }

    #[test]
    fn detached_graph_entries_are_checked() {
        let header = "#include <stdint.h>\ntypedef struct { int32_t id; void *lines; } Order;\nextern void *pending;\nextern Order current;\n";
        let def = "headers = orders.h\ndetachedGraphs = Order.lines pending current.lines\n";
        let module = generate("orders", def, &[("orders.h", header)]).unwrap();
        for wanted in [
            "pub fn take_lines(&mut self)",
            "pub fn set_lines(&mut self",
            "pub fn take_pending()",
            "pub fn take_current_lines()",
        ] {
            assert!(module.contains(wanted), "no `{wanted}` in {module}");
        }
        let error = generate("orders-id", "headers = orders.h\n\ndetachedGraphs = Order.id\n", &[("orders.h", header)])
            .unwrap_err();
        assert_eq!(error.line, 3);
        assert_eq!(error.item.as_deref(), Some("`detachedGraphs` entry `Order.id`"));
        assert_eq!(error.message, "field `Order.id` is a `int32_t`; a detached graph travels as a `void *`");
        let error = generate("orders-none", "headers = orders.h\ndetachedGraphs = nowhere\n", &[("orders.h", header)])
            .unwrap_err();
        assert!(error.message.starts_with("no global of that name"), "{error}");
    }

    #[test]
    fn two_items_giving_one_rust_name_are_refused() {
        let def = "package = p\n---\nfloe_shared_data sharedData;\nfloe_shared_data shared_data;\n";
        let error = generate("twice", &format!("headers = floe.h\n{def}"), &[]).unwrap_err();
        assert_eq!(error.line, 0);
        assert_eq!(
            error.message,
            "global `sharedData` and global `shared_data` both give the Rust function `shared_data`"
        );
    }

    #[test]
    fn only_c_is_read() {
        let error = generate("objc", "language = Objective-C\n", &[]).unwrap_err();
        assert_eq!((error.line, error.message.as_str()), (1, "language `Objective-C`: only C is supported"));
    }

    #[test]
    fn globs_match_paths_ends() {
        let regex = glob_regex("SDL2/*.h");
        assert_eq!(regex, "(.*/)?SDL2/[^/]*\\.h");
    }

    #[test]
    fn errors_name_the_line_the_header_and_the_item() {
        let error = Error::at(Path::new("global.def"), 4, "wrong").header("global.def").item("global `sharedData`");
        assert_eq!(error.to_string(), "global.def:4: header global.def, global `sharedData`: wrong");
    }
}
