//! The HCL subset password policies are written in, read the way HCL 1 (what OpenBao decodes them with)
//! reads it: items need no newline or comma between them (`rule "charset" { charset = "ab" min-chars = 1 }`
//! is one valid line), strings take Go escapes and keep `${` literally. HCL 2 parsers (hcl-rs) refuse the
//! one-line form, hence this small parser.
//!
//! Grammar: `body := (item ","?)*`, `item := key key* ("=" value | "{" body "}")` where the extra keys
//! are block labels, `key := ident | string`, `value := string | number | true | false | "[" (value
//! ","?)* "]" | "{" body "}"`. Comments: `#`, `//`, `/* */`. Heredocs are not supported: their text
//! always ends in a newline, which no charset may hold.

use super::{Lined, Node};
use crate::error::PolicyError;

/// Parses policy text into top-level entries, in order, repeated keys kept.
pub(super) fn parse(text: &str) -> Result<Vec<(String, Lined)>, PolicyError> {
    let tokens = Lexer {
        chars: text.chars().collect(),
        pos: 0,
        line: 1,
        column: 1,
    }
    .tokens()?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        depth: 0,
    };
    parser.body(false)
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Int(i64),
    Float(f64),
    Eq,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Eof,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Ident(s) => format!("identifier {s:?}"),
            Tok::Str(_) => "a string".to_owned(),
            Tok::Int(_) | Tok::Float(_) => "a number".to_owned(),
            Tok::Eq => "`=`".to_owned(),
            Tok::LBrace => "`{`".to_owned(),
            Tok::RBrace => "`}`".to_owned(),
            Tok::LBracket => "`[`".to_owned(),
            Tok::RBracket => "`]`".to_owned(),
            Tok::Comma => "`,`".to_owned(),
            Tok::Eof => "end of input".to_owned(),
        }
    }
}

struct Token {
    tok: Tok,
    line: usize,
    column: usize,
}

fn syntax(line: usize, column: usize, message: String) -> PolicyError {
    PolicyError::PasswordPolicySyntax {
        line,
        column,
        message,
    }
}

struct Lexer {
    chars: Vec<char>,
    pos: usize,
    line: usize,
    column: usize,
}

impl Lexer {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek2(&self) -> Option<char> {
        self.chars.get(self.pos + 1).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn error(&self, message: impl Into<String>) -> PolicyError {
        syntax(self.line, self.column, message.into())
    }

    fn tokens(mut self) -> Result<Vec<Token>, PolicyError> {
        let mut out = Vec::new();
        loop {
            self.skip_blank()?;
            let (line, column) = (self.line, self.column);
            let Some(c) = self.peek() else {
                out.push(Token {
                    tok: Tok::Eof,
                    line,
                    column,
                });
                return Ok(out);
            };
            let tok = match c {
                '=' | '{' | '}' | '[' | ']' | ',' => {
                    self.bump();
                    match c {
                        '=' => Tok::Eq,
                        '{' => Tok::LBrace,
                        '}' => Tok::RBrace,
                        '[' => Tok::LBracket,
                        ']' => Tok::RBracket,
                        _ => Tok::Comma,
                    }
                }
                '"' => Tok::Str(self.string()?),
                '-' | '0'..='9' => self.number()?,
                '<' if self.peek2() == Some('<') => {
                    return Err(
                        self.error("heredoc strings are not supported in password policies")
                    );
                }
                c if c.is_alphabetic() || c == '_' => {
                    let mut ident = String::new();
                    while let Some(c) = self.peek() {
                        if c.is_alphanumeric() || matches!(c, '_' | '-' | '.') {
                            ident.push(c);
                            self.bump();
                        } else {
                            break;
                        }
                    }
                    Tok::Ident(ident)
                }
                other => return Err(self.error(format!("unexpected character {other:?}"))),
            };
            out.push(Token { tok, line, column });
        }
    }

    fn skip_blank(&mut self) -> Result<(), PolicyError> {
        loop {
            match (self.peek(), self.peek2()) {
                (Some(c), _) if c.is_whitespace() => {
                    self.bump();
                }
                (Some('#'), _) | (Some('/'), Some('/')) => {
                    while self.peek().is_some_and(|c| c != '\n') {
                        self.bump();
                    }
                }
                (Some('/'), Some('*')) => {
                    let (line, column) = (self.line, self.column);
                    self.bump();
                    self.bump();
                    loop {
                        match (self.peek(), self.peek2()) {
                            (Some('*'), Some('/')) => {
                                self.bump();
                                self.bump();
                                break;
                            }
                            (Some(_), _) => {
                                self.bump();
                            }
                            (None, _) => {
                                return Err(syntax(
                                    line,
                                    column,
                                    "unterminated comment".to_owned(),
                                ));
                            }
                        }
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    /// A double-quoted string with Go's escapes (`\n`, `\"`, `\\`, `\xHH`, `\uHHHH`, ...).
    fn string(&mut self) -> Result<String, PolicyError> {
        let (line, column) = (self.line, self.column);
        self.bump();
        let mut out = String::new();
        loop {
            match self.bump() {
                None | Some('\n') => {
                    return Err(syntax(line, column, "unterminated string".to_owned()));
                }
                Some('"') => return Ok(out),
                Some('\\') => out.push(self.escape()?),
                Some(c) => out.push(c),
            }
        }
    }

    fn escape(&mut self) -> Result<char, PolicyError> {
        let c = self
            .bump()
            .ok_or_else(|| self.error("unterminated string"))?;
        let simple = match c {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' | '"' | '\'' => Some(c),
            _ => None,
        };
        if let Some(s) = simple {
            return Ok(s);
        }
        let (digits, radix, first) = match c {
            'x' => (2, 16, None),
            'u' => (4, 16, None),
            'U' => (8, 16, None),
            '0'..='7' => (3, 8, Some(c)),
            other => return Err(self.error(format!("unknown escape sequence \\{other}"))),
        };
        let mut code = String::new();
        code.extend(first);
        while code.len() < digits {
            match self.peek() {
                Some(d) if d.is_digit(radix) => {
                    code.push(d);
                    self.bump();
                }
                _ => return Err(self.error("invalid escape sequence")),
            }
        }
        u32::from_str_radix(&code, radix)
            .ok()
            .filter(|v| radix == 16 || *v <= 0xFF)
            .and_then(char::from_u32)
            .ok_or_else(|| self.error(format!("invalid escape sequence \\{c}{code}")))
    }

    fn number(&mut self) -> Result<Tok, PolicyError> {
        let mut text = String::new();
        if self.peek() == Some('-') {
            text.push('-');
            self.bump();
        }
        let mut float = false;
        while let Some(c) = self.peek() {
            let exponent_sign = matches!(c, '+' | '-') && text.ends_with(['e', 'E']);
            if c.is_ascii_digit() || exponent_sign {
                text.push(c);
            } else if matches!(c, '.' | 'e' | 'E') {
                float = true;
                text.push(c);
            } else {
                break;
            }
            self.bump();
        }
        let bad = || self.error(format!("invalid number {text:?}"));
        if float {
            text.parse().map(Tok::Float).map_err(|_| bad())
        } else {
            match text.parse::<i64>() {
                Ok(i) => Ok(Tok::Int(i)),
                // Too large for i64: kept as a float, refused later as out of range.
                Err(_) => text.parse().map(Tok::Float).map_err(|_| bad()),
            }
        }
    }
}

/// Deepest nesting of blocks, objects and lists accepted: a real policy needs three; the bound keeps a
/// hostile text from exhausting the stack of this recursive parser.
const MAX_DEPTH: usize = 32;

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
}

/// Where the lexer ends every token list; returned past the end so lookups never fail.
const EOF: Token = Token {
    tok: Tok::Eof,
    line: 0,
    column: 0,
};

impl Parser {
    fn peek(&self) -> &Token {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .unwrap_or(&EOF)
    }

    fn advance(&mut self) -> Token {
        let token = self.tokens.get(self.pos).map(|t| Token {
            tok: t.tok.clone(),
            line: t.line,
            column: t.column,
        });
        self.pos += 1;
        token.unwrap_or(EOF)
    }

    fn unexpected(&self, expected: &str) -> PolicyError {
        let t = self.peek();
        syntax(
            t.line,
            t.column,
            format!("expected {expected}, found {}", t.tok.describe()),
        )
    }

    /// Counts one more level of nesting, refusing to go past [`MAX_DEPTH`].
    fn descend(&mut self) -> Result<(), PolicyError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let t = self.peek();
            return Err(syntax(
                t.line,
                t.column,
                format!("nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        Ok(())
    }

    /// Items until end of input (top level) or the closing `}` (nested).
    fn body(&mut self, nested: bool) -> Result<Vec<(String, Lined)>, PolicyError> {
        if nested {
            self.descend()?;
        }
        let entries = self.items(nested)?;
        if nested {
            self.depth -= 1;
        }
        Ok(entries)
    }

    fn items(&mut self, nested: bool) -> Result<Vec<(String, Lined)>, PolicyError> {
        let mut entries = Vec::new();
        loop {
            match self.peek().tok {
                Tok::Eof if !nested => return Ok(entries),
                Tok::RBrace if nested => {
                    self.advance();
                    return Ok(entries);
                }
                Tok::Ident(_) | Tok::Str(_) => {
                    entries.push(self.item()?);
                    if self.peek().tok == Tok::Comma {
                        self.advance();
                    }
                }
                _ if nested => return Err(self.unexpected("a key or `}`")),
                _ => return Err(self.unexpected("a key")),
            }
        }
    }

    /// `key = value`, or `key "label"... { body }` (labels nest: `{key: {label: {body}}}`).
    fn item(&mut self) -> Result<(String, Lined), PolicyError> {
        let first = self.advance();
        let line = Some(first.line);
        let mut keys = vec![key_text(first.tok)];
        while let Tok::Ident(_) | Tok::Str(_) = self.peek().tok {
            // Labels nest like blocks do, so they count against the same bound.
            if keys.len() > MAX_DEPTH {
                return Err(
                    self.unexpected(&format!("`{{` after at most {MAX_DEPTH} block labels"))
                );
            }
            keys.push(key_text(self.advance().tok));
        }
        let mut value = match self.peek().tok {
            Tok::Eq if keys.len() == 1 => {
                self.advance();
                self.value()?
            }
            Tok::LBrace => {
                self.advance();
                Lined {
                    node: Node::Map(self.body(true)?),
                    line,
                }
            }
            _ if keys.len() == 1 => return Err(self.unexpected("`=` or `{`")),
            _ => return Err(self.unexpected("`{`")),
        };
        let mut keys = keys.into_iter();
        let key = keys.next().unwrap_or_default();
        for label in keys.rev() {
            value = Lined {
                node: Node::Map(vec![(label, value)]),
                line,
            };
        }
        Ok((key, value))
    }

    fn value(&mut self) -> Result<Lined, PolicyError> {
        let token = self.advance();
        let line = Some(token.line);
        let node = match token.tok {
            Tok::Str(s) => Node::Text(s),
            Tok::Int(i) => Node::Int(i),
            Tok::Float(f) => Node::Float(f),
            Tok::Ident(ref word) if word == "true" || word == "false" => Node::Other("a bool"),
            Tok::LBrace => Node::Map(self.body(true)?),
            Tok::LBracket => {
                self.descend()?;
                let mut items = Vec::new();
                loop {
                    if self.peek().tok == Tok::RBracket {
                        self.advance();
                        break;
                    }
                    items.push(self.value()?);
                    match self.peek().tok {
                        Tok::Comma => {
                            self.advance();
                        }
                        Tok::RBracket => {}
                        _ => return Err(self.unexpected("`,` or `]`")),
                    }
                }
                self.depth -= 1;
                Node::List(items)
            }
            other => {
                return Err(syntax(
                    token.line,
                    token.column,
                    format!(
                        "expected a value (string, number, bool, list or object), found {}",
                        other.describe()
                    ),
                ));
            }
        };
        Ok(Lined { node, line })
    }
}

fn key_text(tok: Tok) -> String {
    match tok {
        Tok::Ident(s) | Tok::Str(s) => s,
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

    use super::*;

    fn render(entries: &[(String, Lined)]) -> String {
        let items: Vec<String> = entries
            .iter()
            .map(|(k, v)| format!("{k}@{}:{}", v.line.unwrap_or(0), node(&v.node)))
            .collect();
        items.join(" ")
    }

    fn node(n: &Node) -> String {
        match n {
            Node::Int(i) => i.to_string(),
            Node::Float(f) => format!("{f:?}"),
            Node::Text(s) => format!("{s:?}"),
            Node::Other(k) => (*k).to_owned(),
            Node::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(|i| node(&i.node))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
            Node::Map(entries) => format!("{{{}}}", render(entries)),
        }
    }

    #[test]
    fn grammar() {
        let cases: &[(&str, &str)] = &[
            ("", ""),
            ("# c\n// c\n/* c\n c */", ""),
            ("length = 20", "length@1:20"),
            ("length = -2.5e1", "length@1:-25.0"),
            (
                "rule \"charset\" { charset = \"ab\" min-chars = 1 }",
                r#"rule@1:{charset@1:{charset@1:"ab" min-chars@1:1}}"#,
            ),
            (
                "rule \"charset\" { charset = \"ab\", min-chars = 1, }\nrule \"charset\" {\n}",
                r#"rule@1:{charset@1:{charset@1:"ab" min-chars@1:1}} rule@2:{charset@2:{}}"#,
            ),
            ("\"length\" = 4", "length@1:4"),
            ("a = [1, \"x\", true,]", r#"a@1:[1,"x",a bool]"#),
            ("a = { b = 1 c = 2 }", "a@1:{b@1:1 c@1:2}"),
            ("a b c {}", "a@1:{b@1:{c@1:{}}}"),
            (
                r#"s = "\"\\\t\x41\u00e4\U0001F600\101${x}""#,
                "s@1:\"\\\"\\\\\\tAä😀A${x}\"",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(render(&parse(text).unwrap()), *want, "{text:?}");
        }
    }

    #[test]
    fn errors() {
        let deep_list = format!("a = {}1{}", "[".repeat(33), "]".repeat(33));
        let deep_blocks = format!("{}{}", "a { ".repeat(33), "}".repeat(33));
        let many_labels = format!("a{} {{}}", " b".repeat(33));
        let cases: &[(&str, usize, usize, &str)] = &[
            ("length 20", 1, 8, "expected `=` or `{`, found a number"),
            ("a b = 1", 1, 5, "expected `{`, found `=`"),
            ("a = ", 1, 5, "expected a value"),
            ("a = b", 1, 5, "found identifier \"b\""),
            (
                "a {\n b = 1\n",
                3,
                1,
                "expected a key or `}`, found end of input",
            ),
            ("}", 1, 1, "expected a key, found `}`"),
            ("a = \"x\ny\"", 1, 5, "unterminated string"),
            ("a = \"\\q\"", 1, 8, "unknown escape sequence \\q"),
            ("a = \"\\u12\"", 1, 10, "invalid escape sequence"),
            ("a = \"\\uD800\"", 1, 12, "invalid escape sequence \\uD800"),
            ("a = [1 2]", 1, 8, "expected `,` or `]`"),
            ("a = -", 1, 6, "invalid number \"-\""),
            ("/* x", 1, 1, "unterminated comment"),
            ("a = <<EOT\nx\nEOT\n", 1, 5, "heredoc"),
            ("a = @", 1, 5, "unexpected character '@'"),
            (&deep_list, 1, 38, "nested more than 32 levels deep"),
            (&deep_blocks, 1, 133, "nested more than 32 levels deep"),
            (
                &many_labels,
                1,
                67,
                "expected `{` after at most 32 block labels, found identifier \"b\"",
            ),
        ];
        for (text, line, column, needle) in cases {
            let err = parse(text).unwrap_err();
            let PolicyError::PasswordPolicySyntax {
                line: l,
                column: c,
                message,
            } = &err
            else {
                panic!("{text:?}: {err:?}");
            };
            assert!(message.contains(needle), "{text:?}: {message}");
            assert_eq!((*l, *c), (*line, *column), "{text:?}: {message}");
        }
    }
}
