//! Types, objects, fields and lists.

use crate::harness::assert_error;
use floe::{Kind, Object, ObjectType, Status};

crate::tests![
    fields_start_at_zero_and_keep_what_is_written,
    fields_are_found_by_name,
    wrong_kinds_and_indices_are_errors,
    bad_type_definitions_are_rejected,
    lists_grow_and_hold_any_kind,
    list_operations_refuse_other_objects,
    references_can_be_read_back_and_cleared,
];

pub fn point_type() -> ObjectType {
    ObjectType::define(
        "Point",
        &[
            ("x", Kind::Int),
            ("weight", Kind::Double),
            ("visible", Kind::Bool),
            ("label", Kind::String),
            ("next", Kind::Ref),
        ],
    )
    .unwrap()
}

fn fields_start_at_zero_and_keep_what_is_written() {
    let ty = point_type();
    let p = Object::new(ty).unwrap();
    assert_eq!((p.get_int(0).unwrap(), p.get_double(1).unwrap(), p.get_bool(2).unwrap()), (0, 0.0, false));
    assert_eq!(p.get_string(3).unwrap(), "");
    assert!(p.get_ref(4).unwrap().is_none());
    p.set_int(0, -42).unwrap();
    p.set_double(1, 2.5).unwrap();
    p.set_bool(2, true).unwrap();
    p.set_string(3, "héllo, wörld").unwrap();
    assert_eq!((p.get_int(0).unwrap(), p.get_double(1).unwrap(), p.get_bool(2).unwrap()), (-42, 2.5, true));
    assert_eq!(p.get_string(3).unwrap(), "héllo, wörld");
    assert_eq!(p.len().unwrap(), 5);
    assert_eq!(p.kind_at(3).unwrap(), Kind::String);
    assert_eq!(p.object_type().unwrap(), ty, "the id floe_type_define gave");
    assert_eq!(ty.name(), "Point");
}

fn fields_are_found_by_name() {
    let ty = point_type();
    assert_eq!(ty.field("label").unwrap(), 3);
    assert_error(ty.field("colour"), Status::ErrUnknownField, &["Point has no field \"colour\"", "x, weight"]);
    assert_eq!(ObjectType::from_id(ty.id()).unwrap(), ty);
    assert_error(ObjectType::from_id(0), Status::ErrUnknownType, &["type id 0"]);
}

fn wrong_kinds_and_indices_are_errors() {
    let p = Object::new(point_type()).unwrap();
    let id = p.id().unwrap();
    assert_error(
        p.set_string(0, "x"),
        Status::ErrWrongKind,
        &[&format!("set Point#{id}.x"), "holds an int, not a string"],
    );
    assert_error(p.get_int(3), Status::ErrWrongKind, &["Point", ".label"]);
    assert_error(p.get_int(5), Status::ErrOutOfRange, &["has 5 fields"]);
    assert_error(p.set_int(usize::MAX, 1), Status::ErrOutOfRange, &[]);
    assert_eq!(p.get_int(0).unwrap(), 0, "a failed set changes nothing");
}

fn bad_type_definitions_are_rejected() {
    assert_error(ObjectType::define("", &[]), Status::ErrInvalidArgument, &["empty"]);
    assert_error(
        ObjectType::define("T", &[("a", Kind::Int), ("a", Kind::Bool)]),
        Status::ErrInvalidArgument,
        &["two fields named a"],
    );
    assert_error(ObjectType::define("T", &[("", Kind::Int)]), Status::ErrInvalidArgument, &["empty name"]);
}

fn lists_grow_and_hold_any_kind() {
    let list = Object::new_list().unwrap();
    assert!(list.is_empty().unwrap());
    list.push_int(7).unwrap();
    list.push_string("seven").unwrap();
    list.push_double(7.5).unwrap();
    list.push_bool(true).unwrap();
    let child = Object::new_list().unwrap();
    list.push_ref(Some(&child)).unwrap();
    list.push_ref(None).unwrap();
    assert_eq!(list.len().unwrap(), 6);
    assert_eq!(list.get_string(1).unwrap(), "seven");
    list.set_string(0, "now a string").unwrap();
    assert_eq!(list.kind_at(0).unwrap(), Kind::String);
    assert_eq!(list.get_ref(4).unwrap().unwrap().id().unwrap(), child.id().unwrap());
    assert_error(list.get_int(6), Status::ErrOutOfRange, &["has 6 elements"]);
    assert_eq!(list.object_type().unwrap(), ObjectType::LIST);
    for i in 0..1000 {
        list.push_int(i).unwrap();
    }
    assert_eq!(list.get_int(1005).unwrap(), 999);
}

fn list_operations_refuse_other_objects() {
    let p = Object::new(point_type()).unwrap();
    assert_error(p.push_int(1), Status::ErrNotAList, &["is not a list"]);
    assert_error(Object::new(ObjectType::LIST).unwrap().get_int(0), Status::ErrOutOfRange, &[]);
}

fn references_can_be_read_back_and_cleared() {
    let ty = point_type();
    let a = Object::new(ty).unwrap();
    let b = Object::new(ty).unwrap();
    b.set_int(0, 99).unwrap();
    a.set_ref(4, Some(&b)).unwrap();
    drop(b);
    let b_again = a.get_ref(4).unwrap().expect("a keeps b alive");
    assert_eq!(b_again.get_int(0).unwrap(), 99);
    a.set_ref(4, None).unwrap();
    assert!(a.get_ref(4).unwrap().is_none());
    a.set_ref(4, Some(&a)).unwrap();
    assert_eq!(a.get_ref(4).unwrap().unwrap().id().unwrap(), a.id().unwrap());
}
