//! The process library: one folder per procedure, holding `procedure.toml`, a BPMN process,
//! DMN decisions, `form.json`, catalogues and document templates. Loading validates
//! everything and cross-checks the files against each other; every problem is reported with
//! file and line, so that errors surface at `library validate` / deployment, never at run time.

use crate::bpmn::{ElementKind, Process};
use crate::catalogue::Catalogue;
use crate::connectors;
use crate::dmn::Decisions;
use crate::feel::Expression;
use crate::form::FormSchema;
use rathaus_domain::calendar::{Counting, IsoDuration};
use rathaus_domain::{Money, Text};
use serde::Deserialize;
use serde_json::Value as Json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

pub const MANIFEST: &str = "procedure.toml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{}: {}", self.file, l, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub id: String,
    pub version: String,
    pub name: Text,
    pub summary: Text,
    #[serde(default)]
    pub description: Option<Text>,
    /// Legal basis shown on the service page and in notices.
    pub legal_basis: String,
    /// LeiKa keys (Leistungskatalog), by variant.
    #[serde(default)]
    pub leika: BTreeMap<String, String>,
    /// Prefix of the Aktenzeichen, 2–8 capital letters.
    pub reference_prefix: String,
    pub responsible_office: Text,
    /// Expected processing time in working days when a clerk is involved.
    #[serde(default)]
    pub processing_days: Option<u32>,
    pub retention_years: u32,
    #[serde(default)]
    pub retention_note: Option<Text>,
    /// Words and phrases citizens search for ("Gewerbe anmelden").
    #[serde(default)]
    pub keywords: Vec<String>,
    /// What the applicant needs at hand.
    #[serde(default)]
    pub you_need: Vec<Text>,
    /// A FEEL expression over the application data naming the applicant in worklists.
    #[serde(default)]
    pub applicant: Option<String>,
    /// A FEEL expression over the application data giving the address lines of notices
    /// (a list of texts; empty entries are dropped).
    #[serde(default)]
    pub addressee: Option<String>,
    pub form: String,
    pub process: String,
    /// Further BPMN files whose processes the call activities call (the main file may hold
    /// them too). A path may point into the library's shared `_prozesse/` folder.
    #[serde(default)]
    pub subprocesses: Vec<String>,
    /// Job types of service tasks that external workers perform (fetch-and-lock API), besides
    /// the built-in `rathaus:` connectors. Declared, so that a typo is an error at validation.
    #[serde(default)]
    pub external_task_types: Vec<String>,
    pub decisions: Vec<String>,
    /// The decision the assistant and the API use to describe the expected outcome.
    #[serde(default)]
    pub check_decision: Option<String>,
    /// What the assistant tells the applicant about each finding of the check decision, by
    /// the finding's `code` (see [`crate::assistant`]).
    #[serde(default)]
    pub hints: BTreeMap<String, crate::assistant::HintDef>,
    /// Form fields a signed-in applicant's account fills in: form key = profile field (one
    /// of [`PROFILE_FIELDS`]).
    #[serde(default)]
    pub prefill: BTreeMap<String, String>,
    #[serde(default)]
    pub catalogues: BTreeMap<String, String>,
    #[serde(default)]
    pub templates: BTreeMap<String, TemplateDef>,
    #[serde(default)]
    pub parameters: BTreeMap<String, ParameterDef>,
    /// The case's deadlines (statutory ones and the town's targets), counted from the
    /// receipt of the application; see [`rathaus_domain::deadline`].
    #[serde(default)]
    pub deadlines: BTreeMap<String, DeadlineDef>,
    /// How clerks decide: whether approval with conditions is offered, and which template
    /// the notice of each outcome uses (for the preview).
    #[serde(default)]
    pub decision: DecisionDef,
    /// Ready-made texts a clerk inserts into the reason or the conditions of a decision and
    /// then edits.
    #[serde(default)]
    pub text_blocks: BTreeMap<String, TextBlockDef>,
    /// Message formats to other authorities (XÖV), by key: an XML template and its
    /// namespace (see [`crate::outbound`]).
    #[serde(default)]
    pub messages: BTreeMap<String, crate::outbound::MessageDef>,
    /// The bodies that receive messages, by the id a decision names them with.
    #[serde(default)]
    pub recipients: BTreeMap<String, crate::outbound::RecipientDef>,
    /// The bodies the process consults or sends copies to (`rathaus:consultation`,
    /// `rathaus:copy`), by id.
    #[serde(default)]
    pub participants: BTreeMap<String, crate::participants::ParticipantDef>,
    /// Other procedures the applicant probably needs as well, by their id (see
    /// [`crate::related`]).
    #[serde(default)]
    pub related: BTreeMap<String, crate::related::RelatedDef>,
}

/// The outcomes a clerk's decision (`rathaus:entscheidung`) can have.
pub const OUTCOMES: [&str; 2] = ["bestaetigen", "ablehnen"];

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionDef {
    /// „Bestätigen mit Auflagen“ is offered: the decision's `auflagen` carry the
    /// conditions (Nebenbestimmungen) into the notice.
    #[serde(default)]
    pub conditions: bool,
    /// The template of the notice per outcome (`bestaetigen`, `ablehnen`), for the preview.
    #[serde(default)]
    pub templates: BTreeMap<String, String>,
}

/// A ready-made text for a decision.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TextBlockDef {
    pub title: Text,
    /// `begruendung` (the reason) or `auflagen` (the conditions).
    pub field: String,
    pub text: Text,
}

/// Why a town's parameter value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterProblem {
    /// The parameter it is about; `None` for one the procedure does not have.
    pub parameter: Option<String>,
    pub message: String,
}

/// A deadline of the procedure. Its length is fixed (`duration`, for what the law says) or
/// a parameter of type `duration` the town may override (`parameter`, for its own targets).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeadlineDef {
    pub kind: rathaus_domain::deadline::Kind,
    pub label: Text,
    #[serde(default)]
    pub legal_basis: Option<String>,
    #[serde(default)]
    pub duration: Option<String>,
    #[serde(default)]
    pub parameter: Option<String>,
    /// kalendertage | frist | arbeitstage | werktage; a statutory deadline ending on a
    /// weekend or holiday moves to the next working day (`frist`, the default).
    #[serde(default)]
    pub counting: Option<Counting>,
    /// Reminders to the case's clerks, each this long before the last day.
    #[serde(default)]
    pub remind: Vec<String>,
    /// The team lead is told this long before the last day; without it, once it has passed.
    #[serde(default)]
    pub escalate: Option<String>,
}

/// A deadline of a case's procedure with the town's parameters applied.
#[derive(Debug, Clone)]
pub struct CaseDeadline<'a> {
    pub key: &'a str,
    pub def: &'a DeadlineDef,
    pub spec: rathaus_domain::deadline::Spec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateDef {
    pub file: String,
    pub title: Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParameterDef {
    #[serde(rename = "type")]
    pub kind: ParameterKind,
    pub default: toml::Value,
    pub label: Text,
    #[serde(default)]
    pub help: Option<Text>,
    /// The columns of a `table` parameter.
    #[serde(default)]
    pub columns: Vec<crate::table::ColumnDef>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParameterKind {
    Money,
    Integer,
    Text,
    List,
    /// Yes or no (`true`/`false`), e.g. whether decisions need a second person.
    Boolean,
    /// An ISO 8601 duration in days, weeks or months (`P5D`, `P2W`), e.g. a processing
    /// target.
    Duration,
    /// An organisational unit (or role group) as staff are assigned to it, e.g.
    /// `gewerbeamt`: where the procedure's tasks go (`candidateGroups="=parameter.…"`).
    #[serde(rename = "org_unit")]
    OrgUnit,
    /// A list the town maintains, with the `columns` given (see [`crate::table`]).
    Table,
}

/// What a citizen account keeps for filling in forms (`[prefill]` maps form fields to these).
pub const PROFILE_FIELDS: [&str; 8] =
    ["familienname", "vornamen", "strasse", "hausnummer", "plz", "ort", "telefon", "email"];

/// A validated procedure, ready to run.
#[derive(Debug, Clone)]
pub struct Procedure {
    pub manifest: Manifest,
    pub form: FormSchema,
    pub process: Process,
    /// Processes a call activity may call, by process id (the main process included).
    pub called: BTreeMap<String, Process>,
    pub decisions: Decisions,
    pub catalogues: BTreeMap<String, Catalogue>,
    /// Template name → typst source.
    pub templates: BTreeMap<String, String>,
    /// Message key → XML template source.
    pub message_templates: BTreeMap<String, String>,
    /// Recipients of messages, compiled, by id.
    pub recipients: BTreeMap<String, crate::outbound::Recipient>,
    /// Participants (consultations, copies), compiled, by id.
    pub participants: BTreeMap<String, crate::participants::Participant>,
    /// Related procedures the portal suggests, in the order of procedure.toml's keys.
    pub related: Vec<crate::related::Related>,
    pub applicant: Option<Expression>,
    pub addressee: Option<Expression>,
    /// Every file of the procedure (path relative to the procedure folder → text): what a
    /// deployment stores, so that a running case keeps its version.
    pub files: BTreeMap<String, String>,
    /// SHA-256 over all files: two deployments with the same hash are the same version.
    pub content_hash: String,
}

impl Procedure {
    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    /// Reads a procedure folder and validates it.
    pub fn load_dir(dir: &Path) -> Result<Procedure, Vec<Problem>> {
        let files = read_files(dir)?;
        Procedure::from_files(files)
    }

    /// Builds a procedure from its files (from a folder, or from a stored deployment).
    pub fn from_files(files: BTreeMap<String, String>) -> Result<Procedure, Vec<Problem>> {
        let manifest = parse_manifest(&files)?;
        let mut problems = Vec::new();
        let get = |name: &str, problems: &mut Vec<Problem>| -> Option<String> {
            let f = files.get(name).cloned();
            if f.is_none() {
                problems
                    .push(Problem { file: MANIFEST.into(), line: None, message: format!("Datei „{name}“ fehlt") });
            }
            f
        };
        check_manifest(&manifest, &files, &mut problems);

        let mut catalogues = BTreeMap::new();
        for (name, path) in &manifest.catalogues {
            if let Some(text) = get(path, &mut problems) {
                match Catalogue::parse(name, &text) {
                    Ok(c) => {
                        catalogues.insert(name.clone(), c);
                    }
                    Err(ps) => problems.extend(ps.into_iter().map(|(line, message)| Problem {
                        file: path.clone(),
                        line,
                        message,
                    })),
                }
            }
        }
        let form = get(&manifest.form, &mut problems).and_then(|text| match FormSchema::parse(&text, &catalogues) {
            Ok(f) => Some(f),
            Err(ps) => {
                problems.extend(ps.into_iter().map(|p| Problem {
                    file: manifest.form.clone(),
                    line: p.line.or_else(|| p.anchor.as_deref().and_then(|a| find_line(&text, a))),
                    message: p.message,
                }));
                None
            }
        });
        let mut called = BTreeMap::new();
        let mut origins: BTreeMap<String, String> = BTreeMap::new();
        let mut process = None;
        let mut bpmn_ok = true;
        for (i, file) in std::iter::once(&manifest.process).chain(&manifest.subprocesses).enumerate() {
            match get(file, &mut problems).map(|text| Process::parse_all(&text)) {
                Some(Ok(ps)) => {
                    for p in ps {
                        if i == 0 && process.is_none() {
                            process = Some(p.clone());
                        }
                        origins.insert(p.id.clone(), file.clone());
                        if called.insert(p.id.clone(), p).is_some() {
                            problems.push(Problem {
                                file: file.clone(),
                                line: None,
                                message: "Prozess-id kommt in den BPMN-Dateien des Verfahrens mehrfach vor".into(),
                            });
                        }
                    }
                }
                Some(Err(ps)) => {
                    bpmn_ok = false;
                    problems.extend(ps.into_iter().map(|p| Problem {
                        file: file.clone(),
                        line: p.line,
                        message: p.to_string(),
                    }));
                }
                None => bpmn_ok = false,
            }
        }
        let process = if bpmn_ok { process } else { None };
        let dmn_files: Vec<(String, String)> =
            manifest.decisions.iter().filter_map(|d| get(d, &mut problems).map(|t| (d.clone(), t))).collect();
        let decisions = match Decisions::load(&dmn_files) {
            Ok(d) => Some(d),
            Err(ps) => {
                problems.extend(ps.into_iter().map(|p| Problem { file: p.file, line: p.line, message: p.message }));
                None
            }
        };
        let mut templates = BTreeMap::new();
        for (name, def) in &manifest.templates {
            if let Some(src) = get(&def.file, &mut problems) {
                templates.insert(name.clone(), src);
            }
        }
        let manifest_text = files.get(MANIFEST).map(String::as_str).unwrap_or("");
        let mut message_templates = BTreeMap::new();
        for (key, def) in &manifest.messages {
            if let Some(src) = get(&def.template, &mut problems) {
                match crate::outbound::check_template(key, &src) {
                    Ok(()) => {
                        message_templates.insert(key.clone(), src);
                    }
                    Err(e) => problems.push(Problem { file: def.template.clone(), line: None, message: e }),
                }
            }
        }
        let mut recipients = BTreeMap::new();
        for (id, def) in &manifest.recipients {
            if !manifest.messages.contains_key(&def.message) {
                problems.push(Problem {
                    file: MANIFEST.into(),
                    line: find_line(manifest_text, &format!("[recipients.{id}]")),
                    message: format!(
                        "recipients.{id}: Nachricht „{}“ ist unter [messages] nicht beschrieben",
                        def.message
                    ),
                });
            }
            match crate::outbound::Recipient::compile(id, def, crate::bpmn::PROCESS_VARIABLES) {
                Ok(r) => {
                    recipients.insert(id.clone(), r);
                }
                Err(e) => problems.push(Problem {
                    file: MANIFEST.into(),
                    line: find_line(manifest_text, &format!("[recipients.{id}]")),
                    message: format!("recipients.{id}.{e}"),
                }),
            }
        }
        let mut participants = BTreeMap::new();
        for (id, def) in &manifest.participants {
            let line = find_line(manifest_text, &format!("[participants.{id}]"));
            if let Some(form) = &form {
                for page in def.pages.iter().filter(|p| !form.pages.iter().any(|fp| &fp.id == *p)) {
                    problems.push(Problem {
                        file: MANIFEST.into(),
                        line,
                        message: format!("participants.{id}.pages: Seite „{page}“ gibt es in form.json nicht"),
                    });
                }
            }
            match crate::participants::Participant::compile(id, def, crate::bpmn::PROCESS_VARIABLES) {
                Ok(p) => {
                    participants.insert(id.clone(), p);
                }
                Err(e) => {
                    problems.push(Problem { file: MANIFEST.into(), line, message: format!("participants.{id}.{e}") })
                }
            }
        }
        let mut related = Vec::new();
        if let Some(form) = &form {
            for (id, def) in &manifest.related {
                match crate::related::Related::compile(id, def, form) {
                    Ok(r) => related.push(r),
                    Err(e) => problems.push(Problem {
                        file: MANIFEST.into(),
                        line: find_line(manifest_text, &format!("[related.{id}]")),
                        message: format!("related.{id}.{e}"),
                    }),
                }
            }
        }
        if let Some(form) = &form {
            let manifest_text = files.get(MANIFEST).map(String::as_str).unwrap_or("");
            for (key, source) in &manifest.prefill {
                let usable = form.field(key).is_some_and(|f| {
                    matches!(
                        f.kind,
                        crate::form::FieldKind::Text
                            | crate::form::FieldKind::Email
                            | crate::form::FieldKind::Tel
                            | crate::form::FieldKind::Postcode
                    )
                });
                if !usable {
                    problems.push(Problem {
                        file: MANIFEST.into(),
                        line: find_line(manifest_text, key),
                        message: format!(
                            "prefill: „{key}“ ist kein Text-, E-Mail-, Telefon- oder PLZ-Feld des Formulars"
                        ),
                    });
                }
                if !PROFILE_FIELDS.contains(&source.as_str()) {
                    problems.push(Problem {
                        file: MANIFEST.into(),
                        line: find_line(manifest_text, key),
                        message: format!(
                            "prefill: „{source}“ ist kein Feld des Bürgerkontos (bekannt: {})",
                            PROFILE_FIELDS.join(", ")
                        ),
                    });
                }
            }
        }
        let data_names: Vec<&str> = form.as_ref().map(|f| f.data_names()).unwrap_or_default();
        let applicant = manifest.applicant.as_deref().and_then(|src| match Expression::parse(src, &data_names) {
            Ok(e) => Some(e),
            Err(e) => {
                problems.push(Problem {
                    file: MANIFEST.into(),
                    line: find_line(files.get(MANIFEST).map(String::as_str).unwrap_or(""), "applicant"),
                    message: format!("applicant: {e}"),
                });
                None
            }
        });
        let addressee = manifest.addressee.as_deref().and_then(|src| match Expression::parse(src, &data_names) {
            Ok(e) => Some(e),
            Err(e) => {
                problems.push(Problem {
                    file: MANIFEST.into(),
                    line: find_line(files.get(MANIFEST).map(String::as_str).unwrap_or(""), "addressee"),
                    message: format!("addressee: {e}"),
                });
                None
            }
        });
        if let (Some(_), Some(decisions)) = (&process, &decisions) {
            cross_check(&manifest, &files[MANIFEST], &called, &origins, decisions, &mut problems);
        }
        if let (Some(cd), Some(decisions)) = (&manifest.check_decision, &decisions) {
            if !decisions.contains(cd) {
                problems.push(Problem {
                    file: MANIFEST.into(),
                    line: find_line(&files[MANIFEST], "check_decision"),
                    message: format!("check_decision „{cd}“ ist in keiner DMN-Datei definiert"),
                });
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let content_hash = hash_files(&files);
        Ok(Procedure {
            manifest,
            form: form.expect("no problems"),
            process: process.expect("no problems"),
            called,
            decisions: decisions.expect("no problems"),
            catalogues,
            templates,
            message_templates,
            recipients,
            participants,
            related,
            applicant,
            addressee,
            files,
            content_hash,
        })
    }

    /// Parameters with the tenant's overrides applied, as JSON for decisions: money as a
    /// number of euros, lists as arrays. Unknown or mistyped overrides are errors.
    pub fn resolve_parameters(&self, overrides: &Json) -> Result<Json, Vec<String>> {
        self.check_parameters(overrides).map_err(|ps| ps.into_iter().map(|p| p.message).collect())
    }

    /// [`Procedure::resolve_parameters`] with each problem tied to the parameter it is about
    /// (for a deadline that no longer fits its reminders: the parameter it takes its length
    /// from), so a form can name the field.
    pub fn check_parameters(&self, overrides: &Json) -> Result<Json, Vec<ParameterProblem>> {
        let mut out = serde_json::Map::new();
        let mut errors = Vec::new();
        let problem =
            |parameter: Option<&String>, message: String| ParameterProblem { parameter: parameter.cloned(), message };
        let empty = serde_json::Map::new();
        let overrides = overrides.as_object().unwrap_or(&empty);
        for key in overrides.keys() {
            if !self.manifest.parameters.contains_key(key) {
                errors.push(problem(None, format!("Parameter „{key}“ gibt es im Verfahren „{}“ nicht", self.id())));
            }
        }
        for (name, def) in &self.manifest.parameters {
            let value = match overrides.get(name) {
                Some(v) => v.clone(),
                None => toml_to_json(&def.default),
            };
            match coerce_parameter(def, &value) {
                Ok(v) => {
                    out.insert(name.clone(), v);
                }
                Err(e) => errors.push(problem(Some(name), format!("Parameter „{name}“: {e}"))),
            }
        }
        if errors.is_empty() {
            // A town's target must still fit its reminders.
            for (key, def) in &self.manifest.deadlines {
                if let Err(e) = deadline_spec(def, |name| out.get(name).and_then(Json::as_str).map(String::from)) {
                    errors.push(problem(def.parameter.as_ref(), format!("Frist „{key}“: {e}")));
                }
            }
        }
        if errors.is_empty() {
            Ok(Json::Object(out))
        } else {
            Err(errors)
        }
    }

    /// The procedure's deadlines with the town's resolved `parameters` (see
    /// [`Procedure::resolve_parameters`]) applied; checked when the procedure was loaded.
    pub fn deadlines(&self, parameters: &Json) -> Vec<CaseDeadline<'_>> {
        self.manifest
            .deadlines
            .iter()
            .filter_map(|(key, def)| {
                let spec =
                    deadline_spec(def, |name| parameters.get(name).and_then(Json::as_str).map(String::from)).ok()?;
                Some(CaseDeadline { key, def, spec })
            })
            .collect()
    }

    /// The catalogues as the decisions see them: `{ "<name>": [entries…] }`.
    pub fn catalogue_json(&self) -> Json {
        Json::Object(self.catalogues.iter().map(|(k, c)| (k.clone(), Json::Array(c.entries.clone()))).collect())
    }

    /// The applicant's name for lists, from the manifest's `applicant` expression.
    pub fn applicant_name(&self, data: &Json) -> String {
        self.applicant
            .as_ref()
            .and_then(|e| e.evaluate_json(data).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// Address lines of the applicant for notices.
    pub fn addressee_lines(&self, data: &Json) -> Vec<String> {
        self.addressee
            .as_ref()
            .and_then(|e| e.evaluate_json(data).ok())
            .and_then(|v| v.as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|v| v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(String::from))
            .collect()
    }

    /// Renders the procedure's message format `message` with `context` and checks it
    /// (well-formed, in its namespace; see [`crate::outbound::render`]).
    pub fn render_message(&self, message: &str, context: &Json) -> Result<String, String> {
        let (Some(def), Some(source)) = (self.manifest.messages.get(message), self.message_templates.get(message))
        else {
            return Err(format!("Nachricht „{message}“ ist nicht beschrieben"));
        };
        crate::outbound::render(message, source, &def.namespace, context)
    }

    pub fn template_title(&self, name: &str) -> Option<&Text> {
        self.manifest.templates.get(name).map(|t| &t.title)
    }
}

fn parse_manifest(files: &BTreeMap<String, String>) -> Result<Manifest, Vec<Problem>> {
    let text = files
        .get(MANIFEST)
        .ok_or_else(|| vec![Problem { file: MANIFEST.into(), line: None, message: "procedure.toml fehlt".into() }])?;
    toml::from_str::<Manifest>(text).map_err(|e| {
        let line = e.span().map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        vec![Problem { file: MANIFEST.into(), line, message: e.message().to_string() }]
    })
}

fn check_manifest(m: &Manifest, files: &BTreeMap<String, String>, problems: &mut Vec<Problem>) {
    let text = files.get(MANIFEST).map(String::as_str).unwrap_or("");
    let mut p = |key: &str, message: String| {
        problems.push(Problem { file: MANIFEST.into(), line: find_line(text, key), message })
    };
    if m.id.is_empty() || !m.id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
        p("id", format!("id „{}“: nur Kleinbuchstaben, Ziffern und - (sie erscheint in Adressen)", m.id));
    }
    if !(2..=8).contains(&m.reference_prefix.len()) || !m.reference_prefix.bytes().all(|b| b.is_ascii_uppercase()) {
        p("reference_prefix", format!("reference_prefix „{}“: 2 bis 8 Großbuchstaben", m.reference_prefix));
    }
    if m.name.is_missing_german() {
        p("name", "name braucht einen deutschen Text".into());
    }
    if m.summary.is_missing_german() {
        p("summary", "summary braucht einen deutschen Text".into());
    }
    if m.decisions.is_empty() {
        p("decisions", "decisions: mindestens eine DMN-Datei angeben".into());
    }
    for (leika_name, key) in &m.leika {
        if key.len() != 14 || !key.bytes().all(|b| b.is_ascii_digit()) {
            p("leika", format!("LeiKa-Schlüssel „{leika_name}“ = „{key}“ muss 14 Ziffern haben"));
        }
    }
    for (name, def) in &m.parameters {
        if let Err(e) = coerce_parameter(def, &toml_to_json(&def.default)) {
            p(&format!("[parameters.{name}]"), format!("Parameter „{name}“: Standardwert: {e}"));
        }
        match (def.kind, def.columns.is_empty()) {
            (ParameterKind::Table, true) => {
                p(&format!("[parameters.{name}]"), format!("Parameter „{name}“: eine Tabelle braucht columns"))
            }
            (ParameterKind::Table, false) | (_, true) => {}
            (_, false) => {
                p(&format!("[parameters.{name}]"), format!("Parameter „{name}“: columns nur bei type = \"table\""))
            }
        }
    }
    for (outcome, template) in &m.decision.templates {
        if !OUTCOMES.contains(&outcome.as_str()) {
            p(
                "[decision.templates]",
                format!("decision.templates: „{outcome}“ ist kein Ergebnis (bekannt: {})", OUTCOMES.join(", ")),
            );
        }
        if !m.templates.contains_key(template) {
            p(
                "[decision.templates]",
                format!("decision.templates: Vorlage „{template}“ ist unter [templates] nicht definiert"),
            );
        }
    }
    for (key, block) in &m.text_blocks {
        let at = format!("[text_blocks.{key}]");
        match block.field.as_str() {
            "begruendung" => {}
            "auflagen" if m.decision.conditions => {}
            "auflagen" => {
                p(&at, format!("Textbaustein „{key}“: Auflagen gibt es nur mit [decision] conditions = true"))
            }
            other => p(&at, format!("Textbaustein „{key}“: field „{other}“ ist weder begruendung noch auflagen")),
        }
        if block.title.is_missing_german() || block.text.is_missing_german() {
            p(&at, format!("Textbaustein „{key}“: title und text brauchen einen deutschen Text"));
        }
    }
    for (key, def) in &m.deadlines {
        let at = format!("[deadlines.{key}]");
        if def.label.is_missing_german() {
            p(&at, format!("Frist „{key}“: label braucht einen deutschen Text"));
        }
        if let Some(name) = &def.parameter {
            match m.parameters.get(name) {
                Some(pd) if pd.kind == ParameterKind::Duration => {}
                Some(_) => {
                    p(&at, format!("Frist „{key}“: Parameter „{name}“ muss den Typ duration haben"));
                    continue;
                }
                None => {
                    p(&at, format!("Frist „{key}“: Parameter „{name}“ gibt es nicht"));
                    continue;
                }
            }
        }
        let default = |name: &str| {
            m.parameters.get(name).map(|pd| toml_to_json(&pd.default)).and_then(|v| v.as_str().map(String::from))
        };
        if let Err(e) = deadline_spec(def, default) {
            p(&at, format!("Frist „{key}“: {e}"));
        }
    }
    for (code, hint) in &m.hints {
        if hint.text.is_missing_german() || hint.document.as_ref().is_some_and(Text::is_missing_german) {
            p(&format!("[hints.{code}]"), format!("Hinweis „{code}“ braucht einen deutschen Text"));
        }
    }
    if !m.hints.is_empty() && m.check_decision.is_none() {
        p("[hints.", "hints ohne check_decision: die Hinweise gehören zu den Befunden der Prüfentscheidung".into());
    }
    for (name, def) in &m.templates {
        if !def.file.ends_with(".typ") {
            p(&def.file, format!("Vorlage „{name}“: Datei muss eine typst-Datei (.typ) sein"));
        }
    }
}

/// Checks that what the processes refer to exists: decisions, called processes, connectors
/// and their headers, external job types, templates, user task forms.
fn cross_check(
    m: &Manifest,
    manifest_text: &str,
    processes: &BTreeMap<String, Process>,
    origins: &BTreeMap<String, String>,
    decisions: &Decisions,
    problems: &mut Vec<Problem>,
) {
    for t in &m.external_task_types {
        if t.starts_with("rathaus:") || t.trim().is_empty() {
            problems.push(Problem {
                file: MANIFEST.into(),
                line: find_line(manifest_text, "external_task_types"),
                message: format!("external_task_types: „{t}“ ist kein zulässiger Typ (rathaus: ist den eingebauten Konnektoren vorbehalten)"),
            });
        }
    }
    for process in processes.values() {
        let file = origins.get(&process.id).cloned().unwrap_or_else(|| m.process.clone());
        let mut p =
            |line: usize, message: String| problems.push(Problem { file: file.clone(), line: Some(line), message });
        for (e, decision) in process.business_rule_decisions() {
            if !decisions.contains(decision) {
                p(
                    e.line,
                    format!(
                        "Element „{}“: Entscheidung „{decision}“ ist in keiner DMN-Datei von decisions definiert",
                        e.id
                    ),
                );
            }
        }
        for (e, target) in process.called_processes() {
            if !processes.contains_key(target) {
                p(
                    e.line,
                    format!(
                        "Element „{}“: aufgerufener Prozess „{target}“ ist in keiner BPMN-Datei des Verfahrens (process, subprocesses) definiert",
                        e.id
                    ),
                );
            }
        }
        for (e, job) in process.jobs() {
            let task_type = job.task_type.as_str();
            if m.external_task_types.iter().any(|t| t == task_type) {
                continue;
            }
            match connectors::find(task_type) {
                None => p(
                    e.line,
                    format!(
                        "Element „{}“: unbekannter Konnektor „{task_type}“ (eingebaut: {}; Aufgaben für externe Dienste in external_task_types von procedure.toml angeben)",
                        e.id,
                        connectors::ALL.iter().map(|c| c.task_type).collect::<Vec<_>>().join(", ")
                    ),
                ),
                Some(c) => {
                    for problem in c.check_headers(&job.headers, &m.templates.keys().cloned().collect::<Vec<_>>()) {
                        p(e.line, format!("Element „{}“ ({task_type}): {problem}", e.id));
                    }
                }
            }
        }
        for e in &process.elements {
            if let ElementKind::UserTask(def) = &e.kind {
                match def.form_key.as_deref() {
                    Some(connectors::DECISION_FORM) => {}
                    other => p(
                        e.line,
                        format!(
                            "Element „{}“: Benutzeraufgabe braucht zeebe:formDefinition formKey=\"{}\" (gefunden: {:?})",
                            e.id,
                            connectors::DECISION_FORM,
                            other
                        ),
                    ),
                }
            }
        }
    }
}

fn coerce_parameter(def: &ParameterDef, value: &Json) -> Result<Json, String> {
    let kind = def.kind;
    match kind {
        ParameterKind::Money => {
            let text = match value {
                Json::String(s) => s.clone(),
                Json::Number(n) => n.to_string(),
                _ => return Err("Geldbetrag erwartet, z. B. \"26.00\"".into()),
            };
            let money = Money::parse(&text).map_err(|e| e.to_string())?;
            if money.cents() < 0 {
                return Err("ein Betrag darf nicht negativ sein".into());
            }
            let euros = money.cents() as f64 / 100.0;
            Ok(if money.cents() % 100 == 0 { Json::from(money.cents() / 100) } else { Json::from(euros) })
        }
        ParameterKind::Integer => value.as_i64().map(Json::from).ok_or_else(|| "ganze Zahl erwartet".into()),
        ParameterKind::Text => value.as_str().map(|s| Json::String(s.into())).ok_or_else(|| "Text erwartet".into()),
        ParameterKind::List => match value.as_array() {
            Some(items) if items.iter().all(Json::is_string) => Ok(value.clone()),
            _ => Err("Liste von Texten erwartet".into()),
        },
        ParameterKind::Boolean => value.as_bool().map(Json::Bool).ok_or_else(|| "true oder false erwartet".into()),
        ParameterKind::OrgUnit => {
            let unit = value.as_str().map(str::trim).unwrap_or_default();
            let ok = !unit.is_empty()
                && unit.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
            if !ok {
                return Err("Kennung einer Organisationseinheit erwartet: Kleinbuchstaben, Ziffern, Binde- und Unterstrich, z. B. gewerbeamt".into());
            }
            Ok(Json::String(unit.to_string()))
        }
        ParameterKind::Table => crate::table::check_rows(&def.columns, value),
        ParameterKind::Duration => {
            let text = value.as_str().ok_or("Dauer erwartet, z. B. \"P5D\" (5 Tage) oder \"P2W\" (2 Wochen)")?;
            let d = IsoDuration::parse(text).map_err(|e| e.to_string())?;
            if d.is_zero() || d.hours + d.minutes + d.seconds > 0 {
                return Err(format!("„{text}“: eine Dauer in ganzen Tagen, Wochen oder Monaten erwartet"));
            }
            Ok(Json::String(d.to_string()))
        }
    }
}

/// A deadline's definition as the domain counts it; `parameter` gives the value of the
/// duration parameter it names.
fn deadline_spec(
    def: &DeadlineDef,
    parameter: impl Fn(&str) -> Option<String>,
) -> Result<rathaus_domain::deadline::Spec, String> {
    let length = match (&def.duration, &def.parameter) {
        (Some(d), None) => d.clone(),
        (None, Some(p)) => parameter(p).ok_or_else(|| format!("Parameter „{p}“ (Typ duration) fehlt"))?,
        _ => return Err("genau eines von duration (fest) oder parameter (vom Mandanten änderbar) angeben".into()),
    };
    let parse = |text: &str| IsoDuration::parse(text).map_err(|e| e.to_string());
    let spec = rathaus_domain::deadline::Spec {
        duration: parse(&length)?,
        counting: def.counting.unwrap_or(Counting::Frist),
        remind: def.remind.iter().map(|r| parse(r)).collect::<Result<_, _>>()?,
        escalate: def.escalate.as_deref().map(parse).transpose()?,
    };
    spec.check().map_err(|e| e.to_string())?;
    Ok(spec)
}

fn toml_to_json(v: &toml::Value) -> Json {
    match v {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => Json::from(*f),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Json::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

/// The 1-based line of the first occurrence of `needle`, tolerant of blanks around `:`/`=`.
pub fn find_line(text: &str, needle: &str) -> Option<usize> {
    let compact = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
    let n = compact(needle);
    text.lines().position(|l| compact(l).contains(&n)).map(|i| i + 1)
}

fn hash_files(files: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    for (path, text) in files {
        h.update(path.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// Reads procedure.toml and every file it names. Paths are relative to the folder; `..` is
/// allowed for shared catalogues but must stay inside the library root (the parent folder).
fn read_files(dir: &Path) -> Result<BTreeMap<String, String>, Vec<Problem>> {
    let manifest_path = dir.join(MANIFEST);
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        vec![Problem { file: manifest_path.display().to_string(), line: None, message: format!("nicht lesbar: {e}") }]
    })?;
    let mut files = BTreeMap::new();
    files.insert(MANIFEST.to_string(), text);
    let manifest = parse_manifest(&files).map_err(|ps| {
        ps.into_iter().map(|p| Problem { file: dir.join(&p.file).display().to_string(), ..p }).collect::<Vec<_>>()
    })?;
    let mut problems = Vec::new();
    let mut wanted: Vec<String> = vec![manifest.form.clone(), manifest.process.clone()];
    wanted.extend(manifest.subprocesses.iter().cloned());
    wanted.extend(manifest.decisions.iter().cloned());
    wanted.extend(manifest.catalogues.values().cloned());
    wanted.extend(manifest.templates.values().map(|t| t.file.clone()));
    wanted.extend(manifest.messages.values().map(|m| m.template.clone()));
    for rel in wanted {
        if !is_safe_relative(&rel) {
            problems.push(Problem {
                file: MANIFEST.into(),
                line: find_line(&files[MANIFEST], &rel),
                message: format!("Pfad „{rel}“ verlässt die Bibliothek"),
            });
            continue;
        }
        match std::fs::read_to_string(dir.join(&rel)) {
            Ok(t) => {
                files.insert(rel, t);
            }
            Err(e) => problems.push(Problem {
                file: MANIFEST.into(),
                line: find_line(&files[MANIFEST], &rel),
                message: format!("Datei „{rel}“ nicht lesbar: {e}"),
            }),
        }
    }
    if problems.is_empty() {
        Ok(files)
    } else {
        Err(problems)
    }
}

fn is_safe_relative(rel: &str) -> bool {
    let path = PathBuf::from(rel);
    if path.is_absolute() {
        return false;
    }
    let mut depth: i32 = 0;
    for c in path.components() {
        match c {
            Component::ParentDir => depth -= 1,
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return false,
        }
        // One level up reaches the library root (shared catalogues); no further.
        if depth < -1 {
            return false;
        }
    }
    true
}

/// All procedures of a library folder (sub-folders with a procedure.toml; folders starting
/// with `_` hold shared material).
#[derive(Debug, Clone, Default)]
pub struct Library {
    pub procedures: BTreeMap<String, Arc<Procedure>>,
}

impl Library {
    pub fn load(root: &Path) -> Result<Library, Vec<Problem>> {
        let entries = std::fs::read_dir(root).map_err(|e| {
            vec![Problem {
                file: root.display().to_string(),
                line: None,
                message: format!("Bibliotheksordner nicht lesbar: {e}"),
            }]
        })?;
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir() && p.join(MANIFEST).exists())
            .filter(|p| !p.file_name().and_then(|n| n.to_str()).unwrap_or("_").starts_with('_'))
            .collect();
        dirs.sort();
        if dirs.is_empty() {
            return Err(vec![Problem {
                file: root.display().to_string(),
                line: None,
                message: "keine Verfahren gefunden (Unterordner mit procedure.toml)".into(),
            }]);
        }
        let mut problems = Vec::new();
        let mut procedures = BTreeMap::new();
        for dir in dirs {
            match Procedure::load_dir(&dir) {
                Ok(p) => {
                    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
                    if folder != p.id() {
                        problems.push(Problem {
                            file: dir.join(MANIFEST).display().to_string(),
                            line: find_line(&p.files[MANIFEST], "id"),
                            message: format!("id „{}“ muss dem Ordnernamen „{folder}“ entsprechen", p.id()),
                        });
                    }
                    procedures.insert(p.id().to_string(), Arc::new(p));
                }
                Err(ps) => problems.extend(ps.into_iter().map(|p| Problem { file: relative_to(&dir, &p.file), ..p })),
            }
        }
        for p in procedures.values() {
            for r in &p.related {
                let to = procedures.get(&r.id).map(|t| &t.form);
                for message in crate::related::check(&p.form, r, to) {
                    problems.push(Problem {
                        file: root.join(p.id()).join(MANIFEST).display().to_string(),
                        line: find_line(&p.files[MANIFEST], &format!("[related.{}]", r.id)),
                        message,
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(Library { procedures })
        } else {
            Err(problems)
        }
    }

    pub fn get(&self, id: &str) -> Option<&Arc<Procedure>> {
        self.procedures.get(id)
    }
}

fn relative_to(dir: &Path, file: &str) -> String {
    if Path::new(file).is_absolute() {
        file.to_string()
    } else {
        dir.join(file).display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_paths() {
        assert!(is_safe_relative("form.json"));
        assert!(is_safe_relative("../_kataloge/staaten.json"));
        assert!(!is_safe_relative("../../etc/passwd"));
        assert!(!is_safe_relative("/etc/passwd"));
    }

    #[test]
    fn finds_lines() {
        assert_eq!(find_line("a\n  \"key\" :  \"x\"\n", "\"key\": \"x\""), Some(2));
        assert_eq!(find_line("a", "b"), None);
    }
}
