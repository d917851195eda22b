//! Deterministic seeded weights, bit-identical with `tools/seeded_weights.py`.
//!
//! Fixtures for large models store only inputs and outputs; both the Python reference and these
//! tests regenerate the same weights from a 64-bit seed (docs/team-brief.md, "Seeded weights"):
//!
//! ```text
//! seed = fnv1a64(utf8(name)) ^ global_seed
//! z_i  = splitmix64_mix(seed + (i + 1) * 0x9E3779B97F4A7C15)     (wrapping u64, i 0-based)
//! u_i  = (z_i >> 40) * 2^-24                                      (f64 in [0, 1))
//! ```
//!
//! and a value chosen by name and shape, computed in f64 and rounded once to f32:
//! running_mean `0.2(2u-1)`, running_var `0.5+u`, 1-D weight (BN gamma) `0.5+u`, Detect class
//! bias (`*.cv3.<k>.2.bias`) `-6+8u`, other bias `0.2(2u-1)`, >= 2-D weight
//! `(2u-1) sqrt(3/fan_in)`; `num_batches_tracked` and the Detect DFL conv are never generated.
//!
//! The rule checks run in the same order as the Python `rule_for`, with the same suffix tests.

use super::{WeightSource, WeightsError};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
const MIX_MUL1: u64 = 0xBF58_476D_1CE4_E5B9;
const MIX_MUL2: u64 = 0x94D0_49BB_1331_11EB;

/// Global seed of the GhostNet classifier fixtures (`SEED_GHOSTNET` in the Python tool).
pub const SEED_GHOSTNET: u64 = 0x6_0057_0001;
/// Global seed of the detector fixtures (`SEED_YOLO` in the Python tool).
pub const SEED_YOLO: u64 = 0x6_0057_0011;

/// FNV-1a 64 of a byte string.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(FNV_OFFSET, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_PRIME)
    })
}

/// The SplitMix64 finaliser.
pub fn splitmix64_mix(mut z: u64) -> u64 {
    z ^= z >> 30;
    z = z.wrapping_mul(MIX_MUL1);
    z ^= z >> 27;
    z = z.wrapping_mul(MIX_MUL2);
    z ^ (z >> 31)
}

/// `u_i` in `[0, 1)` for value `index` of a tensor with per-tensor seed `seed`.
pub fn uniform01(seed: u64, index: u64) -> f64 {
    let z = splitmix64_mix(seed.wrapping_add(index.wrapping_add(1).wrapping_mul(GOLDEN)));
    (z >> 40) as f64 * (1.0 / (1u64 << 24) as f64)
}

/// Which generation rule a tensor gets.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// `0.2 (2u - 1)`
    RunningMean,
    /// `0.5 + u`
    RunningVar,
    /// `0.5 + u` (1-D weight: BN gamma)
    Gamma,
    /// `-6 + 8u` (Detect class-logit bias)
    DetectClassBias,
    /// `0.2 (2u - 1)`
    Bias,
    /// `(2u - 1) sqrt(3 / fan_in)`
    FanIn {
        /// `prod(shape[1..])`
        fan_in: usize,
    },
}

impl Rule {
    /// The value for uniform draw `u`, in f64 (rounded to f32 by the caller).
    pub fn value(self, u: f64) -> f64 {
        match self {
            Rule::RunningMean | Rule::Bias => 0.2 * (2.0 * u - 1.0),
            Rule::RunningVar | Rule::Gamma => 0.5 + u,
            Rule::DetectClassBias => -6.0 + 8.0 * u,
            Rule::FanIn { fan_in } => (2.0 * u - 1.0) * (3.0 / fan_in as f64).sqrt(),
        }
    }
}

/// Why a tensor is not generated.
#[derive(Clone, Debug, PartialEq)]
pub enum NoRule {
    /// Deliberately never generated (`num_batches_tracked`, the Detect DFL conv).
    Skipped,
    /// No rule covers the name / shape.
    Unsupported(String),
}

/// Whether `name` ends with `.cv3.<digits>.2.bias` (the Python regex `\.cv3\.\d+\.2\.bias$`).
fn is_detect_class_bias(name: &str) -> bool {
    let Some(head) = name.strip_suffix(".2.bias") else {
        return false;
    };
    let digits = head.len() - head.trim_end_matches(|c: char| c.is_ascii_digit()).len();
    digits > 0 && head[..head.len() - digits].ends_with(".cv3.")
}

/// The rule for tensor `name` of `shape` (the Python `rule_for`).
pub fn rule_for(name: &str, shape: &[usize]) -> Result<Rule, NoRule> {
    if name.ends_with(".num_batches_tracked") || name.ends_with("dfl.conv.weight") {
        return Err(NoRule::Skipped);
    }
    if name.ends_with("running_mean") {
        return Ok(Rule::RunningMean);
    }
    if name.ends_with("running_var") {
        return Ok(Rule::RunningVar);
    }
    if name.ends_with("weight") {
        return match shape.len() {
            0 => Err(NoRule::Unsupported("a scalar weight has no rule".into())),
            1 => Ok(Rule::Gamma),
            _ => Ok(Rule::FanIn {
                fan_in: shape[1..].iter().product(),
            }),
        };
    }
    if name.ends_with("bias") {
        return Ok(if is_detect_class_bias(name) {
            Rule::DetectClassBias
        } else {
            Rule::Bias
        });
    }
    Err(NoRule::Unsupported(format!(
        "no rule for a tensor named like `{name}`"
    )))
}

/// Generates the seeded f32 values of tensor `name` with `shape`.
pub fn generate(name: &str, shape: &[usize], global_seed: u64) -> Result<Vec<f32>, NoRule> {
    let rule = rule_for(name, shape)?;
    let seed = fnv1a64(name.as_bytes()) ^ global_seed;
    let numel: usize = shape.iter().product();
    // The rule's constants once per tensor, not per element (the fan-in bound is a square
    // root); each value is still the exact f64 expression of `Rule::value`.
    let draws = (0..numel as u64).map(|i| uniform01(seed, i));
    Ok(match rule {
        Rule::FanIn { fan_in } => {
            let bound = (3.0 / fan_in as f64).sqrt();
            draws.map(|u| ((2.0 * u - 1.0) * bound) as f32).collect()
        }
        other => draws.map(|u| other.value(u) as f32).collect(),
    })
}

/// A [`WeightSource`] that generates any requested tensor from a global seed.
///
/// It has no stored shapes: [`WeightSource::shape_of`] is always `None`, so a model loaded from
/// it must be told every dimension (e.g. the number of classes) by its configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeededWeights {
    global_seed: u64,
}

impl SeededWeights {
    /// A generator with `global_seed`.
    pub fn new(global_seed: u64) -> Self {
        SeededWeights { global_seed }
    }

    /// The global seed.
    pub fn global_seed(&self) -> u64 {
        self.global_seed
    }
}

impl WeightSource for SeededWeights {
    fn origin(&self) -> String {
        format!("seeded(0x{:016x})", self.global_seed)
    }

    fn shape_of(&self, _name: &str) -> Option<Vec<usize>> {
        None
    }

    fn contains(&self, name: &str) -> bool {
        // Any name with a rule can be generated; the shape only matters for 0-D weights.
        rule_for(name, &[1, 1]).is_ok()
    }

    fn load(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, WeightsError> {
        generate(name, shape, self.global_seed).map_err(|why| match why {
            NoRule::Skipped => WeightsError::Missing {
                origin: self.origin(),
                name: name.to_string(),
                similar: None,
            },
            NoRule::Unsupported(reason) => WeightsError::Unsupported {
                origin: self.origin(),
                name: name.to_string(),
                reason,
            },
        })
    }

    fn unused(&self) -> Vec<String> {
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_of_empty_is_the_offset_basis() {
        assert_eq!(fnv1a64(b""), FNV_OFFSET);
    }

    #[test]
    fn detect_class_bias_matches_the_python_regex() {
        assert!(is_detect_class_bias("model.23.cv3.2.2.bias"));
        assert!(is_detect_class_bias("model.19.cv3.10.2.bias"));
        assert!(!is_detect_class_bias("model.23.cv2.0.2.bias"));
        assert!(!is_detect_class_bias("model.23.cv3.2.1.bias"));
        assert!(!is_detect_class_bias("model.23.cv3..2.bias"));
        assert!(!is_detect_class_bias("cv3.0.2.bias"));
    }

    #[test]
    fn skipped_and_unsupported_names() {
        assert_eq!(
            rule_for("model.23.dfl.conv.weight", &[1, 16, 1, 1]),
            Err(NoRule::Skipped)
        );
        assert_eq!(
            rule_for("bn.num_batches_tracked", &[]),
            Err(NoRule::Skipped)
        );
        assert!(matches!(
            rule_for("x.weight", &[]),
            Err(NoRule::Unsupported(_))
        ));
        assert!(matches!(
            rule_for("x.scale", &[3]),
            Err(NoRule::Unsupported(_))
        ));
        assert_eq!(rule_for("bn.running_var", &[4]), Ok(Rule::RunningVar));
        assert_eq!(
            rule_for("conv.weight", &[8, 4, 3, 3]),
            Ok(Rule::FanIn { fan_in: 36 })
        );
    }

    #[test]
    fn values_stay_in_their_rule_ranges() {
        let w = generate("conv.weight", &[8, 4, 3, 3], 7).unwrap();
        let bound = (3.0f64 / 36.0).sqrt() as f32;
        assert!(w.iter().all(|v| v.abs() <= bound));
        let var = generate("bn.running_var", &[100], 7).unwrap();
        assert!(var.iter().all(|&v| (0.5..1.5).contains(&v)));
        let cls = generate("m.cv3.0.2.bias", &[100], 7).unwrap();
        assert!(cls.iter().all(|&v| (-6.0..2.0).contains(&v)));
    }
}
