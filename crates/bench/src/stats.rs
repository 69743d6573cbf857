//! Percentiles and number formatting.

/// The median, 99th percentile and extremes of a set of samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// Summarizes `samples` (sorted in place). `None` when there are none.
    pub fn of(samples: &mut [f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        samples.sort_by(f64::total_cmp);
        Some(Summary {
            count: samples.len(),
            min: samples[0],
            median: percentile(samples, 50.0),
            p90: percentile(samples, 90.0),
            p99: percentile(samples, 99.0),
            max: samples[samples.len() - 1],
            mean: samples.iter().sum::<f64>() / samples.len() as f64,
        })
    }
}

/// The `p`th percentile of `sorted` (ascending), by nearest rank: the
/// smallest sample with at least `p`% of the samples at or below it.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    assert!(!sorted.is_empty(), "percentile of no samples");
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `1234567.8` → `1,234,568`: a whole number with thousands separators.
pub fn thousands(value: f64) -> String {
    let rounded = value.round();
    let digits = format!("{}", rounded.abs() as u64);
    let mut text = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            text.push(',');
        }
        text.push(digit);
    }
    if rounded < 0.0 {
        text.insert(0, '-');
    }
    text
}

/// A figure with about three significant digits: `0.0421` → `0.042`,
/// `4.56789` → `4.57`, `42.17` → `42.2`, `1234.5` → `1,235`.
pub fn sig3(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1000.0 {
        thousands(value)
    } else if magnitude >= 100.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else if magnitude >= 0.1 {
        format!("{value:.3}")
    } else {
        format!("{value:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let summary = Summary::of(&mut samples).unwrap();
        assert_eq!(summary.median, 50.0);
        assert_eq!(summary.p90, 90.0);
        assert_eq!(summary.p99, 99.0);
        assert_eq!((summary.min, summary.max), (1.0, 100.0));
        assert_eq!(summary.mean, 50.5);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert_eq!(Summary::of(&mut []), None);
    }

    #[test]
    fn formats_figures() {
        assert_eq!(thousands(1_234_567.6), "1,234,568");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(-1000.0), "-1,000");
        assert_eq!(sig3(0.04213), "0.0421");
        assert_eq!(sig3(0.4213), "0.421");
        assert_eq!(sig3(4.56789), "4.57");
        assert_eq!(sig3(42.17), "42.2");
        assert_eq!(sig3(123.4), "123");
        assert_eq!(sig3(12345.0), "12,345");
    }
}
