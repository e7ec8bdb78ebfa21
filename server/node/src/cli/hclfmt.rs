//! `policy fmt`: parse an HCL (v1 syntax) policy, check it like OpenBao does, and print it canonically
//! (two-space indents, aligned `=` in runs of adjacent one-line attributes, blank lines between groups,
//! comments kept), following the layout rules of HashiCorp's HCL v1 printer.

/// Why a policy could not be formatted; displayed like the vault CLI's messages.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum FmtError {
    /// The text is not HCL.
    #[error("failed to parse policy: At {line}:{column}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What went wrong.
        message: String,
    },
    /// The HCL is not a valid ACL policy.
    #[error("failed to parse policy: {0}")]
    Invalid(String),
}

/// Marks heredoc continuation lines, which indentation must leave alone (a private-use character).
const NO_INDENT: char = '\u{E123}';

/// Format a policy, or say why it is not a valid policy.
pub fn format_policy(text: &str) -> Result<String, FmtError> {
    if text.trim_start().starts_with('{') {
        return Err(FmtError::Syntax {
            line: 1,
            column: 1,
            message: "JSON policies cannot be formatted".to_owned(),
        });
    }
    let tokens = lex(text)?;
    let mut parser = Parser { tokens, pos: 0 };
    let file = parser.object_list(true)?;
    validate(&file)?;
    let mut out = print_top(&file);
    out.push('\n');
    Ok(remove_markers(&out))
}

// ---------------------------------------------------------------------------------------------------
// Lexing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
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
struct Token {
    kind: Kind,
    text: String,
    line: usize,
    column: usize,
    end_line: usize,
}

fn syntax(line: usize, column: usize, message: impl Into<String>) -> FmtError {
    FmtError::Syntax {
        line,
        column,
        message: message.into(),
    }
}

fn lex(text: &str) -> Result<Vec<Token>, FmtError> {
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

// ---------------------------------------------------------------------------------------------------
// Parsing.

/// One `keys [=] value` entry.
#[derive(Debug)]
struct Item {
    lead: Vec<String>,
    keys: Vec<Token>,
    assign: Option<usize>,
    value: Value,
    line_comment: Option<String>,
}

#[derive(Debug)]
enum Value {
    Literal(Token),
    List {
        line: usize,
        items: Vec<(Value, Option<String>)>,
    },
    Object(Block),
}

impl Value {
    fn line(&self) -> usize {
        match self {
            Value::Literal(token) => token.line,
            Value::List { line, .. } => *line,
            Value::Object(block) => block.line,
        }
    }
}

/// A list of items with the standalone comments found before each item (and at the end).
#[derive(Debug, Default)]
struct Block {
    line: usize,
    items: Vec<Item>,
    /// `(index of the item they precede, comment)`; `items.len()` means "before the closing brace".
    comments: Vec<(usize, String)>,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

/// Comments waiting to be attached: consecutive lines form a group.
fn comment_groups(comments: Vec<Token>) -> Vec<Vec<Token>> {
    let mut groups: Vec<Vec<Token>> = Vec::new();
    for comment in comments {
        match groups.last_mut() {
            Some(group) if group.last().is_some_and(|c| comment.line <= c.end_line + 1) => {
                group.push(comment)
            }
            _ => groups.push(vec![comment]),
        }
    }
    groups
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
        token
    }

    fn error_here(&self, message: &str) -> FmtError {
        let (line, column, got) = self.peek().map_or((0, 0, "EOF".to_owned()), |t| {
            (t.line, t.column, describe(t))
        });
        syntax(line, column, format!("{message} got: {got}"))
    }

    /// Comments at the cursor.
    fn take_comments(&mut self) -> Vec<Token> {
        let mut comments = Vec::new();
        while self.kind() == Kind::Comment {
            comments.push(self.next());
        }
        comments
    }

    /// Items up to EOF (top level) or `}` (not consumed).
    fn object_list(&mut self, top: bool) -> Result<Block, FmtError> {
        let mut block = Block::default();
        let mut last_line = 0usize;
        loop {
            let mut comments = self.take_comments();
            // A comment on the line where the previous item ended is that item's line comment.
            if let (Some(first), Some(item)) = (comments.first(), block.items.last_mut())
                && first.line == last_line
                && item.line_comment.is_none()
            {
                item.line_comment = Some(first.text.clone());
                comments.remove(0);
            }
            let end = match self.kind() {
                Kind::Eof => true,
                Kind::RBrace if !top => true,
                _ => false,
            };
            let next_line = self.peek().map_or(0, |t| t.line);
            let mut groups = comment_groups(comments);
            let is_lead = !end
                && groups
                    .last()
                    .and_then(|group| group.last())
                    .is_some_and(|c| c.end_line + 1 == next_line);
            let lead = if is_lead {
                groups.pop().unwrap_or_default()
            } else {
                Vec::new()
            };
            for group in groups {
                for comment in group {
                    block.comments.push((block.items.len(), comment.text));
                }
            }
            if end {
                if top && self.kind() == Kind::RBrace {
                    return Err(self.error_here("expected: IDENT | STRING"));
                }
                return Ok(block);
            }
            let mut item = self.item()?;
            item.lead = lead.into_iter().map(|c| c.text).collect();
            last_line = self
                .tokens
                .get(self.pos.saturating_sub(1))
                .map_or(0, |t| t.end_line);
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
        let value = self.value()?;
        Ok(Item {
            lead: Vec::new(),
            keys,
            assign,
            value,
            line_comment: None,
        })
    }

    fn value(&mut self) -> Result<Value, FmtError> {
        match self.kind() {
            Kind::Str | Kind::Number | Kind::Bool | Kind::Heredoc => {
                Ok(Value::Literal(self.next()))
            }
            Kind::LBrace => {
                let open = self.next();
                let mut block = self.object_list(false)?;
                if self.kind() != Kind::RBrace {
                    return Err(self.error_here("object expected closing RBRACE"));
                }
                self.next();
                block.line = open.line;
                Ok(Value::Object(block))
            }
            Kind::LBrack => self.list(),
            _ => Err(self.error_here("Unknown token:")),
        }
    }

    fn list(&mut self) -> Result<Value, FmtError> {
        let open = self.next();
        let mut items: Vec<(Value, Option<String>)> = Vec::new();
        let mut last_line = open.line;
        loop {
            for comment in self.take_comments() {
                // List comments belong to the element on their line (or the previous one).
                match items.last_mut() {
                    Some((_, slot)) if slot.is_none() && comment.line == last_line => {
                        *slot = Some(comment.text);
                    }
                    Some((_, Some(existing))) if comment.line == last_line => {
                        existing.push(' ');
                        existing.push_str(&comment.text);
                    }
                    _ => {
                        return Err(syntax(
                            comment.line,
                            comment.column,
                            "comments are only supported after list elements",
                        ));
                    }
                }
            }
            match self.kind() {
                Kind::RBrack => {
                    self.next();
                    return Ok(Value::List {
                        line: open.line,
                        items,
                    });
                }
                Kind::Eof => return Err(self.error_here("list expected closing RBRACK")),
                _ => {}
            }
            let value = self.value()?;
            last_line = self
                .tokens
                .get(self.pos.saturating_sub(1))
                .map_or(0, |t| t.end_line);
            items.push((value, None));
            match self.kind() {
                Kind::Comma => {
                    self.next();
                }
                Kind::RBrack | Kind::Comment => {}
                _ => {
                    return Err(self.error_here("literal not terminated: expected COMMA or RBRACK"));
                }
            }
        }
    }
}

fn describe(token: &Token) -> String {
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

// ---------------------------------------------------------------------------------------------------
// Validation (the checks OpenBao's ParseACLPolicy makes on structure, keys and capabilities).

const TOP_KEYS: &[&str] = &["name", "path"];
const PATH_KEYS: &[&str] = &[
    "comment",
    "policy",
    "capabilities",
    "allowed_parameters",
    "denied_parameters",
    "required_parameters",
    "min_wrapping_ttl",
    "max_wrapping_ttl",
    "mfa_methods",
    "pagination_limit",
    "expiration",
    "list_scan_response_keys_filter_path",
    "control_group",
];
const CAPABILITIES: &[&str] = &[
    "create", "read", "update", "delete", "list", "sudo", "patch", "scan",
];

/// A string token's value (quotes and escapes removed), or an identifier as is.
fn unquote(token: &Token) -> String {
    if token.kind == Kind::Str {
        serde_json::from_str::<String>(&token.text)
            .unwrap_or_else(|_| token.text.trim_matches('"').to_owned())
    } else {
        token.text.clone()
    }
}

/// go-multierror's rendering of a list of errors.
fn multierror(errors: &[String]) -> String {
    let count = if errors.len() == 1 {
        "1 error occurred".to_owned()
    } else {
        format!("{} errors occurred", errors.len())
    };
    let items: Vec<String> = errors.iter().map(|e| format!("\t* {e}")).collect();
    format!("{count}:\n{}\n\n", items.join("\n"))
}

fn check_keys(block: &Block, valid: &[&str]) -> Result<(), String> {
    let errors: Vec<String> = block
        .items
        .iter()
        .filter_map(|item| {
            let key = item.keys.first().map(unquote).unwrap_or_default();
            (!valid.contains(&key.as_str())).then(|| {
                format!(
                    "invalid key {} on line {}",
                    go_quote(&key),
                    item.assign.unwrap_or(0)
                )
            })
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(multierror(&errors))
    }
}

fn go_quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| text.to_owned())
}

fn validate(file: &Block) -> Result<(), FmtError> {
    check_keys(file, TOP_KEYS).map_err(FmtError::Invalid)?;
    for item in file
        .items
        .iter()
        .filter(|i| i.keys.first().map(unquote).as_deref() == Some("path"))
    {
        let label = item.keys.get(1).map_or_else(|| "path".to_owned(), unquote);
        let prefix = format!("path {}:", go_quote(&label));
        let Value::Object(body) = &item.value else {
            return Err(FmtError::Invalid(format!(
                "{prefix} cannot check HCL keys of type {}",
                match item.value {
                    Value::List { .. } => "*ast.ListType",
                    _ => "*ast.LiteralType",
                }
            )));
        };
        check_keys(body, PATH_KEYS).map_err(|e| FmtError::Invalid(format!("{prefix} {e}")))?;
        let invalid = |what: &str, value: &str| {
            FmtError::Invalid(format!(
                "{prefix} {prefix} invalid {what} {}",
                go_quote(value)
            ))
        };
        for entry in &body.items {
            let key = entry.keys.first().map(unquote).unwrap_or_default();
            let strings: Vec<String> = match &entry.value {
                Value::Literal(token) => vec![unquote(token)],
                Value::List { items, .. } => items
                    .iter()
                    .filter_map(|(v, _)| match v {
                        Value::Literal(token) => Some(unquote(token)),
                        _ => None,
                    })
                    .collect(),
                Value::Object(_) => Vec::new(),
            };
            match key.as_str() {
                "policy" => {
                    if let Some(policy) = strings.first().filter(|p| !p.is_empty())
                        && !matches!(policy.as_str(), "deny" | "read" | "write" | "sudo")
                    {
                        return Err(invalid("policy", policy));
                    }
                }
                "capabilities" => {
                    for capability in &strings {
                        if capability == "deny" {
                            break;
                        }
                        if !CAPABILITIES.contains(&capability.as_str()) {
                            return Err(invalid("capability", capability));
                        }
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Printing.

fn indent(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut line_start = true;
    for c in text.chars() {
        if line_start && c != '\n' && c != NO_INDENT {
            out.push_str("  ");
        }
        out.push(c);
        line_start = c == '\n';
    }
    out
}

/// Drop the heredoc markers and any indentation placed before them.
fn remove_markers(text: &str) -> String {
    text.lines()
        .map(|line| match line.find(NO_INDENT) {
            Some(at) => line
                .get(at + NO_INDENT.len_utf8()..)
                .unwrap_or_default()
                .to_owned(),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
        + if text.ends_with('\n') { "\n" } else { "" }
}

fn literal(token: &Token) -> String {
    if token.kind != Kind::Heredoc {
        return token.text.clone();
    }
    // Lines after the first keep their own indentation.
    let mut out = String::new();
    for (i, line) in token.text.trim_end_matches('\n').split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
            if !line.is_empty() {
                out.push(NO_INDENT);
            }
        }
        out.push_str(line);
    }
    out
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Literal(token) => literal(token),
        Value::Object(block) => object_text(block),
        Value::List { line, items } => list_text(*line, items),
    }
}

fn list_text(open_line: usize, items: &[(Value, Option<String>)]) -> String {
    let longest = items
        .iter()
        .filter_map(|(v, _)| match v {
            Value::Literal(token) => Some(token.text.chars().count()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let mut out = String::from("[");
    let mut space_before = false;
    let last = items.len().saturating_sub(1);
    for (i, (item, comment)) in items.iter().enumerate() {
        let text = value_text(item);
        if item.line() != open_line {
            out.push('\n');
            space_before = false;
            out.push_str(&indent(&text));
            out.push(',');
            if let (Value::Literal(_), Some(comment)) = (item, comment) {
                out.push(' ');
                out.push_str(&" ".repeat(longest.saturating_sub(text.chars().count())));
                out.push_str(comment);
            }
            if i == last {
                out.push('\n');
            }
        } else {
            if space_before {
                out.push(' ');
                space_before = false;
            }
            out.push_str(&text);
            if i != last {
                out.push(',');
                space_before = true;
            }
        }
    }
    out.push(']');
    out
}

fn key_line(item: &Item) -> usize {
    item.keys.first().map_or(0, |k| k.line)
}

fn item_text(item: &Item) -> String {
    let mut out = String::new();
    for comment in &item.lead {
        out.push_str(comment);
        out.push('\n');
    }
    for key in &item.keys {
        out.push_str(&key.text);
        out.push(' ');
    }
    if item.assign.is_some() && item.keys.len() == 1 {
        out.push_str("= ");
    }
    out.push_str(&value_text(&item.value));
    if let Some(comment) = &item.line_comment
        && item.value.line() == key_line(item)
    {
        out.push(' ');
        out.push_str(comment);
    }
    out
}

fn aligned_text(items: &[&Item]) -> String {
    let longest_key = items
        .iter()
        .map(|i| i.keys.first().map_or(0, |k| k.text.chars().count()))
        .max()
        .unwrap_or(0);
    let longest_value = items
        .iter()
        .map(|i| value_text(&i.value).chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (n, item) in items.iter().enumerate() {
        for comment in &item.lead {
            out.push_str(comment);
            out.push('\n');
        }
        let single = item.keys.len() == 1;
        for (k, key) in item.keys.iter().enumerate() {
            out.push_str(&key.text);
            let pad = if k == 0 {
                longest_key.saturating_sub(key.text.chars().count()) + 1
            } else {
                1
            };
            out.push_str(&" ".repeat(pad));
            if single {
                out.push_str("= ");
            }
        }
        let value = value_text(&item.value);
        out.push_str(&value);
        if let Some(comment) = &item.line_comment
            && item.value.line() == key_line(item)
        {
            out.push_str(&" ".repeat(longest_value.saturating_sub(value.chars().count()) + 1));
            out.push_str(comment);
        }
        if n + 1 != items.len() {
            out.push('\n');
        }
    }
    out
}

fn object_text(block: &Block) -> String {
    let mut out = String::from("{");
    let items = &block.items;
    let mut index = 0usize;
    let (mut commented, mut newline_printed) = (false, false);
    loop {
        for (_, comment) in block.comments.iter().filter(|(at, _)| *at == index) {
            if !newline_printed {
                newline_printed = true;
                out.push('\n');
            }
            if index > 0 {
                commented = true;
                out.push('\n');
            }
            out.push_str(&indent(comment));
            out.push('\n');
            if index != items.len() {
                out.push('\n');
            }
        }
        if index >= items.len() {
            break;
        }
        if !newline_printed {
            out.push('\n');
            newline_printed = true;
        }
        // Runs of adjacent one-line items are aligned together (by source line adjacency, like HCL's printer).
        let mut aligned: Vec<&Item> = Vec::new();
        while let Some(item) = items.get(index) {
            if items.len() == 1 || item_text(item).matches('\n').count() + 1 > 2 {
                break;
            }
            let line = key_line(item);
            let next = items.get(index + 1).map_or(0, key_line);
            let prev = index
                .checked_sub(1)
                .and_then(|p| items.get(p))
                .map_or(0, key_line);
            if line + 1 == next {
                aligned.push(item);
                index += 1;
                continue;
            }
            if line.checked_sub(1) == Some(prev) {
                aligned.push(item);
                index += 1;
                if line + 1 != next {
                    break;
                }
                continue;
            }
            break;
        }
        if !commented && index != aligned.len() {
            out.push('\n');
        }
        if aligned.is_empty() {
            if let Some(item) = items.get(index) {
                out.push_str(&indent(&item_text(item)));
            }
            index += 1;
        } else {
            out.push_str(&indent(&aligned_text(&aligned)));
        }
        out.push('\n');
    }
    out.push('}');
    out
}

fn print_top(file: &Block) -> String {
    let mut out = String::new();
    let mut index = 0usize;
    let mut printed_item = false;
    loop {
        for (_, comment) in file.comments.iter().filter(|(at, _)| *at == index) {
            if printed_item && index == file.items.len() {
                out.push_str("\n\n");
            }
            out.push_str(comment);
            out.push('\n');
            if index != file.items.len() {
                out.push('\n');
            }
        }
        let Some(item) = file.items.get(index) else {
            break;
        };
        out.push_str(&item_text(item));
        printed_item = true;
        if index + 1 != file.items.len() {
            out.push_str("\n\n");
        }
        index += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_the_hcl_printer() {
        let input = "# lead one\n# lead two\npath \"a\" {\n  # inner lead\n  capabilities = [\"read\"] # lc\n  max_wrapping_ttl = \"1h\"\n\n  # standalone inner\n\n  min_wrapping_ttl = \"1s\"\n  allowed_parameters = {\n    \"x\" = [\n      \"a\", # c1\n      \"bbb\",\n    ]\n    \"*\" = []\n  }\n}\n# trailing standalone\n\npath \"b\" { capabilities = [\"deny\"], policy = \"deny\" }\npath \"c\" {\n}\n/* block */\npath \"d\" {\n  capabilities = [\n    \"read\"\n  ]\n}\n// end\n";
        // Output of `bao policy fmt` (OpenBao 2.7.2) for the same input.
        let expected = "# lead one\n# lead two\npath \"a\" {\n  # inner lead\n  capabilities     = [\"read\"] # lc\n  max_wrapping_ttl = \"1h\"\n\n  # standalone inner\n\n  min_wrapping_ttl = \"1s\"\n  allowed_parameters = {\n    \"x\" = [\n      \"a\",   # c1\n      \"bbb\",\n    ]\n\n    \"*\" = []\n  }\n}\n\n# trailing standalone\n\npath \"b\" {\n  capabilities = [\"deny\"]\n\n  policy = \"deny\"\n}\n\npath \"c\" {}\n\n/* block */\npath \"d\" {\n  capabilities = [\n    \"read\",\n  ]\n}\n\n// end\n\n";
        assert_eq!(format_policy(input).unwrap(), expected);
        // Formatting is idempotent.
        assert_eq!(format_policy(expected).unwrap(), expected);
    }

    #[test]
    fn simple_policies() {
        let input = "# comment\npath \"secret/*\"   {\ncapabilities = [\"read\",\"list\"]\n   allowed_parameters = {\n  \"foo\" = []\n     \"bar\" = [\"a\", \"b\"]\n   }\n}\npath \"sys/*\" { capabilities=[\"deny\"] }\n\npath \"auth/token/create\" {\n  capabilities = [\"create\", \"update\"]   # trailing\n  min_wrapping_ttl = \"1s\"\n  max_wrapping_ttl = 90\n}\n";
        let expected = "# comment\npath \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n\n  allowed_parameters = {\n    \"foo\" = []\n    \"bar\" = [\"a\", \"b\"]\n  }\n}\n\npath \"sys/*\" {\n  capabilities = [\"deny\"]\n}\n\npath \"auth/token/create\" {\n  capabilities     = [\"create\", \"update\"] # trailing\n  min_wrapping_ttl = \"1s\"\n  max_wrapping_ttl = 90\n}\n";
        assert_eq!(format_policy(input).unwrap(), expected);
        assert_eq!(format_policy("").unwrap(), "\n");
        assert_eq!(format_policy("# only\n").unwrap(), "# only\n\n");
        assert_eq!(
            format_policy("path \"x\" {\n capabilities = [\"read\"]\n}\nname = \"n\"\n").unwrap(),
            "path \"x\" {\n  capabilities = [\"read\"]\n}\n\nname = \"n\"\n"
        );
    }

    #[test]
    fn heredocs_keep_their_lines() {
        let input =
            "path \"x\" {\n  comment = <<EOT\n  keep\nthis\nEOT\n  capabilities = [\"read\"]\n}\n";
        assert_eq!(
            format_policy(input).unwrap(),
            "path \"x\" {\n  comment = <<EOT\n  keep\nthis\nEOT\n\n  capabilities = [\"read\"]\n}\n"
        );
    }

    #[test]
    fn rejects_invalid_policies_like_openbao() {
        assert_eq!(
            format_policy("foo = 1\n").unwrap_err().to_string(),
            "failed to parse policy: 1 error occurred:\n\t* invalid key \"foo\" on line 1\n\n"
        );
        assert_eq!(
            format_policy("path \"x\" { bogus = 1 }\n")
                .unwrap_err()
                .to_string(),
            "failed to parse policy: path \"x\": 1 error occurred:\n\t* invalid key \"bogus\" on line 1\n\n"
        );
        assert_eq!(
            format_policy("path \"x\" { capabilities = [\"bogus\"] }\n")
                .unwrap_err()
                .to_string(),
            "failed to parse policy: path \"x\": path \"x\": invalid capability \"bogus\""
        );
        assert_eq!(
            format_policy("path \"x\" { policy = \"bad\" }\n")
                .unwrap_err()
                .to_string(),
            "failed to parse policy: path \"x\": path \"x\": invalid policy \"bad\""
        );
        // deny stops the capability check, as in OpenBao.
        assert!(format_policy("path \"x\" { capabilities = [\"deny\", \"bogus\"] }").is_ok());
        let err = format_policy("garbage {\n").unwrap_err();
        assert!(
            matches!(&err, FmtError::Syntax { message, .. } if message.contains("RBRACE")),
            "{err}"
        );
        assert!(format_policy("path \"x\" { capabilities = [\"read\" }").is_err());
        assert!(format_policy("path \"x\" {").is_err());
        assert!(format_policy("path \"x\" = \"y").is_err());
    }
}
