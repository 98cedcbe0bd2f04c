//! Server-side rendering with minijinja. Templates are compiled into the binary.

use crate::i18n;
use minijinja::{Environment, State, Value};
use rathaus_domain::Lang;
use std::sync::OnceLock;

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../templates/base.html")),
    ("macros.html", include_str!("../templates/macros.html")),
    ("landing.html", include_str!("../templates/landing.html")),
    ("portal.html", include_str!("../templates/portal.html")),
    ("service.html", include_str!("../templates/service.html")),
    ("form_page.html", include_str!("../templates/form_page.html")),
    ("check.html", include_str!("../templates/check.html")),
    ("assistant.html", include_str!("../templates/assistant.html")),
    ("draft_saved.html", include_str!("../templates/draft_saved.html")),
    ("testkasse.html", include_str!("../templates/testkasse.html")),
    ("receipt.html", include_str!("../templates/receipt.html")),
    ("status_login.html", include_str!("../templates/status_login.html")),
    ("status.html", include_str!("../templates/status.html")),
    ("staff_login.html", include_str!("../templates/staff_login.html")),
    ("worklist.html", include_str!("../templates/worklist.html")),
    ("case.html", include_str!("../templates/case.html")),
    ("operations.html", include_str!("../templates/operations.html")),
    ("error.html", include_str!("../templates/error.html")),
    ("legal.html", include_str!("../templates/legal.html")),
    ("account_form.html", include_str!("../templates/account_form.html")),
    ("account_message.html", include_str!("../templates/account_message.html")),
    ("account_home.html", include_str!("../templates/account_home.html")),
    ("business.html", include_str!("../templates/business.html")),
    ("statistics.html", include_str!("../templates/statistics.html")),
    ("deadlines.html", include_str!("../templates/deadlines.html")),
    ("payments.html", include_str!("../templates/payments.html")),
    ("admin_archive.html", include_str!("../templates/admin_archive.html")),
    ("correction.html", include_str!("../templates/correction.html")),
    ("forwarding.html", include_str!("../templates/forwarding.html")),
    ("admin.html", include_str!("../templates/admin.html")),
    ("admin_staff.html", include_str!("../templates/admin_staff.html")),
    ("admin_procedure.html", include_str!("../templates/admin_procedure.html")),
    ("admin_table.html", include_str!("../templates/admin_table.html")),
    ("admin_settings.html", include_str!("../templates/admin_settings.html")),
    ("admin_keys.html", include_str!("../templates/admin_keys.html")),
    ("admin_delegations.html", include_str!("../templates/admin_delegations.html")),
    ("centre_towns.html", include_str!("../templates/centre_towns.html")),
    ("withdraw.html", include_str!("../templates/withdraw.html")),
    ("consultation.html", include_str!("../templates/consultation.html")),
    ("intake.html", include_str!("../templates/intake.html")),
    ("business_new.html", include_str!("../templates/business_new.html")),
    ("business_invitation.html", include_str!("../templates/business_invitation.html")),
    ("messages.html", include_str!("../templates/messages.html")),
    ("mailbox.html", include_str!("../templates/mailbox.html")),
];

fn translate(state: &State, key: &str) -> String {
    let lang = state.lookup("lang").and_then(|v| v.as_str().and_then(Lang::parse)).unwrap_or_default();
    i18n::t(lang, key)
}

pub fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Lenient);
        for (name, source) in TEMPLATES {
            env.add_template(name, source).unwrap_or_else(|e| panic!("template {name} is invalid: {e:#}"));
        }
        env.add_function("t", translate);
        env
    })
}

pub fn render(name: &str, ctx: Value) -> Result<String, minijinja::Error> {
    environment().get_template(name)?.render(ctx)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys used as `t("…")` / `t('…')` in the templates.
    fn template_keys() -> Vec<String> {
        let mut out = Vec::new();
        for (_, src) in TEMPLATES {
            let mut rest: &str = src;
            while let Some(i) = rest.find("t(") {
                rest = &rest[i + 2..];
                if let Some(q @ ('"' | '\'')) = rest.chars().next() {
                    if let Some(end) = rest[1..].find(q) {
                        let key = &rest[1..1 + end];
                        if key.contains('.') && !key.contains(' ') {
                            out.push(key.to_string());
                        }
                    }
                }
            }
        }
        out
    }

    #[test]
    fn all_templates_compile_and_every_key_is_translated() {
        let _ = environment();
        let keys = template_keys();
        assert!(keys.len() > 50, "found {} keys", keys.len());
        for k in keys {
            assert_ne!(i18n::t(Lang::De, &k), k, "missing German text for {k}");
            assert_ne!(i18n::t(Lang::En, &k), k, "missing English text for {k}");
        }
    }
}
