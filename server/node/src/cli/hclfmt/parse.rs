//! The syntax tree, with comments attached the way HCL v1's parser attaches them.

use super::FmtError;
use super::lex::{Kind, Token, syntax};

/// One `keys [=] value` entry.
#[derive(Debug)]
pub(super) struct Item {
    pub(super) lead: Vec<String>,
    pub(super) keys: Vec<Token>,
    pub(super) assign: Option<usize>,
    pub(super) value: Value,
    pub(super) line_comment: Option<String>,
}

/// One element of a list, with the comments HCL attaches to literals.
#[derive(Debug)]
pub(super) struct Element {
    pub(super) lead: Vec<String>,
    pub(super) value: Value,
    pub(super) line_comment: Option<String>,
}

#[derive(Debug)]
pub(super) enum Value {
    Literal(Token),
    List { line: usize, items: Vec<Element> },
    Object(Block),
}

impl Value {
    pub(super) fn line(&self) -> usize {
        match self {
            Value::Literal(token) => token.line,
            Value::List { line, .. } => *line,
            Value::Object(block) => block.line,
        }
    }
}

/// A comment group that belongs to no item: consecutive comment lines.
#[derive(Debug)]
pub(super) struct Standalone {
    /// Index of the item the group precedes (`items.len()`: before the closing brace or EOF).
    pub(super) before: usize,
    pub(super) texts: Vec<String>,
    /// Start line of the group's last comment.
    pub(super) last_line: usize,
}

/// A list of items with the standalone comment groups found among them.
#[derive(Debug, Default)]
pub(super) struct Block {
    pub(super) line: usize,
    pub(super) items: Vec<Item>,
    pub(super) comments: Vec<Standalone>,
}

pub(super) struct Parser {
    pub(super) tokens: Vec<Token>,
    pub(super) pos: usize,
    /// End line of the last consumed non-comment token.
    pub(super) last_line: usize,
}

/// Comments split into groups of consecutive lines.
fn comment_groups(comments: Vec<Token>) -> Vec<Vec<Token>> {
    let mut groups: Vec<Vec<Token>> = Vec::new();
    for comment in comments {
        match groups.last_mut() {
            Some(group) if group.last().is_some_and(|c| comment.line <= c.end_line + 1) => {
                group.push(comment);
            }
            _ => groups.push(vec![comment]),
        }
    }
    groups
}

/// Comments found before a token, split like HCL's parser does: a comment on the previous token's line
/// (a line comment for what precedes), groups that stand alone, and a lead group hugging the token.
struct Gathered {
    same_line: Option<Token>,
    standalone: Vec<Vec<Token>>,
    pub(super) lead: Vec<Token>,
}

fn gather(mut comments: Vec<Token>, prev_line: usize, next: Option<&Token>) -> Gathered {
    // A comment on the previous token's line is a line comment only if the next token starts on a later
    // line (so not before EOF on the same line).
    let same_line = match comments.first() {
        Some(first)
            if first.line == prev_line
                && prev_line != 0
                && next.is_none_or(|t| t.line != first.end_line) =>
        {
            Some(comments.remove(0))
        }
        _ => None,
    };
    let mut standalone = comment_groups(comments);
    let hugs = |group: &Vec<Token>| {
        next.is_some_and(|t| {
            !matches!(t.kind, Kind::RBrace | Kind::RBrack | Kind::Eof)
                && group.last().is_some_and(|c| c.end_line + 1 == t.line)
        })
    };
    let lead = if standalone.last().is_some_and(hugs) {
        standalone.pop().unwrap_or_default()
    } else {
        Vec::new()
    };
    Gathered {
        same_line,
        standalone,
        lead,
    }
}

fn texts(comments: Vec<Token>) -> Vec<String> {
    comments.into_iter().map(|c| c.text).collect()
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn kind(&self) -> Kind {
        self.peek().map_or(Kind::Eof, |t| t.kind)
    }

    fn next(&mut self) -> Token {
        let token = self.peek().cloned().unwrap_or(Token {
            kind: Kind::Eof,
            text: String::new(),
            line: 0,
            column: 0,
            end_line: 0,
        });
        self.pos += 1;
        if token.kind != Kind::Comment {
            self.last_line = token.end_line;
        }
        token
    }

    /// End line of the last consumed non-comment token.
    fn prev_line(&self) -> usize {
        self.last_line
    }

    fn error_here(&self, message: &str) -> FmtError {
        let (line, column, got) = self.peek().map_or((0, 0, "EOF".to_owned()), |t| {
            (t.line, t.column, describe(t))
        });
        syntax(line, column, format!("{message} got: {got}"))
    }

    /// Comments at the cursor, split relative to the previous and the next token.
    fn gather(&mut self) -> Gathered {
        let prev_line = self.prev_line();
        let mut comments = Vec::new();
        while self.kind() == Kind::Comment {
            comments.push(self.next());
        }
        gather(comments, prev_line, self.peek())
    }

    /// Items up to EOF (top level) or `}` (not consumed).
    pub(super) fn object_list(&mut self, top: bool) -> Result<Block, FmtError> {
        let mut block = Block::default();
        loop {
            let Gathered {
                same_line,
                standalone,
                lead,
            } = self.gather();
            if let Some(comment) = same_line {
                match block.items.last_mut() {
                    Some(item) if item.line_comment.is_none() => {
                        item.line_comment = Some(comment.text);
                    }
                    _ => block.comments.push(Standalone {
                        before: block.items.len(),
                        last_line: comment.line,
                        texts: vec![comment.text],
                    }),
                }
            }
            for group in standalone {
                let last_line = group.last().map_or(0, |c| c.line);
                block.comments.push(Standalone {
                    before: block.items.len(),
                    texts: texts(group),
                    last_line,
                });
            }
            let end = match self.kind() {
                Kind::Eof => true,
                Kind::RBrace => {
                    if top {
                        return Err(self.error_here("expected: IDENT | STRING"));
                    }
                    true
                }
                _ => false,
            };
            if end {
                if !lead.is_empty() {
                    let last_line = lead.last().map_or(0, |c| c.line);
                    block.comments.push(Standalone {
                        before: block.items.len(),
                        texts: texts(lead),
                        last_line,
                    });
                }
                return Ok(block);
            }
            let mut item = self.item()?;
            item.lead = texts(lead);
            block.items.push(item);
            if self.kind() == Kind::Comma {
                self.next();
            }
        }
    }

    fn item(&mut self) -> Result<Item, FmtError> {
        let mut keys = Vec::new();
        while matches!(self.kind(), Kind::Ident | Kind::Str) {
            keys.push(self.next());
        }
        if keys.is_empty() {
            return Err(self.error_here("expected: IDENT | STRING"));
        }
        let assign = if self.kind() == Kind::Assign {
            Some(self.next().line)
        } else {
            None
        };
        if assign.is_some() && keys.len() > 1 {
            return Err(syntax(
                keys.get(1).map_or(0, |t| t.line),
                keys.get(1).map_or(0, |t| t.column),
                "nested object expected: LBRACE",
            ));
        }
        if assign.is_none() && self.kind() != Kind::LBrace {
            return Err(self.error_here("key expected: ASSIGN or LBRACE"));
        }
        let (value, line_comment) = self.value()?;
        Ok(Item {
            lead: Vec::new(),
            keys,
            assign,
            value,
            line_comment,
        })
    }

    /// A value, and a line comment it leaves for its item (from inside a list).
    fn value(&mut self) -> Result<(Value, Option<String>), FmtError> {
        match self.kind() {
            Kind::Str | Kind::Number | Kind::Bool | Kind::Heredoc => {
                Ok((Value::Literal(self.next()), None))
            }
            Kind::LBrace => {
                let open = self.next();
                let mut block = self.object_list(false)?;
                if self.kind() != Kind::RBrace {
                    return Err(self.error_here("object expected closing RBRACE"));
                }
                self.next();
                block.line = open.line;
                Ok((Value::Object(block), None))
            }
            Kind::LBrack => self.list(),
            _ => Err(self.error_here("Unknown token:")),
        }
    }

    fn list(&mut self) -> Result<(Value, Option<String>), FmtError> {
        let open = self.next();
        let mut items: Vec<Element> = Vec::new();
        // A comment waiting for the next comma to attach to the element before it (HCL's parser keeps
        // the last same-line comment pending; without a comma it ends up on the enclosing item).
        let mut pending: Option<String> = None;
        let mut need_comma = false;
        loop {
            let Gathered {
                same_line,
                standalone,
                lead,
            } = self.gather();
            if let Some(comment) = same_line {
                pending = Some(comment.text);
            }
            // Groups that hug nothing are kept with the next element rather than lost.
            let mut lead_texts: Vec<String> = standalone.into_iter().flat_map(texts).collect();
            lead_texts.extend(texts(lead));
            match self.kind() {
                Kind::RBrack => {
                    self.next();
                    let mut trailing = pending;
                    for text in lead_texts {
                        let joined = trailing.map_or(text.clone(), |t| format!("{t} {text}"));
                        trailing = Some(joined);
                    }
                    return Ok((
                        Value::List {
                            line: open.line,
                            items,
                        },
                        trailing,
                    ));
                }
                Kind::Comma => {
                    self.next();
                    need_comma = false;
                    if let (Some(comment), Some(last)) = (pending.take(), items.last_mut()) {
                        last.line_comment = Some(comment);
                    }
                    // Comments right after the comma on its line belong to the element before it.
                    let prev_line = self.prev_line();
                    if self.kind() == Kind::Comment
                        && self.peek().is_some_and(|t| t.line == prev_line)
                    {
                        let comment = self.next();
                        if let Some(last) = items.last_mut()
                            && last.line_comment.is_none()
                        {
                            last.line_comment = Some(comment.text);
                        }
                    }
                    if !lead_texts.is_empty()
                        && let Some(last) = items.last_mut()
                    {
                        last.lead.extend(lead_texts);
                    }
                    continue;
                }
                Kind::Eof => return Err(self.error_here("list expected closing RBRACK")),
                _ => {}
            }
            if need_comma {
                return Err(self.error_here("error parsing list, expected comma or list end"));
            }
            let (value, _) = self.value()?;
            items.push(Element {
                lead: lead_texts,
                value,
                line_comment: None,
            });
            need_comma = true;
        }
    }
}

pub(super) fn describe(token: &Token) -> String {
    match token.kind {
        Kind::Eof => "EOF".to_owned(),
        Kind::RBrace => "RBRACE".to_owned(),
        Kind::LBrace => "LBRACE".to_owned(),
        Kind::RBrack => "RBRACK".to_owned(),
        Kind::LBrack => "LBRACK".to_owned(),
        Kind::Assign => "ASSIGN".to_owned(),
        Kind::Comma => "COMMA".to_owned(),
        _ => token.text.clone(),
    }
}
