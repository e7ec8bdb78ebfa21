//! Tokens of HCL v1 text, comments included.

use super::FmtError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Ident,
    Str,
    Number,
    Bool,
    Heredoc,
    LBrace,
    RBrace,
    LBrack,
    RBrack,
    Assign,
    Comma,
    Comment,
    Eof,
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) kind: Kind,
    pub(super) text: String,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) end_line: usize,
}

pub(super) fn syntax(line: usize, column: usize, message: impl Into<String>) -> FmtError {
    FmtError::Syntax {
        line,
        column,
        message: message.into(),
    }
}

pub(super) fn lex(text: &str) -> Result<Vec<Token>, FmtError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut column) = (0usize, 1usize, 1usize);
    let at = |i: usize| chars.get(i).copied();
    while let Some(c) = at(i) {
        let (start_line, start_column, start) = (line, column, i);
        let advance = |i: &mut usize, line: &mut usize, column: &mut usize| {
            if at(*i) == Some('\n') {
                *line += 1;
                *column = 1;
            } else {
                *column += 1;
            }
            *i += 1;
        };
        let kind = match c {
            c if c.is_whitespace() => {
                advance(&mut i, &mut line, &mut column);
                continue;
            }
            '#' | '/' if c == '#' || at(i + 1) == Some('/') => {
                while at(i).is_some_and(|c| c != '\n') {
                    advance(&mut i, &mut line, &mut column);
                }
                Kind::Comment
            }
            '/' if at(i + 1) == Some('*') => {
                advance(&mut i, &mut line, &mut column);
                advance(&mut i, &mut line, &mut column);
                loop {
                    match at(i) {
                        None => {
                            return Err(syntax(start_line, start_column, "comment not terminated"));
                        }
                        Some('*') if at(i + 1) == Some('/') => {
                            advance(&mut i, &mut line, &mut column);
                            advance(&mut i, &mut line, &mut column);
                            break;
                        }
                        Some(_) => advance(&mut i, &mut line, &mut column),
                    }
                }
                Kind::Comment
            }
            '"' => {
                advance(&mut i, &mut line, &mut column);
                loop {
                    match at(i) {
                        None | Some('\n') => {
                            return Err(syntax(start_line, start_column, "literal not terminated"));
                        }
                        Some('\\') => {
                            advance(&mut i, &mut line, &mut column);
                            if at(i).is_some_and(|c| c != '\n') {
                                advance(&mut i, &mut line, &mut column);
                            }
                        }
                        Some('"') => {
                            advance(&mut i, &mut line, &mut column);
                            break;
                        }
                        Some(_) => advance(&mut i, &mut line, &mut column),
                    }
                }
                Kind::Str
            }
            '<' if at(i + 1) == Some('<') => {
                advance(&mut i, &mut line, &mut column);
                advance(&mut i, &mut line, &mut column);
                if at(i) == Some('-') {
                    advance(&mut i, &mut line, &mut column);
                }
                let mut anchor = String::new();
                while let Some(c) = at(i).filter(|c| c.is_alphanumeric() || *c == '_') {
                    anchor.push(c);
                    advance(&mut i, &mut line, &mut column);
                }
                if anchor.is_empty() || at(i) != Some('\n') {
                    return Err(syntax(start_line, start_column, "invalid heredoc anchor"));
                }
                loop {
                    // Consume the rest of the current line, then check the next one for the anchor.
                    while at(i).is_some_and(|c| c != '\n') {
                        advance(&mut i, &mut line, &mut column);
                    }
                    if at(i).is_none() {
                        return Err(syntax(start_line, start_column, "heredoc not terminated"));
                    }
                    advance(&mut i, &mut line, &mut column);
                    let rest: String = chars
                        .get(i..)
                        .unwrap_or_default()
                        .iter()
                        .take_while(|c| **c != '\n')
                        .collect();
                    if rest.trim() == anchor {
                        for _ in 0..rest.chars().count() {
                            advance(&mut i, &mut line, &mut column);
                        }
                        break;
                    }
                }
                Kind::Heredoc
            }
            c if c.is_ascii_digit()
                || (c == '-' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) =>
            {
                advance(&mut i, &mut line, &mut column);
                while at(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
                {
                    advance(&mut i, &mut line, &mut column);
                }
                Kind::Number
            }
            c if c.is_alphabetic() || c == '_' => {
                while at(i).is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                    advance(&mut i, &mut line, &mut column);
                }
                Kind::Ident
            }
            '{' | '}' | '[' | ']' | '=' | ',' => {
                advance(&mut i, &mut line, &mut column);
                match c {
                    '{' => Kind::LBrace,
                    '}' => Kind::RBrace,
                    '[' => Kind::LBrack,
                    ']' => Kind::RBrack,
                    '=' => Kind::Assign,
                    _ => Kind::Comma,
                }
            }
            other => return Err(syntax(line, column, format!("illegal char {other:?}"))),
        };
        let text: String = chars.get(start..i).unwrap_or_default().iter().collect();
        let kind = if kind == Kind::Ident && (text == "true" || text == "false") {
            Kind::Bool
        } else {
            kind
        };
        let end_line = if kind == Kind::Comment || kind == Kind::Heredoc {
            start_line + text.matches('\n').count()
        } else {
            start_line
        };
        let text = if kind == Kind::Comment {
            text.trim_end().to_owned()
        } else {
            text
        };
        tokens.push(Token {
            kind,
            text,
            line: start_line,
            column: start_column,
            end_line,
        });
    }
    tokens.push(Token {
        kind: Kind::Eof,
        text: String::new(),
        line,
        column,
        end_line: line,
    });
    Ok(tokens)
}
