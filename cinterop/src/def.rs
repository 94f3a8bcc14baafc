//! The `.def` file: Kotlin/Native's definition-file format. Properties (`key = value`, a trailing
//! `\` continues a value on the next line, `#` and `!` start comments), then, after a line `---`,
//! C code. A key may carry a platform suffix (`compilerOpts.linux`, `linkerOpts.linux_x64`,
//! `compilerOpts.osx`): it applies only when building for that platform, after the plain key.

use crate::Error;
use std::path::{Path, PathBuf};

/// The keys Kotlin's cinterop reads that floe-cinterop follows.
const KOTLIN_KEYS: &[&str] = &[
    "headers",
    "headerFilter",
    "compilerOpts",
    "linkerOpts",
    "package",
    "staticLibraries",
    "libraryPaths",
    "excludedFunctions",
    "language",
];

/// Kotlin keys that mean nothing for Rust bindings: read, warned about, ignored.
const KOTLIN_KEYS_IGNORED: &[&str] = &[
    "modules",
    "depends",
    "strictEnums",
    "nonStrictEnums",
    "noStringConversion",
    "excludeDependentModules",
    "exportForwardDeclarations",
    "disableDesignatedInitializerChecks",
    "foreignExceptionMode",
    "linker",
    "userSetupHint",
    "allowedOverloadsForCFunctions",
    "objcClassesIncludingCategories",
    "excludeSystemLibs",
];

/// floe's own keys: C sources to compile, and what the C declarations mean to floe.
const FLOE_KEYS: &[&str] = &["sources", "sharedData", "segmentLayouts", "detachedGraphs"];

/// One `key = value` property.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: String,
    /// The platform suffix, if any (`linux` of `compilerOpts.linux`).
    pub platform: Option<String>,
    pub value: String,
    /// 1-based line of the key.
    pub line: usize,
}

/// The C code after `---`.
#[derive(Debug, Clone)]
pub(crate) struct Inline {
    /// 1-based line of the code's first line (the one after `---`).
    pub first_line: usize,
    pub text: String,
}

/// A parsed `.def` file.
#[derive(Debug, Clone)]
pub(crate) struct DefFile {
    pub path: PathBuf,
    pub entries: Vec<Entry>,
    pub inline: Option<Inline>,
    /// Keys Kotlin knows that mean nothing here, with their lines (for warnings).
    pub ignored: Vec<(String, usize)>,
}

/// One word of a list value (split as a shell splits words), with the line of its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Word {
    pub text: String,
    pub line: usize,
}

impl DefFile {
    pub fn read(path: &Path) -> Result<DefFile, Error> {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::at(path, 0, format!("cannot read the .def file: {e}")))?;
        DefFile::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &str) -> Result<DefFile, Error> {
        let mut def = DefFile { path: path.to_path_buf(), entries: Vec::new(), inline: None, ignored: Vec::new() };
        let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
        let mut index = 0;
        while index < lines.len() {
            let number = index + 1;
            let line = lines[index].trim();
            index += 1;
            if line == "---" {
                let rest = &lines[index..];
                def.inline = Some(Inline { first_line: index + 1, text: rest.join("\n") });
                break;
            }
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let Some(split) = line.find(['=', ':']) else {
                return Err(Error::at(path, number, format!("`{line}` is neither `key = value` nor `---`")));
            };
            let (key, mut value) = (line[..split].trim().to_string(), line[split + 1..].trim().to_string());
            // A value ends at a line without a trailing backslash.
            while value.ends_with('\\') && index < lines.len() {
                value.pop();
                value.push(' ');
                value.push_str(lines[index].trim());
                index += 1;
            }
            let (base, platform) = match key.split_once('.') {
                Some((base, platform)) => (base.to_string(), Some(platform.to_string())),
                None => (key.clone(), None),
            };
            if KOTLIN_KEYS_IGNORED.contains(&key.as_str()) || KOTLIN_KEYS_IGNORED.contains(&base.as_str()) {
                def.ignored.push((key, number));
                continue;
            }
            if !KOTLIN_KEYS.contains(&base.as_str()) && !FLOE_KEYS.contains(&base.as_str()) {
                return Err(Error::at(
                    path,
                    number,
                    format!(
                        "unknown key `{base}`: Kotlin's keys are {}; floe's are {}",
                        KOTLIN_KEYS.join(", "),
                        FLOE_KEYS.join(", ")
                    ),
                ));
            }
            def.entries.push(Entry { key: base, platform, value, line: number });
        }
        Ok(def)
    }

    /// The entries of `key` that apply to the target (plain ones first, then matching platforms).
    fn applying<'a>(&'a self, key: &'a str, target: &'a Target) -> impl Iterator<Item = &'a Entry> + 'a {
        let plain = self.entries.iter().filter(move |e| e.key == key && e.platform.is_none());
        let platform = self
            .entries
            .iter()
            .filter(move |e| e.key == key && e.platform.as_deref().is_some_and(|p| target.matches(p)));
        plain.chain(platform)
    }

    /// The words of every value of `key`, split as a shell splits words.
    pub fn words(&self, key: &str, target: &Target) -> Result<Vec<Word>, Error> {
        let mut words = Vec::new();
        for entry in self.applying(key, target) {
            let split = shlex::split(&entry.value).ok_or_else(|| {
                Error::at(&self.path, entry.line, format!("`{key}`: unbalanced quotes in `{}`", entry.value))
            })?;
            words.extend(split.into_iter().map(|text| Word { text, line: entry.line }));
        }
        Ok(words)
    }

    /// The one value of `key` (the last wins, as in a properties file), with its line.
    pub fn single(&self, key: &str, target: &Target) -> Option<(String, usize)> {
        self.applying(key, target).last().map(|e| (e.value.clone(), e.line))
    }

    /// The line of the first entry of `key`, or 0.
    pub fn line_of(&self, key: &str) -> usize {
        self.entries.iter().find(|e| e.key == key).map_or(0, |e| e.line)
    }

    /// The folder relative paths in the file are resolved against.
    pub fn dir(&self) -> PathBuf {
        match self.path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }
}

/// The platform being built for, by Kotlin/Native's names: `linux`, `osx`, `mingw`, and with the
/// architecture `linux_x64`, `linux_arm64`, `macos_arm64`, ...
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub family: String,
    pub arch: String,
}

impl Target {
    pub fn from_cargo() -> Target {
        let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_else(|_| std::env::consts::OS.to_string());
        let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| std::env::consts::ARCH.to_string());
        let family = match os.as_str() {
            "macos" => "osx",
            "windows" => "mingw",
            other => other,
        };
        let arch = match arch.as_str() {
            "x86_64" => "x64",
            "aarch64" => "arm64",
            "x86" => "x86",
            "arm" => "arm32",
            other => other,
        };
        Target { family: family.to_string(), arch: arch.to_string() }
    }

    fn matches(&self, platform: &str) -> bool {
        let family = if self.family == "osx" { ["osx", "macos"] } else { [self.family.as_str(); 2] };
        family.iter().any(|f| platform == *f || platform == format!("{f}_{}", self.arch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn linux() -> Target {
        Target { family: "linux".into(), arch: "x64".into() }
    }

    #[test]
    fn the_seed_def_parses_line_for_line() {
        let text = "package = global\n---\ntypedef struct { int version; void* kotlinObject; } SharedData;\nSharedData sharedData;\n";
        let def = DefFile::parse(Path::new("global.def"), text).unwrap();
        assert_eq!(def.single("package", &linux()), Some(("global".to_string(), 1)));
        let inline = def.inline.unwrap();
        assert_eq!(inline.first_line, 3);
        assert!(inline.text.starts_with("typedef struct { int version;"));
    }

    #[test]
    fn continuations_platforms_and_quotes() {
        let text = "# a comment\nheaders = a.h \\\n    b.h\ncompilerOpts = -DX='two words'\ncompilerOpts.linux = -DL\ncompilerOpts.osx = -DO\n";
        let def = DefFile::parse(Path::new("x.def"), text).unwrap();
        let headers: Vec<_> = def.words("headers", &linux()).unwrap().into_iter().map(|w| (w.text, w.line)).collect();
        assert_eq!(headers, [("a.h".to_string(), 2), ("b.h".to_string(), 2)]);
        let opts: Vec<_> = def.words("compilerOpts", &linux()).unwrap().into_iter().map(|w| w.text).collect();
        assert_eq!(opts, ["-DX=two words", "-DL"]);
    }

    #[test]
    fn an_unknown_key_names_its_line() {
        let error = DefFile::parse(Path::new("x.def"), "package = p\ndetachedGraph = A.b\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.to_string().contains("unknown key `detachedGraph`"), "{error}");
    }
}
