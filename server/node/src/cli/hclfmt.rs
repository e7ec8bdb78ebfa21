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
    /// The policy is valid but HCL's printer cannot print it (an attribute set twice).
    #[error("Error printing result: {0}")]
    Print(String),
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
    let mut parser = Parser {
        tokens,
        pos: 0,
        last_line: 0,
    };
    let file = parser.object_list(true)?;
    validate(&file)?;
    check_duplicates(&file).map_err(FmtError::Print)?;
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

/// One element of a list, with the comments HCL attaches to literals.
#[derive(Debug)]
struct Element {
    lead: Vec<String>,
    value: Value,
    line_comment: Option<String>,
}

#[derive(Debug)]
enum Value {
    Literal(Token),
    List { line: usize, items: Vec<Element> },
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

/// A comment group that belongs to no item: consecutive comment lines.
#[derive(Debug)]
struct Standalone {
    /// Index of the item the group precedes (`items.len()`: before the closing brace or EOF).
    before: usize,
    texts: Vec<String>,
    /// Start line of the group's last comment.
    last_line: usize,
}

/// A list of items with the standalone comment groups found among them.
#[derive(Debug, Default)]
struct Block {
    line: usize,
    items: Vec<Item>,
    comments: Vec<Standalone>,
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    /// End line of the last consumed non-comment token.
    last_line: usize,
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
    lead: Vec<Token>,
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
    fn object_list(&mut self, top: bool) -> Result<Block, FmtError> {
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
                    .filter_map(|e| match &e.value {
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
                    if let Value::Literal(token) = &entry.value {
                        return Err(FmtError::Invalid(format!(
                            "{prefix} {prefix} At {}:{}: unknown slice type: *ast.LiteralType",
                            token.line, token.column
                        )));
                    }
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
        check_wrapping_ttls(body, &prefix)?;
    }
    Ok(())
}

/// A wrapping TTL value in seconds: a number, or a string in vault's duration syntax.
fn wrapping_ttl(value: &Value) -> Result<Option<i64>, String> {
    let Value::Literal(token) = value else {
        return Ok(None);
    };
    let text = unquote(token);
    if token.kind == Kind::Number {
        return text
            .parse::<f64>()
            .map(|secs| Some(secs as i64))
            .map_err(|_| {
                format!(
                    "strconv.ParseInt: parsing {}: invalid syntax",
                    go_quote(&text)
                )
            });
    }
    crate::cli::args::GoDuration::parse(&text)
        .map(|d| Some(d.secs()))
        .map_err(|_| format!("time: invalid duration {}", go_quote(&text)))
}

/// OpenBao rejects unparsable wrapping TTLs and a maximum below the minimum.
fn check_wrapping_ttls(body: &Block, prefix: &str) -> Result<(), FmtError> {
    let mut ttls = [0i64; 2];
    for (slot, key) in ["min_wrapping_ttl", "max_wrapping_ttl"]
        .into_iter()
        .enumerate()
    {
        let Some(entry) = body
            .items
            .iter()
            .rev()
            .find(|i| i.keys.first().map(unquote).as_deref() == Some(key))
        else {
            continue;
        };
        let secs = wrapping_ttl(&entry.value)
            .map_err(|e| FmtError::Invalid(format!("{prefix} error parsing {key}: {e}")))?;
        if let (Some(secs), Some(target)) = (secs, ttls.get_mut(slot)) {
            *target = secs;
        }
    }
    if let [min, max] = ttls
        && min != 0
        && max != 0
        && max < min
    {
        return Err(FmtError::Invalid(format!(
            "{prefix} max_wrapping_ttl cannot be less than min_wrapping_ttl"
        )));
    }
    Ok(())
}

/// HCL's printer refuses an attribute set twice in one object (`Error printing result: ...`).
fn check_duplicates(block: &Block) -> Result<(), String> {
    // The parser checks each attribute as it completes it, after the objects nested in its value.
    let mut seen: Vec<&str> = Vec::new();
    for item in &block.items {
        check_value_duplicates(&item.value)?;
        if let (Some(key), Some(_), 1) = (item.keys.first(), item.assign, item.keys.len()) {
            if seen.contains(&key.text.as_str()) {
                return Err(format!(
                    "The argument {} at {}:{} was already set. Each argument can only be defined once",
                    go_quote(&key.text),
                    key.line,
                    key.column
                ));
            }
            seen.push(&key.text);
        }
    }
    Ok(())
}

fn check_value_duplicates(value: &Value) -> Result<(), String> {
    match value {
        Value::Object(block) => check_duplicates(block),
        Value::List { items, .. } => items
            .iter()
            .try_for_each(|e| check_value_duplicates(&e.value)),
        Value::Literal(_) => Ok(()),
    }
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

/// Lists stay on one line when they were on one line, hold only literals, and carry no comments.
fn list_text(open_line: usize, items: &[Element]) -> String {
    let single = items.iter().all(|e| {
        e.value.line() == open_line
            && e.line_comment.is_none()
            && e.lead.is_empty()
            && matches!(&e.value, Value::Literal(t) if t.kind != Kind::Heredoc || items.len() == 1)
    });
    if single {
        let mut out = String::from("[");
        for (i, element) in items.iter().enumerate() {
            if i != 0 {
                out.push_str(", ");
            }
            out.push_str(&value_text(&element.value));
            if matches!(&element.value, Value::Literal(t) if t.kind == Kind::Heredoc) {
                out.push('\n');
            }
        }
        out.push(']');
        return out;
    }
    let longest = items
        .iter()
        .filter_map(|e| match &e.value {
            Value::Literal(token) => Some(token.text.len()),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let mut out = String::from("[\n");
    let mut have_empty_line = false;
    let last = items.len().saturating_sub(1);
    for (i, element) in items.iter().enumerate() {
        let lead = !element.lead.is_empty();
        if lead {
            // An empty line before every element with a lead comment (except the first).
            if !have_empty_line && i != 0 {
                out.push('\n');
            }
            for comment in &element.lead {
                out.push_str(&indent(comment));
                out.push('\n');
            }
        }
        let text = value_text(&element.value);
        out.push_str(&indent(&text));
        if matches!(&element.value, Value::Literal(t) if t.kind == Kind::Heredoc) {
            out.push_str("\n  ,");
        } else {
            out.push(',');
        }
        if let (Value::Literal(_), Some(comment)) = (&element.value, &element.line_comment) {
            out.push(' ');
            out.push_str(&" ".repeat(longest.saturating_sub(text.len())));
            out.push_str(comment);
        }
        out.push('\n');
        have_empty_line = lead && i != last;
        if have_empty_line {
            out.push('\n');
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
    // A line comment whose value starts on another line than the key is printed like a lead comment.
    let same_line = item.value.line() == key_line(item);
    if let Some(comment) = item.line_comment.as_ref().filter(|_| !same_line) {
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
    if let Some(comment) = item.line_comment.as_ref().filter(|_| same_line) {
        out.push(' ');
        out.push_str(comment);
    }
    out
}

fn aligned_text(items: &[&Item]) -> String {
    let longest_key = items
        .iter()
        .map(|i| i.keys.first().map_or(0, |k| k.text.len()))
        .max()
        .unwrap_or(0);
    let longest_value = items
        .iter()
        .map(|i| value_text(&i.value).len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for (n, item) in items.iter().enumerate() {
        for comment in &item.lead {
            out.push_str(comment);
            out.push('\n');
        }
        let single = item.keys.len() == 1;
        for key in &item.keys {
            out.push_str(&key.text);
            out.push_str(&" ".repeat(longest_key.saturating_sub(key.text.len()) + 1));
            if single {
                out.push_str("= ");
            }
        }
        let value = value_text(&item.value);
        out.push_str(&value);
        if let Some(comment) = &item.line_comment
            && item.value.line() == key_line(item)
        {
            out.push_str(&" ".repeat(longest_value.saturating_sub(value.len()) + 1));
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
        let next_line = items.get(index).map(key_line);
        for group in block.comments.iter().filter(|g| g.before == index) {
            for (n, comment) in group.texts.iter().enumerate() {
                if !newline_printed {
                    newline_printed = true;
                    out.push('\n');
                }
                if index > 0 {
                    commented = true;
                    out.push('\n');
                } else if n > 0 {
                    // HCL would run a group's lines together here; keep them on their own lines.
                    out.push('\n');
                }
                out.push_str(&indent(&with_markers(comment)));
            }
            out.push('\n');
            // A blank line unless the group hugs the next item.
            if next_line.is_some_and(|line| line != group.last_line + 1) {
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
        // HCL's printer measures an item by rendering it, and rendering an object then also picks up the
        // standalone comments just printed above: such an item never joins a run.
        let fresh_comments = block.comments.iter().any(|g| g.before == index);
        let mut aligned: Vec<&Item> = Vec::new();
        while let Some(item) = items.get(index) {
            if items.len() == 1
                || item_text(item).matches('\n').count() + 1 > 2
                || (fresh_comments && matches!(item.value, Value::Object(_)))
            {
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

/// Mark continuation lines of a multi-line comment so indentation leaves them alone.
fn with_markers(text: &str) -> String {
    text.split('\n')
        .enumerate()
        .map(|(i, line)| {
            if i > 0 && !line.is_empty() {
                format!("{NO_INDENT}{line}")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether an item is a one-line empty block such as `path "x" {}`.
fn is_single_line_object(item: &Item) -> bool {
    item.lead.is_empty()
        && item.assign.is_none()
        && matches!(&item.value, Value::Object(block) if block.items.is_empty())
}

fn print_top(file: &Block) -> String {
    let mut out = String::new();
    let mut index = 0usize;
    let mut printed_item = false;
    loop {
        for group in file.comments.iter().filter(|g| g.before == index) {
            let mut newline_printed = false;
            for comment in &group.texts {
                if !newline_printed && printed_item && index == file.items.len() {
                    out.push_str("\n\n");
                    newline_printed = true;
                }
                out.push_str(comment);
                out.push('\n');
            }
            if index != file.items.len() {
                out.push('\n');
            }
        }
        let Some(item) = file.items.get(index) else {
            break;
        };
        out.push_str(&item_text(item));
        printed_item = true;
        if let Some(next) = file.items.get(index + 1) {
            out.push('\n');
            // A blank line unless two adjacent `x {}` one-liners follow each other.
            if key_line(next) != key_line(item) + 1
                || !is_single_line_object(next)
                || !is_single_line_object(item)
            {
                out.push('\n');
            }
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
    fn comment_placement_follows_hcl() {
        // A comment after the last element (no comma) belongs to the attribute, after `]`.
        assert_eq!(
            format_policy(
                "path \"a\" {\n  capabilities = [\n    \"read\", # r\n    \"list\"  # l\n  ]\n}"
            )
            .unwrap(),
            "path \"a\" {\n  capabilities = [\n    \"read\", # r\n    \"list\",\n  ] # l\n}\n"
        );
        // A comment after a block's closing brace is its line comment, unless EOF follows on that line.
        assert_eq!(
            format_policy("path \"a\" { capabilities = [\"read\"] } # inline\n").unwrap(),
            "path \"a\" {\n  capabilities = [\"read\"]\n} # inline\n"
        );
        assert_eq!(
            format_policy("path \"a\" { capabilities = [\"read\"] } # inline").unwrap(),
            "path \"a\" {\n  capabilities = [\"read\"]\n}\n\n# inline\n\n"
        );
        assert_eq!(
            format_policy("path \"a\" {\n  capabilities = [\"read\"], policy = \"read\" # c\n}\n")
                .unwrap(),
            "path \"a\" {\n  capabilities = [\"read\"]\n\n  policy = \"read\" # c\n}\n"
        );
    }

    #[test]
    fn comment_groups_and_list_comments() {
        // Inputs and `bao policy fmt` outputs (OpenBao 2.7.2).
        let cases = [
            (
                "# g1a\n# g1b\n\n# g2\npath \"a\" {}\npath \"b\" {}\n\npath \"c\" {}\n# t1\n# t2",
                "# g1a\n# g1b\n\n# g2\npath \"a\" {}\n\npath \"b\" {}\n\npath \"c\" {}\n\n# t1\n# t2\n\n",
            ),
            (
                "path \"a\" {\n  capabilities = [\"read\"]\n\n  # s1\n  # s2\n\n  policy = \"read\"\n  # e1\n  # e2\n}",
                "path \"a\" {\n  capabilities = [\"read\"]\n\n  # s1\n  # s2\n\n  policy = \"read\"\n\n  # e1\n  # e2\n}\n",
            ),
            (
                "path \"a\" {\n  capabilities = [\"read\",\n    \"list\"]\n  allowed_parameters = {\n    \"k\" = [\"a\", \"b\"] # same\n  }\n}",
                "path \"a\" {\n  capabilities = [\n    \"read\",\n    \"list\",\n  ]\n\n  allowed_parameters = {\n    \"k\" = [\"a\", \"b\"] # same\n  }\n}\n",
            ),
            (
                "path \"a\" {\n  capabilities = [\n    # lead a\n    \"read\",\n    # lead b\n    \"list\",\n    \"create\",\n  ]\n}",
                "path \"a\" {\n  capabilities = [\n    # lead a\n    \"read\",\n\n    # lead b\n    \"list\",\n\n    \"create\",\n  ]\n}\n",
            ),
            (
                "path \"a\" {\n  capabilities = [ # first\n    \"read\",\n    # own line\n    \"list\",\n  ]\n}",
                "path \"a\" {\n  capabilities = [\n    \"read\", # first\n\n    # own line\n    \"list\",\n  ]\n}\n",
            ),
            (
                "path \"a\" {\n  allowed_parameters = {\n    \"x\" = []\n  } # after obj\n  capabilities = [\"read\"]\n}",
                "path \"a\" {\n  allowed_parameters = {\n    \"x\" = []\n  } # after obj\n\n  capabilities = [\"read\"]\n}\n",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(format_policy(input).unwrap(), expected, "input: {input}");
            assert_eq!(
                format_policy(expected).unwrap(),
                expected,
                "not idempotent: {expected}"
            );
        }
    }

    #[test]
    fn standalone_comments_keep_objects_out_of_runs() {
        // `bao policy fmt` outputs for these inputs.
        assert_eq!(
            format_policy(
                "path \"p\" {\n  # note\n\n  min_wrapping_ttl = 90\n  denied_parameters = {}\n}\n"
            )
            .unwrap(),
            "path \"p\" {\n  # note\n\n  min_wrapping_ttl = 90\n\n  denied_parameters = {}\n}\n"
        );
        assert_eq!(
            format_policy("path \"p\" {\n  policy = \"read\"\n\n  # note\n\n  min_wrapping_ttl = 90\n  denied_parameters = {\n  }\n}\n").unwrap(),
            "path \"p\" {\n  policy = \"read\"\n\n  # note\n\n  min_wrapping_ttl = 90\n  denied_parameters = {}\n}\n"
        );
        assert_eq!(
            format_policy(
                "path \"p\" {\n  # note\n\n  min_wrapping_ttl = 90\n  policy = \"read\"\n}\n"
            )
            .unwrap(),
            "path \"p\" {\n  # note\n\n  min_wrapping_ttl = 90\n  policy           = \"read\"\n}\n"
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
        assert_eq!(
            format_policy("path \"x\" { capabilities = \"read\" }")
                .unwrap_err()
                .to_string(),
            "failed to parse policy: path \"x\": path \"x\": At 1:27: unknown slice type: *ast.LiteralType"
        );
        let err = format_policy("garbage {\n").unwrap_err();
        assert!(
            matches!(&err, FmtError::Syntax { message, .. } if message.contains("RBRACE")),
            "{err}"
        );
        assert!(format_policy("path \"x\" { capabilities = [\"read\" }").is_err());
        assert_eq!(
            format_policy(
                "path \"p\" {\n  max_wrapping_ttl = \"1s\"\n  min_wrapping_ttl = \"1h\"\n}\n"
            )
            .unwrap_err()
            .to_string(),
            "failed to parse policy: path \"p\": max_wrapping_ttl cannot be less than min_wrapping_ttl"
        );
        assert!(
            format_policy(
                "path \"p\" {\n  max_wrapping_ttl = 7200\n  min_wrapping_ttl = \"1h\"\n}\n"
            )
            .is_ok()
        );
        assert_eq!(
            format_policy("path \"p\" {\n  policy = \"deny\"\n  capabilities = [\"read\"]\n  policy = \"read\"\n}\n")
                .unwrap_err()
                .to_string(),
            "Error printing result: The argument \"policy\" at 4:3 was already set. Each argument can only be defined once"
        );
        assert_eq!(
            format_policy(
                "path \"p\" {\n  allowed_parameters = {\n    \"x\" = []\n    \"x\" = []\n  }\n}\n"
            )
            .unwrap_err()
            .to_string(),
            "Error printing result: The argument \"\\\"x\\\"\" at 4:5 was already set. Each argument can only be defined once"
        );
        // Repeated blocks are fine.
        assert!(format_policy("path \"x\" {}\npath \"x\" {}\n").is_ok());
        assert!(format_policy("path \"x\" {").is_err());
        assert!(format_policy("path \"x\" = \"y").is_err());
    }
}
