//! `floe bench`: the side-by-side benchmark report (to be written).

pub fn run(_args: &[String]) -> i32 {
    eprintln!("floe bench: not written yet");
    1
}
