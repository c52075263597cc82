//! Lifecycle callbacks: `installed` / `uninstalled` (RS256, signed by Atlassian) and
//! `enabled` / `disabled` (HS256 with the site's secret). Nothing stored changes on any failure.
//!
//! The token is verified before the body is read — header, `kid`, signature, `aud`, `exp` and
//! qsh need nothing from it — so a client without Atlassian's signature gets its 401 without
//! ever holding a connection open with a slow body; only `iss == clientKey` waits for the body.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::installations::NewInstallation;
use super::jwt::{self, Secret, TokenError};
use super::token_source::{expected_qsh, jwt_header};
use super::{Connect, ConnectContext, LifecycleRoute};
use crate::error::{AppError, Result};
use crate::site::installed::InstallRefused;
use crate::site::store::connect::{self as sites, SiteChange};
use crate::util::ari::canonical_installation_id;
use crate::util::telemetry::Way;
use crate::util::url::BaseUrl;
use crate::web::body::read_body;

/// Lifecycle bodies are a few hundred bytes; this leaves ample room.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The JSON Confluence posts to every lifecycle callback (unknown fields ignored).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LifecyclePayload {
    key: String,
    pub(crate) client_key: String,
    /// Never printed: `Secret`'s Debug is `***`.
    #[serde(default)]
    shared_secret: Option<Secret>,
    pub(crate) base_url: String,
    #[serde(default)]
    display_url: Option<String>,
    product_type: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    oauth_client_id: Option<String>,
    #[serde(default)]
    server_version: Option<String>,
    #[serde(default)]
    plugins_version: Option<String>,
    #[serde(default)]
    service_entitlement_number: Option<String>,
    #[serde(default)]
    pub(crate) installation_id: Option<String>,
    #[serde(default)]
    pub(crate) cloud_id: Option<String>,
}

/// `POST /confluence/installed`: upsert the site; a re-install rotates the secret. A site met
/// through Forge first (its installation or cloud id on a Forge-only row) becomes this site:
/// its tasks and users move here.
pub(crate) async fn installed(
    req: HttpRequest,
    body: web::Payload,
    connect: web::Data<Connect>,
) -> Result<HttpResponse> {
    let payload = verify_signed(&req, body, &connect).await?;
    let new = validate_install(&payload, &connect)?;
    let installed = sites::install(&connect.db, &connect.settings.addon_key, new).await?;
    let moved = installed.map_err(|InstallRefused::IdentityTaken| installation_id_conflict())?;
    connect.changed(&payload.client_key, &moved);
    log::info!("installed on {} ({})", payload.base_url, payload.client_key);
    Ok(HttpResponse::NoContent().finish())
}

fn installation_id_conflict() -> AppError {
    AppError::bad_request("installationId or cloudId belongs to another installation")
}

/// `POST /confluence/uninstalled`: erase the secret, keep the tasks. Idempotent.
pub(crate) async fn uninstalled(
    req: HttpRequest,
    body: web::Payload,
    connect: web::Data<Connect>,
) -> Result<HttpResponse> {
    let payload = verify_signed(&req, body, &connect).await?;
    check_key(&payload, &connect)?;
    change_site(&connect, &payload.client_key, SiteChange::Uninstall).await?;
    log::info!(
        "uninstalled from {} ({})",
        payload.base_url,
        payload.client_key
    );
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /confluence/enabled` (the extractor verifies the token before the body is read).
pub(crate) async fn enabled(
    ctx: ConnectContext<LifecycleRoute>,
    req: HttpRequest,
    body: web::Payload,
    connect: web::Data<Connect>,
) -> Result<HttpResponse> {
    let body = read_body(&req, body, MAX_BODY_BYTES).await?;
    toggle(ctx, &req, &body, &connect, true).await
}

/// `POST /confluence/disabled`.
pub(crate) async fn disabled(
    ctx: ConnectContext<LifecycleRoute>,
    req: HttpRequest,
    body: web::Payload,
    connect: web::Data<Connect>,
) -> Result<HttpResponse> {
    let body = read_body(&req, body, MAX_BODY_BYTES).await?;
    toggle(ctx, &req, &body, &connect, false).await
}

async fn toggle(
    ctx: ConnectContext<LifecycleRoute>,
    req: &HttpRequest,
    body: &[u8],
    connect: &Connect,
    enabled: bool,
) -> Result<HttpResponse> {
    let payload = parse(body)?;
    check_key(&payload, connect)?;
    if payload.client_key != ctx.installation.client_key {
        return Err(connect.refuse(req, Way::Lifecycle, &TokenError::BodyMismatch));
    }
    change_site(connect, &payload.client_key, SiteChange::Enable(enabled)).await?;
    log::info!(
        "{} on {}",
        if enabled { "enabled" } else { "disabled" },
        payload.client_key
    );
    Ok(HttpResponse::NoContent().finish())
}

/// Applies one lifecycle change to a site's row (idempotent: `false` when nothing changed),
/// then forgets its cached installation so the next request sees the change; on PostgreSQL the
/// same transaction notifies every other replica to forget it too.
async fn change_site(connect: &Connect, client_key: &str, change: SiteChange) -> Result<bool> {
    let changed =
        sites::change(&connect.db, &connect.settings.addon_key, client_key, change).await?;
    connect.changed(client_key, &[]);
    Ok(changed)
}

/// Verifies the RS256 install token, then reads and parses the body and binds `iss` to its
/// `clientKey`.
async fn verify_signed(
    req: &HttpRequest,
    body: web::Payload,
    connect: &Connect,
) -> Result<LifecyclePayload> {
    let refuse = |reason: TokenError| connect.refuse(req, Way::Lifecycle, &reason);
    let token = jwt_header(req)
        .map_err(refuse)?
        .ok_or_else(|| refuse(TokenError::Missing))?;
    let token_header = jwt::decode_header(token).map_err(refuse)?;
    if token_header.alg != jsonwebtoken::Algorithm::RS256 {
        return Err(refuse(TokenError::WrongAlgorithm(format!(
            "{:?}",
            token_header.alg
        ))));
    }
    let kid = token_header
        .kid
        .as_deref()
        .ok_or_else(|| refuse(TokenError::BadKeyId))?;
    let key = connect.install_keys.get(kid).await.map_err(refuse)?;
    let claims =
        jwt::verify_rs256(token, &key, connect.settings.site_url.as_str()).map_err(refuse)?;
    let expected = expected_qsh(req, connect.settings.base_path());
    match claims.qsh.as_deref() {
        Some(q) if q == expected => {}
        Some(_) => return Err(refuse(TokenError::QshMismatch)),
        None => return Err(refuse(TokenError::MissingQsh)),
    }
    let body = read_body(req, body, MAX_BODY_BYTES).await?;
    let payload = parse(&body)?;
    if claims.iss != payload.client_key {
        return Err(refuse(TokenError::BodyMismatch));
    }
    Ok(payload)
}

/// Parses a lifecycle body; a malformed or incomplete one is a 400.
pub(crate) fn parse(body: &[u8]) -> Result<LifecyclePayload> {
    serde_json::from_slice(body).map_err(|e| {
        log::debug!("malformed lifecycle body: {e}");
        AppError::bad_request("malformed or incomplete lifecycle payload")
    })
}

fn check_key(payload: &LifecyclePayload, connect: &Connect) -> Result<()> {
    if payload.key != connect.settings.addon_key {
        return Err(AppError::bad_request("payload is for another app key"));
    }
    if payload.client_key.is_empty() || payload.client_key.len() > 255 {
        return Err(AppError::bad_request("clientKey is missing or too long"));
    }
    Ok(())
}

fn validate_install(p: &LifecyclePayload, connect: &Connect) -> Result<NewInstallation> {
    check_key(p, connect)?;
    let secret = p
        .shared_secret
        .as_ref()
        .filter(|s| !s.expose().is_empty())
        .ok_or_else(|| AppError::bad_request("sharedSecret is required"))?;
    let production = connect.settings.is_production();
    let base_url = BaseUrl::parse(&p.base_url, production)
        .ok()
        .filter(|url| connect.settings.host_allowed(url.host()))
        .ok_or_else(|| AppError::bad_request("baseUrl is not an allowed https site URL"))?;
    let display_url = match p.display_url.as_deref().filter(|u| !u.is_empty()) {
        Some(url) => Some(
            BaseUrl::parse(url, production)
                .map_err(|_| AppError::bad_request("displayUrl is not an https URL"))?,
        ),
        None => None,
    };
    if p.product_type.is_empty() {
        return Err(AppError::bad_request("productType is required"));
    }
    let installation_id = p
        .installation_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map(canonical_installation_id);
    if installation_id
        .as_deref()
        .is_some_and(|id| id.len() > 255 || !id.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(AppError::bad_request(
            "installationId is not an installation id",
        ));
    }
    let cloud_id = p.cloud_id.clone().filter(|id| !id.is_empty());
    let cloud_ok =
        |id: &str| id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if cloud_id.as_deref().is_some_and(|id| !cloud_ok(id)) {
        return Err(AppError::bad_request("cloudId is not a cloud id"));
    }
    Ok(NewInstallation {
        client_key: p.client_key.clone(),
        shared_secret: secret.clone(),
        base_url: base_url.to_string(),
        display_url: display_url.map(|url| url.to_string()),
        product_type: p.product_type.clone(),
        description: p.description.clone(),
        oauth_client_id: p.oauth_client_id.clone(),
        server_version: p.server_version.clone(),
        plugins_version: p.plugins_version.clone(),
        sen: p.service_entitlement_number.clone(),
        installation_id,
        cloud_id,
    })
}
