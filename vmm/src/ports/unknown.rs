//! Ports the guest wrote to that no device serves. Each is remembered once
//! (a bitmap of all 65,536: 8 KiB, whatever the guest does) and the run
//! says them after it ends, in one line, through the run's bounded
//! stderr: a guest that writes every port used to print 65,535 lines,
//! each with a blocking `eprintln!`.

/// Ports named in the summary line; the rest are counted.
const SHOWN: usize = 16;

/// The unknown ports one run's guest wrote to.
#[derive(Clone, Debug)]
pub struct UnknownPorts {
    seen: Box<[u64; 1024]>,
    count: u32,
}

impl Default for UnknownPorts {
    fn default() -> Self {
        UnknownPorts {
            seen: Box::new([0; 1024]),
            count: 0,
        }
    }
}

impl UnknownPorts {
    /// The guest wrote to `port`.
    pub fn note(&mut self, port: u16) {
        let (word, bit) = (usize::from(port / 64), 1u64 << (port % 64));
        if let Some(w) = self.seen.get_mut(word)
            && *w & bit == 0
        {
            *w |= bit;
            self.count += 1;
        }
    }

    /// How many different ports.
    pub fn count(&self) -> u32 {
        self.count
    }

    /// The lowest `n` of them.
    fn lowest(&self, n: usize) -> Vec<u16> {
        (0..=u16::MAX)
            .filter(|&p| {
                self.seen
                    .get(usize::from(p / 64))
                    .is_some_and(|w| w & (1 << (p % 64)) != 0)
            })
            .take(n)
            .collect()
    }

    /// One line for the user, None when there were none.
    pub fn summary(&self) -> Option<String> {
        if self.count == 0 {
            return None;
        }
        let shown: Vec<String> = self
            .lowest(SHOWN)
            .iter()
            .map(|p| format!("{p:#x}"))
            .collect();
        let rest = self.count as usize - shown.len();
        Some(format!(
            "the guest wrote to {} port(s) no device serves (ignored): {}{}",
            self.count,
            shown.join(" "),
            if rest > 0 {
                format!(" and {rest} more")
            } else {
                String::new()
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_port_once_and_one_line_for_all() {
        let mut u = UnknownPorts::default();
        assert_eq!(u.summary(), None);
        u.note(0x80);
        u.note(0x80);
        u.note(0xffff);
        assert_eq!(u.count(), 2);
        assert_eq!(
            u.summary().as_deref(),
            Some("the guest wrote to 2 port(s) no device serves (ignored): 0x80 0xffff")
        );
        for p in 0..=u16::MAX {
            u.note(p);
        }
        assert_eq!(u.count(), 65536);
        let s = u.summary().unwrap_or_default();
        assert!(s.ends_with("0xe 0xf and 65520 more"), "{s}");
        assert_eq!(s.lines().count(), 1);
    }
}
