//! `--cpu host[,-FEATURE...]`: which features to take from the guest, in
//! QEMU's syntax (`-feat` or `feat=off`).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use super::feature::Feature;

/// The features the user took away; empty is `host` as KVM offers it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CpuMask {
    /// Hidden from the guest's CPUID, with what depends on them.
    pub hidden: BTreeSet<Feature>,
}

impl CpuMask {
    /// Is `f` taken away (itself, or something it needs)?
    pub fn hides(&self, f: Feature) -> bool {
        self.hidden.iter().any(|h| h.with_dependents().contains(&f))
    }
}

fn valid_names() -> String {
    Feature::ALL.map(Feature::name).join(", ")
}

fn feature(name: &str) -> Result<Feature, String> {
    Feature::from_name(name)
        .ok_or_else(|| format!("unknown feature '{name}' (features: {})", valid_names()))
}

impl FromStr for CpuMask {
    type Err = String;

    /// `host`, then comma-separated `-feat` or `feat=off`. Adding features
    /// (`+feat`, `feat=on`) is refused: microvmm offers only what KVM does.
    fn from_str(s: &str) -> Result<CpuMask, String> {
        let mut parts = s.split(',');
        let model = parts.next().unwrap_or("");
        if model != "host" {
            return Err(format!(
                "CPU model '{model}': only 'host' (what KVM offers) is known; \
                 write host,-FEATURE,... with features {}",
                valid_names()
            ));
        }
        let mut mask = CpuMask::default();
        for p in parts {
            let f = if let Some(name) = p.strip_prefix('-') {
                feature(name)?
            } else if let Some(name) = p.strip_suffix("=off") {
                feature(name)?
            } else if p.starts_with('+') || p.ends_with("=on") {
                return Err(format!(
                    "'{p}': features can only be taken away (-FEATURE); \
                     the guest already gets what KVM offers"
                ));
            } else {
                return Err(format!(
                    "'{p}' is not -FEATURE or FEATURE=off (features: {})",
                    valid_names()
                ));
            };
            mask.hidden.insert(f);
        }
        Ok(mask)
    }
}

impl fmt::Display for CpuMask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("host")?;
        for h in &self.hidden {
            write!(f, ",-{}", h.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_alone_hides_nothing() {
        let m: CpuMask = "host".parse().expect("host");
        assert!(m.hidden.is_empty());
        assert_eq!(m.to_string(), "host");
    }

    #[test]
    fn both_spellings_hide() {
        let m: CpuMask = "host,-la57,xsave=off,-FSGSBASE".parse().expect("mask");
        assert_eq!(
            m.hidden.iter().copied().collect::<Vec<_>>(),
            [Feature::La57, Feature::Xsave, Feature::Fsgsbase]
        );
        // xsave takes avx and avx512f with it.
        assert!(m.hides(Feature::Avx512f));
        assert!(m.hides(Feature::Avx));
        assert!(!m.hides(Feature::Nx));
    }

    #[test]
    fn bad_values_name_the_valid_ones() {
        for bad in [
            "host,-sse9",
            "max",
            "",
            "host,la57",
            "host,+la57",
            "host,la57=on",
            "host,-",
        ] {
            let e = bad.parse::<CpuMask>().expect_err(bad);
            assert!(!e.contains('\n'), "one line: {e}");
            if !bad.contains('+') && !bad.ends_with("=on") {
                assert!(e.contains("la57, xsave, avx, avx512f"), "{bad}: {e}");
            }
        }
    }
}
