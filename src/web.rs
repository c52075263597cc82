//! HTTP plumbing shared by every route: the request log and security headers, embedded
//! assets, templates, and rendering an HTML page. Knows no route and no domain.

mod assets;
pub(crate) mod body;
pub(crate) mod connections;
pub(crate) mod json;
pub(crate) mod middleware;
mod templates;

use actix_web::HttpResponse;
use actix_web::http::header::{self, HeaderValue};

use crate::error::AppError;

/// Where AUI (Atlassian's UI library) is loaded from: a public npm CDN, pinned, with its SRI hash.
/// Atlassian's own AUI CDN shut down after 30 Oct 2026.
const AUI_ORIGIN: &str = "https://cdn.jsdelivr.net";
/// The pinned AUI stylesheet.
const AUI_CSS_URL: &str =
    "https://cdn.jsdelivr.net/npm/@atlassian/aui@10.0.4/dist/aui/aui-prototyping.css";
/// Subresource integrity of [`AUI_CSS_URL`], computed from the npm tarball of @atlassian/aui 10.0.4.
const AUI_CSS_INTEGRITY: &str =
    "sha384-7BUUxELuk9Pmh15FojXnaie6/FuetC1oY0glzNaWkckY+iXM7S9QL6JqaDCl6BVO";
/// The Connect JavaScript; a constant, never built from request parameters.
const CONNECT_JS_URL: &str = "https://connect-cdn.atl-paas.net/all.js";
/// Origin of [`CONNECT_JS_URL`], for the CSP.
const CONNECT_JS_ORIGIN: &str = "https://connect-cdn.atl-paas.net";

/// What the web layer needs at request time, built once: templates, assets, and the headers
/// every response gets. Found by the middleware and by handlers as `web::Data<Web>`.
pub(crate) struct Web {
    pub(crate) templates: tera::Tera,
    pub(crate) assets: assets::Assets,
    /// Send `Strict-Transport-Security` (our public URL is https).
    hsts: bool,
    /// The CSP of HTML responses that did not set their own.
    default_csp: HeaderValue,
}

impl Web {
    /// Indexes the embedded assets and parses the templates.
    pub(crate) fn new(hsts: bool) -> tera::Result<Self> {
        let assets = assets::Assets::embedded();
        let templates = templates::build(&assets)?;
        let default_csp = HeaderValue::from_str(&content_security_policy(None))
            .map_err(|e| tera::Error::msg(e.to_string()))?;
        Ok(Self {
            templates,
            assets,
            hsts,
            default_csp,
        })
    }

    /// Renders an authenticated page: never cached, framable by Atlassian and by
    /// `frame_origin` (the site's own `https://` origin, when it has a custom domain).
    pub(crate) fn page(
        &self,
        template: &str,
        context: &tera::Context,
        frame_origin: Option<&str>,
    ) -> Result<HttpResponse, AppError> {
        let body = self.render(template, context)?;
        Ok(self.framed(body, frame_origin))
    }

    /// The HTML of a page, for [`Web::framed`] (now, or kept and sent again later).
    pub(crate) fn render(
        &self,
        template: &str,
        context: &tera::Context,
    ) -> Result<String, AppError> {
        self.templates
            .render(template, context)
            .map_err(AppError::internal)
    }

    /// An authenticated page's response around its HTML ([`Web::page`]).
    pub(crate) fn framed(
        &self,
        body: impl actix_web::body::MessageBody + 'static,
        frame_origin: Option<&str>,
    ) -> HttpResponse {
        HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::CONTENT_SECURITY_POLICY, self.csp(frame_origin)))
            .body(body)
    }

    /// The CSP of a page framable by `frame_origin`: the one built at start-up for a site
    /// without its own domain (most), so their pages format and check no header per request.
    fn csp(&self, frame_origin: Option<&str>) -> HeaderValue {
        match frame_origin {
            None => self.default_csp.clone(),
            Some(origin) => HeaderValue::from_str(&content_security_policy(Some(origin)))
                .unwrap_or_else(|_| self.default_csp.clone()),
        }
    }
}

/// The Content-Security-Policy for our HTML: scripts and styles only from us, the Connect CDN
/// and the pinned AUI origin; framing only by Atlassian's sites (and `frame_origin`, an
/// origin already checked by [`crate::util::url::BaseUrl`]).
fn content_security_policy(frame_origin: Option<&str>) -> String {
    let mut ancestors = String::from("https://*.atlassian.net https://*.jira.com");
    if let Some(origin) = frame_origin {
        ancestors.push(' ');
        ancestors.push_str(origin);
    }
    format!(
        "default-src 'self'; script-src 'self' {CONNECT_JS_ORIGIN}; style-src 'self' {AUI_ORIGIN}; \
         img-src 'self' data:; font-src 'self' data: {AUI_ORIGIN}; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::url::BaseUrl;

    #[test]
    fn only_clean_https_origins_reach_the_csp() {
        let origin = |url: &str| BaseUrl::parse(url, true).ok().map(|u| u.origin());
        assert_eq!(
            origin("https://acme.example.com/wiki").as_deref(),
            Some("https://acme.example.com")
        );
        assert_eq!(origin("http://acme.example.com"), None);
        assert_eq!(origin("https://a.com;script-src *"), None);
        let csp = content_security_policy(origin("https://docs.acme.com/x").as_deref());
        assert!(
            csp.ends_with("https://*.jira.com https://docs.acme.com"),
            "{csp}"
        );
    }
}
