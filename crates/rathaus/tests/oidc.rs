//! Login by OpenID Connect (the way BundID and Servicekonten are connected), against a real
//! provider started for the test: node-oidc-provider from npm (`tools/oidc`, installed by
//! .ci/run with `npm ci --prefix tools/oidc`). Without it the test is skipped locally and
//! fails with `RATHAUS_REQUIRE_OIDC=1` (CI).

mod common;

use common::{client, TestServer};
use rathaus_store::testing;
use std::path::PathBuf;

fn tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tools/oidc")
}

/// The provider in its own process; stopped when dropped.
struct Provider {
    issuer: String,
    child: std::process::Child,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn provider(redirect_uri: &str) -> Option<Provider> {
    providers(&[redirect_uri]).await
}

/// A provider that accepts each of `redirect_uris`.
async fn providers(redirect_uris: &[&str]) -> Option<Provider> {
    if !tools().join("node_modules/oidc-provider").exists() {
        if std::env::var("RATHAUS_REQUIRE_OIDC").is_ok_and(|v| v == "1") {
            panic!("RATHAUS_REQUIRE_OIDC=1, but node-oidc-provider is not installed: npm ci --prefix tools/oidc");
        }
        eprintln!("node-oidc-provider not installed (npm ci --prefix tools/oidc): test skipped");
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = std::process::Command::new("node")
        .arg(tools().join("provider.mjs"))
        .arg(port.to_string())
        .args(redirect_uris)
        .stdout(std::process::Stdio::null())
        // Its warnings and errors, for when the test fails.
        .stderr(std::fs::File::create(std::env::temp_dir().join(format!("rathaus-oidc-{port}.log"))).unwrap())
        .spawn()
        .expect("node runs the OpenID Connect provider");
    let provider = Provider { issuer: format!("http://127.0.0.1:{port}"), child };
    let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
    for _ in 0..100 {
        if reqwest::get(&discovery).await.is_ok_and(|r| r.status().is_success()) {
            return Some(provider);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the OpenID Connect provider did not start on port {port}");
}

/// The form of a provider page: its action and hidden fields.
fn form(html: &str) -> (String, Vec<(String, String)>) {
    let start = html.find("<form").unwrap_or_else(|| panic!("no form in {html}"));
    let form = &html[start..html[start..].find("</form>").map(|e| start + e).unwrap()];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let i = tag.find(&format!("{name}=\""))? + name.len() + 2;
        Some(tag[i..i + tag[i..].find('"')?].to_string())
    };
    let action = attr(form, "action").expect("form action").replace("&#x2F;", "/").replace("&amp;", "&");
    let hidden = form
        .split("<input")
        .skip(1)
        .filter(|i| i.contains("type=\"hidden\""))
        .filter_map(|i| Some((attr(i, "name")?, attr(i, "value").unwrap_or_default())))
        .collect();
    (action, hidden)
}

fn absolute(issuer: &str, action: &str) -> String {
    if action.starts_with("http") {
        action.to_string()
    } else {
        format!("{issuer}{action}")
    }
}

/// Signs in at the provider like a person: the login page, the consent page if asked, and
/// back; returns where the browser ends and the page there.
async fn sign_in(c: &reqwest::Client, s: &TestServer, p: &Provider, login: &str) -> (String, String) {
    sign_in_from(c, s, p, "/musterstadt/konto/oidc", login).await
}

/// As [`sign_in`], starting the login at `start`.
async fn sign_in_from(c: &reqwest::Client, s: &TestServer, p: &Provider, start: &str, login: &str) -> (String, String) {
    let page = c.get(s.url(start)).send().await.unwrap();
    assert!(page.url().as_str().starts_with(&p.issuer), "at the provider: {}", page.url());
    let html = page.text().await.unwrap();
    let (action, mut fields) = form(&html);
    fields.extend([("login".to_string(), login.to_string()), ("password".to_string(), "beliebig".to_string())]);
    let page = c.post(absolute(&p.issuer, &action)).form(&fields).send().await.unwrap();
    let mut url = page.url().to_string();
    let mut html = page.text().await.unwrap();
    if url.starts_with(&p.issuer) {
        // The provider asks to confirm what Rathaus gets.
        let (action, hidden) = form(&html);
        let page = c.post(absolute(&p.issuer, &action)).form(&hidden).send().await.unwrap();
        url = page.url().to_string();
        html = page.text().await.unwrap();
    }
    (url, html)
}

#[tokio::test]
async fn citizens_sign_in_with_the_towns_openid_connect_provider() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let callback = format!("{}/musterstadt/konto/oidc/zurueck", s.base);
        let Some(p) = provider(&callback).await else {
            s.stop().await;
            return;
        };
        // Musterstadt connects the provider.
        {
            let mut conn = s.db.store.conn().await.unwrap();
            let mut t = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
            t.settings.oidc = Some(rathaus_domain::tenant::OidcSettings {
                issuer: p.issuer.clone(),
                client_id: "rathaus".into(),
                client_secret: "rathaus-test-secret".into(),
                label: "Servicekonto (Test)".into(),
            });
            rathaus_store::tenants::update_settings(&mut conn, &t.tenant_id, &t.settings).await.unwrap();
        }
        let c = client();
        let login = c
            .get(s.url("/musterstadt/konto/anmelden"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(
            login.contains("href=\"/musterstadt/konto/oidc\"") && login.contains("Anmelden mit Servicekonto (Test)"),
            "{login}"
        );
        let other = c
            .get(s.url("/beispielgemeinde/konto/anmelden"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
            .replace("&#x2f;", "/");
        assert!(!other.contains("/konto/oidc"), "only the town that connected it offers it");

        // To the provider, its login page, its consent page, back to Musterstadt.
        let (url, html) = sign_in(&c, &s, &p, "erika").await;
        assert_eq!(url, s.url("/musterstadt/konto/"), "{html}");
        assert!(
            html.contains("Sie sind angemeldet.") && html.contains("Angemeldet als Erika Muster (erika@example.org)."),
            "{html}"
        );

        // The same person next time: the same account.
        let (url, _) = sign_in(&client(), &s, &p, "erika").await;
        assert_eq!(url, s.url("/musterstadt/konto/"));
        let mut conn = s.db.store.conn().await.unwrap();
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM citizen_accounts WHERE oidc_subject = 'erika'")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        assert_eq!(n, 1, "one account for one person");
        drop(conn);

        // An answer that this browser did not ask for (no state of its own) is refused.
        let forged = client().get(s.url("/musterstadt/konto/oidc/zurueck?code=abc&state=xyz")).send().await.unwrap();
        assert_eq!(forged.status(), 400);
        assert!(forged.text().await.unwrap().contains("Anmeldung nicht möglich"));
        drop(p);
        s.stop().await;
    }
}

#[tokio::test]
async fn staff_sign_in_with_the_towns_own_identity_provider_into_the_account_of_their_name() {
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        let callback = format!("{}/musterstadt/intern/oidc/zurueck", s.base);
        let Some(p) = providers(&[&callback]).await else {
            s.stop().await;
            return;
        };
        let rt = &s.assembled.runtime;
        let mut conn = s.db.store.conn().await.unwrap();
        let mut t = rathaus_store::tenants::by_slug(&mut conn, "musterstadt").await.unwrap().unwrap();
        drop(conn);
        t.settings.staff_oidc = Some(rathaus_domain::tenant::OidcSettings {
            issuer: p.issuer.clone(),
            client_id: "rathaus".into(),
            client_secret: "rathaus-test-secret".into(),
            label: "Keycloak der Stadt".into(),
        });
        rt.update_tenant_settings(&t, &t.settings, None, &rathaus_store::audit::Actor::System).await.unwrap();
        let c = client();
        let login = c.get(s.url("/musterstadt/intern/anmelden")).send().await.unwrap().text().await.unwrap();
        assert!(login.contains("Anmelden mit Keycloak der Stadt"), "{login}");
        let other =
            client().get(s.url("/beispielgemeinde/intern/anmelden")).send().await.unwrap().text().await.unwrap();
        assert!(!other.contains("id=\"staff-oidc\""), "only the town that connected it offers it");

        // The provider's user „sachbearbeitung“ is the staff account of that name.
        let (url, html) = sign_in_from(&c, &s, &p, "/musterstadt/intern/oidc", "sachbearbeitung").await;
        assert_eq!(url, s.url("/musterstadt/intern/"), "{html}");
        assert!(html.contains("Sabine Sachbearbeiterin"), "{html}");
        let mut conn = s.db.store.conn().await.unwrap();
        let sabine =
            rathaus_store::staff::by_username(&mut conn, &t.tenant_id, "sachbearbeitung").await.unwrap().unwrap();
        let trail = rathaus_store::audit::for_object(&mut conn, &t.tenant_id, "staff", &sabine.staff_id).await.unwrap();
        let actions: Vec<&str> = trail.iter().map(|e| e.action.as_str()).collect();
        assert!(actions.contains(&"staff.oidc_linked") && actions.contains(&"staff.login"), "{actions:?}");
        assert!(trail.iter().any(|e| e.details.contains("\"oidc\"")), "the login records how");
        drop(conn);
        // Next time by the linked subject, in another browser.
        let (url, _) = sign_in_from(&client(), &s, &p, "/musterstadt/intern/oidc", "sachbearbeitung").await;
        assert_eq!(url, s.url("/musterstadt/intern/"));

        // Someone the provider knows but the town has no account for: refused, no session.
        let stranger = client();
        let (url, html) = sign_in_from(&stranger, &s, &p, "/musterstadt/intern/oidc", "fremd").await;
        assert!(url.ends_with("/musterstadt/intern/oidc/zurueck") || url.contains("/intern/oidc/zurueck?"), "{url}");
        assert!(html.contains("kein aktives Konto"), "{html}");
        let after = stranger.get(s.url("/musterstadt/intern/")).send().await.unwrap();
        assert!(after.url().path().ends_with("/intern/anmelden"));

        // A locked account does not get in by the provider either.
        rt.update_staff(
            &t,
            &sabine.staff_id,
            &rathaus_runtime::admin::StaffChange {
                display_name: sabine.display_name.clone(),
                role: rathaus_domain::Role::Clerk,
                org_units: sabine.org_unit_list(),
                email: sabine.email.clone(),
                active: false,
            },
            &rathaus_store::audit::Actor::System,
        )
        .await
        .unwrap();
        let (_, html) = sign_in_from(&client(), &s, &p, "/musterstadt/intern/oidc", "sachbearbeitung").await;
        assert!(html.contains("kein aktives Konto"), "{html}");
        // A forged answer is refused.
        let forged = client().get(s.url("/musterstadt/intern/oidc/zurueck?code=abc&state=xyz")).send().await.unwrap();
        assert_eq!(forged.status(), 400);
        drop(p);
        s.stop().await;
    }
}
