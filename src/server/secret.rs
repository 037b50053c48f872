//! [`Secret`]: a credential that can be passed around but never printed.

use std::fmt;

/// A credential (an access token). `Debug` and `Display` print `***`, so a
/// struct holding one can be logged with `?value` without leaking it; the
/// value is read only through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The credential itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::new("Atza|IQEBLjAsAhRmHjNgHpi0U");
        let printed = format!("{secret} {secret:?} {:?}", Some(&secret));
        assert_eq!(printed, "*** *** Some(***)");
        assert_eq!(secret.expose(), "Atza|IQEBLjAsAhRmHjNgHpi0U");
    }
}
