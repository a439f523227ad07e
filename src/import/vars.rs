//! References to environment variables inside the CLIs' configuration strings, and what import
//! makes of them.
//!
//! Each CLI has its own form, and expands it when it starts a server: Claude Code `${VAR}` and
//! `${VAR:-default}` (a bare `$VAR` stays as it is), Gemini CLI `$VAR` and `${VAR}`, OpenCode
//! `{env:VAR}` (and `{file:path}`, the content of a file), Codex none at all (it has `env_vars`
//! and `bearer_token_env_var` instead). The daemon expands nothing: a value in its file is the
//! value. So an `env` entry that only names the variable of the same name becomes
//! `inherit_env` (the daemon passes its own value on), and any other reference is replaced now
//! by the value the variable has in the environment `import` runs in.

/// Looks an environment variable up: its value, `None` when it is not set.
pub type Lookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Which reference forms a CLI expands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    /// Codex: strings are taken as they are.
    Plain,
    /// Claude Code: `${VAR}`, `${VAR:-default}`.
    Claude,
    /// Gemini CLI: `$VAR`, `${VAR}`.
    Gemini,
    /// OpenCode: `{env:VAR}`; `{file:…}` cannot be imported.
    OpenCode,
}

/// One piece of a configuration string.
#[derive(Debug, PartialEq, Eq)]
enum Piece<'a> {
    /// Text taken as it is.
    Text(&'a str),
    /// A variable's value, or `default` when it is not set.
    Var {
        name: &'a str,
        default: Option<&'a str>,
    },
    /// A reference import cannot resolve (OpenCode's `{file:…}`).
    Unsupported(&'a str),
}

/// A string with its references replaced.
#[derive(Debug, PartialEq, Eq)]
pub struct Expanded {
    /// The resulting value.
    pub text: String,
    /// The variables whose values it took, in order.
    pub names: Vec<String>,
}

/// The variable `text` is nothing but a reference to (with no default), if it is one.
pub fn sole_reference(text: &str, syntax: Syntax) -> Option<&str> {
    match pieces(text, syntax).as_slice() {
        [
            Piece::Var {
                name,
                default: None,
            },
        ] => Some(name),
        _ => None,
    }
}

/// `text` with every reference replaced by its variable's value from `lookup`; an error
/// naming the variable when one is not set and has no default.
pub fn expand(text: &str, syntax: Syntax, lookup: Lookup<'_>) -> Result<Expanded, String> {
    let mut expanded = Expanded {
        text: String::with_capacity(text.len()),
        names: Vec::new(),
    };
    for piece in pieces(text, syntax) {
        match piece {
            Piece::Text(text) => expanded.text.push_str(text),
            Piece::Var { name, default } => {
                let value = lookup(name)
                    .or_else(|| default.map(str::to_owned))
                    .ok_or_else(|| format!("it needs ${name}, which is not set here"))?;
                expanded.text.push_str(&value);
                expanded.names.push(name.to_owned());
            }
            Piece::Unsupported(reference) => {
                return Err(format!(
                    "{reference} cannot be imported: write the value itself"
                ));
            }
        }
    }
    Ok(expanded)
}

/// `text` cut into plain text and references, as `syntax` reads it.
fn pieces(text: &str, syntax: Syntax) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        match next_reference(rest, syntax) {
            Some((start, length, piece)) => {
                if start > 0 {
                    pieces.push(Piece::Text(&rest[..start]));
                }
                pieces.push(piece);
                rest = &rest[start + length..];
            }
            None => {
                pieces.push(Piece::Text(rest));
                break;
            }
        }
    }
    pieces
}

/// The first reference in `text`: where it starts, its length, and what it is.
fn next_reference(text: &str, syntax: Syntax) -> Option<(usize, usize, Piece<'_>)> {
    let opener = match syntax {
        Syntax::Plain => return None,
        Syntax::Claude | Syntax::Gemini => '$',
        Syntax::OpenCode => '{',
    };
    let mut from = 0;
    while let Some(found) = text[from..].find(opener) {
        let start = from + found;
        let candidate = &text[start..];
        let parsed = match syntax {
            Syntax::Claude => braced(candidate, true),
            Syntax::Gemini => braced(candidate, false).or_else(|| bare(candidate)),
            _ => opencode(candidate),
        };
        if let Some((length, piece)) = parsed {
            return Some((start, length, piece));
        }
        from = start + opener.len_utf8();
    }
    None
}

/// The length of a variable name at the start of `text` (a letter or `_`, then letters,
/// digits and `_`).
fn name_length(text: &str) -> usize {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return 0,
    }
    chars
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
        .map_or(text.len(), |(at, _)| at)
}

/// `${NAME}`, or with `defaults` also `${NAME:-default}`, at the start of `text`.
fn braced(text: &str, defaults: bool) -> Option<(usize, Piece<'_>)> {
    let inner = text.strip_prefix("${")?;
    let length = name_length(inner);
    let name = &inner[..length];
    if length == 0 {
        return None;
    }
    let after = &inner[length..];
    if after.starts_with('}') {
        return Some((
            2 + length + 1,
            Piece::Var {
                name,
                default: None,
            },
        ));
    }
    let default_text = after.strip_prefix(":-").filter(|_| defaults)?;
    let end = default_text.find('}')?;
    Some((
        2 + length + 2 + end + 1,
        Piece::Var {
            name,
            default: Some(&default_text[..end]),
        },
    ))
}

/// `$NAME` at the start of `text`.
fn bare(text: &str) -> Option<(usize, Piece<'_>)> {
    let inner = text.strip_prefix('$')?;
    let length = name_length(inner);
    (length > 0).then(|| {
        (
            1 + length,
            Piece::Var {
                name: &inner[..length],
                default: None,
            },
        )
    })
}

/// `{env:NAME}` or `{file:…}` at the start of `text`.
fn opencode(text: &str) -> Option<(usize, Piece<'_>)> {
    if let Some(inner) = text.strip_prefix("{env:") {
        let length = name_length(inner);
        if length > 0 && inner[length..].starts_with('}') {
            return Some((
                5 + length + 1,
                Piece::Var {
                    name: &inner[..length],
                    default: None,
                },
            ));
        }
        return None;
    }
    let inner = text.strip_prefix("{file:")?;
    let end = inner.find('}')?;
    Some((6 + end + 1, Piece::Unsupported(&text[..6 + end + 1])))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("t0k".into()),
            "HOME" => Some("/home/me".into()),
            _ => None,
        }
    }

    fn expanded(text: &str, syntax: Syntax) -> Result<String, String> {
        expand(text, syntax, &lookup).map(|expanded| expanded.text)
    }

    #[test]
    fn each_cli_expands_its_own_forms_only() {
        let text = "${TOKEN} $TOKEN {env:TOKEN}";
        assert_eq!(
            expanded(text, Syntax::Claude).unwrap(),
            "t0k $TOKEN {env:TOKEN}"
        );
        assert_eq!(
            expanded(text, Syntax::Gemini).unwrap(),
            "t0k t0k {env:TOKEN}"
        );
        assert_eq!(
            expanded(text, Syntax::OpenCode).unwrap(),
            "${TOKEN} $TOKEN t0k"
        );
        assert_eq!(expanded(text, Syntax::Plain).unwrap(), text);
    }

    #[test]
    fn defaults_unset_variables_and_files() {
        assert_eq!(
            expanded("Bearer ${MISSING:-none}/${HOME}", Syntax::Claude).unwrap(),
            "Bearer none//home/me"
        );
        let names = expand("${HOME}x${TOKEN}", Syntax::Claude, &lookup)
            .unwrap()
            .names;
        assert_eq!(names, ["HOME", "TOKEN"]);
        let err = expanded("a $MISSING b", Syntax::Gemini).unwrap_err();
        assert!(err.contains("$MISSING"), "{err}");
        let err = expanded("{file:~/.secrets/key}", Syntax::OpenCode).unwrap_err();
        assert!(err.contains("{file:~/.secrets/key}"), "{err}");
        for literal in [
            "$",
            "${",
            "${1A}",
            "cost $5",
            "${A:-x",
            "{env:}",
            "{ \"a\": 1 }",
        ] {
            for syntax in [Syntax::Claude, Syntax::Gemini, Syntax::OpenCode] {
                assert_eq!(expanded(literal, syntax).unwrap(), literal, "{syntax:?}");
            }
        }
    }

    #[test]
    fn a_sole_reference_names_its_variable() {
        assert_eq!(sole_reference("${GH}", Syntax::Claude), Some("GH"));
        assert_eq!(sole_reference("$GH", Syntax::Gemini), Some("GH"));
        assert_eq!(sole_reference("{env:GH}", Syntax::OpenCode), Some("GH"));
        assert_eq!(sole_reference("$GH", Syntax::Claude), None);
        assert_eq!(sole_reference("${GH:-x}", Syntax::Claude), None);
        assert_eq!(sole_reference("Bearer ${GH}", Syntax::Claude), None);
        assert_eq!(sole_reference("${GH}", Syntax::Plain), None);
    }
}
