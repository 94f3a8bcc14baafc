//! What bindgen declared, read back from its Rust output: type aliases, structs with their
//! fields, and extern statics (the C globals). Types are reduced to the shapes floe cares about.

use quote::ToTokens;
use std::collections::HashMap;

/// A field or a global's type, as far as floe cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shape {
    /// A 32-bit signed integer (`int`, `int32_t`).
    Int32,
    /// `void *`.
    VoidPtr,
    /// floe's own `floe_shared_data`.
    FloeSharedData,
    /// A struct declared in the bindings, by its Rust name.
    Struct(String),
    /// Anything else.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Field {
    pub name: String,
    pub ty: syn::Type,
}

#[derive(Debug, Clone)]
pub(crate) struct Global {
    pub name: String,
    pub ty: syn::Type,
}

#[derive(Debug, Default)]
pub(crate) struct Bindings {
    aliases: HashMap<String, syn::Type>,
    /// Structs in declaration order.
    pub structs: Vec<(String, Vec<Field>)>,
    pub globals: Vec<Global>,
}

impl Bindings {
    /// Reads bindgen's output.
    pub fn read(code: &str) -> Result<Bindings, String> {
        let file = syn::parse_file(code).map_err(|e| format!("bindgen's output does not parse: {e}"))?;
        let mut bindings = Bindings::default();
        for item in file.items {
            match item {
                syn::Item::Type(alias) => {
                    bindings.aliases.insert(alias.ident.to_string(), *alias.ty);
                }
                syn::Item::Struct(item) => {
                    let fields = match item.fields {
                        syn::Fields::Named(named) => named
                            .named
                            .into_iter()
                            .map(|f| Field { name: f.ident.map(|i| i.to_string()).unwrap_or_default(), ty: f.ty })
                            .collect(),
                        _ => Vec::new(),
                    };
                    bindings.structs.push((item.ident.to_string(), fields));
                }
                syn::Item::ForeignMod(block) => {
                    for foreign in block.items {
                        if let syn::ForeignItem::Static(global) = foreign {
                            bindings.globals.push(Global { name: global.ident.to_string(), ty: *global.ty });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(bindings)
    }

    pub fn fields(&self, name: &str) -> Option<&[Field]> {
        self.structs.iter().find(|(n, _)| n == name).map(|(_, f)| f.as_slice())
    }

    pub fn global(&self, name: &str) -> Option<&Global> {
        self.globals.iter().find(|g| g.name == name)
    }

    /// The shape of `ty`, through aliases.
    pub fn shape(&self, ty: &syn::Type) -> Shape {
        self.shape_at(ty, 0)
    }

    fn shape_at(&self, ty: &syn::Type, depth: usize) -> Shape {
        if depth > 32 {
            return Shape::Other;
        }
        match ty {
            syn::Type::Path(path) => {
                let Some(last) = path.path.segments.last() else { return Shape::Other };
                let name = last.ident.to_string();
                match name.as_str() {
                    "floe_shared_data" => Shape::FloeSharedData,
                    "c_int" | "i32" => Shape::Int32,
                    _ if path.path.segments.len() == 1 => {
                        if let Some(target) = self.aliases.get(&name) {
                            self.shape_at(target, depth + 1)
                        } else if self.fields(&name).is_some() {
                            Shape::Struct(name)
                        } else {
                            Shape::Other
                        }
                    }
                    _ => Shape::Other,
                }
            }
            syn::Type::Ptr(pointer) if pointer.mutability.is_some() => match &*pointer.elem {
                syn::Type::Path(path) if path.path.segments.last().is_some_and(|s| s.ident == "c_void") => {
                    Shape::VoidPtr
                }
                _ => Shape::Other,
            },
            syn::Type::Paren(inner) => self.shape_at(&inner.elem, depth + 1),
            syn::Type::Group(inner) => self.shape_at(&inner.elem, depth + 1),
            _ => Shape::Other,
        }
    }

    /// The name a global's type is written with, when it is a plain name (`SharedData`).
    pub fn type_name(ty: &syn::Type) -> Option<String> {
        match ty {
            syn::Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        }
    }

    /// Whether struct `name` has Kotlin/Native's SharedData layout, which is floe_shared_data's:
    /// a 32-bit `int` then a `void *`, nothing else.
    pub fn is_shared_data_layout(&self, name: &str) -> bool {
        match self.fields(name) {
            Some([version, object]) => {
                self.shape(&version.ty) == Shape::Int32 && self.shape(&object.ty) == Shape::VoidPtr
            }
            _ => false,
        }
    }

    /// Whether struct `name` is meant as a SharedData: so named (any struct whose name holds
    /// `SharedData`, in any case) or holding a `kotlinObject` field, as Kotlin's does.
    pub fn looks_like_shared_data(&self, name: &str) -> bool {
        name.to_ascii_lowercase().contains("shareddata")
            || self.fields(name).is_some_and(|fields| fields.iter().any(|f| f.name == "kotlinObject"))
    }

    /// `ty` written as C, for messages.
    pub fn c_type(ty: &syn::Type) -> String {
        match ty {
            syn::Type::Ptr(pointer) => {
                let inner = Bindings::c_type(&pointer.elem);
                if pointer.mutability.is_some() {
                    format!("{inner} *")
                } else {
                    format!("const {inner} *")
                }
            }
            syn::Type::Array(array) => {
                format!("{}[{}]", Bindings::c_type(&array.elem), array.len.to_token_stream())
            }
            syn::Type::Path(path) => {
                let name = path.path.segments.last().map(|s| s.ident.to_string()).unwrap_or_default();
                let c = match name.as_str() {
                    "c_void" => "void",
                    "c_char" => "char",
                    "c_schar" => "signed char",
                    "c_uchar" => "unsigned char",
                    "c_short" => "short",
                    "c_ushort" => "unsigned short",
                    "c_int" => "int",
                    "c_uint" => "unsigned int",
                    "c_long" => "long",
                    "c_ulong" => "unsigned long",
                    "c_longlong" => "long long",
                    "c_ulonglong" => "unsigned long long",
                    "c_float" => "float",
                    "c_double" => "double",
                    "i8" => "int8_t",
                    "u8" => "uint8_t",
                    "i16" => "int16_t",
                    "u16" => "uint16_t",
                    "i32" => "int32_t",
                    "u32" => "uint32_t",
                    "i64" => "int64_t",
                    "u64" => "uint64_t",
                    "usize" => "size_t",
                    "isize" => "ptrdiff_t",
                    "bool" => "bool",
                    other => other,
                };
                c.to_string()
            }
            other => other.to_token_stream().to_string(),
        }
    }

    /// Struct `name`'s fields written as C: `{ long version; void *kotlinObject; }`.
    pub fn c_fields(&self, name: &str) -> String {
        let fields = self.fields(name).unwrap_or_default();
        let inner: Vec<String> = fields
            .iter()
            .map(|f| {
                let ty = Bindings::c_type(&f.ty);
                let gap = if ty.ends_with('*') { "" } else { " " };
                format!("{ty}{gap}{};", f.name)
            })
            .collect();
        format!("{{ {} }}", inner.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CODE: &str = r#"
        pub type int32_t = __int32_t;
        pub type __int32_t = ::std::os::raw::c_int;
        #[repr(C)] pub struct SharedData { pub version: ::std::os::raw::c_int, pub kotlinObject: *mut ::std::os::raw::c_void }
        #[repr(C)] pub struct Wide { pub version: ::std::os::raw::c_long, pub kotlinObject: *mut ::std::os::raw::c_void }
        #[repr(C)] pub struct Typed { pub version: int32_t, pub object: *mut ::std::os::raw::c_void }
        #[repr(C)] pub struct AppShared { pub config: floe_shared_data, pub prices: floe_shared_data }
        unsafe extern "C" { pub static mut sharedData: SharedData; pub static mut wide: Wide; }
    "#;

    #[test]
    fn layouts_are_told_apart() {
        let b = Bindings::read(CODE).unwrap();
        assert!(b.is_shared_data_layout("SharedData"));
        assert!(b.is_shared_data_layout("Typed"));
        assert!(!b.is_shared_data_layout("Wide"));
        assert!(b.looks_like_shared_data("Wide"));
        assert_eq!(b.c_fields("Wide"), "{ long version; void *kotlinObject; }");
        assert_eq!(b.shape(&b.fields("AppShared").unwrap()[1].ty), Shape::FloeSharedData);
        assert_eq!(b.globals.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["sharedData", "wide"]);
    }
}
