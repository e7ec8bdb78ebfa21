//! `policy fmt`: parse an HCL (v1 syntax) policy, check it like OpenBao does, and print it canonically
//! (two-space indents, aligned `=` in runs of adjacent one-line attributes, blank lines between groups,
//! comments kept), following the layout rules of HashiCorp's HCL v1 printer.

mod lex;
mod parse;
mod print;
mod validate;

use lex::lex;
use parse::Parser;
use print::{print_top, remove_markers};
use validate::{check_duplicates, validate};

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
