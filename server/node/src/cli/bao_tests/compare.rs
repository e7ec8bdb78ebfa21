//! Side by side: each command is run with the real `bao` CLI and with ours against the same dev server,
//! and the exit codes, stdout and stderr must match once generated values (tokens, accessors, ids, times)
//! are masked. Names that must differ between the two runs (mounts, secrets) carry `{n}`, replaced by two
//! tags of equal length so that table widths stay comparable.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command as Process, Stdio};

use super::{BaoDev, Output, bao_on_path, env, run, start_bao};

const BAO_TAG: &str = "bzq";
const OUR_TAG: &str = "czq";

struct Harness<'a> {
    server: &'a BaoDev,
    bao_home: PathBuf,
    our_token_file: PathBuf,
}

/// Which client runs a command.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Bao,
    Ours,
}

impl Side {
    fn tag(self) -> &'static str {
        match self {
            Side::Bao => BAO_TAG,
            Side::Ours => OUR_TAG,
        }
    }
}

fn fill(template: &[&str], side: Side) -> Vec<String> {
    template
        .iter()
        .map(|a| a.replace("{n}", side.tag()))
        .collect()
}

fn is_uuid(word: &str) -> bool {
    word.len() == 36
        && word.char_indices().all(|(i, c)| {
            if matches!(i, 8 | 13 | 18 | 23) {
                c == '-'
            } else {
                c.is_ascii_hexdigit()
            }
        })
}

fn mask_word(word: &str) -> Option<&'static str> {
    let alnum = |w: &str| w.chars().all(|c| c.is_ascii_alphanumeric());
    if is_uuid(word) {
        return Some("<uuid>");
    }
    if let Some(rest) = word.strip_prefix("s.")
        && rest.len() == 24
        && alnum(rest)
    {
        return Some("<token>");
    }
    // Batch tokens.
    if word.starts_with("b.") && word.len() > 40 {
        return Some("<token>");
    }
    if word.len() == 24 && alnum(word) {
        return Some("<id>");
    }
    let digits = |w: &str| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit());
    if word.len() == 10 && digits(word) {
        return Some("<unix>");
    }
    let bytes = word.as_bytes();
    if word.len() >= 10
        && bytes.get(4) == Some(&b'-')
        && bytes.get(7) == Some(&b'-')
        && word.get(..4).is_some_and(digits)
    {
        return Some("<date>");
    }
    if word.len() >= 8
        && bytes.get(2) == Some(&b':')
        && bytes.get(5) == Some(&b':')
        && word.get(..2).is_some_and(digits)
    {
        return Some("<clock>");
    }
    None
}

/// Mask generated values and the side's tag; normalize the product name in bao's messages.
fn normalize(text: &str, side: Side) -> String {
    let text = text
        .replace(side.tag(), "{n}")
        .replace("OpenBao", "Vault")
        .replace("BAO_TOKEN", "VAULT_TOKEN");
    let mut out = String::with_capacity(text.len());
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        match mask_word(word) {
            Some(mask) => out.push_str(mask),
            None => out.push_str(word),
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || matches!(c, '.' | ':' | '-' | '_') {
            word.push(c);
        } else {
            flush(&mut word, &mut out);
            out.push(c);
        }
    }
    flush(&mut word, &mut out);
    // Remaining TTLs tick between the two runs; how often `secrets move` polls depends on timing.
    out.lines()
        .filter(|line| !line.starts_with("Waiting for terminal status in migration"))
        .map(|line| {
            if line.starts_with("ttl ") {
                "ttl <ttl>".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Harness<'_> {
    fn bao(&self, args: &[String], stdin: &str, token: Option<&str>) -> Output {
        let mut cmd = Process::new("bao");
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", &self.bao_home)
            .env("BAO_ADDR", &self.server.address)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(token) = token {
            cmd.env("BAO_TOKEN", token);
        }
        let mut child = cmd.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        Output {
            code: output.status.code().unwrap_or(-1),
            out: String::from_utf8(output.stdout).unwrap(),
            err: String::from_utf8(output.stderr).unwrap(),
        }
    }

    fn ours(&self, args: &[String], stdin: &str, token: Option<&str>) -> Output {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(
            &self.server.address,
            &env(token, Some(self.our_token_file.clone())),
            &args,
            stdin,
        )
    }

    fn side(&self, side: Side, args: &[String], stdin: &str, token: Option<&str>) -> Output {
        match side {
            Side::Bao => self.bao(args, stdin, token),
            Side::Ours => self.ours(args, stdin, token),
        }
    }

    /// Run per-side arguments on both clients and assert equal normalized results.
    fn check_with(
        &self,
        args: impl Fn(Side) -> Vec<String>,
        stdin: &str,
        token: impl Fn(Side) -> Option<String>,
    ) -> (Output, Output) {
        let bao_args = args(Side::Bao);
        let theirs = self.bao(&bao_args, stdin, token(Side::Bao).as_deref());
        let ours = self.ours(&args(Side::Ours), stdin, token(Side::Ours).as_deref());
        let expected = (
            theirs.code,
            normalize(&theirs.out, Side::Bao),
            normalize(&theirs.err, Side::Bao),
        );
        let actual = (
            ours.code,
            normalize(&ours.out, Side::Ours),
            normalize(&ours.err, Side::Ours),
        );
        assert_eq!(
            actual,
            expected,
            "`{}`: ours (left) differs from bao (right)",
            bao_args.join(" ")
        );
        (theirs, ours)
    }

    /// [`Self::check_with`] for a `{n}` template run with the root token.
    fn check(&self, template: &[&str], stdin: &str) -> (Output, Output) {
        self.check_with(
            |side| fill(template, side),
            stdin,
            |_| Some("root".to_owned()),
        )
    }

    /// Like [`Self::check`], expecting a given exit code (guards against both failing the same way).
    fn check_code(&self, template: &[&str], stdin: &str, code: i32) -> (Output, Output) {
        let (theirs, ours) = self.check(template, stdin);
        assert_eq!(
            theirs.code, code,
            "bao exit code for {template:?}: {}",
            theirs.err
        );
        (theirs, ours)
    }

    /// One field printed raw by each side (e.g. a token each side creates for itself).
    fn field(&self, side: Side, template: &[&str]) -> String {
        let out = self.side(side, &fill(template, side), "", Some("root"));
        assert_eq!(out.code, 0, "{template:?}: {}", out.err);
        out.out.trim().to_owned()
    }
}

#[test]
fn commands_match_the_bao_cli() {
    if !bao_on_path() {
        eprintln!("skipping: `bao` is not on PATH");
        return;
    }
    let server = start_bao();
    let bao_home = server.dir.path().join("bao-home");
    let our_home = server.dir.path().join("our-home");
    std::fs::create_dir_all(&bao_home).unwrap();
    std::fs::create_dir_all(&our_home).unwrap();
    let h = Harness {
        server: &server,
        bao_home,
        our_token_file: our_home.join(".vault-token"),
    };
    tokens(&h);
    policies(&h);
    mounts(&h);
    kv(&h);
    logins(&h);
    unwrapping(&h);
}

fn tokens(h: &Harness<'_>) {
    h.check_code(
        &[
            "token",
            "create",
            "-policy=default",
            "-ttl=1h",
            "-metadata=a=b",
            "-display-name=me",
        ],
        "",
        0,
    );
    h.check_code(
        &[
            "token",
            "create",
            "-format=json",
            "-ttl=30m",
            "-policy=default",
        ],
        "",
        0,
    );
    // A missing policy comes back as a warning on stderr.
    h.check_code(
        &[
            "token",
            "create",
            "-field=token_policies",
            "-policy=default",
            "-policy=missing{n}",
        ],
        "",
        0,
    );
    h.check_code(
        &[
            "token",
            "create",
            "-orphan",
            "-no-default-policy",
            "-policy=p{n}",
            "-use-limit=3",
            "-period=1h",
            "-explicit-max-ttl=2h",
            "-renewable=false",
        ],
        "",
        0,
    );
    h.check_code(
        &[
            "token",
            "create",
            "-type=batch",
            "-policy=default",
            "-ttl=10m",
        ],
        "",
        0,
    );
    h.check_code(&["token", "create", "-role=nope{n}"], "", 2);
    h.check_code(&["token", "create", "extra"], "", 1);
    h.check_code(&["token", "lookup"], "", 0);
    h.check_code(&["token", "lookup", "-format=json"], "", 0);
    h.check_code(&["token", "lookup", "-accessor"], "", 1);
    h.check_code(&["token", "lookup", "a", "b"], "", 1);
    h.check_code(&["token", "lookup", "nope"], "", 2);
    h.check_code(&["token", "renew", "a", "b"], "", 1);
    h.check_code(&["token", "capabilities", "secret/foo"], "", 0);
    h.check_code(
        &["token", "capabilities", "-format=json", "secret/foo"],
        "",
        0,
    );
    h.check_code(&["token", "capabilities"], "", 1);
    h.check_code(&["token", "capabilities", "a", "b", "c"], "", 1);
    h.check_code(&["token", "capabilities", "nope", "secret/foo"], "", 2);
    for (args, code) in [
        (&["token", "revoke", "-mode=bad", "x"][..], 1),
        (&["token", "revoke", "-self", "x"][..], 1),
        (&["token", "revoke"][..], 1),
        (&["token", "revoke", "-self", "-accessor"][..], 1),
        (
            &["token", "revoke", "-accessor", "-mode=orphan", "x"][..],
            1,
        ),
        (&["token", "revoke", "-accessor", "-mode=path", "x"][..], 1),
        (&["token", "revoke", "-self", "-mode=path"][..], 1),
        (
            &["token", "revoke", "-mode=path", "auth/token/create/nothing"][..],
            0,
        ),
        (&["token", "revoke", "nonexistent"][..], 0),
    ] {
        h.check_code(args, "", code);
    }

    // Each side works on a token of its own.
    let create = [
        "token",
        "create",
        "-field=token",
        "-ttl=1h",
        "-policy=default",
    ];
    let token = |side| h.field(side, &create);
    let (bao_token, our_token) = (token(Side::Bao), token(Side::Ours));
    let mine = |side: Side| match side {
        Side::Bao => bao_token.clone(),
        Side::Ours => our_token.clone(),
    };
    let accessor = |side: Side| h.field(side, &["token", "lookup", "-field=accessor", &mine(side)]);
    let (bao_accessor, our_accessor) = (accessor(Side::Bao), accessor(Side::Ours));
    let acc = |side: Side| match side {
        Side::Bao => bao_accessor.clone(),
        Side::Ours => our_accessor.clone(),
    };
    let root = |_| Some("root".to_owned());
    let cmd = |parts: &[&str], extra: String| -> Vec<String> {
        parts
            .iter()
            .map(|p| (*p).to_owned())
            .chain([extra])
            .collect()
    };
    h.check_with(|s| cmd(&["token", "lookup"], mine(s)), "", root);
    h.check_with(|s| cmd(&["token", "lookup", "-accessor"], acc(s)), "", root);
    h.check_with(
        |s| cmd(&["token", "renew", "-increment=2h"], mine(s)),
        "",
        root,
    );
    h.check_with(|s| cmd(&["token", "renew", "-accessor"], acc(s)), "", root);
    h.check_with(
        |_| vec!["token".into(), "renew".into()],
        "",
        |s| Some(mine(s)),
    );
    h.check_with(
        |_| vec!["token".into(), "lookup".into()],
        "",
        |s| Some(mine(s)),
    );
    h.check_with(
        |s| {
            vec![
                "token".into(),
                "capabilities".into(),
                mine(s),
                "secret/x".into(),
            ]
        },
        "",
        root,
    );
    h.check_with(
        |_| vec!["token".into(), "capabilities".into(), "sys/mounts".into()],
        "",
        |s| Some(mine(s)),
    );
    h.check_with(|s| cmd(&["token", "revoke", "-accessor"], acc(s)), "", root);
    let (theirs, _) = h.check_with(|s| cmd(&["token", "lookup"], mine(s)), "", root);
    assert_eq!(theirs.code, 2, "{}", theirs.err);

    let orphan = |side| h.field(side, &create);
    let (bao_orphan, our_orphan) = (orphan(Side::Bao), orphan(Side::Ours));
    h.check_with(
        |s| {
            let token = if s == Side::Bao {
                &bao_orphan
            } else {
                &our_orphan
            };
            cmd(&["token", "revoke", "-mode=orphan"], token.clone())
        },
        "",
        root,
    );
    let own = |side| h.field(side, &create);
    let (bao_own, our_own) = (own(Side::Bao), own(Side::Ours));
    let (theirs, _) = h.check_with(
        |_| vec!["token".into(), "revoke".into(), "-self".into()],
        "",
        |s| {
            Some(if s == Side::Bao {
                bao_own.clone()
            } else {
                our_own.clone()
            })
        },
    );
    assert_eq!(theirs.out, "Success! Revoked token (if it existed)\n");
}

fn policies(h: &Harness<'_>) {
    let dir = h.server.dir.path();
    let rules = "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n";
    let file = dir.join("p.hcl");
    std::fs::write(&file, rules).unwrap();
    let file = file.to_str().unwrap();
    h.check_code(&["policy", "write", "My{n}Pol", file], "", 0);
    h.check_code(
        &["policy", "write", "second{n}", "-"],
        "path \"x\" {\n capabilities = [\"list\"]\n}\n",
        0,
    );
    h.check_code(&["policy", "read", "my{n}pol"], "", 0);
    h.check_code(&["policy", "read", "-format=json", "my{n}pol"], "", 0);
    h.check_code(&["policy", "read", "nope{n}"], "", 2);
    h.check_code(&["policy", "read"], "", 1);
    h.check_code(&["policy", "read", "a", "b"], "", 1);
    h.check_code(&["policy", "write", "x", "/nonexistent/p.hcl"], "", 2);
    h.check_code(&["policy", "write", "x", dir.to_str().unwrap()], "", 2);
    h.check_code(&["policy", "write", "x"], "", 1);
    h.check_code(&["policy", "write", "bad{n}", "-"], "garbage {", 2);
    // Both sides see the same server: the raw listings must be identical.
    let theirs = h.bao(&["policy".into(), "list".into()], "", Some("root"));
    let ours = h.ours(&["policy".into(), "list".into()], "", Some("root"));
    assert_eq!(ours, theirs);
    assert!(
        theirs
            .out
            .contains("my{n}pol\n".replace("{n}", BAO_TAG).as_str())
    );
    let json = |side| {
        h.side(
            side,
            &["policy".into(), "list".into(), "-format=json".into()],
            "",
            Some("root"),
        )
    };
    assert_eq!(json(Side::Ours), json(Side::Bao));
    h.check_code(&["policy", "delete", "my{n}pol"], "", 0);
    h.check_code(&["policy", "delete", "nope{n}"], "", 0);

    // fmt: each side formats its own copy; the files must end up identical.
    let messy = "# comment\npath \"secret/*\"   {\ncapabilities = [\"read\",\"list\"]\n   allowed_parameters = {\n  \"foo\" = []\n     \"bar\" = [\"a\", \"b\"]\n   }\n}\npath \"sys/*\" { capabilities=[\"deny\"] }\n\npath \"auth/token/create\" {\n  capabilities = [\"create\", \"update\"]   # trailing\n  min_wrapping_ttl = \"1s\"\n  max_wrapping_ttl = 90\n}\n";
    for (name, text, code) in [
        ("ok", messy, 0),
        ("badcap", "path \"x\" { capabilities = [\"bogus\"] }\n", 1),
        ("badkey", "foo = 1\n", 1),
        ("syntax", "garbage {\n", 1),
    ] {
        for tag in [BAO_TAG, OUR_TAG] {
            std::fs::write(dir.join(format!("{name}-{tag}.hcl")), text).unwrap();
        }
        let path = dir.join(format!("{name}-{{n}}.hcl"));
        let path = path.to_str().unwrap();
        if name == "syntax" {
            // Parser messages are HCL's own; only the outcome is compared.
            let theirs = h.bao(&fill(&["policy", "fmt", path], Side::Bao), "", None);
            let ours = h.ours(&fill(&["policy", "fmt", path], Side::Ours), "", None);
            assert_eq!((ours.code, ours.out.as_str()), (theirs.code, ""));
            assert!(
                ours.err.starts_with("failed to parse policy: At "),
                "{}",
                ours.err
            );
        } else {
            h.check_code(&["policy", "fmt", path], "", code);
        }
        assert_eq!(
            std::fs::read_to_string(dir.join(format!("{name}-{OUR_TAG}.hcl"))).unwrap(),
            std::fs::read_to_string(dir.join(format!("{name}-{BAO_TAG}.hcl"))).unwrap(),
            "policy fmt result for {name}"
        );
    }
    h.check_code(&["policy", "fmt", "/nonexistent/p.hcl"], "", 1);
    h.check_code(&["policy", "fmt"], "", 1);
}

fn mounts(h: &Harness<'_>) {
    h.check_code(
        &[
            "secrets",
            "enable",
            "-path=kv1{n}",
            "-description=my kv",
            "-default-lease-ttl=1h",
            "-max-lease-ttl=2h",
            "kv",
        ],
        "",
        0,
    );
    h.check_code(
        &["secrets", "enable", "-version=2", "-path=kv2{n}", "kv"],
        "",
        0,
    );
    h.check_code(
        &[
            "secrets",
            "enable",
            "-options=version=2",
            "-path=kv3{n}",
            "kv",
        ],
        "",
        0,
    );
    h.check_code(&["secrets", "enable", "-path=kv1{n}", "kv"], "", 2);
    h.check_code(&["secrets", "enable", "bogus{n}"], "", 2);
    h.check_code(&["secrets", "enable"], "", 1);
    h.check_code(&["secrets", "enable", "a", "b"], "", 1);
    h.check_code(
        &[
            "secrets",
            "tune",
            "-default-lease-ttl=30m",
            "-description=new",
            "-options=foo=bar",
            "kv1{n}",
        ],
        "",
        0,
    );
    h.check_code(
        &["secrets", "tune", "-max-lease-ttl=system", "kv1{n}/"],
        "",
        0,
    );
    h.check_code(&["secrets", "tune", "nope{n}"], "", 2);
    h.check_code(&["secrets", "move", "kv3{n}", "kv4{n}"], "", 0);
    h.check_code(&["secrets", "move", "kv3{n}"], "", 1);
    h.check_code(&["secrets", "disable", "kv4{n}"], "", 0);
    h.check_code(&["secrets", "disable", "nope{n}/"], "", 0);
    h.check_code(&["secrets", "disable"], "", 1);

    h.check_code(&["auth", "enable", "-path=up{n}", "userpass"], "", 0);
    h.check_code(
        &[
            "auth",
            "enable",
            "-path=up2{n}",
            "-description=second",
            "-default-lease-ttl=1h",
            "-max-lease-ttl=2h",
            "userpass",
        ],
        "",
        0,
    );
    h.check_code(&["auth", "enable", "-path=up{n}", "userpass"], "", 2);
    h.check_code(&["auth", "enable", "bogus{n}"], "", 2);
    h.check_code(&["auth", "enable"], "", 1);
    h.check_code(
        &[
            "auth",
            "tune",
            "-default-lease-ttl=30m",
            "-description=tuned",
            "up2{n}",
        ],
        "",
        0,
    );
    h.check_code(&["auth", "tune", "nope{n}"], "", 2);

    // Listings (both sides' mounts exist now): byte-identical output expected.
    for args in [
        &["secrets", "list"][..],
        &["secrets", "list", "-detailed"][..],
        &["secrets", "list", "-format=json"][..],
        &["auth", "list"][..],
        &["auth", "list", "-detailed"][..],
        &["auth", "list", "-format=json"][..],
    ] {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let theirs = h.bao(&args, "", Some("root"));
        assert_eq!(theirs.code, 0, "{}", theirs.err);
        assert_eq!(h.ours(&args, "", Some("root")), theirs, "{args:?}");
    }
    h.check_code(&["secrets", "list", "extra"], "", 1);
    h.check_code(&["auth", "disable", "up2{n}"], "", 0);
    h.check_code(&["auth", "disable", "nope{n}"], "", 0);
}

fn kv(h: &Harness<'_>) {
    h.check_code(&["secrets", "enable", "-path=v1{n}", "kv"], "", 0);
    let cases: &[(&[&str], &str, i32)] = &[
        (&["kv", "put", "secret/{n}foo", "a=1", "bb=hello"], "", 0),
        (&["kv", "put", "-mount=secret", "{n}foo", "a=2"], "", 0),
        (&["kv", "get", "secret/{n}foo"], "", 0),
        (
            &["kv", "get", "-mount=secret", "-version=1", "{n}foo"],
            "",
            0,
        ),
        (&["kv", "get", "-field=a", "secret/{n}foo"], "", 0),
        (&["kv", "get", "-field=data", "secret/{n}foo"], "", 0),
        (&["kv", "get", "-field=zz", "secret/{n}foo"], "", 1),
        (
            &[
                "kv",
                "get",
                "-format=json",
                "-field=bb",
                "-version=1",
                "secret/{n}foo",
            ],
            "",
            0,
        ),
        (&["kv", "get", "-format=json", "secret/{n}foo"], "", 0),
        (&["kv", "get", "secret/{n}nope"], "", 2),
        (&["kv", "get", "nomount{n}/x"], "", 2),
        (&["kv", "put", "v1{n}/x", "a=1", "ttl=1h"], "", 0),
        (&["kv", "get", "v1{n}/x"], "", 0),
        (&["kv", "get", "-mount=v1{n}", "x"], "", 0),
        (&["kv", "get", "-field=a", "v1{n}/x"], "", 0),
        (&["kv", "get", "-format=json", "v1{n}/x"], "", 0),
        (&["kv", "put", "secret/{n}foo"], "", 1),
        (&["kv", "put"], "", 1),
        (&["kv", "put", "secret/{n}foo", "novalue"], "", 1),
        (&["kv", "put", "-cas=0", "secret/{n}foo", "a=3"], "", 2),
        (&["kv", "put", "-cas=2", "secret/{n}foo", "a=3"], "", 0),
        (
            &["kv", "put", "-format=json", "secret/{n}bar", "a=3"],
            "",
            0,
        ),
        (
            &["kv", "put", "-field=version", "secret/{n}bar", "a=4"],
            "",
            0,
        ),
        (
            &["kv", "put", "secret/{n}bar", "-"],
            "{\"j\": {\"n\": 1}, \"k\": [1, 2]}",
            0,
        ),
        (&["kv", "get", "secret/{n}bar"], "", 0),
        (&["kv", "patch", "secret/{n}foo", "c=3"], "", 0),
        (
            &["kv", "patch", "-method=rw", "secret/{n}foo", "d=4"],
            "",
            0,
        ),
        (
            &[
                "kv",
                "patch",
                "-method=patch",
                "-cas=1",
                "secret/{n}foo",
                "e=5",
            ],
            "",
            2,
        ),
        (
            &["kv", "patch", "-method=bogus", "secret/{n}foo", "e=5"],
            "",
            2,
        ),
        (&["kv", "patch", "v1{n}/x", "a=2"], "", 2),
        (&["kv", "patch", "secret/{n}nope", "a=1"], "", 2),
        (
            &["kv", "patch", "-method=rw", "secret/{n}nope", "a=1"],
            "",
            2,
        ),
        (&["kv", "patch", "-remove-data=c", "secret/{n}foo"], "", 0),
        (
            &[
                "kv",
                "patch",
                "-method=rw",
                "-remove-data=d",
                "secret/{n}foo",
            ],
            "",
            0,
        ),
        (
            &["kv", "patch", "-field=version", "secret/{n}foo", "g=7"],
            "",
            0,
        ),
        (&["kv", "get", "secret/{n}foo"], "", 0),
        // Versions: delete, undelete, destroy.
        (&["kv", "put", "secret/{n}d", "a=1"], "", 0),
        (&["kv", "put", "secret/{n}d", "a=2"], "", 0),
        (&["kv", "put", "secret/{n}d", "a=3"], "", 0),
        (&["kv", "delete", "secret/{n}d"], "", 0),
        (&["kv", "get", "secret/{n}d"], "", 0),
        (&["kv", "get", "-field=a", "secret/{n}d"], "", 2),
        (&["kv", "delete", "-versions=1,2", "secret/{n}d"], "", 0),
        (&["kv", "undelete", "-versions=3", "secret/{n}d"], "", 0),
        (
            &["kv", "undelete", "-mount=secret", "-versions=1", "{n}d"],
            "",
            0,
        ),
        (&["kv", "undelete", "secret/{n}d"], "", 1),
        (&["kv", "undelete", "-versions=1", "v1{n}/x"], "", 1),
        (
            &["kv", "destroy", "-versions=1", "-versions=2", "secret/{n}d"],
            "",
            0,
        ),
        (&["kv", "destroy", "secret/{n}d"], "", 1),
        (&["kv", "destroy", "-versions=1", "v1{n}/x"], "", 1),
        (&["kv", "delete", "a", "b"], "", 1),
        // Lists.
        (&["kv", "list", "secret/{n}nope"], "", 2),
        (&["kv", "list", "-format=json", "secret/{n}nope"], "", 2),
        (&["kv", "list"], "", 1),
        (&["kv", "put", "v1{n}/dir/y", "a=1"], "", 0),
        (&["kv", "list", "v1{n}"], "", 0),
        (&["kv", "list", "-mount=v1{n}"], "", 0),
        (&["kv", "list", "-format=json", "v1{n}/"], "", 0),
        (&["kv", "list", "v1{n}/nothing"], "", 2),
        // Metadata and rollback.
        (
            &[
                "kv",
                "metadata",
                "put",
                "-max-versions=5",
                "-cas-required=false",
                "-delete-version-after=1h",
                "-custom-metadata=owner=me",
                "secret/{n}d",
            ],
            "",
            0,
        ),
        (&["kv", "metadata", "get", "secret/{n}d"], "", 0),
        (
            &[
                "kv",
                "metadata",
                "get",
                "-format=json",
                "-mount=secret",
                "{n}d",
            ],
            "",
            0,
        ),
        (&["kv", "metadata", "get", "secret/{n}nope"], "", 2),
        (&["kv", "metadata", "get", "v1{n}/x"], "", 1),
        (&["kv", "metadata", "put", "v1{n}/x"], "", 1),
        (
            &["kv", "metadata", "put", "-cas-required", "secret/{n}d"],
            "",
            0,
        ),
        (&["kv", "rollback", "-version=3", "secret/{n}d"], "", 0),
        (&["kv", "rollback", "-version=1", "secret/{n}d"], "", 2),
        (&["kv", "rollback", "secret/{n}d"], "", 1),
        (&["kv", "rollback", "-version=0", "secret/{n}d"], "", 1),
        (&["kv", "rollback", "-version=1", "secret/{n}nope"], "", 2),
        (&["kv", "rollback", "-version=1", "v1{n}/x"], "", 2),
        (&["kv", "metadata", "delete", "secret/{n}d"], "", 0),
        (&["kv", "metadata", "delete", "v1{n}/x"], "", 1),
        (&["kv", "get", "secret/{n}d"], "", 2),
        (&["kv", "delete", "v1{n}/x"], "", 0),
        (&["kv", "delete", "-mount=v1{n}", "x"], "", 0),
    ];
    for (template, stdin, code) in cases {
        h.check_code(template, stdin, *code);
    }
    // Both sides' secrets are under secret/: the listing is the same for both clients.
    for args in [
        &["kv", "list", "secret"][..],
        &["kv", "list", "-format=json", "-mount=secret"][..],
    ] {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let theirs = h.bao(&args, "", Some("root"));
        assert_eq!(theirs.code, 0, "{}", theirs.err);
        assert_eq!(h.ours(&args, "", Some("root")), theirs);
    }
}

fn logins(h: &Harness<'_>) {
    for side in [Side::Bao, Side::Ours] {
        let user = fill(
            &[
                "write",
                "auth/up{n}/users/alice",
                "password=pw",
                "policies=default",
            ],
            side,
        );
        assert_eq!(h.bao(&user, "", Some("root")).code, 0);
    }
    let none = |_| None;
    // The success paragraph names the client ("bao login" / "coffer login"); the rest must match.
    let after_prose = |out: &Output| {
        out.out
            .split_once("\n\n")
            .map_or_else(String::new, |(_, rest)| rest.to_owned())
    };
    for template in [
        &[
            "login",
            "-method=userpass",
            "-path=up{n}",
            "username=alice",
            "password=pw",
        ][..],
        &[
            "login",
            "-method=userpass",
            "-path=up{n}",
            "-no-store",
            "username=alice",
            "password=pw",
        ][..],
        &["login", "root"][..],
        &["login", "token=root", "lookup=false"][..],
    ] {
        let theirs = h.bao(&fill(template, Side::Bao), "", None);
        let ours = h.ours(&fill(template, Side::Ours), "", None);
        assert_eq!(theirs.code, 0, "{template:?}: {}", theirs.err);
        assert_eq!(ours.code, 0, "{template:?}: {}", ours.err);
        assert!(
            ours.out.starts_with("Success! You are now authenticated."),
            "{}",
            ours.out
        );
        assert_eq!(
            normalize(&after_prose(&ours), Side::Ours),
            normalize(&after_prose(&theirs), Side::Bao),
            "{template:?}"
        );
        assert_eq!(
            normalize(&ours.err, Side::Ours),
            normalize(&theirs.err, Side::Bao)
        );
        // Both stored the same kind of token.
        let stored = std::fs::read_to_string(&h.our_token_file).unwrap();
        let theirs_stored = std::fs::read_to_string(h.bao_home.join(".vault-token")).unwrap();
        assert_eq!(
            mask_word(&stored),
            mask_word(&theirs_stored),
            "{stored} vs {theirs_stored}"
        );
    }
    let stdin_login = |side| h.side(side, &["login".into(), "-".into()], "root\n", None);
    let (theirs, ours) = (stdin_login(Side::Bao), stdin_login(Side::Ours));
    assert_eq!(
        (ours.code, after_prose(&ours)),
        (theirs.code, after_prose(&theirs))
    );
    for (template, stdin, code) in [
        (
            &[
                "login",
                "-method=userpass",
                "-path=up{n}",
                "username=alice",
                "password=bad",
            ][..],
            "",
            2,
        ),
        (
            &["login", "-method=userpass", "-path=up{n}", "username=alice"][..],
            "pw\n",
            2,
        ),
        (&["login", "-method=userpass", "-path=up{n}"][..], "", 2),
        (
            &[
                "login",
                "-method=userpass",
                "-path=up{n}",
                "-format=json",
                "username=alice",
                "password=pw",
            ][..],
            "",
            0,
        ),
        (
            &[
                "login",
                "-method=userpass",
                "-path=up{n}",
                "-field=token_policies",
                "username=alice",
                "password=pw",
            ][..],
            "",
            0,
        ),
        (
            &[
                "login",
                "-method=userpass",
                "-path=up{n}",
                "-token-only",
                "username=alice",
                "password=pw",
            ][..],
            "",
            0,
        ),
        (
            &[
                "login",
                "-method=userpass",
                "-path=up{n}",
                "-no-print",
                "username=alice",
                "password=pw",
            ][..],
            "",
            0,
        ),
        (&["login", "-no-store", "-no-print", "root"][..], "", 1),
        (&["login"][..], "", 2),
        (&["login", "bogus"][..], "", 2),
        (&["login", "token=root", "lookup=maybe"][..], "", 2),
        (&["login", "-format=json", "root"][..], "", 0),
    ] {
        let (theirs, _) = h.check_with(|side| fill(template, side), stdin, none);
        assert_eq!(theirs.code, code, "{template:?}: {}", theirs.err);
    }
    machine_logins(h);
    // Unknown methods: same exit code and message, except for the client's name.
    let theirs = h.bao(&["login".into(), "-method=bogus".into()], "", None);
    let ours = h.ours(&["login".into(), "-method=bogus".into()], "", None);
    assert_eq!((ours.code, theirs.code), (1, 1));
    assert_eq!(
        ours.err.split_whitespace().collect::<Vec<_>>().join(" "),
        theirs
            .err
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .replace("\"bao auth list\"", "\"coffer auth list\"")
    );
}

/// kubernetes logins (OpenBao's handler) and approle's `secret-id` writes and logins. OpenBao's CLI has no
/// `jwt` or `approle` login handler: our `login -method=approle` is compared with `bao write auth/<path>/login`.
fn machine_logins(h: &Harness<'_>) {
    for side in [Side::Bao, Side::Ours] {
        for args in [
            &["auth", "enable", "-path=k8s{n}", "kubernetes"][..],
            &["auth", "enable", "-path=ar{n}", "approle"][..],
            &[
                "write",
                "auth/ar{n}/role/x",
                "token_policies=default,p1",
                "secret_id_ttl=1h",
                "secret_id_num_uses=3",
            ][..],
            &[
                "write",
                "auth/ar{n}/role/open",
                "bind_secret_id=false",
                "secret_id_bound_cidrs=127.0.0.1/32",
                "token_policies=p2",
                "token_ttl=20m",
            ][..],
            &["write", "auth/ar{n}/role/open/role-id", "role_id=rid{n}"][..],
            &["write", "auth/ar{n}/role/x/role-id", "role_id=ridx{n}"][..],
        ] {
            let out = h.bao(&fill(args, side), "", Some("root"));
            assert_eq!(out.code, 0, "{args:?}: {}", out.err);
        }
    }
    let dir = h.server.dir.path();
    let jwt_file = dir.join("sa-token");
    std::fs::write(&jwt_file, "not.a.jwt").unwrap();
    let jwt_arg = format!("jwt=@{}", jwt_file.display());
    for (template, stdin, code) in [
        (&["login", "-method=kubernetes", "jwt=x"][..], "", 2),
        (
            &["login", "-method=kubernetes", "-path=k8s{n}", "role=x"][..],
            "",
            2,
        ),
        (
            &[
                "login",
                "-method=kubernetes",
                "-path=k8s{n}",
                "-non-interactive",
                "role=x",
            ][..],
            "",
            2,
        ),
        // Not enabled at the default path: 403.
        (
            &["login", "-method=kubernetes", "role=x", "jwt=y"][..],
            "",
            2,
        ),
        // Enabled, no such role: 400 from the server, shown the same way.
        (
            &[
                "login",
                "-method=kubernetes",
                "-path=k8s{n}/",
                "role=x",
                &jwt_arg,
            ][..],
            "",
            2,
        ),
        (
            &[
                "login",
                "-method=kubernetes",
                "-path=k8s{n}",
                "role=x",
                "jwt=-",
            ][..],
            "not.a.jwt",
            2,
        ),
        (&["write", "-f", "auth/ar{n}/role/x/secret-id"][..], "", 0),
        (
            &["write", "-f", "-format=json", "auth/ar{n}/role/x/secret-id"][..],
            "",
            0,
        ),
        (
            &[
                "write",
                "auth/ar{n}/role/x/secret-id",
                "metadata={\"a\":\"b\"}",
            ][..],
            "",
            0,
        ),
        (&["write", "auth/ar{n}/role/x/secret-id"][..], "", 1),
        (
            &["write", "-f", "auth/ar{n}/role/nope/secret-id"][..],
            "",
            2,
        ),
    ] {
        let (theirs, _) = h.check_with(
            |side| fill(template, side),
            stdin,
            |_| Some("root".to_owned()),
        );
        assert_eq!(theirs.code, code, "{template:?}: {}", theirs.err);
    }
    // `coffer login -method=approle` prints what `bao write auth/<path>/login` prints, after the prose.
    for (ours, theirs) in [
        (
            &[
                "login",
                "-method=approle",
                "-path=ar{n}",
                "-no-store",
                "role_id=rid{n}",
            ][..],
            &["write", "auth/ar{n}/login", "role_id=rid{n}"][..],
        ),
        (
            &[
                "login",
                "-method=approle",
                "-path=ar{n}",
                "-format=json",
                "role_id=rid{n}",
            ][..],
            &[
                "write",
                "-format=json",
                "auth/ar{n}/login",
                "role_id=rid{n}",
            ][..],
        ),
    ] {
        let mine = h.ours(&fill(ours, Side::Ours), "", None);
        let bao = h.bao(&fill(theirs, Side::Bao), "", None);
        assert_eq!((mine.code, bao.code), (0, 0), "{}\n{}", mine.err, bao.err);
        // Drop the success paragraph (table output only; JSON has none).
        let printed = mine
            .out
            .strip_prefix("Success! ")
            .and_then(|rest| rest.split_once("\n\n"))
            .map_or(mine.out.as_str(), |(_, table)| table);
        assert_eq!(
            normalize(printed, Side::Ours),
            normalize(&bao.out, Side::Bao),
            "{ours:?}"
        );
    }
    // A wrong secret id: the same server error and exit code as bao's write.
    let mine = h.ours(
        &fill(
            &[
                "login",
                "-method=approle",
                "-path=ar{n}",
                "role_id=ridx{n}",
                "secret_id=bad",
            ],
            Side::Ours,
        ),
        "",
        None,
    );
    let bao = h.bao(
        &fill(
            &[
                "write",
                "auth/ar{n}/login",
                "role_id=ridx{n}",
                "secret_id=bad",
            ],
            Side::Bao,
        ),
        "",
        None,
    );
    assert_eq!((mine.code, bao.code), (2, 2), "{}", bao.err);
    let error = |text: &str, side| normalize(text.split_once(": ").map_or(text, |(_, e)| e), side);
    assert_eq!(error(&mine.err, Side::Ours), error(&bao.err, Side::Bao));
    assert!(
        mine.err.starts_with("Error authenticating: "),
        "{}",
        mine.err
    );
}

fn unwrapping(h: &Harness<'_>) {
    h.check_code(&["write", "sys/wrapping/wrap", "a=b", "n=1"], "", 0);
    h.check_code(
        &["token", "create", "-wrap-ttl=5m", "-policy=default"],
        "",
        0,
    );
    h.check_code(&["unwrap", "a", "b"], "", 1);
    h.check_code(&["unwrap"], "", 2);
    h.check_code(&["unwrap", "not-a-wrapping-token"], "", 2);
    let wrap = |side| {
        h.field(
            side,
            &["write", "-field=wrapping_token", "sys/wrapping/wrap", "a=b"],
        )
    };
    let (bao_wrap, our_wrap) = (wrap(Side::Bao), wrap(Side::Ours));
    let pick = |side: Side| {
        if side == Side::Bao {
            bao_wrap.clone()
        } else {
            our_wrap.clone()
        }
    };
    let root = |_| Some("root".to_owned());
    h.check_with(|s| vec!["unwrap".into(), pick(s)], "", root);
    let (theirs, _) = h.check_with(|s| vec!["unwrap".into(), pick(s)], "", root);
    assert_eq!(theirs.code, 2);
    // The wrapping token as the client token.
    let (bao_wrap, our_wrap) = (wrap(Side::Bao), wrap(Side::Ours));
    h.check_with(
        |_| vec!["unwrap".into()],
        "",
        |s| {
            Some(if s == Side::Bao {
                bao_wrap.clone()
            } else {
                our_wrap.clone()
            })
        },
    );
    let wrapped_token = |side| {
        h.field(
            side,
            &["token", "create", "-wrap-ttl=5m", "-field=wrapping_token"],
        )
    };
    let (bao_wrap, our_wrap) = (wrapped_token(Side::Bao), wrapped_token(Side::Ours));
    h.check_with(
        |s| {
            let token = if s == Side::Bao { &bao_wrap } else { &our_wrap };
            vec!["unwrap".into(), "-format=json".into(), token.clone()]
        },
        "",
        root,
    );
    // Wrapped data holding `keys` is printed as a list.
    let wrapped_keys = |side| {
        h.field(
            side,
            &[
                "write",
                "-field=wrapping_token",
                "sys/wrapping/wrap",
                "keys=b",
                "keys=a",
            ],
        )
    };
    let (bao_wrap, our_wrap) = (wrapped_keys(Side::Bao), wrapped_keys(Side::Ours));
    let (theirs, _) = h.check_with(
        |s| {
            let token = if s == Side::Bao { &bao_wrap } else { &our_wrap };
            vec!["unwrap".into(), token.clone()]
        },
        "",
        root,
    );
    assert_eq!(theirs.out, "Keys\n----\na\nb\n");
}

#[test]
fn masking() {
    assert_eq!(
        normalize(
            "token    s.wxMoqo1M3y3y24a7bq8XCssC\nacc      bm5dkhgsBZ2Nq5skmZCgUp2H\nid 45965b30-0fb5-9903-a540-800fe4013822\n\
             t 2026-11-22T03:10:55.573024799Z\nc 1795316994\nttl      59m59s\nw 2026-11-22 03:11:42.498659707 +0000 UTC\nbzq OpenBao",
            Side::Bao
        ),
        "token    <token>\nacc      <id>\nid <uuid>\nt <date>\nc <unix>\nttl <ttl>\nw <date> <clock> +0000 UTC\n{n} Vault"
    );
}
