//! Starts the whole product (demo mode) on a random port over a test database.
#![allow(dead_code)]

pub mod browser;

use rathaus::config::{Config, ConfigArgs};
use rathaus::seed::DemoCredentials;
use rathaus::server;
use rathaus_store::testing::TestDatabase;
use std::path::PathBuf;

pub struct TestServer {
    pub base: String,
    pub creds: DemoCredentials,
    pub db: TestDatabase,
    pub assembled: server::Assembled,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    pub data_dir: PathBuf,
}

pub fn library_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../library")
}

impl TestServer {
    pub async fn start(db: TestDatabase) -> TestServer {
        Self::start_with(db, |_| {}).await
    }

    /// Starts with settings changed by `configure` (e.g. an SMTP server).
    pub async fn start_with(db: TestDatabase, configure: impl FnOnce(&mut ConfigArgs)) -> TestServer {
        let data_dir = std::env::temp_dir().join(format!("rathaus-e2e-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&data_dir).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let args = ConfigArgs {
            bind: Some(addr.to_string()),
            data_dir: Some(data_dir.clone()),
            database_url: Some(db.url.clone()),
            library: Some(library_dir()),
            demo: Some(true),
            ..Default::default()
        };
        let mut args = args;
        configure(&mut args);
        let config = Config::resolve(&args).unwrap();
        let assembled = server::assemble(&config, db.store.clone()).await.unwrap();
        let creds = assembled.credentials.clone().expect("demo credentials");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runner = server::Assembled {
            runtime: assembled.runtime.clone(),
            app: assembled.app.clone(),
            credentials: None,
            seeded: false,
        };
        let handle = tokio::spawn(async move {
            server::run(&runner, listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        TestServer {
            base: format!("http://{addr}"),
            creds,
            db,
            assembled,
            shutdown: Some(tx),
            handle: Some(handle),
            data_dir,
        }
    }

    pub fn api_key(&self, tenant: &str) -> &str {
        &self.creds.tenants[tenant].api_key
    }

    pub fn password(&self, tenant: &str, username: &str) -> &str {
        &self.creds.tenants[tenant].staff.iter().find(|s| s.username == username).unwrap().password
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
        self.db.cleanup().await;
    }
}

/// A browser-like client: keeps cookies, follows redirects.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::limited(10)).build().unwrap()
}

/// The CSRF token of the first form on a page.
pub fn csrf(html: &str) -> String {
    let marker = "name=\"_csrf\" value=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no CSRF token in page:\n{html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// A start date a few days ahead (a standard case).
pub fn soon() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive() + chrono::Duration::days(5)
}

pub fn application(activity: &str, plz: &str) -> serde_json::Value {
    serde_json::json!({
        "meldungsart": "anmeldung",
        "inhaber": {"familienname": "Muster", "vornamen": "Erika", "geburtsdatum": "1985-04-12", "geburtsort": "Chemnitz",
                    "staatsangehoerigkeit": ["DE"], "anschrift": {"strasse": "Hauptstraße", "hausnummer": "1", "plz": plz, "ort": "Musterstadt"}},
        "rechtsform": "einzelunternehmen",
        "betrieb": {"anschrift": {"strasse": "Marktplatz", "hausnummer": "3", "plz": plz, "ort": "Musterstadt"}, "niederlassung": "hauptniederlassung"},
        "grund": "neugruendung",
        "taetigkeiten": [activity],
        "taetigkeit_beschreibung": "Entwicklung und Vertrieb von Software",
        "betriebsart": ["sonstiges"],
        "beginn": soon().format("%Y-%m-%d").to_string(),
        "nebenerwerb": false,
        "beschaeftigte": {"vollzeit": 0, "teilzeit": 0}
    })
}

/// Submits `data` as a Gewerbeanmeldung of `tenant` through the API channel (as an outside
/// online service would), for tests that need a case without filling the form.
pub async fn submit_gewerbeanmeldung(
    s: &TestServer,
    tenant: &str,
    data: &serde_json::Value,
) -> (rathaus_store::tenants::Tenant, rathaus_runtime::Submitted) {
    let rt = &s.assembled.runtime;
    let mut conn = rt.store.conn().await.unwrap();
    let tenant = rathaus_store::tenants::by_slug(&mut conn, tenant).await.unwrap().unwrap();
    drop(conn);
    let submitted = rt
        .submit(rathaus_runtime::SubmitRequest {
            tenant: &tenant,
            procedure_id: "gewerbeanmeldung",
            data,
            channel: rathaus_domain::Channel::Api,
            lang: rathaus_domain::Lang::De,
            actor: rathaus_store::audit::Actor::Applicant,
            upload_key: None,
            account_id: None,
            business_id: None,
        })
        .await
        .unwrap();
    (tenant, submitted)
}

/// A real SMTP server in its own process (Python's `smtpd`), storing every mail it receives
/// as a file; stopped when dropped.
pub struct SmtpServer {
    pub port: u16,
    pub dir: PathBuf,
    child: std::process::Child,
}

const SMTP_SERVER: &str = r#"
import warnings
warnings.simplefilter("ignore")
import asyncore, os, smtpd, sys
class Store(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kw):
        name = os.path.join(sys.argv[2], "%04d.eml" % len(os.listdir(sys.argv[2])))
        with open(name + ".part", "wb") as f:
            f.write(("X-Rcpt-To: %s\r\n" % ",".join(rcpttos)).encode() + (data if isinstance(data, bytes) else data.encode()))
        os.rename(name + ".part", name)
Store(("127.0.0.1", int(sys.argv[1])), None, decode_data=False)
asyncore.loop()
"#;

impl SmtpServer {
    pub async fn start() -> SmtpServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("rathaus-smtp-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let child = std::process::Command::new("python3")
            .args(["-c", SMTP_SERVER, &port.to_string(), dir.to_str().unwrap()])
            .spawn()
            .expect("python3 runs the test's SMTP server (smtpd, Python ≤ 3.11)");
        let server = SmtpServer { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the SMTP server did not start on port {port}");
    }

    /// The mails received so far, oldest first, as text.
    pub fn mails(&self) -> Vec<String> {
        let mut names: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        names.sort();
        names.iter().map(|p| String::from_utf8_lossy(&std::fs::read(p).unwrap()).into_owned()).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A file the test ClamAV knows as malware: a valid PDF signature (so that it passes the
/// content check and reaches the scanner) with the test's own signature in it.
pub const TEST_MALWARE: &[u8] = b"%PDF-1.4\n% Rathaus-Testsignatur: kein echtes Schadprogramm\n%%EOF\n";

/// A real ClamAV daemon (Debian's `clamd`) in its own process, listening on a free port,
/// with a signature database that knows only [`TEST_MALWARE`] (the real databases need a
/// download); stopped when dropped. `None` if clamd is not installed, unless
/// `RATHAUS_REQUIRE_CLAMAV=1` (CI), which makes that a failure.
pub struct ClamdServer {
    pub port: u16,
    dir: PathBuf,
    child: std::process::Child,
}

impl ClamdServer {
    pub async fn start() -> Option<ClamdServer> {
        let clamd = ["/usr/sbin/clamd", "/usr/bin/clamd"].into_iter().find(|p| std::path::Path::new(p).exists());
        let Some(clamd) = clamd else {
            if std::env::var("RATHAUS_REQUIRE_CLAMAV").is_ok_and(|v| v == "1") {
                panic!("RATHAUS_REQUIRE_CLAMAV=1, but clamd is not installed (apt-get install clamav-daemon)");
            }
            eprintln!("clamd not installed: the ClamAV part of this test is skipped (apt-get install clamav-daemon)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = std::env::temp_dir().join(format!("rathaus-clamd-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(dir.join("db")).unwrap();
        let signature = {
            use sha2::Digest;
            format!("{}:{}:Rathaus.Testsignatur\n", hex::encode(sha2::Sha256::digest(TEST_MALWARE)), TEST_MALWARE.len())
        };
        std::fs::write(dir.join("db/rathaus-test.hsb"), signature).unwrap();
        let conf = format!(
            "DatabaseDirectory {db}\nTCPSocket {port}\nTCPAddr 127.0.0.1\nForeground yes\nLogFile {log}\nPidFile {pid}\n",
            db = dir.join("db").display(),
            log = dir.join("clamd.log").display(),
            pid = dir.join("clamd.pid").display(),
        );
        std::fs::write(dir.join("clamd.conf"), conf).unwrap();
        let child = std::process::Command::new(clamd)
            .args(["-c", dir.join("clamd.conf").to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("clamd starts");
        let server = ClamdServer { port, dir, child };
        for _ in 0..300 {
            if let Ok(mut s) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut reply = [0u8; 16];
                if s.write_all(b"zPING\0").await.is_ok() && s.read(&mut reply).await.is_ok_and(|n| n >= 4) {
                    return Some(server);
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let log = std::fs::read_to_string(server.dir.join("clamd.log")).unwrap_or_default();
        panic!("clamd did not answer on port {port} within 30 s; its log:\n{log}");
    }

    pub fn address(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }
}

impl Drop for ClamdServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
