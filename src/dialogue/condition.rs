//! Conditions on the conversation's scope, for `if:` on steps, `branch:` and `validate:`.
//!
//! A deliberately small language a business can read: `<path> == 'text'`, `!=`, `<`, `>`, `<=`, `>=`
//! (numbers compare as numbers), `<path> is set`, `<path> is not set`, a right-hand side that is a
//! path (`last_four == card.last_four`), joined by `and` / `or` (`and` binds tighter). No brackets:
//! a flow that needs them is better split into steps.

use serde_json::Value;

use super::template::{display, lookup};

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    /// Alternatives (or) of conjunctions (and).
    any: Vec<Vec<Test>>,
}

#[derive(Debug, Clone, PartialEq)]
enum Test {
    Set { path: String, negated: bool },
    Compare { path: String, op: Op, right: Operand },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Gt,
    Le,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Literal(String),
    Path(String),
}

impl Condition {
    pub fn parse(source: &str) -> Result<Condition, String> {
        let tokens = tokenize(source)?;
        let mut any = Vec::new();
        for alternative in tokens.split(|t| t == "or") {
            let mut all = Vec::new();
            for test in alternative.split(|t| t == "and") {
                all.push(parse_test(test, source)?);
            }
            any.push(all);
        }
        Ok(Condition { any })
    }

    /// The paths the condition reads (checked at load like template holes).
    pub fn paths(&self) -> Vec<&str> {
        let mut paths = Vec::new();
        for test in self.any.iter().flatten() {
            match test {
                Test::Set { path, .. } => paths.push(path.as_str()),
                Test::Compare { path, right, .. } => {
                    paths.push(path.as_str());
                    if let Operand::Path(p) = right {
                        paths.push(p.as_str());
                    }
                }
            }
        }
        paths
    }

    pub fn holds(&self, scope: &Value) -> bool {
        self.any.iter().any(|all| all.iter().all(|test| test.holds(scope)))
    }
}

impl Test {
    fn holds(&self, scope: &Value) -> bool {
        match self {
            Test::Set { path, negated } => lookup(scope, path).is_some() != *negated,
            Test::Compare { path, op, right } => {
                let left = lookup(scope, path).map(comparable);
                let right = match right {
                    Operand::Literal(text) => Some(text.clone()),
                    Operand::Path(p) => lookup(scope, p).map(comparable),
                };
                let (Some(left), Some(right)) = (left, right) else {
                    // An unknown value equals nothing and differs from everything.
                    return *op == Op::Ne;
                };
                let ordering = match (left.parse::<f64>(), right.parse::<f64>()) {
                    (Ok(l), Ok(r)) => l.partial_cmp(&r),
                    _ => Some(left.to_lowercase().cmp(&right.to_lowercase())),
                };
                let Some(ordering) = ordering else { return false };
                match op {
                    Op::Eq => ordering.is_eq(),
                    Op::Ne => !ordering.is_eq(),
                    Op::Lt => ordering.is_lt(),
                    Op::Gt => ordering.is_gt(),
                    Op::Le => ordering.is_le(),
                    Op::Ge => ordering.is_ge(),
                }
            }
        }
    }
}

/// An object compares by its `value` when it has one (a chosen option), else as it is said.
fn comparable(value: &Value) -> String {
    match value.get("value") {
        Some(inner) => display(inner),
        None => display(value),
    }
}

fn tokenize(source: &str) -> Result<Vec<String>, String> {
    let mut tokens = Vec::new();
    let mut chars = source.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c == '\'' || c == '"' {
            chars.next();
            let mut text = String::from("'");
            let mut closed = false;
            for ch in chars.by_ref() {
                if ch == c {
                    closed = true;
                    break;
                }
                text.push(ch);
            }
            if !closed {
                return Err(format!("unclosed quote in condition \"{source}\""));
            }
            tokens.push(text);
        } else if "=!<>".contains(c) {
            let mut op = String::new();
            while let Some(&ch) = chars.peek() {
                if !"=!<>".contains(ch) {
                    break;
                }
                op.push(ch);
                chars.next();
            }
            tokens.push(op);
        } else {
            let mut word = String::new();
            while let Some(&ch) = chars.peek() {
                if ch.is_whitespace() || "=!<>'\"".contains(ch) {
                    break;
                }
                word.push(ch);
                chars.next();
            }
            tokens.push(word);
        }
    }
    if tokens.is_empty() {
        return Err("empty condition".into());
    }
    Ok(tokens)
}

fn parse_test(tokens: &[String], source: &str) -> Result<Test, String> {
    let expected = || {
        format!(
            "cannot read condition \"{source}\"; write <name> == 'text' (or != < > <= >=), <name> is set, \
             <name> is not set, joined with and / or"
        )
    };
    let path = |token: &String| -> Result<String, String> {
        if !token.is_empty() && token.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            Ok(token.clone())
        } else {
            Err(expected())
        }
    };
    match tokens {
        [name, is, set] if is == "is" && set == "set" => Ok(Test::Set { path: path(name)?, negated: false }),
        [name, is, not, set] if is == "is" && not == "not" && set == "set" => {
            Ok(Test::Set { path: path(name)?, negated: true })
        }
        [name, op, right] => {
            let op = match op.as_str() {
                "==" => Op::Eq,
                "!=" => Op::Ne,
                "<" => Op::Lt,
                ">" => Op::Gt,
                "<=" => Op::Le,
                ">=" => Op::Ge,
                _ => return Err(expected()),
            };
            let right = match right.strip_prefix('\'') {
                Some(text) => Operand::Literal(text.to_string()),
                None if right.parse::<f64>().is_ok() => Operand::Literal(right.clone()),
                None => Operand::Path(path(right)?),
            };
            Ok(Test::Compare { path: path(name)?, op, right })
        }
        _ => Err(expected()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn holds(condition: &str, scope: Value) -> bool {
        Condition::parse(condition).unwrap_or_else(|e| panic!("{e}")).holds(&scope)
    }

    #[test]
    fn compares_text_numbers_and_paths() {
        assert!(holds("card.status == 'blocked'", json!({"card": {"status": "blocked"}})));
        assert!(!holds("card.status == 'blocked'", json!({"card": {"status": "active"}})));
        assert!(holds("result.balance_cents < 0", json!({"result": {"balance_cents": -5}})));
        assert!(holds("result.count >= 10", json!({"result": {"count": 12}})));
        assert!(holds("last_four == card.last_four", json!({"last_four": "1234", "card": {"last_four": "1234"}})));
        assert!(!holds("last_four == card.last_four", json!({"last_four": "1234", "card": {"last_four": "9876"}})));
    }

    #[test]
    fn set_and_not_set_and_unknown_values() {
        assert!(holds("profile is not set", json!({})));
        assert!(holds("profile is set", json!({"profile": {"id": "x"}})));
        assert!(!holds("missing == 'x'", json!({})));
        assert!(holds("missing != 'x'", json!({})));
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let scope = json!({"a": "1", "b": "2", "c": "3"});
        assert!(holds("a == '9' and b == '2' or c == '3'", scope.clone()));
        assert!(!holds("a == '9' and b == '2' or c == '9'", scope));
    }

    #[test]
    fn an_option_compares_by_its_value() {
        assert!(holds("confirmed == 'no'", json!({"confirmed": {"value": "no", "label": "no"}})));
    }

    #[test]
    fn malformed_conditions_say_how_to_write_them() {
        for bad in ["", "card.status = 'x'", "a ==", "is set", "a == 'x", "(a == 'b')"] {
            let error = Condition::parse(bad).unwrap_err();
            assert!(error.contains("condition"), "{bad}: {error}");
        }
    }
}
