//! Tenants on their own domain: a request to a host that a tenant names in its settings
//! (`domains`) shows that tenant's portal, so `https://service.musterstadt.de/` works as
//! well as `https://rathaus.example/musterstadt/`. Pages keep their paths with the slug, so
//! links, cookies and the back office work the same on both.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{header, Uri};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a node serves the domain map before reading the tenants' settings again.
const REFRESH: Duration = Duration::from_secs(30);

/// Paths of the platform itself, the same on every host.
const PLATFORM_PATHS: &[&str] = &["/static/", "/api/", "/healthz", "/readyz"];

#[derive(Default)]
pub struct Domains {
    map: Mutex<Option<(Instant, HashMap<String, String>)>>,
}

impl Domains {
    /// The slug of the tenant serving `host` (without port, any case), if one does.
    async fn slug_for(&self, app: &AppState, host: &str) -> Option<String> {
        let fresh = |m: &Option<(Instant, HashMap<String, String>)>| {
            m.as_ref().filter(|(at, _)| at.elapsed() < REFRESH).map(|(_, map)| map.get(host).cloned())
        };
        if let Some(found) = fresh(&self.map.lock().expect("domain map")) {
            return found;
        }
        let mut conn = app.runtime.store.conn().await.ok()?;
        let tenants = rathaus_store::tenants::list(&mut conn).await.ok()?;
        let mut map = HashMap::new();
        for t in tenants {
            for d in &t.settings.domains {
                // The first tenant to claim a domain keeps it.
                map.entry(d.trim().to_ascii_lowercase()).or_insert_with(|| t.slug.clone());
            }
        }
        let found = map.get(host).cloned();
        *self.map.lock().expect("domain map") = Some((Instant::now(), map));
        found
    }
}

/// The host a request was sent to, lower case and without port.
fn host_of(req: &Request) -> Option<String> {
    let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or_else(|| req.uri().host())?;
    let host =
        host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(h, _)| h);
    Some(host.to_ascii_lowercase())
}

/// The path a request on the tenant's own domain stands for: the tenant's portal paths get
/// the slug in front; the platform's own paths and paths that carry the slug stay.
pub fn tenant_path(path: &str, slug: &str) -> Option<String> {
    let own = format!("/{slug}");
    if PLATFORM_PATHS.iter().any(|p| path.starts_with(p)) || path == own || path.starts_with(&format!("{own}/")) {
        return None;
    }
    Some(format!("{own}{path}"))
}

/// Middleware around the whole router (it must see the request before routing).
pub async fn by_domain(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(host) = host_of(&req) {
        if let Some(slug) = app.domains.slug_for(&app, &host).await {
            if let Some(path) = tenant_path(req.uri().path(), &slug) {
                let with_query = match req.uri().query() {
                    Some(q) => format!("{path}?{q}"),
                    None => path,
                };
                if let Ok(uri) = with_query.parse::<Uri>() {
                    *req.uri_mut() = uri;
                }
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portal_paths_get_the_slug_and_the_platforms_paths_do_not() {
        assert_eq!(tenant_path("/", "musterstadt").as_deref(), Some("/musterstadt/"));
        assert_eq!(tenant_path("/impressum", "musterstadt").as_deref(), Some("/musterstadt/impressum"));
        assert_eq!(tenant_path("/musterstadt/status", "musterstadt"), None);
        assert_eq!(tenant_path("/musterstadt", "musterstadt"), None);
        assert_eq!(tenant_path("/static/rathaus.css", "musterstadt"), None);
        assert_eq!(tenant_path("/api/v1/musterstadt/applications", "musterstadt"), None);
        // Another tenant's pages are not reachable through this tenant's domain.
        assert_eq!(tenant_path("/beispielgemeinde/", "musterstadt").as_deref(), Some("/musterstadt/beispielgemeinde/"));
        assert_eq!(tenant_path("/musterstadtfoo", "musterstadt").as_deref(), Some("/musterstadt/musterstadtfoo"));
    }
}
