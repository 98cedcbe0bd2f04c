//! Static assets compiled into the binary, and the per-tenant colour theme.

use crate::error::{AppError, AppResult};
use crate::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use rathaus_domain::tenant::{contrast_ratio, font_stack, parse_hex_color, MIN_CONTRAST};

const CSS: &str = include_str!("../static/rathaus.css");
const JS: &str = include_str!("../static/rathaus.js");

pub async fn css() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], CSS)
}

pub async fn js() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")], JS)
}

const WHITE: (u8, u8, u8) = (255, 255, 255);
const BLACK: (u8, u8, u8) = (11, 12, 12);

/// Colours that keep WCAG AA contrast whatever a tenant configured: the header text is white
/// or black, whichever contrasts more; links fall back to a safe blue if the accent colour is
/// too light on white.
pub fn theme_css(primary: &str, accent: &str, font: &str) -> String {
    let brand = parse_hex_color(primary).unwrap_or((0x1d, 0x4e, 0x89));
    let brand_text = if contrast_ratio(brand, WHITE) >= contrast_ratio(brand, BLACK) { "#ffffff" } else { "#0b0c0c" };
    let accent_rgb = parse_hex_color(accent).unwrap_or(brand);
    let accent_css =
        if contrast_ratio(accent_rgb, WHITE) >= MIN_CONTRAST { hex(accent_rgb) } else { "#1d70b8".to_string() };
    format!(
        ":root {{ --brand: {}; --brand-text: {brand_text}; --accent: {accent_css}; --font: {}; }}\n",
        hex(brand),
        font_stack(font)
    )
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

pub async fn theme(State(app): State<AppState>, Path(slug): Path<String>) -> AppResult<impl IntoResponse> {
    let tenant = app.tenant(&slug).await?;
    let b = &tenant.settings.branding;
    Ok((
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=60")],
        theme_css(&b.primary_color, &b.accent_color, &b.font),
    ))
}

/// The tenant's logo. Its address carries the image's hash (`?v=`), so it may be cached for
/// long; an SVG opened directly gets a policy under which nothing in it runs.
pub async fn logo(State(app): State<AppState>, Path(slug): Path<String>) -> AppResult<Response> {
    let tenant = app.tenant(&slug).await?;
    let mut conn = app.runtime.store.conn().await?;
    let asset = rathaus_store::assets::get(&mut conn, &tenant.tenant_id, "logo").await?.ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, "public, max-age=86400".to_string()),
            (header::CONTENT_SECURITY_POLICY, "default-src 'none'; style-src 'unsafe-inline'; sandbox".to_string()),
            (header::ETAG, format!("\"{}\"", asset.sha256)),
        ],
        asset.content,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn theme_keeps_contrast() {
        let css = theme_css("#ffeb3b", "#ffff00", "serif");
        assert!(css.contains("--font: Georgia"), "chosen font: {css}");
        assert!(css.contains("--brand-text: #0b0c0c"), "light brand gets dark text: {css}");
        assert!(css.contains("--accent: #1d70b8"), "too light accent falls back: {css}");
        let css = theme_css("#1d4e89", "#7a1f3d", "comic");
        assert!(css.contains("--font: system-ui"), "unknown font falls back: {css}");
        assert!(css.contains("--brand-text: #ffffff") && css.contains("--accent: #7a1f3d"), "{css}");
    }
}
