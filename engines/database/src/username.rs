//! OpenBao's username templates: the subset of Go's `text/template` those templates use — text, `{{ }}`
//! actions with pipelines, parenthesised sub-pipelines, string and integer literals, the fields `.DisplayName`
//! and `.RoleName`, `{{- -}}` trimming and `{{/* */}}` comments — with OpenBao's functions (`printf`, `print`,
//! `truncate`, `truncate_sha256`, `random`, `uppercase`, `lowercase`, `replace`, `sha256`, `base64`,
//! `decode_base64`, `hex`, `decode_hex`, `unix_time`, `unix_time_millis`, `timestamp`, `uuid`). Control
//! structures (`if`, `range`, variables) are refused when the template is parsed.

use std::time::SystemTime;

use base64::Engine as _;
use time::OffsetDateTime;

/// Why a template failed to parse or render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(String);

fn err<T>(msg: impl Into<String>) -> Result<T, TemplateError> {
    Err(TemplateError(msg.into()))
}

/// A parsed username template.
#[derive(Debug, Clone)]
pub struct UsernameTemplate {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Action(Pipeline),
}

#[derive(Debug, Clone)]
struct Pipeline(Vec<Command>);

#[derive(Debug, Clone)]
struct Command(Vec<Arg>);

#[derive(Debug, Clone)]
enum Arg {
    Field(MetaField),
    Str(String),
    Int(i64),
    Func(Func),
    Sub(Pipeline),
}

#[derive(Debug, Clone, Copy)]
enum MetaField {
    DisplayName,
    RoleName,
}

#[derive(Debug, Clone, Copy)]
enum Func {
    Printf,
    Print,
    Truncate,
    TruncateSha256,
    Random,
    Uppercase,
    Lowercase,
    Replace,
    Sha256,
    Base64,
    DecodeBase64,
    Hex,
    DecodeHex,
    UnixTime,
    UnixTimeMillis,
    Timestamp,
    Uuid,
}

impl Func {
    fn lookup(name: &str) -> Option<Self> {
        Some(match name {
            "printf" => Self::Printf,
            "print" => Self::Print,
            "truncate" => Self::Truncate,
            "truncate_sha256" => Self::TruncateSha256,
            "random" => Self::Random,
            "uppercase" => Self::Uppercase,
            "lowercase" => Self::Lowercase,
            "replace" => Self::Replace,
            "sha256" => Self::Sha256,
            "base64" => Self::Base64,
            "decode_base64" => Self::DecodeBase64,
            "hex" => Self::Hex,
            "decode_hex" => Self::DecodeHex,
            "unix_time" => Self::UnixTime,
            "unix_time_millis" => Self::UnixTimeMillis,
            "timestamp" => Self::Timestamp,
            "uuid" => Self::Uuid,
            _ => return None,
        })
    }
}

/// A value flowing through a pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Val {
    Str(String),
    Int(i64),
}

impl Val {
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Int(n) => n.to_string(),
        }
    }
}

/// What the template sees, plus the time it renders at.
struct Ctx<'a> {
    display_name: &'a str,
    role_name: &'a str,
    now: OffsetDateTime,
}

impl UsernameTemplate {
    /// Parses `src`; unknown functions or fields and unsupported syntax are errors.
    pub fn parse(src: &str) -> Result<Self, TemplateError> {
        if src.is_empty() {
            return err("missing template");
        }
        Parser {
            chars: src.chars().collect(),
            pos: 0,
        }
        .template()
    }

    /// Renders a user name for `display_name` (the caller's token display name) and `role_name`, now.
    pub fn render(&self, display_name: &str, role_name: &str) -> Result<String, TemplateError> {
        self.render_at(display_name, role_name, SystemTime::now())
    }

    /// [`UsernameTemplate::render`] at a given time.
    pub fn render_at(
        &self,
        display_name: &str,
        role_name: &str,
        now: SystemTime,
    ) -> Result<String, TemplateError> {
        let now = OffsetDateTime::from(now);
        let ctx = Ctx {
            display_name,
            role_name,
            now,
        };
        let mut out = String::new();
        for node in &self.nodes {
            match node {
                Node::Text(t) => out.push_str(t),
                Node::Action(p) => out.push_str(&eval_pipeline(p, &ctx)?.text()),
            }
        }
        Ok(out)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Field(String),
    Ident(String),
    Str(String),
    Int(i64),
    LParen,
    RParen,
    Pipe,
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.pos + n).copied()
    }

    fn at(&self, s: &str) -> bool {
        s.chars()
            .enumerate()
            .all(|(i, c)| self.peek_at(i) == Some(c))
    }

    fn template(mut self) -> Result<UsernameTemplate, TemplateError> {
        let mut nodes = Vec::new();
        let mut text = String::new();
        let mut trim_next = false;
        while let Some(c) = self.peek() {
            if !self.at("{{") {
                text.push(c);
                self.pos += 1;
                continue;
            }
            self.pos += 2;
            // `{{- ` trims the text before; `{{-3}}` is a negative number, so the space matters.
            let trim_before =
                self.peek() == Some('-') && self.peek_at(1).is_some_and(char::is_whitespace);
            if trim_before {
                self.pos += 1;
            }
            flush(&mut nodes, &mut text, trim_next, trim_before);
            let (action, trim_after) = self.action()?;
            if let Some(p) = action {
                nodes.push(Node::Action(p));
            }
            trim_next = trim_after;
        }
        flush(&mut nodes, &mut text, trim_next, false);
        Ok(UsernameTemplate { nodes })
    }

    /// Reads one action after its `{{`, through its `}}`: the pipeline (none for a comment) and whether it
    /// ends with `-}}`.
    fn action(&mut self) -> Result<(Option<Pipeline>, bool), TemplateError> {
        self.skip_space();
        if self.at("/*") {
            while !self.at("*/") {
                if self.peek().is_none() {
                    return err("unclosed comment");
                }
                self.pos += 1;
            }
            self.pos += 2;
            let trim = self.close()?;
            return Ok((None, trim));
        }
        let mut toks = Vec::new();
        loop {
            self.skip_space();
            if self.at("}}") || self.at("-}}") {
                break;
            }
            match self.peek() {
                None => return err("unclosed action"),
                Some(_) => toks.push(self.token()?),
            }
        }
        let trim = self.close()?;
        if toks.is_empty() {
            return err("missing value for command");
        }
        let mut i = 0;
        let p = pipeline(&toks, &mut i)?;
        if i != toks.len() {
            return err("unexpected \")\" in operand");
        }
        Ok((Some(p), trim))
    }

    /// Consumes `}}` or `-}}`; true for the trimming form.
    fn close(&mut self) -> Result<bool, TemplateError> {
        self.skip_space();
        if self.at("-}}") {
            self.pos += 3;
            return Ok(true);
        }
        if self.at("}}") {
            self.pos += 2;
            return Ok(false);
        }
        err("unclosed action")
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn token(&mut self) -> Result<Tok, TemplateError> {
        let Some(c) = self.peek() else {
            return err("unclosed action");
        };
        match c {
            '(' => {
                self.pos += 1;
                Ok(Tok::LParen)
            }
            ')' => {
                self.pos += 1;
                Ok(Tok::RParen)
            }
            '|' => {
                self.pos += 1;
                Ok(Tok::Pipe)
            }
            '"' => self.quoted(),
            '`' => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return err("unterminated raw quoted string"),
                        Some('`') => break,
                        Some(ch) => s.push(ch),
                    }
                    self.pos += 1;
                }
                self.pos += 1;
                Ok(Tok::Str(s))
            }
            '.' => {
                self.pos += 1;
                let name = self.word();
                if name.is_empty() {
                    return err(
                        "the data value \".\" is not supported; use .DisplayName or .RoleName",
                    );
                }
                Ok(Tok::Field(name))
            }
            '$' => err("variables are not supported in username templates"),
            c if c == '-' || c == '+' || c.is_ascii_digit() => {
                let mut s = String::from(c);
                self.pos += 1;
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    s.push(d);
                    self.pos += 1;
                }
                s.parse()
                    .map(Tok::Int)
                    .or_else(|_| err(format!("bad number syntax: {s:?}")))
            }
            c if c.is_alphabetic() || c == '_' => Ok(Tok::Ident(self.word())),
            other => err(format!("unexpected {other:?} in command")),
        }
    }

    fn word(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek().filter(|c| c.is_alphanumeric() || *c == '_') {
            s.push(c);
            self.pos += 1;
        }
        s
    }

    /// A double-quoted Go string with the common escapes.
    fn quoted(&mut self) -> Result<Tok, TemplateError> {
        self.pos += 1;
        let mut s = String::new();
        loop {
            match self.peek() {
                None | Some('\n') => return err("unterminated quoted string"),
                Some('"') => break,
                Some('\\') => {
                    self.pos += 1;
                    let esc = match self.peek() {
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some('r') => '\r',
                        Some('\\') => '\\',
                        Some('"') => '"',
                        Some('\'') => '\'',
                        other => return err(format!("unsupported escape {other:?}")),
                    };
                    s.push(esc);
                }
                Some(ch) => s.push(ch),
            }
            self.pos += 1;
        }
        self.pos += 1;
        Ok(Tok::Str(s))
    }
}

/// Appends pending text (trimmed as the neighbouring markers ask) as a node.
fn flush(nodes: &mut Vec<Node>, text: &mut String, trim_start: bool, trim_end: bool) {
    let mut t = std::mem::take(text);
    if trim_start {
        t = t.trim_start().to_owned();
    }
    if trim_end {
        t = t.trim_end().to_owned();
    }
    if !t.is_empty() {
        nodes.push(Node::Text(t));
    }
}

fn pipeline(toks: &[Tok], i: &mut usize) -> Result<Pipeline, TemplateError> {
    let mut cmds = vec![command(toks, i)?];
    while toks.get(*i) == Some(&Tok::Pipe) {
        *i += 1;
        cmds.push(command(toks, i)?);
    }
    Ok(Pipeline(cmds))
}

fn command(toks: &[Tok], i: &mut usize) -> Result<Command, TemplateError> {
    let mut args = Vec::new();
    while let Some(tok) = toks.get(*i) {
        let arg = match tok {
            Tok::Pipe | Tok::RParen => break,
            Tok::Field(name) => Arg::Field(match name.as_str() {
                "DisplayName" => MetaField::DisplayName,
                "RoleName" => MetaField::RoleName,
                other => {
                    return err(format!(
                        "can't evaluate field {other} (available: .DisplayName, .RoleName)"
                    ));
                }
            }),
            Tok::Ident(name) => match name.as_str() {
                "if" | "else" | "end" | "range" | "with" | "define" | "template" | "block" => {
                    return err(format!("{name:?} is not supported in username templates"));
                }
                _ => Arg::Func(
                    Func::lookup(name)
                        .ok_or_else(|| TemplateError(format!("function {name:?} not defined")))?,
                ),
            },
            Tok::Str(s) => Arg::Str(s.clone()),
            Tok::Int(n) => Arg::Int(*n),
            Tok::LParen => {
                *i += 1;
                let p = pipeline(toks, i)?;
                if toks.get(*i) != Some(&Tok::RParen) {
                    return err("unclosed left paren");
                }
                Arg::Sub(p)
            }
        };
        args.push(arg);
        *i += 1;
    }
    if args.is_empty() {
        return err("missing value for command");
    }
    if args.len() > 1 && !matches!(args.first(), Some(Arg::Func(_))) {
        return err("can't give argument to non-function");
    }
    Ok(Command(args))
}

fn eval_pipeline(p: &Pipeline, ctx: &Ctx<'_>) -> Result<Val, TemplateError> {
    let mut piped: Option<Val> = None;
    for cmd in &p.0 {
        piped = Some(eval_command(cmd, piped, ctx)?);
    }
    piped.ok_or_else(|| TemplateError("empty pipeline".into()))
}

fn eval_command(cmd: &Command, piped: Option<Val>, ctx: &Ctx<'_>) -> Result<Val, TemplateError> {
    let mut args = cmd.0.iter();
    match args.next() {
        Some(Arg::Func(f)) => {
            let mut vals = args
                .map(|a| eval_arg(a, ctx))
                .collect::<Result<Vec<_>, _>>()?;
            vals.extend(piped);
            call(*f, vals, ctx)
        }
        Some(arg) if piped.is_none() => eval_arg(arg, ctx),
        Some(_) => err("can't give argument to non-function"),
        None => err("missing value for command"),
    }
}

fn eval_arg(arg: &Arg, ctx: &Ctx<'_>) -> Result<Val, TemplateError> {
    Ok(match arg {
        Arg::Field(MetaField::DisplayName) => Val::Str(ctx.display_name.to_owned()),
        Arg::Field(MetaField::RoleName) => Val::Str(ctx.role_name.to_owned()),
        Arg::Str(s) => Val::Str(s.clone()),
        Arg::Int(n) => Val::Int(*n),
        Arg::Func(f) => call(*f, Vec::new(), ctx)?,
        Arg::Sub(p) => eval_pipeline(p, ctx)?,
    })
}

fn arity(name: &str, args: &[Val], n: usize) -> Result<(), TemplateError> {
    if args.len() == n {
        Ok(())
    } else {
        err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn int_arg(name: &str, v: Option<&Val>) -> Result<i64, TemplateError> {
    match v {
        Some(Val::Int(n)) => Ok(*n),
        _ => err(format!("wrong type for value in {name}; expected int")),
    }
}

fn str_arg(name: &str, v: Option<&Val>) -> Result<String, TemplateError> {
    match v {
        Some(Val::Str(s)) => Ok(s.clone()),
        _ => err(format!("wrong type for value in {name}; expected string")),
    }
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn prefix(s: &str, max: usize) -> &str {
    let mut end = max.min(s.len());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default()
}

fn call(f: Func, args: Vec<Val>, ctx: &Ctx<'_>) -> Result<Val, TemplateError> {
    let s = |name: &str, n: usize| -> Result<String, TemplateError> {
        arity(name, &args, n)?;
        str_arg(name, args.last())
    };
    Ok(Val::Str(match f {
        Func::Printf => {
            let Some(Val::Str(fmt)) = args.first() else {
                return err("printf needs a format string");
            };
            printf(fmt, args.get(1..).unwrap_or_default())
        }
        Func::Print => print(&args),
        Func::Truncate => {
            arity("truncate", &args, 2)?;
            let max = int_arg("truncate", args.first())?;
            let v = str_arg("truncate", args.get(1))?;
            if max <= 0 {
                return err(format!("max length must be > 0 but was {max}"));
            }
            prefix(&v, usize::try_from(max).unwrap_or(usize::MAX)).to_owned()
        }
        Func::TruncateSha256 => {
            arity("truncate_sha256", &args, 2)?;
            let max = int_arg("truncate_sha256", args.first())?;
            let v = str_arg("truncate_sha256", args.get(1))?;
            if max <= 8 {
                return err(format!("max length must be > 8 but was {max}"));
            }
            let max = usize::try_from(max).unwrap_or(usize::MAX);
            if v.len() <= max {
                v
            } else {
                let head = prefix(&v, max - 8);
                let tail = v.get(head.len()..).unwrap_or_default();
                let hash = sha256_hex(tail);
                format!("{head}{}", hash.get(..8).unwrap_or_default())
            }
        }
        Func::Random => {
            arity("random", &args, 1)?;
            let n = int_arg("random", args.first())?;
            if !(1..=1024).contains(&n) {
                return err(format!("random length must be between 1 and 1024, got {n}"));
            }
            random_base62(usize::try_from(n).unwrap_or(0))?
        }
        Func::Uppercase => s("uppercase", 1)?.to_uppercase(),
        Func::Lowercase => s("lowercase", 1)?.to_lowercase(),
        Func::Replace => {
            arity("replace", &args, 3)?;
            let find = str_arg("replace", args.first())?;
            let with = str_arg("replace", args.get(1))?;
            let v = str_arg("replace", args.get(2))?;
            if find.is_empty() {
                v
            } else {
                v.replace(&find, &with)
            }
        }
        Func::Sha256 => sha256_hex(&s("sha256", 1)?),
        Func::Base64 => base64::engine::general_purpose::STANDARD.encode(s("base64", 1)?),
        Func::DecodeBase64 => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s("decode_base64", 1)?)
                .map_err(|e| TemplateError(format!("decode_base64: {e}")))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Func::Hex => hex::encode(s("hex", 1)?),
        Func::DecodeHex => {
            let bytes = hex::decode(s("decode_hex", 1)?)
                .map_err(|e| TemplateError(format!("decode_hex: {e}")))?;
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Func::UnixTime => {
            arity("unix_time", &args, 0)?;
            ctx.now.unix_timestamp().to_string()
        }
        Func::UnixTimeMillis => {
            arity("unix_time_millis", &args, 0)?;
            (ctx.now.unix_timestamp_nanos() / 1_000_000).to_string()
        }
        Func::Timestamp => crate::gotime::format(&s("timestamp", 1)?, ctx.now),
        Func::Uuid => {
            arity("uuid", &args, 0)?;
            uuid::Uuid::new_v4().to_string()
        }
    }))
}

fn sha256_hex(s: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, s.as_bytes()))
}

/// `n` characters from Go's base62 alphabet, uniformly (rejection sampling over random bytes).
fn random_base62(n: usize) -> Result<String, TemplateError> {
    use ring::rand::SecureRandom as _;
    const ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let rng = ring::rand::SystemRandom::new();
    let mut out = String::with_capacity(n);
    let mut buf = [0u8; 64];
    while out.len() < n {
        rng.fill(&mut buf)
            .map_err(|_| TemplateError("random source failed".into()))?;
        // 248 = 4 * 62: bytes at or above it would bias the first characters.
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == n {
                break;
            }
            if let Some(c) = ALPHABET.get(usize::from(*b % 62)) {
                out.push(char::from(*c));
            }
        }
    }
    Ok(out)
}

/// Go's `print`: operands joined, with a space between two operands when neither is a string.
fn print(args: &[Val]) -> String {
    let mut out = String::new();
    let mut prev_str = true;
    for (i, a) in args.iter().enumerate() {
        let is_str = matches!(a, Val::Str(_));
        if i > 0 && !is_str && !prev_str {
            out.push(' ');
        }
        out.push_str(&a.text());
        prev_str = is_str;
    }
    out
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%s %v %d %q %x %X %%`, with `-`/`0` flags, width and
/// (for strings) precision.
fn printf(fmt: &str, args: &[Val]) -> String {
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    let mut next = args.iter();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let (mut left, mut zero) = (false, false);
        while let Some(&f) = chars.peek() {
            match f {
                '-' => left = true,
                '0' => zero = true,
                '+' | ' ' | '#' => {}
                _ => break,
            }
            chars.next();
        }
        let mut width = 0usize;
        while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
            width = width.saturating_mul(10).saturating_add(d as usize);
            chars.next();
        }
        let mut precision = None;
        if chars.peek() == Some(&'.') {
            chars.next();
            let mut p = 0usize;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                p = p.saturating_mul(10).saturating_add(d as usize);
                chars.next();
            }
            precision = Some(p);
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = next.next() else {
            out.push_str(&format!("%!{verb}(MISSING)"));
            continue;
        };
        let mut text = match (verb, arg) {
            ('s' | 'v', v) => v.text(),
            ('d', Val::Int(n)) => n.to_string(),
            ('q', v) => format!("{:?}", v.text()),
            ('x', Val::Int(n)) => format!("{n:x}"),
            ('X', Val::Int(n)) => format!("{n:X}"),
            ('x', Val::Str(s)) => hex::encode(s),
            ('X', Val::Str(s)) => hex::encode_upper(s),
            (v, Val::Str(s)) => format!("%!{v}(string={s})"),
            (v, Val::Int(n)) => format!("%!{v}(int={n})"),
        };
        if let (Some(p), 's' | 'v') = (precision, verb) {
            text = text.chars().take(p).collect();
        }
        let len = text.chars().count();
        if len < width {
            let pad = width - len;
            if left {
                text.push_str(&" ".repeat(pad));
            } else if zero && matches!(arg, Val::Int(_)) {
                text = format!("{}{text}", "0".repeat(pad));
            } else {
                text = format!("{}{text}", " ".repeat(pad));
            }
        }
        out.push_str(&text);
    }
    let extra: Vec<String> = next.map(Val::text).collect();
    if !extra.is_empty() {
        out.push_str(&format!("%!(EXTRA {})", extra.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use std::time::Duration;

    use super::*;
    use crate::driver::Plugin;

    fn at() -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_234_567_890)
    }

    fn render(t: &str, display: &str, role: &str) -> String {
        UsernameTemplate::parse(t)
            .unwrap()
            .render_at(display, role, at())
            .unwrap()
    }

    #[test]
    fn openbao_docs_examples() {
        assert_eq!(
            render(
                "{{.DisplayName}}_{{.RoleName}}",
                "token-with-display-name",
                "my_custom_database_role"
            ),
            "token-with-display-name_my_custom_database_role"
        );
        assert_eq!(
            render(
                r#"FOO_{{.DisplayName | replace "-" "_" | uppercase}}_{{.RoleName | replace "-" "_" | uppercase}}_{{timestamp "2006_01_02T15_04_05Z" | replace "-" "_"}}"#,
                "token-with-display-name",
                "my_custom_database_role"
            ),
            "FOO_TOKEN_WITH_DISPLAY_NAME_MY_CUSTOM_DATABASE_ROLE_2009_02_13T23_31_30Z"
        );
        let u = render(
            r#"{{printf "v_%s_%s_%s_%s" (.DisplayName | truncate 8) (.RoleName | truncate 8) (random 20) (unix_time) | truncate 45}}"#,
            "token-with-display-name",
            "my_custom_database_role",
        );
        assert_eq!(u.len(), 45);
        assert!(u.starts_with("v_token-wi_my_custo_"), "{u}");
        assert!(u.ends_with("_1234"), "{u}");
        let random = &u[20..40];
        assert!(random.chars().all(|c| c.is_ascii_alphanumeric()), "{u}");
    }

    #[test]
    fn plugin_defaults() {
        let pg = render(
            Plugin::Postgres.default_username_template(),
            "token",
            "myrolename",
        );
        assert!(pg.starts_with("v-token-myrolena-"), "{pg}");
        assert!(pg.ends_with("-1234567890"), "{pg}");
        assert_eq!(pg.len(), "v-token-myrolena-".len() + 20 + 11);

        let my = render(
            Plugin::Mysql.default_username_template(),
            "amuchlonger_dispname",
            "role-name-with-dashes",
        );
        assert_eq!(my.len(), 32);
        assert!(my.starts_with("v-amuchlonge-role-name--"), "{my}");

        let legacy = render(
            Plugin::MysqlLegacy.default_username_template(),
            "token",
            "myrolename",
        );
        assert_eq!(legacy.len(), 16);
        assert!(legacy.starts_with("v-myro-"), "{legacy}");
        // The empty metadata OpenBao validates with renders too.
        assert!(render(Plugin::Postgres.default_username_template(), "", "").starts_with("v---"));
    }

    #[test]
    fn functions() {
        assert_eq!(render("{{ .RoleName | lowercase }}", "", "AbC"), "abc");
        assert_eq!(
            render("{{ sha256 .RoleName }}", "", "abc"),
            sha256_hex("abc")
        );
        assert_eq!(
            render(
                "{{ .RoleName | truncate_sha256 20 }}",
                "",
                "abcdefghijklmnopqrstuvwxyz"
            ),
            format!("abcdefghijkl{}", &sha256_hex("mnopqrstuvwxyz")[..8])
        );
        assert_eq!(render("{{ .RoleName | base64 }}", "", "abc"), "YWJj");
        assert_eq!(
            render("{{ .RoleName | base64 | decode_base64 }}", "", "abc"),
            "abc"
        );
        assert_eq!(render("{{ .RoleName | hex }}", "", "abc"), "616263");
        assert_eq!(render("{{unix_time_millis}}", "", ""), "1234567890000");
        assert_eq!(render("{{ uuid }}", "", "").len(), 36);
        assert_eq!(render("{{ random 7 }}", "", "").len(), 7);
        assert_eq!(
            render(r#"{{ printf "%-4s|%03d|%q|%%" "ab" 7 "x" }}"#, "", ""),
            "ab  |007|\"x\"|%"
        );
        assert_eq!(render(r#"{{ print "a" 1 2 "b" }}"#, "", ""), "a1 2b");
        assert_eq!(
            render("a {{- .RoleName -}} b{{/* note */}}", "", "r"),
            "arb"
        );
        assert_eq!(render("{{ `raw` }}-{{ -3 }}", "", ""), "raw--3");
    }

    #[test]
    fn errors() {
        for bad in [
            "{{ .Nope }}",
            "{{ nope 3 }}",
            "{{ if .RoleName }}x{{ end }}",
            "{{ .RoleName",
            "{{ (random 3 }}",
            "{{ \"a\" \"b\" }}",
            "{{ $x := 1 }}",
            "",
        ] {
            assert!(UsernameTemplate::parse(bad).is_err(), "{bad:?} parsed");
        }
        for bad in [
            "{{ .RoleName | truncate 0 }}",
            "{{ truncate \"x\" .RoleName }}",
            "{{ random }}",
        ] {
            let t = UsernameTemplate::parse(bad).unwrap();
            assert!(t.render_at("d", "r", at()).is_err(), "{bad:?} rendered");
        }
    }
}
