//! YAML for generated files (the Forge manifest): a JSON value written as block YAML by
//! `yaml-rust2`, which quotes and escapes whatever needs it. Every key and string is checked
//! first, so no value can break the document: characters YAML parsers refuse or read
//! differently (control characters, byte-order marks, Unicode line separators) are an error
//! that names where they are, never output.

use serde_json::Value;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlEmitter};

/// A value that cannot be written as YAML safely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path} holds a character YAML cannot carry safely (U+{code:04X})")]
pub struct YamlError {
    /// Where the value sits, e.g. `modules.macro[0].title`.
    path: String,
    pub code: u32,
}

/// Block YAML for `value`. In every mapping `key` comes first (as people write Forge manifests)
/// and the other keys follow in sorted order, so the output is stable.
pub fn to_yaml(value: &Value) -> Result<String, YamlError> {
    let mut quoted = Vec::new();
    let doc = convert(value, "", &mut quoted)?;
    let mut out = String::new();
    YamlEmitter::new(&mut out)
        .dump(&doc)
        .expect("writing YAML into a String cannot fail");
    for (i, text) in quoted.iter().enumerate() {
        let json = serde_json::to_string(text).expect("a string serialises");
        let key = format!("{}:", long_key(i));
        out = match out.find(&key) {
            // `? "key"` and, below it in the same column, `: value`.
            Some(at) => {
                let column = out[..at].rfind('\n').map_or(at, |nl| at - nl - 1);
                let explicit = format!("? {json}\n{}:", " ".repeat(column));
                out.replacen(&key, &explicit, 1)
            }
            None => out.replace(&placeholder(i), &json),
        };
    }
    let body = out.strip_prefix("---\n").unwrap_or(&out);
    Ok(format!("{body}\n"))
}

/// Keys longer than this (in characters) are written in YAML's explicit form, `? key` then
/// `: value`: a reader takes an implicit key of at most 1024 characters up to its `:`, quotes
/// and escapes included (found by the `manifest_yaml` fuzz target: a 1,000-character key came
/// back as a syntax error). Escaping at most doubles a key ([`checked`] leaves only `"` and `\`
/// to escape), so 2 × 256 characters and two quotes stay well inside (512 did not: a key of
/// 512 quotes, seen on reading the fix).
const LONG_KEY: usize = 256;

/// A string as a scalar. yaml-rust2 writes a few strings plain that YAML readers (its own
/// included) take for something else — `0o17`, an octal integer in YAML 1.2 (found by the
/// `manifest_yaml` fuzz target). Any string a reader would not read back as that string goes
/// out as a placeholder the emitter leaves plain (DEL, a number, DEL: DEL is refused in every
/// value by [`checked`], so no value can clash) and is replaced by the string double-quoted
/// (a JSON string is a valid YAML double-quoted scalar).
fn scalar(text: &str, quoted: &mut Vec<String>) -> Yaml {
    if matches!(Yaml::from_str(text), Yaml::String(_)) {
        return Yaml::String(text.to_string());
    }
    quoted.push(text.to_string());
    Yaml::String(placeholder(quoted.len() - 1))
}

fn placeholder(i: usize) -> String {
    format!("\u{7f}{i}\u{7f}")
}

/// The placeholder of a long key (see [`LONG_KEY`]): the emitter writes it plain, like any
/// other, and `to_yaml` turns `<it>:` into the explicit form.
fn long_key(i: usize) -> String {
    format!("\u{7f}{i}k\u{7f}")
}

fn convert(value: &Value, path: &str, quoted: &mut Vec<String>) -> Result<Yaml, YamlError> {
    Ok(match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            None => Yaml::Real(n.to_string()),
        },
        Value::String(s) => scalar(checked(s, path)?, quoted),
        Value::Array(items) => Yaml::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(item, &format!("{path}[{i}]"), quoted))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (k.as_str() != "key", k.as_str()));
            let mut hash = Hash::new();
            for key in keys {
                let here = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                let key = checked(key, &here)?;
                let name = if key.chars().count() > LONG_KEY {
                    quoted.push(key.to_string());
                    Yaml::String(long_key(quoted.len() - 1))
                } else {
                    scalar(key, quoted)
                };
                hash.insert(name, convert(&map[key], &here, quoted)?);
            }
            Yaml::Hash(hash)
        }
    })
}

/// `text` when every character is one YAML carries unchanged in any scalar style.
fn checked<'t>(text: &'t str, path: &str) -> Result<&'t str, YamlError> {
    match text.chars().find(|&c| unsafe_in_yaml(c)) {
        None => Ok(text),
        Some(c) => Err(YamlError {
            path: path.to_string(),
            code: c as u32,
        }),
    }
}

fn unsafe_in_yaml(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{FEFF}' | '\u{2028}' | '\u{2029}' | '\u{FFFE}' | '\u{FFFF}'
        )
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;
    use yaml_rust2::YamlLoader;

    use super::*;

    fn reparse(text: &str) -> Yaml {
        YamlLoader::load_from_str(text).unwrap().remove(0)
    }

    #[test]
    fn mappings_put_key_first_then_the_rest_sorted() {
        let text = to_yaml(&json!({"b": 1, "key": "k", "a": [true, null, 2.5]})).unwrap();
        assert_eq!(text, "key: k\na:\n  - true\n  - ~\n  - 2.5\nb: 1\n");
    }

    #[test]
    fn values_that_look_like_other_types_or_syntax_stay_strings() {
        for tricky in [
            "yes",
            "no",
            "on",
            "null",
            "~",
            "true",
            "0x1F",
            "12",
            "1.5",
            "",
            " lead",
            "trail ",
            "a: b",
            "#x",
            "x #y",
            "- item",
            "[a]",
            "{a}",
            "*ref",
            "&anchor",
            "!tag",
            "%dir",
            "@at",
            "`tick`",
            "'single'",
            "\"double\"",
            "back\\slash",
            "|",
            ">",
            "ari:cloud:x",
        ] {
            let text = to_yaml(&json!({ "v": tricky })).unwrap();
            assert_eq!(
                reparse(&text)["v"].as_str(),
                Some(tricky),
                "{tricky:?} -> {text}"
            );
        }
    }

    /// Found by the `manifest_yaml` fuzz target: yaml-rust2 wrote `0o17` plain, read back as 15.
    #[test]
    fn strings_a_reader_would_take_for_numbers_are_quoted_as_keys_and_values() {
        for text in ["0o17", "0o-7", "0x1F", "+1", "1e5", ".inf", "~", ""] {
            let yaml = to_yaml(&json!({"key": text, "list": [text], "map": {text: text}})).unwrap();
            let back = reparse(&yaml);
            assert_eq!(back["key"].as_str(), Some(text), "{yaml}");
            assert_eq!(back["list"][0].as_str(), Some(text), "{yaml}");
            assert_eq!(back["map"][text].as_str(), Some(text), "{yaml}");
        }
        assert_eq!(to_yaml(&json!({"v": "0o17"})).unwrap(), "v: \"0o17\"\n");
    }

    /// Found by the `manifest_yaml` fuzz target: a key past YAML's 1024-character limit for an
    /// implicit key was written implicitly, and no reader could read the file back.
    #[test]
    fn long_keys_are_written_explicitly_and_read_back() {
        let long = "k\\\"".repeat(400);
        let value = json!({"key": "short", "map": {&long: "v", "b": {&long: [1, {&long: null}]}},
                           "list": [{&long: "first"}, "x"]});
        let yaml = to_yaml(&value).unwrap();
        assert!(yaml.contains("\n  ? \"k\\\\\\\""), "{yaml}");
        let back = reparse(&yaml);
        assert_eq!(back["map"][long.as_str()].as_str(), Some("v"), "{yaml}");
        assert_eq!(
            back["map"]["b"][long.as_str()][0].as_i64(),
            Some(1),
            "{yaml}"
        );
        assert!(
            back["map"]["b"][long.as_str()][1][long.as_str()].is_null(),
            "{yaml}"
        );
        assert_eq!(
            back["list"][0][long.as_str()].as_str(),
            Some("first"),
            "{yaml}"
        );
        assert_eq!(back["list"][1].as_str(), Some("x"));
        assert_eq!(back["key"].as_str(), Some("short"));
        // A key of quotes doubles when escaped: one at the limit still fits an implicit key.
        let quotes = "\"".repeat(LONG_KEY);
        let yaml = to_yaml(&json!({&quotes: 1, "list": [{&quotes: 2}]})).unwrap();
        assert_eq!(reparse(&yaml)[quotes.as_str()].as_i64(), Some(1), "{yaml}");
        assert_eq!(
            reparse(&yaml)["list"][0][quotes.as_str()].as_i64(),
            Some(2),
            "{yaml}"
        );
        // Up to the limit, keys stay implicit.
        let edge = "k".repeat(LONG_KEY);
        assert_eq!(to_yaml(&json!({&edge: 1})).unwrap(), format!("{edge}: 1\n"));
    }

    #[test]
    fn control_characters_and_line_separators_are_refused_with_their_place() {
        for (bad, code) in [
            ("a\u{1b}b", 0x1b),
            ("a\nb", 0x0a),
            ("\u{7f}", 0x7f),
            ("x\u{85}", 0x85),
            ("\u{FEFF}bom", 0xfeff),
            ("l\u{2028}s", 0x2028),
        ] {
            let err = to_yaml(&json!({"modules": {"macro": [{"title": bad}]}})).unwrap_err();
            let want = YamlError {
                path: "modules.macro[0].title".into(),
                code,
            };
            assert_eq!(err, want, "{bad:?}");
        }
        let err = to_yaml(&json!({"bad\tkey": 1})).unwrap_err();
        assert_eq!(err.path, "bad\tkey");
    }

    proptest! {
        #[test]
        fn any_printable_text_comes_back_unchanged(text in "\\PC{0,40}") {
            prop_assume!(!text.chars().any(unsafe_in_yaml));
            let yaml = to_yaml(&json!({"key": "k", "value": text.clone(), "list": [text.clone()]}))
                .unwrap();
            let back = reparse(&yaml);
            prop_assert_eq!(back["value"].as_str(), Some(text.as_str()));
            prop_assert_eq!(back["list"][0].as_str(), Some(text.as_str()));
        }
    }
}
