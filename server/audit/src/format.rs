//! Turns an [`AuditInput`] into an [`Entry`] for one device: HMAC under the device's salt (unless `log_raw`),
//! accessor hashing per `hmac_accessor`, list-response elision, then JSON.

use std::time::SystemTime;

use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::entry::{
    Entry, EntryAuth, EntryNamespace, EntryPolicyInfo, EntryPolicyResults, EntryRequest,
    EntryResponse, EntrySecret, EntryWrapInfo,
};
use crate::hmac::Hasher;
use crate::input::{AuditInput, AuthInfo, EntryKind, RequestInfo, ResponseInfo, WrapInfo};

/// The per-device formatting options shared by every device type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FormatOptions {
    /// No HMAC at all.
    pub(crate) log_raw: bool,
    /// HMAC accessors too.
    pub(crate) hmac_accessor: bool,
    /// Replace `keys`/`key_info` of list responses by their counts.
    pub(crate) elide_list_responses: bool,
}

impl Default for FormatOptions {
    fn default() -> Self {
        Self {
            log_raw: false,
            hmac_accessor: true,
            elide_list_responses: false,
        }
    }
}

/// Applies the salt (or not) to single values.
struct Hashing<'a> {
    hasher: Option<&'a Hasher>,
    accessors: bool,
    /// Token and accessor HMACs already computed for this entry: the caller's token and accessor appear twice
    /// (`auth` and `request`), and an HMAC is the costliest step of formatting.
    memo: std::cell::RefCell<Vec<(&'a str, String)>>,
}

impl<'a> Hashing<'a> {
    fn new(hasher: Option<&'a Hasher>, accessors: bool) -> Self {
        Self {
            hasher,
            accessors,
            memo: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn secret(&self, s: &str) -> String {
        match self.hasher {
            Some(h) if !s.is_empty() => h.hash(s),
            _ => s.to_owned(),
        }
    }

    /// [`Hashing::secret`] of a token or accessor, remembered for the rest of the entry.
    fn token(&self, s: &'a str) -> String {
        if self.hasher.is_none() || s.is_empty() {
            return s.to_owned();
        }
        let mut memo = self.memo.borrow_mut();
        if let Some((_, hashed)) = memo.iter().find(|(raw, _)| *raw == s) {
            return hashed.clone();
        }
        let hashed = self.secret(s);
        memo.push((s, hashed.clone()));
        hashed
    }

    fn accessor(&self, s: &'a str) -> String {
        if self.accessors {
            self.token(s)
        } else {
            s.to_owned()
        }
    }

    fn data(
        &self,
        data: Option<&Map<String, Value>>,
        ignored: &[String],
    ) -> Option<Map<String, Value>> {
        let data = data?;
        Some(match self.hasher {
            Some(h) => h.hashed_map(data, ignored),
            None => data.clone(),
        })
    }
}

/// The entry `input` becomes on a device with `opts` and salt `hasher`, serialized as one JSON object (no
/// newline).
pub(crate) fn format(
    input: &AuditInput,
    opts: FormatOptions,
    hasher: &Hasher,
) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(&entry(input, opts, hasher))
}

/// The entry `input` becomes on a device with `opts` and salt `hasher`.
pub(crate) fn entry(input: &AuditInput, opts: FormatOptions, hasher: &Hasher) -> Entry {
    // Declared before `h`, which may borrow from it.
    let no_auth = AuthInfo::default();
    let h = Hashing::new((!opts.log_raw).then_some(hasher), opts.hmac_accessor);
    let request = request(&input.request, &h, &input.non_hmac_request_keys);
    let response = (input.kind == EntryKind::Response).then(|| {
        let elide = opts.elide_list_responses && input.request.operation == "list";
        response(
            input.response.as_ref(),
            &input.request,
            &h,
            &input.non_hmac_response_keys,
            elide,
        )
    });
    // OpenBao always writes `auth`, with `token_type: default` when there is no token.
    let auth = input
        .auth
        .as_ref()
        .map_or_else(|| auth(&no_auth, &h), |a| auth(a, &h));
    Entry {
        time: rfc3339_nano(input.time),
        kind: input.kind.as_str().to_owned(),
        auth: Some(auth),
        request: Some(request),
        response,
        error: input.error.clone().unwrap_or_default(),
        reason: input.reason.clone().unwrap_or_default(),
    }
}

fn auth<'a>(a: &'a AuthInfo, h: &Hashing<'a>) -> EntryAuth {
    EntryAuth {
        client_token: h.token(&a.client_token),
        accessor: h.accessor(&a.accessor),
        display_name: a.display_name.clone(),
        policies: a.policies.clone(),
        token_policies: a.token_policies.clone(),
        identity_policies: a.identity_policies.clone(),
        no_default_policy: a.no_default_policy,
        policy_results: a.policy_results.as_ref().map(|p| EntryPolicyResults {
            allowed: p.allowed,
            granting_policies: p
                .granting_policies
                .iter()
                .map(|g| EntryPolicyInfo {
                    name: g.name.clone(),
                    namespace_id: g.namespace_id.clone(),
                    namespace_path: g.namespace_path.clone(),
                    kind: g.kind.clone(),
                })
                .collect(),
        }),
        metadata: a.metadata.clone(),
        num_uses: a.num_uses,
        remaining_uses: a.remaining_uses,
        entity_id: a.entity_id.clone(),
        token_type: if a.token_type.is_empty() {
            "default".to_owned()
        } else {
            a.token_type.clone()
        },
        token_ttl: a.token_ttl,
        token_issue_time: a.token_issue_time.map(rfc3339).unwrap_or_default(),
    }
}

fn request<'a>(r: &'a RequestInfo, h: &Hashing<'a>, non_hmac: &[String]) -> EntryRequest {
    let headers = r
        .headers
        .iter()
        .map(|(name, values)| {
            let hashed = r.hmac_headers.iter().any(|n| n.eq_ignore_ascii_case(name));
            let values = if hashed {
                values.iter().map(|v| h.secret(v)).collect()
            } else {
                values.clone()
            };
            (name.clone(), values)
        })
        .collect();
    EntryRequest {
        id: r.id.clone(),
        operation: r.operation.clone(),
        mount_point: r.mount_point.clone(),
        mount_type: r.mount_type.clone(),
        mount_accessor: r.mount_accessor.clone(),
        client_token: h.token(&r.client_token),
        client_token_accessor: h.accessor(&r.client_token_accessor),
        namespace: Some(EntryNamespace {
            id: if r.namespace.is_empty() {
                "root".to_owned()
            } else {
                r.namespace.clone()
            },
            path: String::new(),
        }),
        path: r.path.clone(),
        data: h.data(r.data.as_ref(), non_hmac),
        remote_address: r.remote_address.clone(),
        remote_port: r.remote_port,
        wrap_ttl: r.wrap_ttl,
        headers,
    }
}

fn response<'a>(
    resp: Option<&'a ResponseInfo>,
    req: &RequestInfo,
    h: &Hashing<'a>,
    non_hmac: &[String],
    elide: bool,
) -> EntryResponse {
    let or_req = |own: Option<&String>, theirs: &String| match own {
        Some(s) if !s.is_empty() => s.clone(),
        _ => theirs.clone(),
    };
    let mut out = EntryResponse {
        mount_point: or_req(resp.map(|r| &r.mount_point), &req.mount_point),
        mount_type: or_req(resp.map(|r| &r.mount_type), &req.mount_type),
        mount_accessor: or_req(resp.map(|r| &r.mount_accessor), &req.mount_accessor),
        ..EntryResponse::default()
    };
    let Some(r) = resp else {
        return out;
    };
    out.auth = r.auth.as_ref().map(|a| auth(a, h));
    out.secret = r.lease_id.as_ref().map(|id| EntrySecret {
        lease_id: id.clone(),
    });
    // Elide before hashing: no point hashing what is about to be replaced by a count.
    out.data = if elide {
        r.data.clone().and_then(|mut d| {
            elide_list(&mut d);
            h.data(Some(&d), non_hmac)
        })
    } else {
        h.data(r.data.as_ref(), non_hmac)
    };
    out.warnings = r.warnings.clone();
    out.wrap_info = r.wrap_info.as_ref().map(|w| wrap_info(w, h));
    out
}

fn wrap_info<'a>(w: &'a WrapInfo, h: &Hashing<'a>) -> EntryWrapInfo {
    EntryWrapInfo {
        ttl: w.ttl,
        token: h.token(&w.token),
        accessor: h.accessor(&w.accessor),
        creation_time: rfc3339_nano(w.creation_time),
        creation_path: w.creation_path.clone(),
        wrapped_accessor: h.accessor(&w.wrapped_accessor),
    }
}

/// Replaces a list response's `keys` array and `key_info` object by their sizes; other shapes are left alone.
fn elide_list(data: &mut Map<String, Value>) {
    if let Some(v) = data.get_mut("keys")
        && let Value::Array(a) = v
    {
        *v = Value::from(a.len());
    }
    if let Some(v) = data.get_mut("key_info")
        && let Value::Object(m) = v
    {
        *v = Value::from(m.len());
    }
}

/// Go's `time.RFC3339Nano` in UTC: fractional seconds without trailing zeros, none when zero.
pub(crate) fn rfc3339_nano(t: SystemTime) -> String {
    let dt = OffsetDateTime::from(t);
    let mut s = rfc3339_seconds(dt);
    let nanos = dt.nanosecond();
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    s
}

/// Go's `time.RFC3339` in UTC.
fn rfc3339(t: SystemTime) -> String {
    let mut s = rfc3339_seconds(OffsetDateTime::from(t));
    s.push('Z');
    s
}

fn rfc3339_seconds(dt: OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        dt.year(),
        u8::from(dt.month()),
        dt.day(),
        dt.hour(),
        dt.minute(),
        dt.second()
    )
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;
    use crate::input::{PolicyInfo, PolicyResults};

    fn hasher() -> Hasher {
        Hasher::new(&[1u8; 32])
    }

    fn list_input() -> AuditInput {
        let mut input = AuditInput::request(
            UNIX_EPOCH,
            RequestInfo {
                operation: "list".into(),
                path: "secret/".into(),
                ..RequestInfo::default()
            },
        );
        input.kind = EntryKind::Response;
        input.response = Some(ResponseInfo {
            data: Some(
                json!({"keys": ["a", "b", "c"], "key_info": {"a": {}, "b": {}}, "other": "x"})
                    .as_object()
                    .cloned()
                    .unwrap(),
            ),
            ..ResponseInfo::default()
        });
        input
    }

    #[test]
    fn time_formats_like_go() {
        assert_eq!(rfc3339_nano(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::new(1_700_000_000, 120_000_000);
        assert_eq!(rfc3339_nano(t), "2023-11-14T22:13:20.12Z");
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn elide_list_responses_counts_keys_and_key_info() {
        let opts = FormatOptions {
            elide_list_responses: true,
            ..FormatOptions::default()
        };
        let e = entry(&list_input(), opts, &hasher());
        let data = e.response.unwrap().data.unwrap();
        assert_eq!(data["keys"], json!(3));
        assert_eq!(data["key_info"], json!(2));
        assert_eq!(data["other"], json!(hasher().hash("x")));
        // Raw devices elide too.
        let raw = FormatOptions {
            log_raw: true,
            ..opts
        };
        let data = entry(&list_input(), raw, &hasher())
            .response
            .unwrap()
            .data
            .unwrap();
        assert_eq!(data["keys"], json!(3));
        assert_eq!(data["other"], json!("x"));
    }

    #[test]
    fn elision_only_for_list_responses() {
        let opts = FormatOptions {
            elide_list_responses: true,
            ..FormatOptions::default()
        };
        let mut input = list_input();
        input.request.operation = "read".into();
        let data = entry(&input, opts, &hasher())
            .response
            .unwrap()
            .data
            .unwrap();
        assert!(data["keys"].is_array());
        // And not when the option is off.
        let data = entry(&list_input(), FormatOptions::default(), &hasher())
            .response
            .unwrap()
            .data
            .unwrap();
        assert!(data["keys"].is_array());
    }

    #[test]
    fn request_without_auth_has_default_token_type_and_root_namespace() {
        let input = AuditInput::request(UNIX_EPOCH, RequestInfo::default());
        let v: Value =
            serde_json::from_slice(&format(&input, FormatOptions::default(), &hasher()).unwrap())
                .unwrap();
        assert_eq!(v["auth"], json!({"token_type": "default"}));
        assert_eq!(v["request"]["namespace"], json!({"id": "root"}));
        assert_eq!(v["type"], json!("request"));
        assert!(v.get("response").is_none());
    }

    #[test]
    fn policy_results_and_headers() {
        let mut input = AuditInput::request(
            UNIX_EPOCH,
            RequestInfo {
                headers: [
                    ("x-forwarded-for".to_owned(), vec!["10.0.0.1".to_owned()]),
                    ("x-secret".to_owned(), vec!["s".to_owned()]),
                ]
                .into(),
                hmac_headers: vec!["X-Secret".into()],
                ..RequestInfo::default()
            },
        );
        input.auth = Some(AuthInfo {
            policy_results: Some(PolicyResults {
                allowed: false,
                granting_policies: vec![PolicyInfo {
                    name: "p".into(),
                    namespace_id: "root".into(),
                    kind: "acl".into(),
                    ..PolicyInfo::default()
                }],
            }),
            ..AuthInfo::default()
        });
        let e = entry(&input, FormatOptions::default(), &hasher());
        let req = e.request.unwrap();
        assert_eq!(req.headers["x-forwarded-for"], vec!["10.0.0.1".to_owned()]);
        assert_eq!(req.headers["x-secret"], vec![hasher().hash("s")]);
        let v = serde_json::to_value(e.auth.unwrap()).unwrap();
        assert_eq!(
            v["policy_results"],
            json!({"allowed": false, "granting_policies": [{"name": "p", "namespace_id": "root", "type": "acl"}]})
        );
    }
}
