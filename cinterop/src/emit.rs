//! The Rust module: bindgen's bindings in `sys`, and floe's accessors beside them.

use crate::analyse::{Detached, Layout, Plan, SharedGlobal};
use crate::Prepared;
use std::fmt::Write;

const FLOE_SHARED_DATA: &str = "floe::ffi::shared_data::SharedData";

pub(crate) fn module(p: &Prepared, plan: &Plan) -> String {
    let mut body = String::new();
    let def = p.def.path.display();
    let _ = writeln!(
        body,
        "#![allow(dead_code, non_camel_case_types, non_snake_case, non_upper_case_globals, unused_imports, clippy::all)]\n\
         //! Bindings for `{def}`, written by floe-cinterop: bindgen's in [`sys`], floe's accessors here.\n\n\
         /// What bindgen declares for the headers and C code of `{def}`; `floe_shared_data` is floe's own struct.\n\
         pub mod sys {{\n\
         #![allow(dead_code, non_camel_case_types, non_snake_case, non_upper_case_globals, unused_imports, clippy::all)]\n\
         pub type floe_shared_data = {FLOE_SHARED_DATA};\n\
         {}\n}}\n",
        p.code
    );
    for name in &plan.kotlin_layouts {
        kotlin_layout(&mut body, p, name);
    }
    for global in &plan.shared {
        shared_global(&mut body, p, global);
    }
    for layout in &plan.layouts {
        segment_layout(&mut body, p, layout);
    }
    for detached in &plan.detached {
        detached_graph(&mut body, detached);
    }
    let mut module = format!("// Written by floe-cinterop from {def}: do not edit.\n");
    for segment in &p.package {
        let _ = writeln!(module, "pub mod {segment} {{");
    }
    module.push_str(&body);
    for _ in &p.package {
        module.push_str("}\n");
    }
    module
}

/// Rust's checks that a Kotlin-layout struct is floe_shared_data.
fn kotlin_layout(out: &mut String, p: &Prepared, name: &str) {
    let fields = p.bindings.fields(name).unwrap_or_default();
    let (version, object) = (&fields[0].name, &fields[1].name);
    let _ = writeln!(
        out,
        "// `{name}` has Kotlin/Native's SharedData layout, which is floe_shared_data's.\n\
         const _: () = {{\n\
         \x20   assert!(::core::mem::size_of::<sys::{name}>() == ::core::mem::size_of::<{FLOE_SHARED_DATA}>());\n\
         \x20   assert!(::core::mem::align_of::<sys::{name}>() == ::core::mem::align_of::<{FLOE_SHARED_DATA}>());\n\
         \x20   assert!(::core::mem::offset_of!(sys::{name}, {version}) == ::core::mem::offset_of!({FLOE_SHARED_DATA}, version));\n\
         \x20   assert!(::core::mem::offset_of!(sys::{name}, {object}) == ::core::mem::offset_of!({FLOE_SHARED_DATA}, object));\n\
         }};\n"
    );
}

fn shared_global(out: &mut String, p: &Prepared, global: &SharedGlobal) {
    let name = &global.global;
    let function = rust_name(&snake_case(name));
    let ty = global.layout.as_deref().unwrap_or("floe_shared_data");
    let _ = writeln!(
        out,
        "/// The C global `{name}` (a `{ty}`, from `{def}`) as floe's SharedData: `publish` and `read`\n\
         /// a frozen graph from any thread, `put` and `take` a mutable one, while C code uses the same\n\
         /// struct through `floe_shared_data_*`.\n\
         pub fn {function}() -> &'static floe::SharedCell {{\n\
         \x20   // SAFETY: `{name}` is a C global, aligned and alive for the whole program, whose struct has\n\
         \x20   // floe_shared_data's layout (checked at build time and by the asserts above); C and Rust\n\
         \x20   // change it only through floe's functions, and it is host memory, not a segment's slot.\n\
         \x20   unsafe {{ floe::SharedCell::from_ptr(::core::ptr::addr_of_mut!(sys::{name}).cast::<{FLOE_SHARED_DATA}>()) }}\n\
         }}\n",
        def = p.def.path.display()
    );
}

fn segment_layout(out: &mut String, p: &Prepared, layout: &Layout) {
    let name = &layout.name;
    let count = layout.fields.len();
    let names: Vec<String> = layout.fields.iter().map(|f| format!("{f:?}")).collect();
    let _ = writeln!(
        out,
        "// A segment layout's fields are slots of equal size: field i is slot i, as C's FLOE_SLOT says.\n\
         const _: () = assert!(::core::mem::size_of::<sys::{name}>() == {count} * ::core::mem::size_of::<{FLOE_SHARED_DATA}>());\n\n\
         /// A segment laid out by the C struct `{name}` (from `{def}`): one slot per field, in field\n\
         /// order, each named by its field — `FLOE_SLOT({name}, field)` gives C the same index.\n\
         #[derive(Clone, Debug)]\n\
         pub struct {name} {{\n\
         \x20   segment: floe::Segment,\n\
         \x20   slots: ::std::vec::Vec<floe::SlotData>,\n\
         }}\n\n\
         impl {name} {{\n\
         \x20   /// The number of slots: one per field.\n\
         \x20   pub const SLOTS: u32 = {count};\n\
         \x20   /// The fields, in slot order; each names its slot.\n\
         \x20   pub const FIELDS: [&'static str; {count}] = [{fields}];\n\n\
         \x20   /// The slot of `field`, if the layout has it.\n\
         \x20   pub fn slot_of(field: &str) -> ::core::option::Option<u32> {{\n\
         \x20       Self::FIELDS.iter().position(|f| *f == field).map(|i| i as u32)\n\
         \x20   }}\n\n\
         \x20   /// Creates the segment `name` ({count} slots, each named by its field) of `size` bytes with\n\
         \x20   /// `reader_capacity` reader entries, as [`floe::Segment::create`].\n\
         \x20   pub fn create(name: &str, size: u64, reader_capacity: u32) -> floe::Result<{name}> {{\n\
         \x20       let segment = floe::Segment::create(name, size, Self::SLOTS, reader_capacity)?;\n\
         \x20       for (slot, field) in Self::FIELDS.iter().enumerate() {{\n\
         \x20           segment.name_slot(slot as u32, field)?;\n\
         \x20       }}\n\
         \x20       Self::over(segment)\n\
         \x20   }}\n\n\
         \x20   /// Opens the segment `name`, made by this layout in any language, as [`floe::Segment::open`].\n\
         \x20   pub fn open(name: &str) -> floe::Result<{name}> {{\n\
         \x20       Self::over(floe::Segment::open(name)?)\n\
         \x20   }}\n\n\
         \x20   /// The layout over an open segment: it has a slot per field, and a slot named by a field\n\
         \x20   /// is that field's (an unnamed one is taken as laid out). Otherwise an error (`ErrHost`)\n\
         \x20   /// says what differs.\n\
         \x20   pub fn over(segment: floe::Segment) -> floe::Result<{name}> {{\n\
         \x20       if segment.slot_count() < Self::SLOTS {{\n\
         \x20           return Err(floe::Error::host(format!(\n\
         \x20               \"{{segment:?}} has {{}} slots; the layout {name} has {count}\", segment.slot_count())));\n\
         \x20       }}\n\
         \x20       let mut slots = ::std::vec::Vec::with_capacity({count});\n\
         \x20       for (slot, field) in Self::FIELDS.iter().enumerate() {{\n\
         \x20           match segment.slot_by_name(field) {{\n\
         \x20               Ok(named) if named != slot as u32 => {{\n\
         \x20                   return Err(floe::Error::host(format!(\n\
         \x20                       \"{{segment:?}} names slot {{named}} `{{field}}`; the layout {name} puts {{field}} at slot {{slot}}\")));\n\
         \x20               }}\n\
         \x20               Err(error) if error.status() != floe::Status::ErrNotFound => return Err(error),\n\
         \x20               _ => {{}}\n\
         \x20           }}\n\
         \x20           slots.push(segment.shared_data(slot as u32)?);\n\
         \x20       }}\n\
         \x20       Ok({name} {{ segment, slots }})\n\
         \x20   }}\n\n\
         \x20   /// The segment.\n\
         \x20   pub fn segment(&self) -> &floe::Segment {{\n\
         \x20       &self.segment\n\
         \x20   }}\n",
        def = p.def.path.display(),
        fields = names.join(", "),
    );
    for (slot, field) in layout.fields.iter().enumerate() {
        let _ = writeln!(
            out,
            "    /// Slot {slot}, field `{field}`: publish and read its frozen graph from any process.\n\
             \x20   pub fn {function}(&self) -> &floe::SlotData {{\n\
             \x20       &self.slots[{slot}]\n\
             \x20   }}\n",
            function = rust_name(&snake_case(field)),
        );
    }
    out.push_str("}\n\n");
}

fn detached_graph(out: &mut String, detached: &Detached) {
    match detached {
        Detached::Field { strukt, field } => {
            let snake = snake_case(field);
            let _ = writeln!(
                out,
                "impl sys::{strukt} {{\n\
                 \x20   /// Attaches the detached graph C code left in `{field}` to the calling thread (`None`\n\
                 \x20   /// when it holds NULL) and leaves NULL there. A pointer floe did not issue, or one\n\
                 \x20   /// attached already, is an error (the pointer is not dereferenced).\n\
                 \x20   pub fn take_{snake}(&mut self) -> floe::Result<::core::option::Option<floe::Object>> {{\n\
                 \x20       let graph = ::core::mem::replace(&mut self.{field}, ::core::ptr::null_mut());\n\
                 \x20       if graph.is_null() {{\n\
                 \x20           return Ok(None);\n\
                 \x20       }}\n\
                 \x20       floe::DetachedGraph::from_raw(graph)?.attach().map(Some)\n\
                 \x20   }}\n\n\
                 \x20   /// Stores `graph` in `{field}` (NULL for `None`), for C code to attach with\n\
                 \x20   /// `floe_graph_attach`; gives back the graph it held, still detached.\n\
                 \x20   pub fn set_{snake}(&mut self, graph: ::core::option::Option<floe::DetachedGraph>)\n\
                 \x20       -> floe::Result<::core::option::Option<floe::DetachedGraph>> {{\n\
                 \x20       let new = match graph {{ Some(graph) => graph.into_raw()?, None => ::core::ptr::null_mut() }};\n\
                 \x20       let old = ::core::mem::replace(&mut self.{field}, new);\n\
                 \x20       if old.is_null() {{ Ok(None) }} else {{ floe::DetachedGraph::from_raw(old).map(Some) }}\n\
                 \x20   }}\n\
                 }}\n"
            );
        }
        Detached::Global { global } => {
            atomic_slot(out, &snake_case(global), &format!("sys::{global}"), &format!("the C global `{global}`"))
        }
        Detached::GlobalField { global, field } => atomic_slot(
            out,
            &format!("{}_{}", snake_case(global), snake_case(field)),
            &format!("sys::{global}.{field}"),
            &format!("the field `{field}` of the C global `{global}`"),
        ),
    }
}

/// `take_<name>` and `set_<name>` over a `void *` in a C global, swapped atomically.
fn atomic_slot(out: &mut String, name: &str, place: &str, what: &str) {
    let _ = writeln!(
        out,
        "/// The `void *` in {what}, as an atomic pointer: C code stores a detached graph there with\n\
         /// an atomic store (`__atomic_store_n`, `atomic_store`) or before synchronising with the\n\
         /// Rust thread that takes it.\n\
         fn {name}_cell() -> &'static ::core::sync::atomic::AtomicPtr<::core::ffi::c_void> {{\n\
         \x20   // SAFETY: a C global's field, aligned and alive for the whole program; it is accessed\n\
         \x20   // atomically here, and C code writes it atomically or before a synchronisation (above).\n\
         \x20   unsafe {{ ::core::sync::atomic::AtomicPtr::from_ptr(::core::ptr::addr_of_mut!({place}).cast()) }}\n\
         }}\n\n\
         /// Attaches the detached graph C code left in {what} to the calling thread\n\
         /// (`None` when it holds NULL), leaving NULL there; the swap is atomic, so one taker wins.\n\
         pub fn take_{name}() -> floe::Result<::core::option::Option<floe::Object>> {{\n\
         \x20   let graph = {name}_cell().swap(::core::ptr::null_mut(), ::core::sync::atomic::Ordering::AcqRel);\n\
         \x20   if graph.is_null() {{\n\
         \x20       return Ok(None);\n\
         \x20   }}\n\
         \x20   floe::DetachedGraph::from_raw(graph)?.attach().map(Some)\n\
         }}\n\n\
         /// Stores `graph` in {what} (NULL for `None`), for C code to attach with\n\
         /// `floe_graph_attach`; gives back the graph it held, still detached.\n\
         pub fn set_{name}(graph: ::core::option::Option<floe::DetachedGraph>)\n\
         \x20   -> floe::Result<::core::option::Option<floe::DetachedGraph>> {{\n\
         \x20   let new = match graph {{ Some(graph) => graph.into_raw()?, None => ::core::ptr::null_mut() }};\n\
         \x20   let old = {name}_cell().swap(new, ::core::sync::atomic::Ordering::AcqRel);\n\
         \x20   if old.is_null() {{ Ok(None) }} else {{ floe::DetachedGraph::from_raw(old).map(Some) }}\n\
         }}\n"
    );
}

/// `sharedData` → `shared_data`, `HTTPServer` → `http_server`.
pub(crate) fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let after_lower = i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let before_lower =
                i > 0 && chars[i - 1].is_ascii_uppercase() && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if (after_lower || before_lower) && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `name` usable as a Rust function name: a keyword gets `r#`.
fn rust_name(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn", "for", "if", "impl",
        "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref", "return", "static", "struct", "trait",
        "true", "type", "unsafe", "use", "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do",
        "final", "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KEYWORDS.contains(&name) {
        format!("r#{name}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_snake_case() {
        assert_eq!(snake_case("sharedData"), "shared_data");
        assert_eq!(snake_case("HTTPServer"), "http_server");
        assert_eq!(snake_case("prices"), "prices");
        assert_eq!(snake_case("kotlin_object"), "kotlin_object");
        assert_eq!(rust_name("match"), "r#match");
    }
}
