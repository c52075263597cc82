//! Static assets compiled into the binary, served with a content type, an ETag and cache headers.
//!
//! Templates link assets as `/path?v=<hash>`; a request carrying the current hash may be cached
//! for a year, anything else for five minutes, so an upgrade never serves stale JavaScript.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use include_dir::{Dir, include_dir};
use sha2::{Digest, Sha256};

static ASSETS: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/assets");

/// One embedded file and what we answer with it.
struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// First 16 hex digits of the SHA-256 of the body: the ETag and the `v` cache-buster.
    version: String,
}

/// Every embedded asset by URL path (`/images/confluence/logo_300x300.png`).
pub(crate) struct Assets {
    files: HashMap<String, Asset>,
}

impl Assets {
    /// Indexes the embedded files once, at start-up.
    pub(crate) fn embedded() -> Self {
        let mut files = HashMap::new();
        collect(&ASSETS, &mut files);
        Self { files }
    }

    /// The versioned URL of an asset, for templates; the plain path if it does not exist.
    pub(crate) fn url(&self, path: &str) -> String {
        match self.files.get(path) {
            Some(asset) => format!("{path}?v={}", asset.version),
            None => path.to_string(),
        }
    }

    #[cfg(test)]
    /// Whether an asset exists at this URL path.
    pub(crate) fn contains(&self, path: &str) -> bool {
        self.files.contains_key(path)
    }

    /// Answers a request for `path`, or `None` when there is no such asset.
    pub(crate) fn respond(&self, req: &HttpRequest) -> Option<HttpResponse> {
        let asset = self.files.get(req.path())?;
        let etag = format!("\"{}\"", asset.version);
        let current = web::Query::<HashMap<String, String>>::from_query(req.query_string())
            .ok()
            .and_then(|q| q.get("v").cloned())
            .is_some_and(|v| v == asset.version);
        let cache = if current {
            "public, max-age=31536000, immutable"
        } else {
            "public, max-age=300"
        };
        let not_modified = req
            .headers()
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
        let mut builder = if not_modified {
            HttpResponse::NotModified()
        } else {
            HttpResponse::Ok()
        };
        builder
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .content_type(asset.content_type);
        Some(if not_modified {
            builder.finish()
        } else {
            builder.body(asset.body)
        })
    }
}

fn collect(dir: &'static Dir<'static>, files: &mut HashMap<String, Asset>) {
    for file in dir.files() {
        let path = format!("/{}", file.path().to_string_lossy());
        let digest = Sha256::digest(file.contents());
        let version: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        let content_type = content_type(&path);
        files.insert(
            path,
            Asset {
                body: file.contents(),
                content_type,
                version,
            },
        );
    }
    for sub in dir.dirs() {
        collect(sub, files);
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "png" => "image/png",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_logo_is_embedded_as_a_png() {
        let assets = Assets::embedded();
        let logo = &assets.files["/images/confluence/logo_300x300.png"];
        assert_eq!(logo.content_type, "image/png");
        assert_eq!(&logo.body[..8], b"\x89PNG\r\n\x1a\n");
        assert!(
            assets
                .url("/images/confluence/logo_300x300.png")
                .contains("?v=")
        );
    }
}
