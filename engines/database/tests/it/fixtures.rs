//! The testkit's throwaway database servers themselves: they start, answer, refuse wrong passwords, stop and
//! come back on the same port with their data.

use testkit::{MariaServer, PgServer};

#[test]
fn pg_fixture_starts_stops_and_restarts() {
    let pg = PgServer::start();
    assert_eq!(pg.psql("SELECT 40 + 2"), "42");
    pg.psql("CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)");
    assert_eq!(
        pg.psql_as(pg.admin_user(), pg.admin_password(), "SELECT current_user")
            .unwrap(),
        "postgres"
    );
    let err = pg
        .psql_as(pg.admin_user(), "wrong", "SELECT 1")
        .unwrap_err();
    assert!(err.contains("password authentication failed"), "{err}");
    assert!(pg.url().contains(&pg.port().to_string()));
    assert!(
        pg.url_with_template()
            .starts_with("postgresql://{{username}}:{{password}}@127.0.0.1:")
    );

    pg.stop();
    assert!(
        pg.try_psql("SELECT 1").is_err(),
        "a stopped server answered"
    );
    pg.stop(); // stopping twice is harmless
    pg.restart();
    assert_eq!(pg.psql("SELECT x FROM kept"), "7");
}

#[test]
fn maria_fixture_starts_stops_and_restarts() {
    let db = MariaServer::start();
    assert_eq!(db.mariadb("SELECT 40 + 2"), "42");
    db.mariadb(
        "CREATE DATABASE app; CREATE TABLE app.kept (x int); INSERT INTO app.kept VALUES (7)",
    );
    assert_eq!(
        db.mariadb("SELECT host FROM mysql.user WHERE user = 'root'"),
        "%",
        "the engine-facing root account is root@%"
    );
    assert_eq!(
        db.mariadb_as(
            db.admin_user(),
            db.admin_password(),
            "SELECT current_user()"
        )
        .unwrap(),
        "root@%"
    );
    let err = db
        .mariadb_as(db.admin_user(), "wrong", "SELECT 1")
        .unwrap_err();
    assert!(err.contains("Access denied"), "{err}");
    assert!(
        db.url_with_template()
            .contains(&format!("tcp(127.0.0.1:{})", db.port()))
    );

    db.stop();
    assert!(
        db.try_mariadb("SELECT 1").is_err(),
        "a stopped server answered"
    );
    db.restart();
    assert_eq!(db.mariadb("SELECT x FROM app.kept"), "7");
}
