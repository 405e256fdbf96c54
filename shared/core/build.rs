//! The migrations are embedded at compile time (`db::embedded`): rebuild when one is added or
//! changed, which Cargo cannot see on its own.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
