//! Templates: what the assistant says, with `{path}` holes filled from the conversation's scope
//! (slots, `profile.*`, `result.*`, …). `{{` and `}}` are literal braces.

use serde_json::Value;

/// A parsed template: literal text and the paths it names, checked once at load.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    parts: Vec<Part>,
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Hole(String),
}

impl Template {
    /// Parse `source`; an unclosed or empty `{}` is an error saying where.
    pub fn parse(source: &str) -> Result<Template, String> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut chars = source.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, c)| *c) == Some('{') => {
                    chars.next();
                    text.push('{');
                }
                '}' if chars.peek().map(|(_, c)| *c) == Some('}') => {
                    chars.next();
                    text.push('}');
                }
                '{' => {
                    let mut path = String::new();
                    let mut closed = false;
                    for (_, c) in chars.by_ref() {
                        if c == '}' {
                            closed = true;
                            break;
                        }
                        path.push(c);
                    }
                    let path = path.trim().to_string();
                    if !closed {
                        return Err(format!("unclosed '{{' at character {} of \"{source}\"", at + 1));
                    }
                    if path.is_empty() || !path.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                        return Err(format!(
                            "\"{{{path}}}\" in \"{source}\" is not a name: use letters, digits, _ and dots, like {{card.label}}"
                        ));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Hole(path));
                }
                '}' => {
                    return Err(format!(
                        "unmatched '}}' at character {} of \"{source}\"; write }}}} for a brace",
                        at + 1
                    ))
                }
                c => text.push(c),
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(Template { parts })
    }

    /// The paths the template names, e.g. `["card.label", "result.balance"]`.
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|p| match p {
            Part::Hole(path) => Some(path.as_str()),
            Part::Text(_) => None,
        })
    }

    /// Fill the holes from `scope`. A path with no value renders as nothing (the load-time check makes
    /// that a value not yet known, never a typo), and the text is tidied so no double spaces remain.
    pub fn render(&self, scope: &Value) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_str(text),
                Part::Hole(path) => out.push_str(&lookup(scope, path).map(display).unwrap_or_default()),
            }
        }
        out.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

/// The value at a dotted path (`card.label`) in `scope`.
pub fn lookup<'a>(scope: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(scope, |value, key| value.get(key)).filter(|v| !v.is_null())
}

/// How a value is said: text as is, numbers plainly, an object by its `label`, lists joined with "or".
pub fn display(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::Object(map) => map.get("label").map(display).unwrap_or_default(),
        Value::Array(items) => join_or(&items.iter().map(display).collect::<Vec<_>>()),
    }
}

/// "a", "a or b", "a, b or c".
pub fn join_or(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn holes_are_filled_from_nested_values_and_objects_read_by_label() {
        let t = Template::parse("Your {card.label} is {card.status}, {profile.first_name}.").unwrap();
        let scope = json!({"card": {"label": "debit card ending 1234", "status": "blocked"}, "profile": {"first_name": "Jane"}});
        assert_eq!(t.render(&scope), "Your debit card ending 1234 is blocked, Jane.");
        assert_eq!(t.paths().collect::<Vec<_>>(), ["card.label", "card.status", "profile.first_name"]);
    }

    #[test]
    fn a_missing_value_leaves_no_double_space_and_braces_can_be_escaped() {
        let t = Template::parse("Hello {profile.first_name}, {{braces}} stay.").unwrap();
        assert_eq!(t.render(&json!({})), "Hello , {braces} stay.");
    }

    #[test]
    fn malformed_templates_say_what_is_wrong() {
        assert!(Template::parse("Hi {name").unwrap_err().contains("unclosed"));
        assert!(Template::parse("Hi {}").unwrap_err().contains("not a name"));
        assert!(Template::parse("Hi {a b}").unwrap_err().contains("not a name"));
        assert!(Template::parse("Hi }").unwrap_err().contains("unmatched"));
    }

    #[test]
    fn lists_are_read_as_alternatives() {
        assert_eq!(display(&json!(["a", "b", "c"])), "a, b or c");
        assert_eq!(display(&json!(["a"])), "a");
    }
}
