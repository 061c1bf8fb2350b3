//! Which thread gdb selected: gdbstub keeps the `Hg` thread to itself and
//! hands it to memory and register calls, but not to breakpoint calls,
//! which must go into the selected process's pages. So the bytes gdb
//! sends are watched on their way in for `$Hg...#` packets (at most a
//! short packet's worth is kept: the rest of gdb's traffic is not ours
//! to buffer).

/// Longest packet body looked at (`Hgp<pid>.<tid>` fits easily).
const KEEP: usize = 40;

/// Follows gdb's packets byte by byte.
#[derive(Default, Debug)]
pub struct Sniffer {
    inside: bool,
    body: Vec<u8>,
}

impl Sniffer {
    /// One more byte from gdb; sets `selected` when an `Hg` packet ends.
    pub fn feed(&mut self, b: u8, selected: &mut Option<u32>) {
        match b {
            b'$' => {
                self.inside = true;
                self.body.clear();
            }
            b'#' if self.inside => {
                self.inside = false;
                if let Some(pid) = hg_thread(&self.body) {
                    *selected = Some(pid);
                }
            }
            _ if self.inside && self.body.len() < KEEP => self.body.push(b),
            _ => {}
        }
    }
}

/// The thread of an `Hg` packet body (`Hg1f`, `Hgp1.1f`); None for any
/// other packet, and for `0` (any) and `-1` (all).
fn hg_thread(body: &[u8]) -> Option<u32> {
    let rest = std::str::from_utf8(body.strip_prefix(b"Hg")?).ok()?;
    let tid = match rest.strip_prefix('p') {
        Some(pt) => pt.split_once('.')?.1,
        None => rest,
    };
    match u32::from_str_radix(tid, 16) {
        Ok(0) | Err(_) => None,
        Ok(t) => Some(t),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &[u8]) -> Option<u32> {
        let mut sn = Sniffer::default();
        let mut sel = None;
        for &b in s {
            sn.feed(b, &mut sel);
        }
        sel
    }

    #[test]
    fn follows_hg() {
        assert_eq!(feed(b"+$Hg2#xx"), Some(2));
        assert_eq!(feed(b"$Hgp1.1f#00"), Some(0x1f));
        assert_eq!(feed(b"$Hg0#00"), None);
        assert_eq!(feed(b"$Hg-1#00"), None);
        assert_eq!(feed(b"$Hc2#00"), None);
        assert_eq!(feed(b"$m401000,4#00"), None);
        assert_eq!(feed(b"$Hg2#00$Hg3#00"), Some(3));
    }

    #[test]
    fn a_long_or_broken_packet_is_bounded() {
        let mut long = b"$Hg".to_vec();
        long.extend(std::iter::repeat_n(b'1', 1000));
        long.push(b'#');
        assert_eq!(feed(&long), None);
        assert_eq!(feed(b"Hg2#"), None);
    }
}
