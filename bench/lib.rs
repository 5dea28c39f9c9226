//! Benchmarks for Legitimera live beside this file, one `[[bench]]` each; they print ratios
//! against a baseline measured in the same run, so the figure means the same on any machine.
//! They are not tests: run them with `cargo bench -p legitimera-bench`.

use std::time::Duration;

/// Median, 95th percentile and maximum of a set of timings (nearest rank).
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    pub count: usize,
    pub median: Duration,
    pub p95: Duration,
    pub max: Duration,
}

impl Summary {
    /// Panics on an empty set: a bench that measured nothing has a bug.
    pub fn of(mut samples: Vec<Duration>) -> Self {
        assert!(!samples.is_empty(), "no samples");
        samples.sort();
        let rank = |p: f64| {
            samples[((p * samples.len() as f64).ceil() as usize).clamp(1, samples.len()) - 1]
        };
        Summary {
            count: samples.len(),
            median: rank(0.5),
            p95: rank(0.95),
            max: samples[samples.len() - 1],
        }
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        write!(
            f,
            "median {:.2} ms, p95 {:.2} ms, max {:.2} ms (n = {})",
            ms(self.median),
            ms(self.p95),
            ms(self.max),
            self.count
        )
    }
}
