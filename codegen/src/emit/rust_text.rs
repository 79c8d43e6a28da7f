//! Rust expressions as the emitter builds them, printed the way `rustfmt`
//! would print them (default settings), so generated code passes
//! `rustfmt --check` without running rustfmt in a build script.

use std::fmt::Write as _;

/// rustfmt's `max_width`.
const MAX_WIDTH: usize = 100;
/// rustfmt's `struct_lit_width`: the widest one-line struct literal body.
const STRUCT_LIT_WIDTH: usize = 18;

/// A Rust expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// Text printed as is (a literal, a call, a path); one line.
    Text(String),
    /// `Name { field: value, ... }`.
    Struct(&'static str, Vec<(&'static str, Expr)>),
    /// `Some(value)`.
    Some(Box<Expr>),
}

impl Expr {
    /// A literal or any one-line expression.
    pub fn text(s: impl std::fmt::Display) -> Expr {
        Expr::Text(s.to_string())
    }

    /// The one-line form, if rustfmt would keep it on one line at all.
    fn one_line(&self) -> Option<String> {
        match self {
            Expr::Text(s) => Some(s.clone()),
            Expr::Struct(name, fields) => {
                let mut body = Vec::new();
                for (f, v) in fields {
                    body.push(format!("{f}: {}", v.one_line()?));
                }
                let body = body.join(", ");
                (body.len() <= STRUCT_LIT_WIDTH).then(|| format!("{name} {{ {body} }}"))
            }
            Expr::Some(v) => Some(format!("Some({})", v.one_line()?)),
        }
    }

    /// Print after `prefix` (already written, `used` columns wide) at
    /// indentation `indent`.
    fn print(&self, out: &mut String, used: usize, indent: usize) {
        if let Some(line) = self.one_line() {
            if used + line.len() < MAX_WIDTH {
                out.push_str(&line);
                return;
            }
        }
        match self {
            Expr::Text(s) => out.push_str(s),
            Expr::Struct(name, fields) => {
                let _ = writeln!(out, "{name} {{");
                let pad = " ".repeat(indent + 4);
                for (f, v) in fields {
                    let _ = write!(out, "{pad}{f}: ");
                    v.print(out, pad.len() + f.len() + 2, indent + 4);
                    out.push_str(",\n");
                }
                let _ = write!(out, "{}}}", " ".repeat(indent));
            }
            // rustfmt keeps `Some(` on the line of a struct literal it
            // breaks, and the closing `)` after its `}`.
            Expr::Some(v) => {
                out.push_str("Some(");
                v.print(out, used + 5, indent);
                out.push(')');
            }
        }
    }
}

/// `<keyword> NAME: Type = value;` (`static`, `pub const`) with a doc comment.
pub fn item(doc: &str, keyword: &str, name: &str, ty: &str, value: &Expr) -> String {
    let mut out = String::new();
    for line in doc.lines() {
        let _ = writeln!(out, "/// {line}");
    }
    let head = format!("{keyword} {name}: {ty} = ");
    out.push_str(&head);
    value.print(&mut out, head.len() + 1, 0);
    out.push_str(";\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_struct_bodies_stay_on_one_line_and_long_ones_go_vertical() {
        let short = Expr::Struct("M", vec![("h", Expr::text(7)), ("c", Expr::text(80))]);
        let long = Expr::Struct(
            "M",
            vec![("height", Expr::text(14)), ("width", Expr::text(14))],
        );
        let outer = Expr::Struct("P", vec![("a", short), ("b", long)]);
        assert_eq!(
            item("Doc.", "static", "X", "P", &outer),
            "/// Doc.\nstatic X: P = P {\n    a: M { h: 7, c: 80 },\n    b: M {\n        height: 14,\n        width: 14,\n    },\n};\n"
        );
    }
}
