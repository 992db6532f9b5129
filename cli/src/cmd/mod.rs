//! The commands built on the application layer: each converts its clap arguments into the
//! parameters of an `opsledger_app` use case, calls it, and prints or renders the result.

pub mod bench;
pub mod bench_serve;
pub mod clients;
pub mod demo;
pub mod desk;
pub mod explain;
pub mod export;
pub mod import;
pub mod load;
pub mod publish;
pub mod record;
pub mod report;
pub mod retention;
pub mod serve;
pub mod timeline;
