//! What the bindings mean to floe: SharedData globals, segment layouts and `void *` fields that
//! hold detached graphs, each checked, and each error placed at a `.def` line and a header.

use crate::bindings::{Bindings, Shape};
use crate::def::Word;
use crate::emit::snake_case;
use crate::{Error, Prepared};
use std::collections::BTreeSet;

/// A C global that is a SharedData.
#[derive(Debug, Clone)]
pub(crate) struct SharedGlobal {
    pub global: String,
    /// The struct bindgen declared for its type; `None` for floe's `floe_shared_data`.
    pub layout: Option<String>,
}

/// A C struct whose fields are all SharedData: a segment layout, one slot per field.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub name: String,
    pub fields: Vec<String>,
}

/// A `void *` that holds a detached graph.
#[derive(Debug, Clone)]
pub(crate) enum Detached {
    /// A field of a struct: methods on the struct.
    Field { strukt: String, field: String },
    /// A global `void *`: functions.
    Global { global: String },
    /// A field of a global struct: functions.
    GlobalField { global: String, field: String },
}

#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub shared: Vec<SharedGlobal>,
    pub layouts: Vec<Layout>,
    pub detached: Vec<Detached>,
    /// Structs with Kotlin's SharedData layout that the module uses as floe_shared_data: the
    /// Rust compiler checks their size, alignment and offsets too.
    pub kotlin_layouts: BTreeSet<String>,
}

/// floe's layout, for messages.
const FLOE_LAYOUT: &str = "floe_shared_data's { int32_t version; void *object; }";
/// Slot names are 1 to 40 bytes.
const SLOT_NAME_MAX: usize = 40;

/// Refuses the first word of `listed` (the values of .def key `key`) that names no `what` a
/// header or the inline C declares.
fn all_declared(
    p: &Prepared,
    listed: &[Word],
    key: &str,
    what: &str,
    declared: impl Fn(&str) -> bool,
) -> Result<(), Error> {
    match listed.iter().find(|word| !declared(&word.text)) {
        Some(word) => {
            Err(Error::at(&p.def.path, word.line, format!("`{key}` names a {what} that no header or C code declares"))
                .item(format!("{what} `{}`", word.text)))
        }
        None => Ok(()),
    }
}

pub(crate) fn plan(p: &Prepared) -> Result<Plan, Error> {
    let b = &p.bindings;
    let locate = Locator::new(p);
    let mut plan = Plan::default();

    let listed = p.def.words("sharedData", &p.target)?;
    for global in &b.globals {
        let written = Bindings::type_name(&global.ty);
        let listing = listed.iter().find(|w| w.text == global.name);
        let item = format!("global `{}`", global.name);
        match b.shape(&global.ty) {
            Shape::FloeSharedData => plan.shared.push(SharedGlobal { global: global.name.clone(), layout: None }),
            Shape::Struct(name)
                if b.is_shared_data_layout(&name) && (b.looks_like_shared_data(&name) || listing.is_some()) =>
            {
                plan.kotlin_layouts.insert(name.clone());
                plan.shared.push(SharedGlobal { global: global.name.clone(), layout: Some(name) });
            }
            Shape::Struct(name) if b.looks_like_shared_data(&name) || listing.is_some() => {
                let shown = written.clone().unwrap_or_else(|| name.clone());
                return Err(locate.global(&global.name, listing).item(item).into_message(format!(
                    "its type `{shown}` is {}, not {FLOE_LAYOUT}: floe cannot share it. \
                     Declare it with Kotlin/Native's `typedef struct {{ int version; void* kotlinObject; }} {shown};` \
                     or as a floe_shared_data",
                    b.c_fields(&name)
                )));
            }
            _ if listing.is_some() => {
                return Err(locate.global(&global.name, listing).item(item).into_message(format!(
                    "`sharedData` names it, but its type `{}` is not a struct with {FLOE_LAYOUT}",
                    Bindings::c_type(&global.ty)
                )));
            }
            _ => {}
        }
    }
    all_declared(p, &listed, "sharedData", "global", |name| b.global(name).is_some())?;

    let listed = p.def.words("segmentLayouts", &p.target)?;
    for (name, fields) in &b.structs {
        let listing = listed.iter().find(|w| &w.text == name);
        let shapes: Vec<Shape> = fields.iter().map(|f| b.shape(&f.ty)).collect();
        let slot_like = |shape: &Shape| match shape {
            Shape::FloeSharedData => true,
            Shape::Struct(inner) => b.looks_like_shared_data(inner),
            _ => false,
        };
        let all_slots = !fields.is_empty() && shapes.iter().all(slot_like);
        if !all_slots {
            if listing.is_some() {
                let field = fields.iter().zip(&shapes).find(|(_, s)| !slot_like(s)).map(|(f, _)| f.name.clone());
                return Err(locate.struct_(name, listing).item(format!("struct `{name}`")).into_message(match field {
                    Some(field) => format!(
                        "`segmentLayouts` names it, but its field `{field}` is not a floe_shared_data: a segment layout's fields are all SharedData slots"
                    ),
                    None => "`segmentLayouts` names it, but it has no fields".to_string(),
                }));
            }
            continue;
        }
        for (field, shape) in fields.iter().zip(&shapes) {
            if let Shape::Struct(inner) = shape {
                if !b.is_shared_data_layout(inner) {
                    return Err(locate
                        .struct_(name, listing)
                        .item(format!("struct `{name}`, field `{}`", field.name))
                        .into_message(format!("its type `{inner}` is {}, not {FLOE_LAYOUT}", b.c_fields(inner))));
                }
                plan.kotlin_layouts.insert(inner.clone());
            }
            if field.name.len() > SLOT_NAME_MAX {
                return Err(locate
                    .struct_(name, listing)
                    .item(format!("struct `{name}`, field `{}`", field.name))
                    .into_message(format!(
                        "a segment layout's field names its slot, and slot names are 1 to {SLOT_NAME_MAX} bytes"
                    )));
            }
        }
        plan.layouts.push(Layout { name: name.clone(), fields: fields.iter().map(|f| f.name.clone()).collect() });
    }
    all_declared(p, &listed, "segmentLayouts", "struct", |name| b.fields(name).is_some())?;

    for word in p.def.words("detachedGraphs", &p.target)? {
        plan.detached.push(detached(p, &word)?);
    }
    distinct_names(p, &plan)?;
    Ok(plan)
}

/// Refuses two items that would give one Rust name (`sharedData` and `shared_data`).
fn distinct_names(p: &Prepared, plan: &Plan) -> Result<(), Error> {
    let mut names: Vec<(String, String)> = Vec::new();
    for shared in &plan.shared {
        names.push((snake_case(&shared.global), format!("global `{}`", shared.global)));
    }
    for detached in &plan.detached {
        let (name, what) = match detached {
            Detached::Field { .. } => continue,
            Detached::Global { global } => (snake_case(global), format!("`detachedGraphs` entry `{global}`")),
            Detached::GlobalField { global, field } => (
                format!("{}_{}", snake_case(global), snake_case(field)),
                format!("`detachedGraphs` entry `{global}.{field}`"),
            ),
        };
        names.push((format!("take_{name}"), what.clone()));
        names.push((format!("set_{name}"), what.clone()));
        names.push((format!("{name}_cell"), what));
    }
    for (i, (name, what)) in names.iter().enumerate() {
        if let Some((_, first)) = names[..i].iter().find(|(n, w)| n == name && w != what) {
            return Err(Error::at(&p.def.path, 0, format!("{first} and {what} both give the Rust function `{name}`")));
        }
    }
    Ok(())
}

/// Resolves one `detachedGraphs` entry: `Struct.field`, `global` or `global.field`.
fn detached(p: &Prepared, word: &Word) -> Result<Detached, Error> {
    let b = &p.bindings;
    let error = |message: String| {
        Error::at(&p.def.path, word.line, message).item(format!("`detachedGraphs` entry `{}`", word.text))
    };
    let void_field = |strukt: &str, field: &str| -> Result<(), Error> {
        let fields = b.fields(strukt).unwrap_or_default();
        match fields.iter().find(|f| f.name == field) {
            None => Err(error(format!("struct `{strukt}` has no field `{field}`; its fields: {}", b.c_fields(strukt)))),
            Some(f) if b.shape(&f.ty) != Shape::VoidPtr => Err(error(format!(
                "field `{strukt}.{field}` is a `{}`; a detached graph travels as a `void *`",
                Bindings::c_type(&f.ty)
            ))),
            Some(_) => Ok(()),
        }
    };
    match word.text.split_once('.') {
        Some((owner, field)) => {
            if b.fields(owner).is_some() {
                void_field(owner, field)?;
                return Ok(Detached::Field { strukt: owner.to_string(), field: field.to_string() });
            }
            if let Some(global) = b.global(owner) {
                return match b.shape(&global.ty) {
                    Shape::Struct(strukt) => {
                        void_field(&strukt, field)?;
                        Ok(Detached::GlobalField { global: owner.to_string(), field: field.to_string() })
                    }
                    _ => Err(error(format!("global `{owner}` is a `{}`, not a struct", Bindings::c_type(&global.ty)))),
                };
            }
            Err(error(format!("no struct or global `{owner}` in the headers or the C code")))
        }
        None => match b.global(&word.text) {
            Some(global) if b.shape(&global.ty) == Shape::VoidPtr => Ok(Detached::Global { global: word.text.clone() }),
            Some(global) => Err(error(format!(
                "global `{}` is a `{}`; a detached graph travels as a `void *`",
                word.text,
                Bindings::c_type(&global.ty)
            ))),
            None => Err(error(
                "no global of that name in the headers or the C code; a struct's field is `Struct.field`".to_string(),
            )),
        },
    }
}

/// An error's place before its message is known.
struct Place(Error);

impl Place {
    fn item(self, item: String) -> Place {
        Place(self.0.item(item))
    }

    fn into_message(self, message: String) -> Error {
        Error { message, ..self.0 }
    }
}

/// Finds where a global or struct is declared: in the `.def`'s C code (its own line) or in one of
/// its headers (the `headers` line, and the header's line).
struct Locator<'a> {
    p: &'a Prepared,
}

impl<'a> Locator<'a> {
    fn new(p: &'a Prepared) -> Locator<'a> {
        Locator { p }
    }

    fn global(&self, name: &str, listing: Option<&Word>) -> Place {
        self.find(name, listing, declares_global)
    }

    fn struct_(&self, name: &str, listing: Option<&Word>) -> Place {
        self.find(name, listing, declares_type)
    }

    fn find(&self, name: &str, listing: Option<&Word>, declares: fn(&str, &str) -> Option<usize>) -> Place {
        let def = &self.p.def;
        // In a header, the key that names the item (`sharedData`, `segmentLayouts`), if one does,
        // is the .def's line for it; in the .def's own C code, its declaration's line is.
        let at = |line: usize| listing.map_or(line, |w| w.line);
        let file_name =
            def.path.file_name().map_or_else(|| def.path.display().to_string(), |n| n.to_string_lossy().into_owned());
        if let Some(inline) = &def.inline {
            if let Some(offset) = declares(&inline.text, name) {
                return Place(
                    Error::at(&def.path, inline.first_line + offset, "")
                        .header(format!("{file_name} (its C code after ---)")),
                );
            }
        }
        for header in &self.p.headers {
            let Some(path) = &header.path else { continue };
            let Ok(text) = std::fs::read_to_string(path) else { continue };
            if let Some(offset) = declares(&text, name) {
                return Place(Error::at(&def.path, at(header.line), "").header(format!(
                    "{} (line {})",
                    header.written,
                    offset + 1
                )));
            }
        }
        let line = listing.map_or_else(|| def.line_of("headers"), |w| w.line);
        let headers: Vec<&str> = self.p.headers.iter().map(|h| h.written.as_str()).collect();
        let header =
            if headers.is_empty() { "(a header included by the C code)".to_string() } else { headers.join(", ") };
        Place(Error::at(&def.path, line, "").header(header))
    }
}

/// C text with comments blanked out, lines kept.
fn without_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('/', Some('/')) => {
                while let Some(&next) = chars.peek() {
                    if next == '\n' {
                        break;
                    }
                    chars.next();
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for next in chars.by_ref() {
                    if next == '\n' {
                        out.push('\n');
                    }
                    if last == '*' && next == '/' {
                        break;
                    }
                    last = next;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

/// The 0-based line on which `text` declares the variable `name`: the word followed by `;`, `=`,
/// `,` or `[`, not by `(` (a function).
fn declares_global(text: &str, name: &str) -> Option<usize> {
    find_word(text, name, |after| after.starts_with([';', '=', ',', '[']))
}

/// The 0-based line on which `text` declares the type `name`: `struct name {`, or `} name;`.
fn declares_type(text: &str, name: &str) -> Option<usize> {
    find_word(text, name, |after| after.starts_with([';', '{']))
}

fn find_word(text: &str, name: &str, accept: impl Fn(&str) -> bool) -> Option<usize> {
    let text = without_comments(text);
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut from = 0;
    while let Some(found) = text[from..].find(name) {
        let start = from + found;
        let end = start + name.len();
        from = end;
        if text[..start].ends_with(is_word) || text[end..].starts_with(is_word) {
            continue;
        }
        if accept(text[end..].trim_start()) {
            return Some(text[..start].matches('\n').count());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_are_found_by_line() {
        let text =
            "/* sharedData; in a comment */\nint sharedDataCount;\nvoid sharedData(void);\nSharedData sharedData;\n";
        assert_eq!(declares_global(text, "sharedData"), Some(3));
        assert_eq!(declares_type("typedef struct {\n  int version;\n} SharedData;\n", "SharedData"), Some(2));
    }
}
