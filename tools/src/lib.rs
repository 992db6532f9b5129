//! opsledger's tools beside the application, called by the `opsledger` command's `demo`,
//! `bench` and `load` subcommands: the generator of a realistic demo month (`demo_data`) and
//! its recording (`demo`), the throughput benchmark (`bench`) and the sustained load test
//! (`load`). They work through `opsledger_app`; the benchmark and the load test print their
//! figures themselves, since printing them is what they are for.

pub mod bench;
pub mod demo;
pub mod demo_data;
pub mod error;
pub mod load;
mod pgbench;

pub use error::{ToolError, ToolResult};
