//! Administration on the command line: a town's branding is checked for contrast before it
//! is stored, and every change is audited.

use rathaus_store::{audit, tenants, Store};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn library_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../library")
}

fn rathaus(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rathaus"))
        .args(args)
        .env("RATHAUS_DATA_DIR", data_dir)
        .env("RATHAUS_LIBRARY", library_dir())
        .env("RATHAUS_LOG", "warn")
        .env_remove("DATABASE_URL")
        .output()
        .expect("rathaus binary")
}

#[tokio::test]
async fn branding_with_too_little_contrast_is_refused_and_a_readable_one_is_stored_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        rathaus(dir.path(), &["tenant-create", "--slug", "neustadt", "--name", "Neustadt", "--postcodes", "09997"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out =
        rathaus(dir.path(), &["tenant-branding", "--tenant", "neustadt", "--accent", "#ffcc00", "--font", "comic"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Die Akzentfarbe #ffcc00 hat auf Weiß nur einen Kontrast von 1,5 : 1"), "{err}");
    assert!(err.contains("Die Schrift „comic“ gibt es nicht") && err.contains("Nichts geändert."), "{err}");

    // A file that is not an image is refused the same way.
    let not_a_logo = dir.path().join("logo.png");
    std::fs::write(&not_a_logo, b"%PDF-1.7").unwrap();
    let out = rathaus(dir.path(), &["tenant-branding", "--tenant", "neustadt", "--logo", not_a_logo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PNG-, JPEG- oder SVG-Bild"));

    let logo = dir.path().join("wappen.svg");
    std::fs::write(
        &logo,
        br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 4 4"><rect width="4" height="4"/></svg>"#,
    )
    .unwrap();
    let out = rathaus(
        dir.path(),
        &[
            "tenant-branding",
            "--tenant",
            "neustadt",
            "--accent",
            "#8a1c3f",
            "--font",
            "serif",
            "--logo",
            logo.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let store = Store::connect(&format!("sqlite:{}", dir.path().join("rathaus.db").display()), 1, None).await.unwrap();
    let mut conn = store.conn().await.unwrap();
    let t = tenants::by_slug(&mut conn, "neustadt").await.unwrap().unwrap();
    assert_eq!((t.settings.branding.accent_color.as_str(), t.settings.branding.font.as_str()), ("#8a1c3f", "serif"));
    let stored = rathaus_store::assets::get(&mut conn, &t.tenant_id, "logo").await.unwrap().expect("logo stored");
    assert_eq!(stored.content_type, "image/svg+xml");
    assert_eq!(t.settings.branding.logo, stored.sha256);
    let trail = audit::for_object(&mut conn, &t.tenant_id, "tenant", &t.tenant_id).await.unwrap();
    let changed = trail.iter().filter(|e| e.action == "tenant.settings_changed").collect::<Vec<_>>();
    assert_eq!(changed.len(), 1, "only the accepted change is recorded");
    assert!(changed[0].details.contains("#8a1c3f"), "{}", changed[0].details);
}

#[tokio::test]
async fn an_openid_connect_provider_is_connected_with_its_secret_kept_out_of_the_audit_trail() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        rathaus(dir.path(), &["tenant-create", "--slug", "neustadt", "--name", "Neustadt", "--postcodes", "09997"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let oidc = |issuer: &str, secret: Option<&str>| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_rathaus"));
        c.args(["tenant-oidc", "--tenant", "neustadt", "--issuer", issuer, "--client-id", "neustadt-portal"])
            .env("RATHAUS_DATA_DIR", dir.path())
            .env("RATHAUS_LIBRARY", library_dir())
            .env("RATHAUS_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("RATHAUS_OIDC_CLIENT_SECRET");
        if let Some(s) = secret {
            c.env("RATHAUS_OIDC_CLIENT_SECRET", s);
        }
        c.output().unwrap()
    };
    let out = oidc("http://id.example", Some("geheim-123"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("muss mit https:// beginnen"));
    let out = oidc("https://id.example", None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("RATHAUS_OIDC_CLIENT_SECRET ist nicht gesetzt"));
    let out = oidc("https://id.example/", Some("geheim-123"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("/neustadt/konto/oidc/zurueck"),
        "the redirect address to register"
    );

    let store = Store::connect(&format!("sqlite:{}", dir.path().join("rathaus.db").display()), 1, None).await.unwrap();
    let mut conn = store.conn().await.unwrap();
    let t = tenants::by_slug(&mut conn, "neustadt").await.unwrap().unwrap();
    let o = t.settings.oidc.expect("connected");
    assert_eq!(
        (o.issuer.as_str(), o.client_id.as_str(), o.label.as_str()),
        ("https://id.example", "neustadt-portal", "BundID")
    );
    let trail = audit::for_object(&mut conn, &t.tenant_id, "tenant", &t.tenant_id).await.unwrap();
    let changed = trail.iter().find(|e| e.action == "tenant.settings_changed").expect("audited");
    assert!(
        changed.details.contains("https://id.example") && !changed.details.contains("geheim-123"),
        "{}",
        changed.details
    );
}

/// docs/procedures.md carries what the library says about each procedure, generated: it is
/// current, and the generator adds a procedure it does not know yet and replaces an old
/// description between the markers, leaving the hand-written text alone.
#[test]
fn the_procedures_documentation_is_generated_from_the_library_and_current() {
    let dir = tempfile::tempdir().unwrap();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/procedures.md");
    let library = library_dir();
    let out = rathaus(
        dir.path(),
        &["library", "docs", library.to_str().unwrap(), "--file", docs.to_str().unwrap(), "--check"],
    );
    assert!(
        out.status.success(),
        "{}\nRegenerate it: cargo run -- library docs library",
        String::from_utf8_lossy(&out.stderr)
    );

    let file = dir.path().join("procedures.md");
    let stale = "# Procedures\n\nHand-written.\n\n<!-- generated: gewerbeanmeldung (rathaus library docs) -->\nold\n<!-- end generated: gewerbeanmeldung -->\n\nMore.\n";
    std::fs::write(&file, stale).unwrap();
    let check = rathaus(
        dir.path(),
        &["library", "docs", library.to_str().unwrap(), "--file", file.to_str().unwrap(), "--check"],
    );
    assert_eq!(check.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&check.stderr).contains("ist nicht aktuell"));
    let out = rathaus(dir.path(), &["library", "docs", library.to_str().unwrap(), "--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with("# Procedures\n\nHand-written.\n"), "{text}");
    // The hand-written text stays in place; procedures without markers get sections after it.
    let more = text.find("\nMore.\n").expect("hand-written text kept");
    let appended = text.find("<!-- generated: verkehrsrechtliche-anordnung").expect("a section for each procedure");
    assert!(more < appended, "{text}");
    assert!(!text.contains("\nold\n"));
    for part in [
        "| legal basis | §§ 14, 15 Gewerbeordnung",
        "- clerk: „Anzeige prüfen und entscheiden“",
        "| Finanzamt | `finanzamt` | XGewerbeanzeige 2.2 |",
    ] {
        assert!(text.contains(part), "{part}");
    }
    // A file without the markers gets a section per procedure.
    std::fs::write(&file, "# Procedures\n").unwrap();
    rathaus(dir.path(), &["library", "docs", library.to_str().unwrap(), "--file", file.to_str().unwrap()]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("## Gewerbeanzeige (An-, Um- und Abmeldung) (`library/gewerbeanmeldung`)"), "{text}");
}
