//! `floe demo`: a guided tour (to be written).

pub fn run() -> i32 {
    1
}
