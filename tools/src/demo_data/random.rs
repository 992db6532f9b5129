//! Seeded sampling for the demo month: one ChaCha8 stream per purpose, the few distributions
//! the generator draws from, and exact float-to-integer rounding.
//!
//! Every stream is derived from the run's seed and a label, so adding draws to one part of the
//! generator (say, QA) does not shift the numbers another part (say, call arrivals) sees.
//! ChaCha8 is value-stable across platforms and `rand` releases of the same major version; the
//! float transforms (`ln`, `exp`, `cos`) come from the platform's math library, so identical
//! output is promised for the same seed on the same build, which is what tests and benchmarks
//! rely on.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// Bits of an `f64` fraction (the mantissa without its implicit leading one).
const F64_FRACTION_BITS: u32 = 52;
/// The exponent bias of an `f64`, plus the fraction width: the exponent of the fraction's unit.
const F64_EXPONENT_OF_UNIT: i64 = 1075;
/// Mask of an `f64`'s 11 exponent bits once shifted down.
const F64_EXPONENT_MASK: u64 = 0x7ff;

/// A seeded stream of random draws for one purpose.
#[derive(Debug)]
pub(crate) struct Sampler {
    rng: ChaCha8Rng,
}

impl Sampler {
    /// The stream for `label` under `seed`.
    pub(crate) fn derive(seed: u64, label: &str) -> Self {
        let key = splitmix64(seed ^ fnv1a64(label.as_bytes()));
        Self {
            rng: ChaCha8Rng::seed_from_u64(key),
        }
    }

    /// A uniform draw from `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// True with probability `p` (clamped to `[0, 1]`, so a computed rate can never panic).
    pub(crate) fn chance(&mut self, p: f64) -> bool {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.rng.random_bool(p)
    }

    /// A uniform integer from `lo` to `hi`, both inclusive.
    pub(crate) fn between(&mut self, lo: u32, hi: u32) -> u32 {
        if hi <= lo {
            return lo;
        }
        self.rng.random_range(lo..=hi)
    }

    /// A uniform index below `len` (`len` must be positive).
    pub(crate) fn index(&mut self, len: usize) -> usize {
        debug_assert!(len > 0, "cannot pick from nothing");
        self.rng.random_range(0..len.max(1))
    }

    /// A standard exponential draw (mean 1): the gap between Poisson arrivals at unit rate.
    pub(crate) fn exp1(&mut self) -> f64 {
        // `unit` is in [0, 1), so `1 - unit` is in (0, 1] and its logarithm is finite.
        -(1.0 - self.unit()).ln()
    }

    /// A standard normal draw (Box–Muller; one of the pair is discarded for simplicity).
    pub(crate) fn normal(&mut self) -> f64 {
        let radius = (2.0 * self.exp1()).sqrt();
        radius * (std::f64::consts::TAU * self.unit()).cos()
    }

    /// A log-normal draw with the given median and shape: the usual model of service times.
    pub(crate) fn lognormal(&mut self, median: f64, sigma: f64) -> f64 {
        median * (sigma * self.normal()).exp()
    }

    /// An index drawn with the given integer weights (at least one must be positive).
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
        if total == 0 {
            return 0;
        }
        let mut ticket = self.rng.random_range(0..total);
        for (i, w) in weights.iter().enumerate() {
            let w = u64::from(*w);
            if ticket < w {
                return i;
            }
            ticket -= w;
        }
        weights.len().saturating_sub(1)
    }

    /// Picks `count` distinct indices below `len`, in ascending order (a partial shuffle).
    pub(crate) fn sample_indices(&mut self, len: usize, count: usize) -> Vec<usize> {
        let mut all: Vec<usize> = (0..len).collect();
        let count = count.min(len);
        for i in 0..count {
            let j = self.rng.random_range(i..len);
            all.swap(i, j);
        }
        all.truncate(count);
        all.sort_unstable();
        all
    }
}

/// Rounds a finite, non-negative float to the nearest integer, exactly and without an `as` cast.
///
/// The value is decomposed into its IEEE 754 fraction and exponent and shifted into place, so
/// the conversion is exact whenever the rounded value fits in a `u64`, and `None` otherwise
/// (negative, not finite, or too large): there is no silent saturation.
pub(crate) fn round_to_u64(x: f64) -> Option<u64> {
    if !x.is_finite() || x < 0.0 {
        return None;
    }
    let rounded = x.round();
    if rounded < 1.0 {
        return Some(0);
    }
    let bits = rounded.to_bits();
    let exponent_field = i64::try_from((bits >> F64_FRACTION_BITS) & F64_EXPONENT_MASK).ok()?;
    let mantissa = (bits & ((1_u64 << F64_FRACTION_BITS) - 1)) | (1_u64 << F64_FRACTION_BITS);
    let exponent = exponent_field - F64_EXPONENT_OF_UNIT;
    if exponent >= 0 {
        let shift = u32::try_from(exponent).ok()?;
        // The mantissa has 53 significant bits; shifting by more than 11 would lose the top.
        if shift > u64::BITS - F64_FRACTION_BITS - 1 {
            return None;
        }
        Some(mantissa << shift)
    } else {
        // A rounded value of at least one has no fraction bits below its unit, so this is exact.
        let shift = u32::try_from(-exponent).ok()?;
        Some(mantissa >> shift)
    }
}

/// Clamps a float to `[lo, hi]` and rounds it to a whole number of seconds (or any unit).
///
/// A NaN (which a distribution should never produce) becomes `lo` rather than a panic.
pub(crate) fn clamp_round(x: f64, lo: u32, hi: u32) -> u32 {
    let clamped = x.clamp(f64::from(lo), f64::from(hi));
    round_to_u64(clamped)
        .and_then(|v| u32::try_from(v).ok())
        .unwrap_or(lo)
}

/// SplitMix64's finaliser: spreads a seed's bits so nearby seeds give unrelated streams.
pub(crate) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// FNV-1a over bytes: a stable hash of a stream's label (std's hasher is not stable).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes
        .iter()
        .fold(OFFSET, |h, b| (h ^ u64::from(*b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_exact_and_refuses_what_does_not_fit() {
        assert_eq!(round_to_u64(0.0), Some(0));
        assert_eq!(round_to_u64(0.49), Some(0));
        assert_eq!(round_to_u64(0.5), Some(1));
        assert_eq!(round_to_u64(7.5), Some(8));
        assert_eq!(round_to_u64(1234.4), Some(1234));
        assert_eq!(round_to_u64(9_007_199_254_740_992.0), Some(1 << 53));
        assert_eq!(round_to_u64(1.8e19), Some(18_000_000_000_000_000_000));
        assert_eq!(round_to_u64(1.9e19), None);
        assert_eq!(round_to_u64(-1.0), None);
        assert_eq!(round_to_u64(f64::NAN), None);
        assert_eq!(round_to_u64(f64::INFINITY), None);
        for n in 0_u32..5_000 {
            assert_eq!(round_to_u64(f64::from(n)), Some(u64::from(n)));
        }
        assert_eq!(clamp_round(f64::NAN, 3, 9), 3);
        assert_eq!(clamp_round(100.0, 3, 9), 9);
    }

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: Vec<f64> = {
            let mut s = Sampler::derive(7, "calls");
            (0..4).map(|_| s.unit()).collect()
        };
        let b: Vec<f64> = {
            let mut s = Sampler::derive(7, "calls");
            (0..4).map(|_| s.unit()).collect()
        };
        let c: Vec<f64> = {
            let mut s = Sampler::derive(7, "qa");
            (0..4).map(|_| s.unit()).collect()
        };
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
