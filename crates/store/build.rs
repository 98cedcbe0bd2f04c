//! `sqlx::migrate!` embeds the migration files at compile time; without this, a new
//! migration alone would not rebuild the crate and stay out of the binary.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
