//! The `rathaus` binary's library part: configuration, assembly of the product, demo data and
//! admin tasks. The end-to-end tests start the product through it.

pub mod admin;
pub mod config;
pub mod seed;
pub mod server;
