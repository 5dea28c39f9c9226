//! Benchmarks for Legitimera live beside this file, one `[[bench]]` each; they print ratios
//! against a baseline measured in the same run, so the figure means the same on any machine.
//! They are not tests: run them with `cargo bench -p legitimera-bench`.
