//! opsledger's tools beside the application, called by the `opsledger` command's `demo`,
//! `bench`, `load` and `bench-serve` subcommands: the generator of a realistic demo month
//! (`demo_data`) and its recording (`demo`), the throughput benchmark (`bench`), the sustained
//! load test (`load`) and the load client of the desk's JSON API (`serve_bench`). They work
//! through `opsledger_app` (the load client through HTTP only); the benchmarks and the load
//! test print or hand back their figures themselves, since measuring is what they are for.

pub mod bench;
pub mod demo;
pub mod demo_data;
pub mod error;
pub mod load;
mod pgbench;
pub mod serve_bench;

pub use error::{ToolError, ToolResult};
