//! Printing by the layout rules of HCL v1's printer.

use super::NO_INDENT;
use super::lex::{Kind, Token};
use super::parse::{Block, Element, Item, Value};

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
pub(super) fn remove_markers(text: &str) -> String {
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

pub(super) fn print_top(file: &Block) -> String {
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
