//! The environment `--run` programs start with: a small default (PATH,
//! HOME, and TERM when microvmm's stdout is a terminal), changed by
//! `--env K=V` (or `--env K`, the host's value of K, as `docker run -e`
//! does). It reaches the guest as one block of NUL-terminated strings at
//! abi::layout::BOOT_ENV_GPA, bounded by ENV_MAX bytes and ENVC_MAX strings.

use abi::layout::{ENV_MAX, ENVC_MAX};

/// Why an `--env` value cannot be given to the programs.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvError {
    /// Not `K=V` or `K` with a usable name.
    #[error("--env '{0}': give NAME=VALUE or NAME (a name is not empty and has no '=')")]
    Malformed(String),
    /// A NUL byte cannot be in a C string.
    #[error("--env: a NUL byte cannot be part of an environment string")]
    Nul,
    /// More strings than the guest passes.
    #[error("the environment has {0} strings; the guest passes at most {ENVC_MAX}")]
    TooMany(usize),
    /// More bytes than the block holds.
    #[error("the environment takes {0} bytes (NULs included); the guest takes at most {ENV_MAX}")]
    TooLong(usize),
}

/// The environment strings, in order, each `K=V`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Environ(pub Vec<String>);

impl Environ {
    /// The default environment, then each `--env` in `given` (a later one
    /// replaces an earlier string of the same name). `host` looks a name
    /// up in microvmm's own environment (for `--env K` and TERM); `tty` is
    /// whether microvmm's stdout is a terminal.
    pub fn build(
        given: &[String],
        host: impl Fn(&str) -> Option<String>,
        tty: bool,
    ) -> Result<Environ, EnvError> {
        let mut env = Environ(vec![
            "PATH=/usr/local/bin:/usr/bin:/bin".to_string(),
            "HOME=/".to_string(),
        ]);
        if tty && let Some(term) = host("TERM") {
            env.set("TERM", &term);
        }
        for g in given {
            if g.contains('\0') {
                return Err(EnvError::Nul);
            }
            let (name, value) = match g.split_once('=') {
                Some((k, v)) => (k, Some(v.to_string())),
                None => (g.as_str(), host(g)),
            };
            if name.is_empty() {
                return Err(EnvError::Malformed(g.clone()));
            }
            // `--env K` with K unset on the host passes nothing, as docker.
            if let Some(v) = value {
                env.set(name, &v);
            }
        }
        if env.0.len() > ENVC_MAX {
            return Err(EnvError::TooMany(env.0.len()));
        }
        let len = env.block().len();
        if len > ENV_MAX {
            return Err(EnvError::TooLong(len));
        }
        Ok(env)
    }

    /// Replace the string named `name`, or add it at the end.
    fn set(&mut self, name: &str, value: &str) {
        let s = format!("{name}={value}");
        match self
            .0
            .iter_mut()
            .find(|e| e.split_once('=').is_some_and(|(k, _)| k == name))
        {
            Some(e) => *e = s,
            None => self.0.push(s),
        }
    }

    /// The strings as the guest reads them: each followed by a NUL.
    pub fn block(&self) -> Vec<u8> {
        let mut b = Vec::new();
        for s in &self.0 {
            b.extend_from_slice(s.as_bytes());
            b.push(0);
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(k: &str) -> Option<String> {
        match k {
            "TERM" => Some("xterm-256color".into()),
            "LANG" => Some("C.UTF-8".into()),
            _ => None,
        }
    }

    fn build(given: &[&str], tty: bool) -> Result<Environ, EnvError> {
        let given: Vec<String> = given.iter().map(|s| s.to_string()).collect();
        Environ::build(&given, host, tty)
    }

    #[test]
    fn the_default_is_small_and_term_only_on_a_terminal() {
        let e = build(&[], false).expect("env");
        assert_eq!(e.0, ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/"]);
        let e = build(&[], true).expect("env");
        assert_eq!(e.0.last().map(String::as_str), Some("TERM=xterm-256color"));
    }

    #[test]
    fn env_adds_replaces_and_passes_the_hosts_value() {
        let e = build(
            &["A=1", "HOME=/root", "LANG", "UNSET", "B=x=y", "E="],
            false,
        )
        .expect("env");
        assert_eq!(
            e.0,
            [
                "PATH=/usr/local/bin:/usr/bin:/bin",
                "HOME=/root",
                "A=1",
                "LANG=C.UTF-8",
                "B=x=y",
                "E="
            ]
        );
        assert_eq!(&e.block()[..4], b"PATH");
        assert_eq!(e.block().iter().filter(|&&b| b == 0).count(), e.0.len());
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(build(&["=x"], false), Err(EnvError::Malformed("=x".into())));
        assert_eq!(build(&[""], false), Err(EnvError::Malformed("".into())));
        assert_eq!(build(&["A=\0"], false), Err(EnvError::Nul));
        let many: Vec<String> = (0..ENVC_MAX).map(|i| format!("V{i}=1")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        assert_eq!(build(&many, false), Err(EnvError::TooMany(ENVC_MAX + 2)));
        let long = format!("L={}", "x".repeat(ENV_MAX));
        assert!(matches!(build(&[&long], false), Err(EnvError::TooLong(_))));
    }
}
