//! The `opsledger` command line.

fn main() {}
