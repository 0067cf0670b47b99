//! Percentiles and medians.

use serde::Serialize;

/// Latency distribution in milliseconds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

/// Summarizes latencies given in microseconds.
pub fn summarize(mut us: Vec<u64>) -> Summary {
    if us.is_empty() {
        return Summary::default();
    }
    us.sort_unstable();
    let pick = |q: f64| {
        let idx = ((us.len() as f64 * q).ceil() as usize).clamp(1, us.len()) - 1;
        us[idx] as f64 / 1000.0
    };
    Summary {
        count: us.len(),
        p50_ms: pick(0.50),
        p95_ms: pick(0.95),
        p99_ms: pick(0.99),
        max_ms: *us.last().unwrap_or(&0) as f64 / 1000.0,
        mean_ms: us.iter().sum::<u64>() as f64 / us.len() as f64 / 1000.0,
    }
}

/// Median of several runs' values.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_pick_the_right_ranks() {
        let s = summarize((1..=100).map(|i| i * 1000).collect());
        assert_eq!(
            (s.p50_ms, s.p95_ms, s.p99_ms, s.max_ms),
            (50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}
