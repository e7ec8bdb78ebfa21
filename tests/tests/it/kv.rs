//! KV secrets engine, version 1 (a mount of our own) and version 2 (the dev server's `secret/`), driven with the
//! real `bao` CLI, raw HTTP and hvac. Every expectation here was first checked against `bao server -dev`
//! (`COFFER_E2E_TARGET=openbao`).

use serde_json::{Value, json};

use crate::support::{
    assert_cli_error, assert_empty_404, assert_error, assert_has_keys, keys_at, server, set, set_at,
};

/// The keys of the `data` object of a KV v2 write (and of `metadata` in a read).
const VERSION_KEYS: [&str; 5] = [
    "created_time",
    "custom_metadata",
    "deletion_time",
    "destroyed",
    "version",
];

/// The documented keys of a KV v2 metadata read.
const METADATA_KEYS: [&str; 9] = [
    "cas_required",
    "created_time",
    "current_version",
    "custom_metadata",
    "delete_version_after",
    "max_versions",
    "oldest_version",
    "updated_time",
    "versions",
];

#[tokio::test(flavor = "multi_thread")]
async fn kv_v1_put_get_list_delete_with_bao() {
    let server = server().await;
    let bao = server.bao();
    let api = server.api();

    let out = bao.run(&["secrets", "enable", "-path=kv1", "kv"]).await;
    out.expect_code(0, "bao secrets enable -path=kv1 kv");
    assert!(out.stdout.contains("kv1/"), "{}", out.stdout);

    bao.run(&["kv", "put", "kv1/app/db", "user=alice", "pass=s3"])
        .await
        .expect_code(0, "kv put kv1/app/db");
    let got = bao.json(&["kv", "get", "-format=json", "kv1/app/db"]).await;
    assert_eq!(got["data"], json!({"user": "alice", "pass": "s3"}), "{got}");
    // KV v1 reads carry the mount's default lease TTL (768h on a dev server) as a refresh hint.
    assert_eq!(got["lease_duration"], 2_764_800, "{got}");
    assert_eq!(got["renewable"], false, "{got}");
    let field = bao.run(&["kv", "get", "-field=user", "kv1/app/db"]).await;
    field.expect_code(0, "kv get -field=user");
    assert_eq!(field.stdout.trim(), "alice");

    // A second put replaces the whole entry (no merge, no versions in v1).
    bao.run(&["kv", "put", "kv1/app/db", "user=bob"])
        .await
        .expect_code(0, "second kv put");
    let got = bao.json(&["kv", "get", "-format=json", "kv1/app/db"]).await;
    assert_eq!(got["data"], json!({"user": "bob"}), "{got}");
    let (status, body) = api.get("kv1/app/db").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!({"user": "bob"}), "{body}");

    bao.run(&["kv", "put", "kv1/app/cache/redis", "url=redis://x"])
        .await
        .expect_code(0, "kv put nested");
    let list = bao.json(&["kv", "list", "-format=json", "kv1/app"]).await;
    assert_eq!(list, json!(["cache/", "db"]), "kv list kv1/app");
    let list = bao.json(&["kv", "list", "-format=json", "kv1/"]).await;
    assert_eq!(list, json!(["app/"]), "kv list kv1/");
    let (status, body) = api.list("kv1/app/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["keys"], json!(["cache/", "db"]), "{body}");

    bao.run(&["kv", "delete", "kv1/app/db"])
        .await
        .expect_code(0, "kv delete");
    let gone = bao.run(&["kv", "get", "kv1/app/db"]).await;
    assert_cli_error(&gone, "kv get after delete", "No value found at kv1/app/db");
    let (status, body) = api.get("kv1/app/db").await;
    assert_empty_404("GET kv1/app/db after delete", status, &body);
    // Deleting what is not there succeeds (204).
    let (status, body) = api.delete("kv1/app/db").await;
    assert_eq!(status, 204, "second delete: {body}");

    bao.run(&["kv", "delete", "kv1/app/cache/redis"])
        .await
        .expect_code(0, "kv delete nested");
    let empty = bao.run(&["kv", "list", "kv1/app"]).await;
    assert_cli_error(
        &empty,
        "kv list of an emptied folder",
        "No value found at kv1/app",
    );
    let (status, body) = api.list("kv1/app/").await;
    assert_empty_404("LIST kv1/app/ when empty", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_v2_versions_cas_patch_and_rollback_with_bao() {
    let server = server().await;
    let bao = server.bao();
    let api = server.api();

    let w1 = bao
        .json(&["kv", "put", "-format=json", "secret/app", "a=1"])
        .await;
    assert_eq!(keys_at(&w1, "/data"), set(&VERSION_KEYS), "{w1}");
    assert_eq!(w1["data"]["version"], 1, "{w1}");
    assert_eq!(w1["data"]["destroyed"], false, "{w1}");
    assert_eq!(w1["data"]["deletion_time"], "", "{w1}");
    let w2 = bao
        .json(&["kv", "put", "-format=json", "secret/app", "a=2", "b=3"])
        .await;
    assert_eq!(w2["data"]["version"], 2, "{w2}");

    let got = bao.json(&["kv", "get", "-format=json", "secret/app"]).await;
    assert_eq!(got["data"]["data"], json!({"a": "2", "b": "3"}), "{got}");
    assert_eq!(keys_at(&got, "/data/metadata"), set(&VERSION_KEYS), "{got}");
    assert_eq!(got["data"]["metadata"]["version"], 2, "{got}");
    let v1 = bao
        .json(&["kv", "get", "-format=json", "-version=1", "secret/app"])
        .await;
    assert_eq!(v1["data"]["data"], json!({"a": "1"}), "{v1}");
    assert_eq!(v1["data"]["metadata"]["version"], 1, "{v1}");
    assert_eq!(
        v1["data"]["metadata"]["created_time"], w1["data"]["created_time"],
        "a version keeps its creation time"
    );

    // Check-and-set: a stale version is refused (400 → exit 2), the current one is accepted.
    let stale = bao.run(&["kv", "put", "-cas=1", "secret/app", "a=9"]).await;
    assert_cli_error(
        &stale,
        "kv put -cas=1 at version 2",
        "check-and-set parameter did not match the current version",
    );
    let (status, body) = api
        .post(
            "secret/data/app",
            json!({"options": {"cas": 1}, "data": {"a": "9"}}),
        )
        .await;
    assert_error(
        "raw cas mismatch",
        status,
        400,
        &body,
        "check-and-set parameter did not match the current version",
    );
    let (status, body) = api
        .post(
            "secret/data/fresh",
            json!({"options": {"cas": 0}, "data": {"n": "1"}}),
        )
        .await;
    assert_eq!(status, 200, "cas=0 creates a missing secret: {body}");
    let (status, body) = api
        .post(
            "secret/data/fresh",
            json!({"options": {"cas": 0}, "data": {"n": "2"}}),
        )
        .await;
    assert_error(
        "cas=0 on an existing secret",
        status,
        400,
        &body,
        "check-and-set parameter did not match the current version",
    );
    let w3 = bao
        .json(&["kv", "put", "-format=json", "-cas=2", "secret/app", "a=9"])
        .await;
    assert_eq!(w3["data"]["version"], 3, "{w3}");

    // Patch merges into the latest version and makes a new one.
    let w4 = bao
        .json(&["kv", "patch", "-format=json", "secret/app", "c=4"])
        .await;
    assert_eq!(w4["data"]["version"], 4, "{w4}");
    let got = bao.json(&["kv", "get", "-format=json", "secret/app"]).await;
    assert_eq!(got["data"]["data"], json!({"a": "9", "c": "4"}), "{got}");
    // Patch of a secret that does not exist fails.
    let missing = bao.run(&["kv", "patch", "secret/none", "x=1"]).await;
    missing.expect_code(2, "kv patch of a missing secret");

    // Rollback writes the old data as a new version.
    let rb = bao
        .json(&["kv", "rollback", "-format=json", "-version=1", "secret/app"])
        .await;
    assert_eq!(rb["data"]["version"], 5, "{rb}");
    let got = bao.json(&["kv", "get", "-format=json", "secret/app"]).await;
    assert_eq!(got["data"]["data"], json!({"a": "1"}), "{got}");
    assert_eq!(got["data"]["metadata"]["version"], 5, "{got}");

    let meta = bao
        .json(&["kv", "metadata", "get", "-format=json", "secret/app"])
        .await;
    assert_eq!(meta["data"]["current_version"], 5, "{meta}");
    assert_eq!(
        keys_at(&meta, "/data/versions"),
        set(&["1", "2", "3", "4", "5"]),
        "{meta}"
    );

    // Listing shows leaves and folders.
    bao.run(&["kv", "put", "secret/dir/x", "v=1"])
        .await
        .expect_code(0, "kv put secret/dir/x");
    bao.run(&["kv", "put", "secret/dir/y/z", "v=1"])
        .await
        .expect_code(0, "kv put secret/dir/y/z");
    let list = bao.json(&["kv", "list", "-format=json", "secret/"]).await;
    assert_eq!(list, json!(["app", "dir/", "fresh"]), "kv list secret/");
    let list = bao
        .json(&["kv", "list", "-format=json", "secret/dir"])
        .await;
    assert_eq!(list, json!(["x", "y/"]), "kv list secret/dir");
    let (status, body) = api.list("secret/metadata/dir/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["keys"], json!(["x", "y/"]), "{body}");
    let (status, body) = api.list("secret/metadata/nothing/").await;
    assert_empty_404("LIST of an empty folder", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_v2_delete_undelete_destroy_and_metadata_with_bao() {
    let server = server().await;
    let bao = server.bao();
    let api = server.api();
    for n in 1..=4 {
        bao.run(&["kv", "put", "secret/app", &format!("n={n}")])
            .await
            .expect_code(0, "kv put");
    }

    // Soft delete of the latest version: the CLI still prints the metadata (exit 0), the API answers 404 with
    // the version's metadata in `data`.
    bao.run(&["kv", "delete", "secret/app"])
        .await
        .expect_code(0, "kv delete");
    let got = bao.json(&["kv", "get", "-format=json", "secret/app"]).await;
    assert_eq!(got["data"]["data"], Value::Null, "{got}");
    assert_eq!(got["data"]["metadata"]["version"], 4, "{got}");
    assert_ne!(got["data"]["metadata"]["deletion_time"], "", "{got}");
    let (status, body) = api.get("secret/data/app").await;
    assert_eq!(status, 404, "GET of a deleted version: {body}");
    assert_eq!(body["data"]["data"], Value::Null, "{body}");
    assert_eq!(body["data"]["metadata"]["version"], 4, "{body}");
    assert_eq!(body["data"]["metadata"]["destroyed"], false, "{body}");
    assert!(
        body["data"]["metadata"]["deletion_time"]
            .as_str()
            .is_some_and(|t| !t.is_empty()),
        "deletion_time set: {body}"
    );
    // Older versions stay readable.
    let v3 = bao
        .json(&["kv", "get", "-format=json", "-version=3", "secret/app"])
        .await;
    assert_eq!(v3["data"]["data"], json!({"n": "3"}), "{v3}");

    bao.run(&["kv", "undelete", "-versions=4", "secret/app"])
        .await
        .expect_code(0, "kv undelete");
    let got = bao.json(&["kv", "get", "-format=json", "secret/app"]).await;
    assert_eq!(got["data"]["data"], json!({"n": "4"}), "{got}");
    assert_eq!(got["data"]["metadata"]["deletion_time"], "", "{got}");

    // Destroy removes the data for good; the metadata says so.
    bao.run(&["kv", "destroy", "-versions=1", "secret/app"])
        .await
        .expect_code(0, "kv destroy");
    let (status, body) = api.get("secret/data/app?version=1").await;
    assert_eq!(status, 404, "GET of a destroyed version: {body}");
    assert_eq!(body["data"]["data"], Value::Null, "{body}");
    assert_eq!(body["data"]["metadata"]["destroyed"], true, "{body}");
    bao.run(&["kv", "undelete", "-versions=1", "secret/app"])
        .await
        .expect_code(0, "kv undelete of a destroyed version");
    let (status, body) = api.get("secret/data/app?version=1").await;
    assert_eq!(
        status, 404,
        "undelete does not bring back destroyed data: {body}"
    );
    // A version that never existed: plain 404.
    let (status, body) = api.get("secret/data/app?version=99").await;
    assert_empty_404("GET of version 99", status, &body);

    // Delete of specific versions.
    bao.run(&["kv", "delete", "-versions=2", "secret/app"])
        .await
        .expect_code(0, "kv delete -versions=2");
    let meta = bao
        .json(&["kv", "metadata", "get", "-format=json", "secret/app"])
        .await;
    assert_has_keys("metadata get", &meta, "/data", &METADATA_KEYS);
    assert_eq!(meta["data"]["current_version"], 4, "{meta}");
    assert_eq!(meta["data"]["max_versions"], 0, "{meta}");
    assert_eq!(meta["data"]["cas_required"], false, "{meta}");
    assert_eq!(meta["data"]["delete_version_after"], "0s", "{meta}");
    assert_eq!(meta["data"]["custom_metadata"], Value::Null, "{meta}");
    let versions = &meta["data"]["versions"];
    assert_eq!(versions["1"]["destroyed"], true, "{meta}");
    assert_ne!(versions["2"]["deletion_time"], "", "{meta}");
    assert_eq!(versions["2"]["destroyed"], false, "{meta}");
    assert_eq!(versions["3"]["deletion_time"], "", "{meta}");
    assert_eq!(versions["4"]["deletion_time"], "", "{meta}");

    // Metadata put: max_versions, cas_required, custom_metadata.
    bao.run(&[
        "kv",
        "metadata",
        "put",
        "-max-versions=2",
        "-cas-required=true",
        "-custom-metadata=owner=ops",
        "-custom-metadata=env=prod",
        "secret/app",
    ])
    .await
    .expect_code(0, "kv metadata put");
    let meta = bao
        .json(&["kv", "metadata", "get", "-format=json", "secret/app"])
        .await;
    assert_eq!(meta["data"]["max_versions"], 2, "{meta}");
    assert_eq!(meta["data"]["cas_required"], true, "{meta}");
    assert_eq!(
        meta["data"]["custom_metadata"],
        json!({"owner": "ops", "env": "prod"}),
        "{meta}"
    );
    let no_cas = bao.run(&["kv", "put", "secret/app", "n=5"]).await;
    assert_cli_error(
        &no_cas,
        "kv put without -cas when cas_required",
        "check-and-set parameter required for this call",
    );
    let w5 = bao
        .json(&["kv", "put", "-format=json", "-cas=4", "secret/app", "n=5"])
        .await;
    assert_eq!(w5["data"]["version"], 5, "{w5}");
    assert_eq!(
        w5["data"]["custom_metadata"],
        json!({"owner": "ops", "env": "prod"}),
        "a write reports the custom metadata: {w5}"
    );
    // max_versions=2 keeps only the two newest versions.
    let meta = bao
        .json(&["kv", "metadata", "get", "-format=json", "secret/app"])
        .await;
    assert_eq!(keys_at(&meta, "/data/versions"), set(&["4", "5"]), "{meta}");
    let pruned = bao.run(&["kv", "get", "-version=3", "secret/app"]).await;
    assert_cli_error(&pruned, "kv get of a pruned version", "No value found");

    // Raw metadata write and read.
    let (status, body) = api
        .post(
            "secret/metadata/app",
            json!({"max_versions": 3, "cas_required": false, "custom_metadata": {"k": "v"}}),
        )
        .await;
    assert_eq!(status, 204, "metadata write: {body}");
    let (status, body) = api.get("secret/metadata/app").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["max_versions"], 3, "{body}");
    assert_eq!(body["data"]["cas_required"], false, "{body}");
    assert_eq!(body["data"]["custom_metadata"], json!({"k": "v"}), "{body}");

    // Metadata delete removes every version.
    bao.run(&["kv", "metadata", "delete", "secret/app"])
        .await
        .expect_code(0, "kv metadata delete");
    let gone = bao.run(&["kv", "get", "secret/app"]).await;
    assert_cli_error(&gone, "kv get after metadata delete", "No value found");
    let gone = bao.run(&["kv", "metadata", "get", "secret/app"]).await;
    assert_cli_error(&gone, "metadata get after delete", "No value found");
    let (status, body) = api.get("secret/data/app").await;
    assert_empty_404("GET after metadata delete", status, &body);
    let (status, body) = api.get("secret/metadata/app").await;
    assert_empty_404("GET metadata after metadata delete", status, &body);
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_v2_with_hvac() {
    let server = server().await;
    let out = server
        .hvac()
        .run(
            r#"
import hvac.exceptions as E
kv = client.secrets.kv.v2
r = {}
r["w1"] = kv.create_or_update_secret(path="h/app", secret={"a": "1"})["data"]
r["w2"] = kv.create_or_update_secret(path="h/app", secret={"a": "2"}, cas=1)["data"]
try:
    kv.create_or_update_secret(path="h/app", secret={"a": "3"}, cas=1)
    r["cas_error"] = None
except E.InvalidRequest as e:
    r["cas_error"] = str(e)
r["latest"] = kv.read_secret_version(path="h/app", raise_on_deleted_version=True)["data"]
r["patch"] = kv.patch(path="h/app", secret={"b": "x"})["data"]
r["patched"] = kv.read_secret_version(path="h/app", raise_on_deleted_version=True)["data"]["data"]
r["v1"] = kv.read_secret_version(path="h/app", version=1, raise_on_deleted_version=True)["data"]["data"]
r["delete"] = kv.delete_latest_version_of_secret(path="h/app").status_code
try:
    kv.read_secret_version(path="h/app", raise_on_deleted_version=True)
    r["deleted_error"] = None
except E.InvalidPath as e:
    r["deleted_error"] = "InvalidPath"
r["deleted"] = kv.read_secret_version(path="h/app", raise_on_deleted_version=False)["data"]
r["undelete"] = kv.undelete_secret_versions(path="h/app", versions=[3]).status_code
r["undeleted"] = kv.read_secret_version(path="h/app", raise_on_deleted_version=True)["data"]["data"]
r["destroy"] = kv.destroy_secret_versions(path="h/app", versions=[1]).status_code
r["meta"] = kv.read_secret_metadata(path="h/app")["data"]
kv.create_or_update_secret(path="h/sub/leaf", secret={"z": "1"})
r["list"] = kv.list_secrets(path="h")["data"]["keys"]
try:
    kv.read_secret_version(path="h/missing", raise_on_deleted_version=True)
    r["missing"] = None
except E.InvalidPath as e:
    r["missing"] = "InvalidPath"
out(r)
"#,
        )
        .await;
    assert_eq!(out["w1"]["version"], 1, "{out}");
    assert_eq!(out["w2"]["version"], 2, "{out}");
    let cas_error = out["cas_error"].as_str().unwrap_or_default();
    assert!(
        cas_error.contains("check-and-set parameter did not match the current version"),
        "{out}"
    );
    assert_eq!(out["latest"]["data"], json!({"a": "2"}), "{out}");
    assert_eq!(out["latest"]["metadata"]["version"], 2, "{out}");
    assert_eq!(out["patch"]["version"], 3, "{out}");
    assert_eq!(out["patched"], json!({"a": "2", "b": "x"}), "{out}");
    assert_eq!(out["v1"], json!({"a": "1"}), "{out}");
    assert_eq!(out["delete"], 204, "{out}");
    assert_eq!(out["deleted_error"], "InvalidPath", "{out}");
    assert_eq!(out["deleted"]["data"], Value::Null, "{out}");
    assert_eq!(out["deleted"]["metadata"]["version"], 3, "{out}");
    assert_eq!(out["undelete"], 204, "{out}");
    assert_eq!(out["undeleted"], json!({"a": "2", "b": "x"}), "{out}");
    assert_eq!(out["destroy"], 204, "{out}");
    assert_eq!(out["meta"]["current_version"], 3, "{out}");
    assert_eq!(out["meta"]["versions"]["1"]["destroyed"], true, "{out}");
    assert_eq!(out["meta"]["versions"]["3"]["deletion_time"], "", "{out}");
    assert_eq!(out["list"], json!(["app", "sub/"]), "{out}");
    assert_eq!(out["missing"], "InvalidPath", "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_v1_with_hvac() {
    let server = server().await;
    let out = server
        .hvac()
        .run(
            r#"
import hvac.exceptions as E
client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
v1 = client.secrets.kv.v1
r = {}
r["put"] = v1.create_or_update_secret(path="x/y", secret={"k": "v"}, mount_point="kv1").status_code
r["read"] = v1.read_secret(path="x/y", mount_point="kv1")
v1.create_or_update_secret(path="x/z/w", secret={"k": "w"}, mount_point="kv1")
r["list"] = v1.list_secrets(path="x", mount_point="kv1")["data"]["keys"]
r["delete"] = v1.delete_secret(path="x/y", mount_point="kv1").status_code
try:
    v1.read_secret(path="x/y", mount_point="kv1")
    r["gone"] = None
except E.InvalidPath:
    r["gone"] = "InvalidPath"
r["mount"] = client.sys.read_mount_configuration(path="kv1")["data"]
out(r)
"#,
        )
        .await;
    assert_eq!(out["put"], 204, "{out}");
    assert_eq!(out["read"]["data"], json!({"k": "v"}), "{out}");
    assert_eq!(out["read"]["lease_duration"], 2_764_800, "{out}");
    assert_eq!(out["list"], json!(["y", "z/"]), "{out}");
    assert_eq!(out["delete"], 204, "{out}");
    assert_eq!(out["gone"], "InvalidPath", "{out}");
    assert_eq!(out["mount"]["default_lease_ttl"], 2_764_800, "{out}");
    assert_eq!(out["mount"]["max_lease_ttl"], 2_764_800, "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn kv_v2_raw_http_shapes() {
    let server = server().await;
    let api = server.api();
    let (status, body) = api
        .post("secret/data/raw", json!({"data": {"k": "v"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys_at(&body, "/data"), set(&VERSION_KEYS), "{body}");
    // Write responses are envelopes without a lease.
    assert_eq!(body["lease_id"], "", "{body}");
    assert_eq!(body["lease_duration"], 0, "{body}");
    assert_eq!(body["renewable"], false, "{body}");
    // A write without a `data` object is refused.
    let (status, body) = api.post("secret/data/raw", json!({"k": "v"})).await;
    assert_error("write without data", status, 400, &body, "no data provided");

    // PATCH with the merge-patch content type (what `bao kv patch` sends).
    let resp = api
        .send(
            "PATCH",
            "secret/data/raw",
            Some(br#"{"data":{"k":null,"n":"2"}}"#.to_vec()),
            &[("Content-Type", "application/merge-patch+json")],
        )
        .await;
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.json["data"]["version"], 2, "{}", resp.text());
    let (status, body) = api.get("secret/data/raw").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["data"],
        json!({"n": "2"}),
        "a null removes the key: {body}"
    );
    // PATCH with a plain JSON content type is refused.
    let resp = api
        .send(
            "PATCH",
            "secret/data/raw",
            Some(br#"{"data":{"n":"3"}}"#.to_vec()),
            &[("Content-Type", "application/json")],
        )
        .await;
    assert_eq!(resp.status, 415, "{}", resp.text());
    assert!(
        crate::support::first_error(&resp.json)
            .contains("PATCH requires Content-Type of application/merge-patch+json"),
        "{}",
        resp.text()
    );

    // subkeys shows the structure without values.
    let (status, body) = api
        .post(
            "secret/data/nested",
            json!({"data": {"a": {"b": {"c": "secret"}}, "d": "x"}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = api.get("secret/subkeys/nested").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["subkeys"],
        json!({"a": {"b": {"c": null}}, "d": null}),
        "{body}"
    );

    // Engine config.
    let (status, body) = api.get("secret/config").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["max_versions"], 0, "{body}");
    assert_eq!(body["data"]["cas_required"], false, "{body}");
    assert_eq!(body["data"]["delete_version_after"], "0s", "{body}");

    let (status, body) = api.get("secret/data/never").await;
    assert_empty_404("GET of a secret never written", status, &body);
    let (status, body) = api.get("secret/metadata/never").await;
    assert_empty_404("GET metadata of a secret never written", status, &body);
    let listed = set_at(&api.list("secret/metadata/").await.1, "/data/keys");
    assert_eq!(listed, set(&["nested", "raw"]));
}
