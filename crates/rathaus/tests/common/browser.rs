//! Chromium for the browser tests: Debian's chromium and chromium-driver (see .ci/run).

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A browser session; the driver process ends when this is dropped.
pub struct Browser {
    pub driver: Driver,
    pub client: Client,
}

pub struct Driver {
    child: Child,
    profile: PathBuf,
    port: u16,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn find(var: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Ok(p) = std::env::var(var) {
        return Some(PathBuf::from(p));
    }
    candidates.iter().map(PathBuf::from).find(|p| p.exists())
}

/// A Chromium session through chromedriver, or `None` (with a note) when they are not
/// installed; with `RATHAUS_REQUIRE_BROWSER=1` their absence fails the test.
pub async fn browser() -> Option<Browser> {
    let required = std::env::var("RATHAUS_REQUIRE_BROWSER").is_ok_and(|v| v == "1" || v == "true");
    let driver = find("RATHAUS_CHROMEDRIVER", &["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]);
    let chromium = find("RATHAUS_CHROMIUM", &["/usr/bin/chromium", "/usr/bin/chromium-browser"]);
    let (Some(driver), Some(chromium)) = (driver, chromium) else {
        assert!(!required, "RATHAUS_REQUIRE_BROWSER is set but chromium/chromedriver were not found (install the Debian packages chromium and chromium-driver)");
        eprintln!("note: chromium or chromedriver not installed, browser test skipped");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(&driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = std::env::temp_dir().join(format!("rathaus-chromium-{port}"));
    let d = Driver { child, profile: profile.clone(), port };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,1024",
                     format!("--user-data-dir={}", profile.display())]
        }),
    );
    let url = format!("http://127.0.0.1:{}", d.port);
    let mut last_err = None;
    for _ in 0..50 {
        match ClientBuilder::rustls().expect("tls").capabilities(caps.clone()).connect(&url).await {
            Ok(client) => return Some(Browser { driver: d, client }),
            Err(e) => {
                last_err = Some(e);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    panic!("could not start a Chromium session: {last_err:?}");
}

pub async fn type_into(c: &Client, id: &str, text: &str) {
    let el = c.find(Locator::Id(id)).await.unwrap_or_else(|e| panic!("#{id}: {e}"));
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Clicks the element, scrolled to the middle of the window first (after a change of the
/// window size chromedriver may otherwise click beside an element below the fold).
pub async fn click(c: &Client, css: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    c.execute("arguments[0].scrollIntoView({block: 'center'});", vec![serde_json::to_value(&el).unwrap()])
        .await
        .unwrap_or_else(|e| panic!("scroll to {css}: {e}"));
    el.click().await.unwrap_or_else(|e| panic!("click {css}: {e}"));
}

/// Fills the Gewerbeanmeldung's person page (Max Mustermann, German, living in 09990).
pub async fn fill_person(c: &Client) {
    type_into(c, "f-inhaber-familienname", "Mustermann").await;
    type_into(c, "f-inhaber-vornamen", "Max").await;
    type_into(c, "f-inhaber-geburtsdatum-tag", "3").await;
    type_into(c, "f-inhaber-geburtsdatum-monat", "10").await;
    type_into(c, "f-inhaber-geburtsdatum-jahr", "1990").await;
    type_into(c, "f-inhaber-geburtsort", "Zwickau").await;
    c.find(Locator::Id("f-inhaber-staatsangehoerigkeit")).await.unwrap().select_by_value("DE").await.unwrap();
    type_into(c, "f-inhaber-anschrift-strasse", "Rosenweg").await;
    type_into(c, "f-inhaber-anschrift-hausnummer", "4").await;
    type_into(c, "f-inhaber-anschrift-plz", "09990").await;
    type_into(c, "f-inhaber-anschrift-ort", "Musterstadt").await;
}
