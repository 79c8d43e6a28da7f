//! A small `--flag value` parser: every flag is named, unknown flags and
//! missing values are errors that say which flag.

use std::collections::BTreeMap;

/// Flags of one subcommand.
pub struct Args {
    values: BTreeMap<String, String>,
    switches: Vec<String>,
}

impl Args {
    /// Parse `args` given which flags take a value and which are switches.
    pub fn parse(args: &[String], valued: &[&str], switches: &[&str]) -> Result<Self, String> {
        let mut out = Args {
            values: BTreeMap::new(),
            switches: Vec::new(),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (name, inline) = match a.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (a.as_str(), None),
            };
            let bare = name.trim_start_matches("--");
            if !name.starts_with("--") {
                return Err(format!("unexpected argument {a:?}"));
            }
            if valued.contains(&bare) {
                let v = match inline {
                    Some(v) => v,
                    None => it
                        .next()
                        .cloned()
                        .ok_or_else(|| format!("--{bare} needs a value"))?,
                };
                out.values.insert(bare.to_string(), v);
            } else if switches.contains(&bare) && inline.is_none() {
                out.switches.push(bare.to_string());
            } else {
                return Err(format!("unknown flag {name}"));
            }
        }
        Ok(out)
    }

    /// A required flag's value.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required"))
    }

    /// An optional flag's value.
    pub fn optional(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Whether a switch was given.
    pub fn switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }
}
