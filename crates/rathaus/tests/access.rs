//! The access matrix of the back office: every route, every role, the own tenant and
//! another tenant, with the expected answer. Forms are sent empty or wrong, so that an
//! allowed request ends in its validation error (422) and changes nothing, while a denied
//! one ends in 403 (or at the login page, for someone without a session of this town).

mod common;

use common::{client, csrf, submit_gewerbeanmeldung, TestServer};
use rathaus_store::testing;

/// What a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Past the access check: the page, a validation error, or "no such job".
    Allowed,
    /// 403.
    Forbidden,
    /// Sent to the staff login (no session of this town).
    Login,
    /// 404: not found in this town.
    NotFound,
}

struct Staff {
    c: reqwest::Client,
    base: String,
}

impl Staff {
    async fn login(s: &TestServer, tenant: &str, user: &str) -> Staff {
        let v = Staff { c: client(), base: s.base.clone() };
        let path = format!("/{tenant}/intern/anmelden");
        let html = v.c.get(format!("{}{path}", v.base)).send().await.unwrap().text().await.unwrap();
        let res = v
            .c
            .post(format!("{}{path}", v.base))
            .form(&[("_csrf", csrf(&html).as_str()), ("benutzername", user), ("passwort", s.password(tenant, user))])
            .send()
            .await
            .unwrap();
        assert!(res.url().path().ends_with("/intern/"), "{user} signed in");
        v
    }

    fn anonymous(s: &TestServer) -> Staff {
        Staff { c: client(), base: s.base.clone() }
    }

    async fn outcome(&self, method: &str, path: &str, fields: &[(&str, &str)]) -> Outcome {
        let res = if method == "GET" {
            self.c.get(format!("{}{path}", self.base)).send().await.unwrap()
        } else {
            // The CSRF token of this client's session for the town of the path.
            let town = path.split('/').nth(1).unwrap();
            let page = self.c.get(format!("{}/{town}/intern/anmelden", self.base)).send().await.unwrap();
            let token = csrf(&page.text().await.unwrap());
            let mut body: Vec<(&str, &str)> = vec![("_csrf", token.as_str())];
            body.extend_from_slice(fields);
            self.c.post(format!("{}{path}", self.base)).form(&body).send().await.unwrap()
        };
        let status = res.status().as_u16();
        let url = res.url().path().to_string();
        match status {
            403 => Outcome::Forbidden,
            404 => Outcome::NotFound,
            _ if url.ends_with("/intern/anmelden") && !path.ends_with("/intern/anmelden") => Outcome::Login,
            200 | 422 => Outcome::Allowed,
            other => panic!("{method} {path}: unexpected {other}"),
        }
    }
}

/// A route to try: method, path, form fields, and the expected outcome for clerk, team
/// lead, tenant admin and auditor of the town.
type Route<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, [Outcome; 4]);

fn submit_review_case() -> serde_json::Value {
    let beginn = (chrono::Utc::now() + chrono::Duration::days(5)).format("%Y-%m-%d").to_string();
    serde_json::json!({
        "meldungsart": "anmeldung",
        "inhaber": {"familienname": "Muster", "vornamen": "Erika", "geburtsdatum": "1985-04-12", "geburtsort": "Chemnitz",
                    "staatsangehoerigkeit": ["DE"], "anschrift": {"strasse": "Hauptstraße", "hausnummer": "1", "plz": "09999", "ort": "Musterstadt"}},
        "rechtsform": "einzelunternehmen",
        "betrieb": {"anschrift": {"strasse": "Marktplatz", "hausnummer": "3", "plz": "09999", "ort": "Musterstadt"}, "niederlassung": "hauptniederlassung"},
        "grund": "neugruendung",
        "taetigkeiten": ["heilpraktiker"],
        "taetigkeit_beschreibung": "Heilpraktikerin",
        "betriebsart": ["sonstiges"],
        "beginn": beginn,
        "nebenerwerb": false,
        "beschaeftigte": {"vollzeit": 0, "teilzeit": 0}
    })
}

#[tokio::test]
async fn every_back_office_route_answers_each_role_of_each_town_as_expected() {
    use Outcome::*;
    for db in testing::all().await {
        let s = TestServer::start(db).await;
        // A case of Musterstadt waiting for a clerk.
        let rt = &s.assembled.runtime;
        let (tenant, submitted) = submit_gewerbeanmeldung(&s, "musterstadt", &submit_review_case()).await;
        let case = submitted.case_id.clone();
        let mut conn = rt.store.conn().await.unwrap();
        let task =
            rathaus_store::tasks::for_case(&mut conn, &tenant.tenant_id, &case).await.unwrap()[0].task_id.clone();
        let clerk_id = rathaus_store::staff::by_username(&mut conn, &tenant.tenant_id, "sachbearbeitung")
            .await
            .unwrap()
            .unwrap()
            .staff_id;
        drop(conn);

        // (method, path, fields, expected for clerk, team lead, tenant admin, auditor)
        let m = "/musterstadt/intern";
        let routes: Vec<Route> = vec![
            ("GET", format!("{m}/"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/?liste=team"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/vorgaenge/{case}"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/statistik"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/fristen"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/verwaltung"), vec![], [Forbidden, Forbidden, Allowed, Allowed]),
            ("GET", format!("{m}/verwaltung/schluessel"), vec![], [Forbidden, Forbidden, Allowed, Allowed]),
            ("GET", format!("{m}/verwaltung/auftritt"), vec![], [Forbidden, Forbidden, Allowed, Allowed]),
            (
                "POST",
                format!("{m}/verwaltung/auftritt"),
                vec![("akzent", "#ffff00")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "POST",
                format!("{m}/verwaltung/schluessel"),
                vec![("bezeichnung", "")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "GET",
                format!("{m}/verwaltung/verfahren/gewerbeanmeldung"),
                vec![],
                [Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                "POST",
                format!("{m}/verwaltung/verfahren/gewerbeanmeldung"),
                vec![("p.gebuehr_anmeldung", "viel")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "POST",
                format!("{m}/verwaltung/mitarbeitende"),
                vec![("rolle", "clerk")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "GET",
                format!("{m}/verwaltung/mitarbeitende/{clerk_id}"),
                vec![],
                [Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                "POST",
                format!("{m}/verwaltung/mitarbeitende/{clerk_id}"),
                vec![("rolle", "clerk"), ("name", "")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "GET",
                format!("{m}/fristen?ampel=rot&art=gesetzlich&meine=1"),
                vec![],
                [Allowed, Allowed, Allowed, Allowed],
            ),
            ("GET", format!("{m}/vorgaenge/{case}/akte.zip"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            (
                "GET",
                format!("{m}/vorgaenge/{case}/uebermittlungen/gibt-es-nicht"),
                vec![],
                [NotFound, NotFound, NotFound, NotFound],
            ),
            ("GET", format!("{m}/vorgaenge/{case}/akte.pdf"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/vorgaenge/{case}?art=nachrichten"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/betrieb"), vec![], [Forbidden, Forbidden, Allowed, Allowed]),
            ("GET", format!("{m}/verwaltung/delegationen"), vec![], [Forbidden, Forbidden, Allowed, Allowed]),
            ("GET", format!("{m}/verwaltung/aussonderung"), vec![], [Forbidden, Forbidden, Allowed, Allowed]),
            (
                "GET",
                format!("{m}/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/vorkaufsrechte"),
                vec![],
                [Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                "GET",
                format!("{m}/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/vorkaufsrechte/csv"),
                vec![],
                [Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                "POST",
                format!("{m}/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/vorkaufsrechte/import"),
                vec![("csv", "")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "POST",
                format!("{m}/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/vorkaufsrechte/zeilen"),
                vec![("c.gemarkung", "")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "POST",
                format!("{m}/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/vorkaufsrechte/zeilen/999/entfernen"),
                vec![],
                [Forbidden, Forbidden, NotFound, Forbidden],
            ),
            (
                "GET",
                format!("{m}/verwaltung/verfahren/negativzeugnis-vorkaufsrecht/tabellen/gibt-es-nicht"),
                vec![],
                [Forbidden, Forbidden, NotFound, NotFound],
            ),
            (
                "POST",
                format!("{m}/verwaltung/delegationen"),
                vec![("zentrum", "")],
                [Forbidden, Forbidden, Allowed, Forbidden],
            ),
            (
                "POST",
                format!("{m}/verwaltung/delegationen/gibt-es-nicht/beenden"),
                vec![],
                [Forbidden, Forbidden, NotFound, Forbidden],
            ),
            // Only a service centre has towns to work for.
            ("GET", format!("{m}/mandanten"), vec![], [NotFound, NotFound, NotFound, NotFound]),
            ("GET", format!("{m}/erfassung"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            ("POST", format!("{m}/abwesenheit"), vec![("bis", "")], [Allowed, Allowed, Forbidden, Forbidden]),
            // The Zahlungsabgleich: the town's staff read; clerks and team leads act.
            ("GET", format!("{m}/zahlungen"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("POST", format!("{m}/zahlungen/kontoauszug"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            (
                "POST",
                format!("{m}/zahlungen/gibt-es-nicht"),
                vec![("aktion", "erledigen")],
                [NotFound, NotFound, Forbidden, Forbidden],
            ),
            // Bulk actions check each task as its own button would; with none chosen, nothing.
            ("POST", format!("{m}/aufgaben/sammelaktion"), vec![("aktion", "")], [Allowed, Allowed, Allowed, Allowed]),
            ("GET", format!("{m}/?liste=vertretung"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("POST", format!("{m}/erfassung"), vec![("kanal", "")], [Allowed, Allowed, Forbidden, Forbidden]),
            // Cancelling an entry only forgets this browser's entry: anyone signed in may.
            ("POST", format!("{m}/erfassung/abbrechen"), vec![], [Allowed, Allowed, Allowed, Allowed]),
            ("POST", format!("{m}/aufgaben/{task}/entscheidung"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            ("POST", format!("{m}/aufgaben/{task}/vorschau"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            ("POST", format!("{m}/vorgaenge/{case}/abgabe"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            ("GET", format!("{m}/vorgaenge/{case}/angaben/person"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            ("POST", format!("{m}/vorgaenge/{case}/angaben/person"), vec![], [Allowed, Allowed, Forbidden, Forbidden]),
            // No proposal waits on the task: not found for those who could approve one.
            (
                "POST",
                format!("{m}/aufgaben/{task}/vorschlag/annehmen"),
                vec![],
                [NotFound, NotFound, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/nachrichten"),
                vec![("nachricht", "")],
                [Allowed, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/nachforderungen"),
                vec![("was", "")],
                [Allowed, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/nachforderungen/gibt-es-nicht/zuruecknehmen"),
                vec![],
                [NotFound, NotFound, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/vermerke"),
                vec![("vermerk_text", "")],
                [Allowed, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/beteiligungen"),
                vec![("stelle", "")],
                [Allowed, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/beteiligungen/gibt-es-nicht/zuruecknehmen"),
                vec![],
                [NotFound, NotFound, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/vorgaenge/{case}/ruecknahme"),
                vec![("vermerk", "")],
                [Allowed, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/aufgaben/{task}/wiedervorlage"),
                vec![("datum", "bald")],
                [Allowed, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/aufgaben/{task}/zuweisen"),
                vec![("an", "niemand")],
                [Forbidden, Allowed, Forbidden, Forbidden],
            ),
            (
                "POST",
                format!("{m}/auftraege/gibt-es-nicht/wiederholen"),
                vec![],
                [Forbidden, Forbidden, NotFound, Forbidden],
            ),
        ];
        let users = ["sachbearbeitung", "teamleitung", "admin", "pruefung"];
        let mut own = Vec::new();
        for u in users {
            own.push(Staff::login(&s, "musterstadt", u).await);
        }
        let mut other = Vec::new();
        for u in users {
            other.push(Staff::login(&s, "beispielgemeinde", u).await);
        }
        let anonymous = Staff::anonymous(&s);
        // A service centre's clerk working in Musterstadt under a delegation of its
        // Gewerbeanzeigen: what the town's clerk may, except the town's own matters.
        let grant = rathaus_runtime::delegations::Grant {
            centre: "kdz",
            procedures: vec!["gewerbeanmeldung".into()],
            scope: rathaus_domain::delegation::Scope::Process,
            agreement: "Zweckvereinbarung",
            valid_from: None,
            valid_until: None,
        };
        let d = rt.grant_delegation(&tenant, &grant, &rathaus_store::audit::Actor::System).await.unwrap();
        let delegate = Staff::login(&s, "kdz", "sachbearbeitung").await;
        let enter = format!("/kdz/intern/mandanten/musterstadt/{}", d.delegation_id);
        assert_eq!(delegate.outcome("POST", &enter, &[]).await, Outcome::Allowed);
        let mut wrong = Vec::new();
        for (method, path, fields, expected) in &routes {
            for (i, staff) in own.iter().enumerate() {
                let got = staff.outcome(method, path, fields).await;
                if got != expected[i] {
                    wrong.push(format!(
                        "{method} {path} as musterstadt/{}: {got:?}, expected {:?}",
                        users[i], expected[i]
                    ));
                }
            }
            // Absences and payments are the town's own matters.
            let town_only = path.ends_with("/abwesenheit") || path.contains("/zahlungen");
            let expected_delegate = if town_only { Forbidden } else { expected[0] };
            let got = delegate.outcome(method, path, fields).await;
            if got != expected_delegate {
                wrong.push(format!("{method} {path} as sachbearbeitung@kdz: {got:?}, expected {expected_delegate:?}"));
            }
            // Another town's staff and nobody: never past the access check of Musterstadt.
            for (who, staff) in users
                .iter()
                .map(|u| format!("beispielgemeinde/{u}"))
                .zip(&other)
                .chain([("anonymous".to_string(), &anonymous)])
            {
                let got = staff.outcome(method, path, fields).await;
                if !matches!(got, Login | Forbidden) {
                    wrong.push(format!("{method} {path} as {who}: {got:?}, expected Login or Forbidden"));
                }
            }
        }
        // A Musterstadt case or task through Beispielgemeinde's own pages: not found there.
        for (method, path, fields) in [
            ("GET", format!("/beispielgemeinde/intern/vorgaenge/{case}"), vec![]),
            ("GET", format!("/beispielgemeinde/intern/vorgaenge/{case}/akte.zip"), vec![]),
            ("GET", format!("/beispielgemeinde/intern/vorgaenge/{case}/akte.pdf"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/aufgaben/{task}/entscheidung"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/aufgaben/{task}/vorschau"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/vorgaenge/{case}/abgabe"), vec![]),
            ("GET", format!("/beispielgemeinde/intern/verwaltung/mitarbeitende/{clerk_id}"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/verwaltung/mitarbeitende/{clerk_id}"), vec![("rolle", "clerk")]),
            ("GET", format!("/beispielgemeinde/intern/vorgaenge/{case}/angaben/person"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/vorgaenge/{case}/angaben/person"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/aufgaben/{task}/uebernehmen"), vec![]),
            ("POST", format!("/beispielgemeinde/intern/vorgaenge/{case}/nachrichten"), vec![("nachricht", "x")]),
            ("POST", format!("/beispielgemeinde/intern/vorgaenge/{case}/beteiligungen"), vec![("stelle", "x")]),
        ] {
            for (i, staff) in other.iter().enumerate() {
                let got = staff.outcome(method, &path, &fields).await;
                if !matches!(got, NotFound | Forbidden) {
                    wrong.push(format!("{method} {path} as beispielgemeinde/{}: {got:?}, expected NotFound", users[i]));
                }
            }
        }
        assert!(wrong.is_empty(), "{} unexpected answers:\n{}", wrong.len(), wrong.join("\n"));
        // Nothing was changed by the matrix: the task is still open and unassigned.
        let mut conn = rt.store.conn().await.unwrap();
        let t = rathaus_store::tasks::by_id(&mut conn, &tenant.tenant_id, &task).await.unwrap().unwrap();
        assert_eq!((t.status.as_str(), t.assignee.as_deref()), ("open", None));
        drop(conn);
        s.stop().await;
    }
}
