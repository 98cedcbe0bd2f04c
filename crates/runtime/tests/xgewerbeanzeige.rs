//! XGewerbeanzeige on both backends: an accepted Gewerbeanzeige sends one message per
//! statutory recipient of the decision „Empfaenger“ through the outbox; each is well-formed,
//! in the namespace of XGewerbeanzeige 2.2, and has the element paths of the standard's own
//! example for the same facts; delivery goes into the drop directory or to an HTTP
//! endpoint, is retried when that fails, and never happens twice.

use rathaus_domain::tenant::Contact;
use rathaus_domain::{CaseStatus, TenantSettings};
use rathaus_engine::outbound::element_paths;
use rathaus_runtime::outbox::Transports;
use rathaus_runtime::{ManualClock, Runtime, RuntimeConfig};
use rathaus_store::audit::Actor;
use rathaus_store::{cases, outbox, tenants, testing};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod common;

const NS: &str = "http://www.xgewerbeanzeige.de/spezifikation/2.2";

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/xgewerbeanzeige")
}

async fn setup(
    db: &testing::TestDatabase,
    drop_dir: &Path,
    overrides: Value,
) -> (Arc<Runtime>, Arc<ManualClock>, tenants::Tenant) {
    let library = rathaus_engine::Library::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")).unwrap();
    let config = RuntimeConfig { public_url: "http://test".into(), secret: b"secret".to_vec(), node_id: "test".into() };
    let clock = Arc::new(ManualClock::new(chrono::Utc::now()));
    let rt = Runtime::new(db.store.clone(), library, config, clock.clone(), None);
    let _ = rt.transport.set(Box::new(Transports::new(Some(drop_dir.to_path_buf()))));
    let settings = TenantSettings {
        postcodes: vec!["09999".into()],
        contact: Contact {
            office: "Gewerbeamt".into(),
            street: "Markt 1".into(),
            postcode: "09999".into(),
            city: "Musterstadt".into(),
            email: "gewerbe@musterstadt.example".into(),
            phone: "03700 1234-0".into(),
            ..Default::default()
        },
        land: "SN".into(),
        ags: "14599001".into(),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let mut tx = db.store.begin().await.unwrap();
    let t = tenants::create(&mut tx, "musterstadt", "Musterstadt", &settings, now).await.unwrap();
    tenants::activate_procedure(&mut tx, &t.tenant_id, "gewerbeanmeldung", &overrides, now).await.unwrap();
    tx.commit().await.unwrap();
    rt.sync_deployments().await.unwrap();
    (rt, clock, t)
}

fn soon() -> String {
    (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d").to_string()
}

/// The standard's example in our data: a Chilean registered merchant opens a hairdresser's
/// with further activities, two part-time staff, craft card and residence title present.
fn friseur() -> Value {
    json!({
        "meldungsart": "anmeldung",
        "inhaber": {"familienname": "Pick", "vornamen": "Tibor", "geburtsname": "Rodríguez", "geschlecht": "maennlich",
            "geburtsdatum": "1965-10-12", "geburtsort": "Santiago", "staatsangehoerigkeit": ["CL"], "telefon": "0355 141455",
            "anschrift": {"strasse": "Ewald-Hase-Str.", "hausnummer": "4", "plz": "09999", "ort": "Musterstadt"}},
        "rechtsform": "ek",
        "register": {"art": "HRA", "nummer": "11111", "gericht": "Amtsgericht Chemnitz"},
        "betrieb": {"geschaeftsbezeichnung": "Tibor Pick e.K.", "anschrift": {"strasse": "Spremberger Str.", "hausnummer": "90", "plz": "09999", "ort": "Musterstadt"},
            "niederlassung": "hauptniederlassung"},
        "grund": "neugruendung",
        "taetigkeiten": ["friseur", "kosmetik"],
        "taetigkeit_beschreibung": "Friseur",
        "betriebsart": ["handwerk"],
        "beginn": soon(),
        "nebenerwerb": false,
        "beschaeftigte": {"vollzeit": 0, "teilzeit": 2},
        "handwerkskarte": {"kammer": "Handwerkskammer Chemnitz", "eingetragen_am": "2012-03-01"},
        "aufenthaltstitel": {"art": "Niederlassungserlaubnis", "erlaubt_selbststaendigkeit": true}
    })
}

async fn submit(rt: &Runtime, t: &tenants::Tenant, data: &Value) -> cases::Case {
    let s = common::submit(rt, t, data).await;
    let mut conn = rt.store.conn().await.unwrap();
    cases::by_id(&mut conn, &t.tenant_id, &s.case_id).await.unwrap().unwrap()
}

/// Element paths below the root, so that messages of different types compare.
fn body_paths(xml: &str) -> BTreeSet<String> {
    element_paths(xml)
        .unwrap()
        .into_iter()
        .filter_map(|p| p.splitn(3, '/').nth(2).map(String::from))
        .filter(|p| !p.is_empty())
        .collect()
}

fn drop_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rathaus-ausgang-{:016x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn an_accepted_gewerbeanzeige_goes_to_each_recipient_in_the_structure_of_the_standard() {
    let example = std::fs::read_to_string(examples().join("xgwa2.2-valid.xml")).unwrap();
    let mut known: BTreeSet<String> = BTreeSet::new();
    for f in ["xgwa2.0-valid.xml", "xgwa2.1-valid.xml", "xgwa2.2-valid.xml"] {
        known.extend(body_paths(&std::fs::read_to_string(examples().join(f)).unwrap()));
    }
    for db in testing::all().await {
        let dir = drop_dir();
        let (rt, _clock, t) = setup(&db, &dir, json!({})).await;

        // The standard case: the spec's recipients, each delivered into the drop directory.
        let case = submit(&rt, &t, &common::application("software")).await;
        assert_eq!(case.status, CaseStatus::Confirmed.code());
        let sent = rt.case_messages_out(&t.tenant_id, &case.case_id).await.unwrap();
        let recipients: BTreeSet<&str> = sent.iter().map(|m| m.recipient.as_str()).collect();
        assert_eq!(
            recipients,
            BTreeSet::from(["berufsgenossenschaft", "finanzamt", "ihk", "statistisches_landesamt", "zoll"])
        );
        for m in &sent {
            assert_eq!(m.status, outbox::DELIVERED, "{}", m.recipient);
            let folder = m.address.strip_prefix("ablage:").unwrap();
            let file = dir.join("musterstadt").join(folder).join(format!("{}.xml", m.message_id));
            assert_eq!(std::fs::read_to_string(&file).unwrap(), m.content, "{}", file.display());
            rathaus_engine::outbound::check_xml(&m.content, NS).unwrap();
            let doc = roxmltree::Document::parse(&m.content).unwrap();
            let root = doc.root_element().tag_name().name().to_string();
            let expected_root = match m.recipient.as_str() {
                "statistisches_landesamt" => "sta.gewerbemeldung.0100",
                "berufsgenossenschaft" => "dgu.gewerbemeldung.0230",
                _ => "alg.gewerbemeldung.0300",
            };
            assert_eq!(root, expected_root);
            assert!(m.content.contains(&format!("<xga:gemeindeMeldungNr>{}</xga:gemeindeMeldungNr>", case.reference)));
            assert!(m.content.contains("<code>14599001</code>"), "the town's AGS");
        }
        // Running the jobs again sends nothing twice.
        assert_eq!(rt.run_due_jobs().await.unwrap(), 0);
        let files: usize = std::fs::read_dir(dir.join("musterstadt"))
            .unwrap()
            .map(|d| std::fs::read_dir(d.unwrap().path()).unwrap().count())
            .sum();
        assert_eq!(files, 5);

        // The standard's own example, in our data: to the immigration office, and the same
        // element paths for the same facts.
        let case = submit(&rt, &t, &friseur()).await;
        assert_eq!(case.status, CaseStatus::Confirmed.code());
        let sent = rt.case_messages_out(&t.tenant_id, &case.case_id).await.unwrap();
        let recipients: BTreeSet<&str> = sent.iter().map(|m| m.recipient.as_str()).collect();
        assert_eq!(
            recipients,
            BTreeSet::from([
                "auslaenderbehoerde",
                "berufsgenossenschaft",
                "bundesagentur_fuer_arbeit",
                "finanzamt",
                "gewerbeaufsicht",
                "hwk",
                "registergericht",
                "statistisches_landesamt",
                "zoll"
            ])
        );
        let abh = sent.iter().find(|m| m.recipient == "auslaenderbehoerde").unwrap();
        let ours = body_paths(&abh.content);
        let theirs = body_paths(&example);
        // Nothing the standard does not know.
        let invented: Vec<&String> = ours.difference(&known).collect();
        assert!(invented.is_empty(), "elements not in the standard's examples: {invented:?}");
        // Everything of the example, except what Rathaus does not ask (keys of registers and
        // streets, the place of birth's country, the issuers of craft card and title).
        let not_asked = [
            // The recipient's own channels and address (the DVDV knows them).
            "nachrichtenkopf/leser/erreichbarkeit/kanal",
            "nachrichtenkopf/leser/erreichbarkeit/kanal/code",
            "nachrichtenkopf/leser/erreichbarkeit/kennung",
            "nachrichtenkopf/leser/erreichbarkeit",
            "nachrichtenkopf/leser/anschrift",
            "nachrichtenkopf/leser/anschrift/hausNr",
            "nachrichtenkopf/leser/anschrift/ort",
            "nachrichtenkopf/leser/anschrift/plz",
            "nachrichtenkopf/leser/anschrift/strasse",
            "satz/anmeldung/gewerbe/anschrift/strassenschluessel",
            "satz/anmeldung/gewerbe/betrieb/eintragungPLZ",
            "satz/anmeldung/gewerbe/betrieb/gerichtSchluessel",
            "satz/anmeldung/gewerbe/betrieb/gerichtSchluessel/code",
            "satz/anmeldung/gewerbe/beteiligtePerson/geburtsland",
            "satz/anmeldung/gewerbe/handwerkskarte/ausgestelltVonPLZ",
            "satz/anmeldung/gewerbe/handwerkskarte/ausgestelltVonSchluessel",
            "satz/anmeldung/gewerbe/handwerkskarte/ausgestelltVonSchluessel/code",
            "satz/anmeldung/gewerbe/beteiligtePerson/aufenthaltstitel/ausgestelltAm",
            "satz/anmeldung/gewerbe/beteiligtePerson/aufenthaltstitel/ausgestelltVonName",
            "satz/anmeldung/gewerbe/beteiligtePerson/aufenthaltstitel/ausgestelltVonOrt",
            "satz/anmeldung/gewerbe/beteiligtePerson/aufenthaltstitel/ausgestelltVonPLZ",
        ];
        let missing: Vec<&String> = theirs.difference(&ours).filter(|p| !not_asked.contains(&p.as_str())).collect();
        assert!(missing.is_empty(), "elements of the example missing: {missing:?}");
        assert!(abh.content.contains("<xga:geburtsdatum>12101965</xga:geburtsdatum>"));
        assert!(abh.content.contains("<code>332</code>"), "Chilean nationality by its Destatis key");
        // The same facts give the example's code values.
        let code_of = |xml: &str, element: &str| -> Option<String> {
            let start = xml.find(&format!("<xga:{element}"))?;
            let rest = &xml[start..];
            let code = rest.find("<code>")? + 6;
            Some(rest[code..code + rest[code..].find("</code>")?].to_string())
        };
        for element in [
            "rechtsformSchluessel",
            "eintragungArt",
            "niederlassungArt",
            "geschlecht",
            "grundAnmeldungSchluessel",
            "staatsangehoerigkeitSchluessel",
            "handwerk",
            "istNebenerwerb",
        ] {
            assert_eq!(code_of(&abh.content, element), code_of(&example, element), "{element}");
        }
        // The authority ids name their code lists as the standard's example does.
        for list in
            ["urn:de:xauslaender:codelist:abhkennung", "urn:de:bund:destatis:bevoelkerungsstatistik:schluessel:ags"]
        {
            assert!(example.contains(list) && abh.content.contains(&format!("listURI=\"{list}\"")), "{list}");
        }
        assert!(abh
            .content
            .contains("<xga:taetigkeitenZusammengefasst>Kosmetikstudio</xga:taetigkeitenZusammengefasst>"));
        // The case file (eAkte) holds the messages as sent.
        let archive = rt.case_archive(&t, &case.case_id, &Actor::System).await.unwrap();
        let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive.bytes)).unwrap();
        let mut xml = String::new();
        std::io::Read::read_to_string(
            &mut zip.by_name("uebermittlungen/xgewerbeanzeige-auslaenderbehoerde.xml").unwrap(),
            &mut xml,
        )
        .unwrap();
        assert_eq!(xml, abh.content);
        let mut sums = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("pruefsummen.sha256").unwrap(), &mut sums).unwrap();
        assert!(sums.contains(&format!("{}  uebermittlungen/xgewerbeanzeige-auslaenderbehoerde.xml", abh.sha256)));
        // Its metadata in the manner of XDOMEA: the file and every part with its checksum.
        let mut meta = String::new();
        std::io::Read::read_to_string(&mut zip.by_name("xdomea.xml").unwrap(), &mut meta).unwrap();
        let doc = roxmltree::Document::parse(&meta).unwrap();
        let text = |name: &str| doc.descendants().find(|n| n.has_tag_name(name)).and_then(|n| n.text()).unwrap_or("");
        assert_eq!(text("Kennzeichen"), case.reference);
        assert_eq!(text("Aufbewahrungsdauer"), "5");
        let parts: Vec<(String, String)> = doc
            .descendants()
            .filter(|n| n.has_tag_name("Dokument"))
            .map(|d| {
                let child = |name: &str| {
                    d.children().find(|c| c.has_tag_name(name)).and_then(|c| c.text()).unwrap_or("").to_string()
                };
                (child("Dateiname"), child("Hashwert"))
            })
            .collect();
        assert!(
            parts.contains(&("uebermittlungen/xgewerbeanzeige-auslaenderbehoerde.xml".to_string(), abh.sha256.clone()))
        );
        assert!(parts.iter().any(|(name, _)| name.starts_with("dokumente/")), "{meta}");
        assert!(sums.contains("  xdomea.xml\n"));
        // Audited: queued and delivered, each once.
        let mut conn = db.store.conn().await.unwrap();
        for action in ["message.queued", "message.delivered"] {
            let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE tenant_id = $1 AND action = $2")
                .bind(&t.tenant_id)
                .bind(action)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!(n, 14, "{action}");
        }
        drop(conn);
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await;
    }
}

/// A one-request-at-a-time HTTP endpoint answering each request with the next status of
/// `answers`, and handing over what it received.
async fn endpoint(answers: Vec<u16>) -> (String, tokio::sync::mpsc::UnboundedReceiver<(String, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/xga/", listener.local_addr().unwrap());
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        for status in answers {
            let Ok((mut socket, _)) = listener.accept().await else { return };
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            // Read the head, then as much body as it announces.
            loop {
                let n = socket.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let text = String::from_utf8_lossy(&buf).to_string();
            let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
            let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let _ = tx.send((path, body.to_string()));
            let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, rx)
}

#[tokio::test]
async fn messages_go_to_a_distribution_platform_over_http_and_a_refusal_is_retried() {
    for db in testing::all().await {
        let dir = drop_dir();
        // The first answer refuses; every later one accepts.
        let (url, mut received) = endpoint([vec![503], vec![200; 10]].concat()).await;
        let (rt, clock, t) = setup(&db, &dir, json!({"uebermittlung_ziel": url})).await;
        let case = submit(&rt, &t, &common::application("software")).await;
        let sent = rt.case_messages_out(&t.tenant_id, &case.case_id).await.unwrap();
        assert_eq!(sent.len(), 5);
        let pending = sent.iter().filter(|m| m.status != outbox::DELIVERED).count();
        assert_eq!(pending, 1, "the refused one waits for its retry");
        // Later: the retry delivers it.
        clock.advance(chrono::Duration::minutes(5));
        rt.run_due_jobs().await.unwrap();
        let sent = rt.case_messages_out(&t.tenant_id, &case.case_id).await.unwrap();
        assert!(sent.iter().all(|m| m.status == outbox::DELIVERED && m.receipt.as_deref() == Some("HTTP 200")));
        let mut paths = Vec::new();
        while let Ok((path, body)) = received.try_recv() {
            assert!(body.starts_with("<?xml"), "{body}");
            paths.push(path);
        }
        assert_eq!(paths.len(), 6, "five messages, one of them twice");
        assert!(paths.contains(&"/xga/finanzamt".to_string()) && paths.contains(&"/xga/statistik".to_string()));
        assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "nothing in the drop directory");
        let _ = std::fs::remove_dir_all(&dir);
        db.cleanup().await;
    }
}
