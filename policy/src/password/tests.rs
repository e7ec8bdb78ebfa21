#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use super::*;
use proptest::prelude::*;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

fn parse(text: &str) -> PasswordPolicy {
    PasswordPolicy::parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

fn rules(p: &PasswordPolicy) -> Vec<(&str, usize)> {
    p.rules()
        .iter()
        .map(|r| (r.charset(), r.min_chars()))
        .collect()
}

#[test]
fn doc_example_lowercase_only() {
    let p = parse(
        r#"length = 20
rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
}"#,
    );
    assert_eq!(p.length(), 20);
    assert_eq!(rules(&p), [(LOWER, 0)]);
    assert_eq!(p.alphabet().iter().collect::<String>(), LOWER);
}

#[test]
fn doc_example_four_classes() {
    let p = parse(
        r#"length = 20
rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 1
}
rule "charset" {
  charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  min-chars = 1
}
rule "charset" {
  charset = "0123456789"
  min-chars = 1
}
rule "charset" {
  charset = "!@#$%^&*"
  min-chars = 1
}"#,
    );
    assert_eq!(
        rules(&p),
        [(LOWER, 1), (UPPER, 1), (DIGITS, 1), ("!@#$%^&*", 1)]
    );
    assert_eq!(p.alphabet().len(), 26 + 26 + 10 + 8);
}

#[test]
fn doc_examples_small_charsets() {
    let p = parse(
        "length = 20\nrule \"charset\" {\n  charset = \"abcde\"\n  min-chars = 1\n}\nrule \"charset\" {\n  charset = \"01234\"\n  min-chars = 1\n}\n",
    );
    assert_eq!(rules(&p), [("abcde", 1), ("01234", 1)]);
    assert_eq!(p.alphabet().iter().collect::<String>(), "01234abcde");

    let p = parse(
        "length = 8\nrule \"charset\" {\n  charset = \"abcde\"\n}\nrule \"charset\" {\n  charset = \"01234\"\n  min-chars = 1\n}\n",
    );
    assert_eq!(p.length(), 8);
    assert_eq!(rules(&p), [("abcde", 0), ("01234", 1)]);
    // The doc's sample output for this policy is "04031945", which holds '9' and '5', outside both
    // charsets; a password of the kind it means:
    assert!(p.is_satisfied_by("04031342"));
    assert!(!p.is_satisfied_by("04031945"));

    // Overlapping charsets are de-duplicated for drawing, each rule still applies.
    let p = parse(
        "length = 10\nrule \"charset\" {\n charset = \"abcde\"\n min-chars = 1\n}\nrule \"charset\" {\n charset = \"cdefg\"\n min-chars = 1\n}",
    );
    assert_eq!(p.alphabet().iter().collect::<String>(), "abcdefg");
    assert!(p.is_satisfied_by("aaaaaaaaag"));
    assert!(!p.is_satisfied_by("aaaaaaaaab"));
}

#[test]
fn doc_performance_examples_with_symbol_charset() {
    // The performance section's policies omit `length`; with one added they parse, and the symbol
    // charset (quotes and backslash escaped) comes through intact.
    let text = r##"length = 16
rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 1
}
rule "charset" {
  charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  min-chars = 1
}
rule "charset" {
  charset = "0123456789"
  min-chars = 1
}
rule "charset" {
  charset = "!@#$"
  min-chars = 1
}
# Fleshes out the rest of the symbols but doesn't add any required characters
rule "charset" {
  charset = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
}"##;
    let p = parse(text);
    assert_eq!(rules(&p)[4], (SYMBOLS, 0));
    assert_eq!(p.alphabet().len(), 94);
    let pw = p.generate().unwrap();
    assert!(p.is_satisfied_by(&pw));
}

#[test]
fn doc_default_policy_text_matches_default_policy() {
    let text = r#"length = 20

rule "charset" {
  charset = "abcdefghijklmnopqrstuvwxyz"
  min-chars = 1
}
rule "charset" {
  charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
  min-chars = 1
}
rule "charset" {
  charset = "0123456789"
  min-chars = 1
}
rule "charset" {
  charset = "-"
  min-chars = 1
}"#;
    let d = PasswordPolicy::default_policy();
    assert_eq!(parse(text), d);
    assert_eq!(d.length(), 20);
    assert_eq!(rules(&d), [(LOWER, 1), (UPPER, 1), (DIGITS, 1), ("-", 1)]);
    // Built without validation, so check it would pass it.
    assert_eq!(
        PasswordPolicy::new(d.length(), d.rules().to_vec()).unwrap(),
        d
    );
}

#[test]
fn api_doc_sample_payload() {
    let p = parse("length = 20\nrule \"charset\" {\n  charset = \"abcde\"\n}\n");
    assert_eq!(rules(&p), [("abcde", 0)]);
}

#[test]
fn one_line_rules_like_hcl1() {
    // HCL 1 (OpenBao's parser) needs no separator between items; HCL 2 would refuse this.
    let p = parse(
        "length = 20\nrule \"charset\" { charset = \"abc\" min-chars = 1 }\nrule \"charset\" { charset = \"123\", min-chars = 2 }",
    );
    assert_eq!(rules(&p), [("abc", 1), ("123", 2)]);
    let p = parse("length = 4 rule \"charset\" { charset = \"a\" }");
    assert_eq!(rules(&p), [("a", 0)]);
}

#[test]
fn json_forms() {
    // OpenBao's own serialized shape, plus a top-level key it ignores.
    let p = parse(
        r#"{
            "charset": "ignored",
            "length": 20,
            "rule": [
                {"charset": [{"charset": "abcde", "min-chars": 2}]},
                {"charset": [{"charset": "01234"}]}
            ]
        }"#,
    );
    assert_eq!(p.length(), 20);
    assert_eq!(rules(&p), [("abcde", 2), ("01234", 0)]);
    // Objects instead of one-element lists.
    let p = parse(r#"{"length": 8, "rule": {"charset": {"charset": "xyz", "min-chars": 1}}}"#);
    assert_eq!(rules(&p), [("xyz", 1)]);
    let p = parse(r#"{"length": 8.0, "rule": [{"charset": {"charset": "xyz"}}]}"#);
    assert_eq!(p.length(), 8);
}

#[test]
fn hcl_variants() {
    // One attribute per line is HCL 2's rule; the rule body may also be written as an object.
    let p = parse(
        "length = 6\nrule = { charset = { charset = \"ab\", min-chars = 1 } }\nrule \"charset\" { charset = \"cd\" }\nname = \"ignored\"",
    );
    assert_eq!(rules(&p), [("ab", 1), ("cd", 0)]);
    // `${` and `%{` are plain text in HCL 1 strings; Go escapes; unicode; comments; exponent numbers.
    let p = parse(
        "# c\nlength = 5e0 // c\n/* c */ rule \"charset\" {\n charset = \"${}%{äö\\u00e9\\x41\"\n}\n",
    );
    assert_eq!(p.length(), 5);
    assert_eq!(rules(&p), [("${}%{äöéA", 0)]);
    // Heredoc text always ends in a newline, which no charset may hold: refused outright.
    let err =
        PasswordPolicy::parse("length = 5\nrule \"charset\" {\n charset = <<EOT\nabc\nEOT\n}\n")
            .unwrap_err();
    assert!(err.to_string().contains("heredoc"), "{err}");
}

#[test]
fn validation_errors() {
    let charset = "rule \"charset\" {\n charset = \"abc\"\n}\n";
    let cases: Vec<(String, &str, Option<usize>)> = vec![
        // length bounds, missing length
        (
            charset.to_owned(),
            "length must be between 4 and 100 characters, got 0",
            None,
        ),
        (
            format!("length = 3\n{charset}"),
            "length must be between 4 and 100 characters, got 3",
            None,
        ),
        (
            format!("length = 101\n{charset}"),
            "got 101",
            None,
        ),
        (format!("length = -2\n{charset}"), "got -2", None),
        (format!("length = 0\n{charset}"), "got 0", None),
        (
            format!("length = \"20\"\n{charset}"),
            "length must be an integer, found a string",
            Some(1),
        ),
        (
            format!("length = 20.5\n{charset}"),
            "length must be an integer",
            Some(1),
        ),
        // no rule
        (
            "length = 20".to_owned(),
            "no charset specified: at least one charset rule is required",
            None,
        ),
        (
            r#"{"length": 20}"#.to_owned(),
            "at least one charset rule is required",
            None,
        ),
        // empty charset, missing charset
        (
            "length = 20\nrule \"charset\" {\n charset = \"a\"\n}\nrule \"charset\" {\n charset = \"\"\n}\n"
                .to_owned(),
            "rule 2: charset must not be empty on line 5",
            Some(5),
        ),
        (
            "length = 20\nrule \"charset\" {\n min-chars = 1\n}\n".to_owned(),
            "rule 1: charset must not be empty",
            Some(2),
        ),
        // unknown rule type
        (
            "length = 20\nrule \"testrule\" {\n string = \"teststring\"\n int = 123\n}\n".to_owned(),
            r#"unrecognized rule type "testrule""#,
            Some(2),
        ),
        (
            r#"{"length": 20, "rule": [{"testrule": [{"string": "x"}]}]}"#.to_owned(),
            r#"unrecognized rule type "testrule""#,
            None,
        ),
        // sum of min-chars above length
        (
            "length = 4\nrule \"charset\" {\n charset = \"abc\"\n min-chars = 3\n}\nrule \"charset\" {\n charset = \"123\"\n min-chars = 2\n}\n"
                .to_owned(),
            "specified rules require at least 5 characters but 4 is specified",
            None,
        ),
        // shapes
        (
            "length = 20\nrule \"charset\" {\n charset = \"abc\"\n min-chars = -1\n}\n".to_owned(),
            "min-chars must not be negative",
            Some(4),
        ),
        (
            "length = 20\nrule \"charset\" {\n charset = \"abc\"\n min_chars = 1\n}\n".to_owned(),
            r#"unknown key "min_chars" (did you mean "min-chars"?)"#,
            Some(4),
        ),
        (
            "length = 20\nrule \"charset\" {\n charset = [\"a\"]\n}\n".to_owned(),
            "charset must be a string, found a list",
            Some(3),
        ),
        // An unlabelled block reads its first key as the rule type, as HCL 1 decodes it.
        (
            "length = 20\nrule {\n n = []\n}\n".to_owned(),
            r#"unrecognized rule type "n""#,
            Some(3),
        ),
        (
            "length = 20\nrule \"charset\" \"x\" {}\n".to_owned(),
            r#"charset rule: unknown key "x""#,
            Some(2),
        ),
        (
            "length = 20\nrule = \"charset\"\n".to_owned(),
            "found a string",
            Some(2),
        ),
        (
            "length = var.len\n".to_owned(),
            "expected a value (string, number, bool, list or object), found identifier \"var.len\"",
            Some(1),
        ),
        (
            "length = true\nrule \"charset\" { charset = \"a\" }".to_owned(),
            "length must be an integer, found a bool",
            Some(1),
        ),
        (
            r#"["length", 20]"#.to_owned(),
            "expected a key, found `[`",
            Some(1),
        ),
        (
            r#"{"length": 20, "rule": [{"charset": ["abc"]}]}"#.to_owned(),
            "a charset rule must be an object, found a string",
            None,
        ),
        // non-printable characters
        (
            "length = 20\nrule \"charset\" {\n charset = \"ab\\tc\"\n}\n".to_owned(),
            "rule 1: non-printable character U+0009 in charset",
            Some(2),
        ),
        (
            "length = 20\nrule \"charset\" {\n charset = \"ab\\u200Bc\"\n}\n".to_owned(),
            "U+200B",
            Some(2),
        ),
        (
            "length = 20\nrule \"charset\" {\n charset = \"a\\u00A0\"\n}\n".to_owned(),
            "U+00A0",
            Some(2),
        ),
        // syntax
        (
            "length = 20\nrule \"charset\" {\n charset = \"abc\"\n".to_owned(),
            "invalid password policy:",
            Some(4),
        ),
        (
            "asdf".to_owned(),
            "invalid password policy:",
            Some(1),
        ),
        (
            "{\"length\": 20,\n \"rule\": [}".to_owned(),
            "invalid JSON",
            Some(2),
        ),
    ];
    for (text, needle, line) in cases {
        let err = PasswordPolicy::parse(&text).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.starts_with("invalid password policy: "),
            "{text:?}: {msg}"
        );
        assert!(msg.contains(needle), "{text:?}: {msg}");
        assert_eq!(err.line(), line, "{text:?}: {msg}");
        assert!(err.is_client_error(), "{text:?}");
    }
}

#[test]
fn validation_error_variants() {
    use PolicyError as E;
    let check = |text: &str, want: &dyn Fn(&E) -> bool| {
        let err = PasswordPolicy::parse(text).unwrap_err();
        assert!(want(&err), "{text:?}: {err:?}");
    };
    check("rule \"charset\" { charset = \"a\" }", &|e| {
        matches!(
            e,
            E::PasswordLength {
                length: 0,
                min: 4,
                max: 100
            }
        )
    });
    check("length = 4", &|e| matches!(e, E::NoCharsetRule));
    check("length = 4\nrule \"charset\" { charset = \"\" }", &|e| {
        matches!(e, E::EmptyCharset { rule: 1, .. })
    });
    check(
        "length = 4\nrule \"x\" {}",
        &|e| matches!(e, E::UnknownPasswordRule { rule_type, .. } if rule_type == "x"),
    );
    check(
        "length = 4\nrule \"charset\" {\n charset = \"a\"\n min-chars = 5\n}",
        &|e| {
            matches!(
                e,
                E::MinCharsExceedLength {
                    required: 5,
                    length: 4
                }
            )
        },
    );
    check("length = 4\nrule \"charset\" { charset = \"\\n\" }", &|e| {
        matches!(e, E::NonPrintableCharset { code: 0x0A, .. })
    });
    check("length = = 4", &|e| {
        matches!(e, E::PasswordPolicySyntax { .. })
    });

    // More than 256 distinct characters overall.
    let wide: String = (0x4E00..0x4E00 + 257).filter_map(char::from_u32).collect();
    let err = PasswordPolicy::new(20, vec![CharsetRule::new(wide, 0)]).unwrap_err();
    assert_eq!(err, E::CharsetTooLong { len: 257, max: 256 });
    assert!(
        err.to_string()
            .contains("257 distinct characters, at most 256")
    );
    let exactly: String = (0x4E00..0x4E00 + 256).filter_map(char::from_u32).collect();
    assert!(PasswordPolicy::new(20, vec![CharsetRule::new(exactly, 0)]).is_ok());

    // `new` applies the same checks as `parse`.
    assert!(matches!(
        PasswordPolicy::new(101, vec![CharsetRule::new("a", 0)]),
        Err(E::PasswordLength { length: 101, .. })
    ));
    assert!(matches!(
        PasswordPolicy::new(4, vec![]),
        Err(E::NoCharsetRule)
    ));
}

#[test]
fn generated_passwords_honour_the_policy() {
    let d = PasswordPolicy::default_policy();
    for _ in 0..200 {
        let pw = d.generate().unwrap();
        assert_eq!(pw.chars().count(), 20);
        assert!(pw.chars().any(|c| c.is_ascii_lowercase()), "{}", *pw);
        assert!(pw.chars().any(|c| c.is_ascii_uppercase()), "{}", *pw);
        assert!(pw.chars().any(|c| c.is_ascii_digit()), "{}", *pw);
        assert!(pw.contains('-'), "{}", *pw);
        assert!(pw.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        assert!(d.is_satisfied_by(&pw));
    }

    // Heavy minimums: every position is forced.
    let p = parse(
        "length = 6\nrule \"charset\" {\n charset = \"ab\"\n min-chars = 3\n}\nrule \"charset\" {\n charset = \"XY\"\n min-chars = 3\n}\n",
    );
    for _ in 0..50 {
        let pw = p.generate().unwrap();
        assert_eq!(pw.chars().filter(|c| "ab".contains(*c)).count(), 3);
        assert_eq!(pw.chars().filter(|c| "XY".contains(*c)).count(), 3);
    }

    // Multi-byte characters: length counts characters, not bytes.
    let p = parse("length = 10\nrule \"charset\" {\n charset = \"äöü€\"\n min-chars = 10\n}\n");
    let pw = p.generate().unwrap();
    assert_eq!(pw.chars().count(), 10);
    assert!(pw.chars().all(|c| "äöü€".contains(c)));
    assert!(pw.len() > 10);
}

#[test]
fn index_source_rejects_biased_bytes() {
    // Ten characters: bytes 250..=255 would favour the first six and must be skipped.
    let mut counter = 0u8;
    let mut counts = [0usize; 10];
    let mut fills = 0;
    let cycle = |buf: &mut [u8]| {
        for b in buf.iter_mut() {
            *b = counter;
            counter = counter.wrapping_add(1);
        }
        fills += 1;
        Ok(())
    };
    let mut source = IndexSource::new(cycle, 10).unwrap();
    for _ in 0..2500 {
        counts[source.next().unwrap()] += 1;
    }
    drop(source);
    // 2500 draws from ten full cycles of 0..=249: exactly uniform.
    assert_eq!(counts, [250; 10]);
    assert!(fills >= 5);

    // A byte that is always rejected never yields; a byte that is accepted maps by modulo.
    let mut source = IndexSource::new(
        |buf: &mut [u8]| {
            buf.fill(249);
            Ok(())
        },
        10,
    )
    .unwrap();
    assert_eq!(source.next().unwrap(), 9);

    // 256 characters: every byte is usable.
    let mut source = IndexSource::new(
        |buf: &mut [u8]| {
            buf.fill(255);
            Ok(())
        },
        256,
    )
    .unwrap();
    assert_eq!(source.next().unwrap(), 255);
}

#[test]
fn generation_failures_are_server_errors() {
    let p = PasswordPolicy::default_policy();
    let err = p.generate_from(|_| Err(RngFailed), 10).unwrap_err();
    assert_eq!(err, PolicyError::RandomUnavailable);
    assert!(!err.is_client_error());

    // A source stuck on one character can never give a lowercase, an uppercase, a digit and a '-'.
    let err = p
        .generate_from(
            |buf| {
                buf.fill(0);
                Ok(())
            },
            25,
        )
        .unwrap_err();
    assert_eq!(
        err,
        PolicyError::PasswordGenerationExhausted { attempts: 25 }
    );
    assert!(!err.is_client_error());
    assert!(err.to_string().contains("after 25 attempts"));
}

#[test]
fn characters_are_drawn_roughly_uniformly() {
    // 63 characters (not a divisor of 256) and no minimum, so no candidate is filtered: each character
    // should get about 1/63 of 63_000 draws. Plain modulo would give the first four 5/4 of the others'
    // share (about 1240).
    let p = PasswordPolicy::new(
        100,
        vec![CharsetRule::new(format!("{LOWER}{UPPER}{DIGITS}-"), 0)],
    )
    .unwrap();
    let mut counts = std::collections::HashMap::new();
    for _ in 0..630 {
        for c in p.generate().unwrap().chars() {
            *counts.entry(c).or_insert(0usize) += 1;
        }
    }
    assert_eq!(counts.len(), 63);
    let total: usize = counts.values().sum();
    assert_eq!(total, 63_000);
    for (c, n) in &counts {
        // Expected 1000, standard deviation about 31: a 5-sigma band.
        assert!((845..=1155).contains(n), "{c:?}: {n}");
    }
}

#[test]
fn debug_shows_policy_not_secrets() {
    let d = format!("{:?}", PasswordPolicy::default_policy());
    assert!(d.contains("length: 20"), "{d}");
}

fn arb_policy() -> impl Strategy<Value = PasswordPolicy> {
    let pool: Vec<char> = format!("{LOWER}{UPPER}{DIGITS}{SYMBOLS} äöüß€")
        .chars()
        .collect();
    let rule = (proptest::sample::subsequence(pool, 1..=12), 0usize..=3)
        .prop_map(|(chars, min)| CharsetRule::new(chars.into_iter().collect::<String>(), min));
    (proptest::collection::vec(rule, 1..=5), 0usize..=40).prop_filter_map(
        "min-chars above length",
        |(rules, extra)| {
            let required: usize = rules.iter().map(CharsetRule::min_chars).sum();
            PasswordPolicy::new((required + extra).clamp(MIN_LENGTH, MAX_LENGTH), rules).ok()
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generated_passwords_always_satisfy_the_policy(p in arb_policy()) {
        let pw = p.generate().unwrap();
        prop_assert_eq!(pw.chars().count(), p.length());
        prop_assert!(pw.chars().all(|c| p.alphabet().contains(&c)));
        for rule in p.rules() {
            let n = pw.chars().filter(|c| rule.charset().contains(*c)).count();
            prop_assert!(n >= rule.min_chars(), "{:?} in {:?}", rule, *pw);
        }
        prop_assert!(p.is_satisfied_by(&pw));
    }

    #[test]
    fn parse_never_panics(text in ".{0,200}") {
        let _ = PasswordPolicy::parse(&text);
    }
}
