//! The route table: every path is named once in [`paths`] and used both by the router and by
//! the descriptor (through [`descriptor_paths`]), so what we declare to Confluence is what we
//! serve. To add a route: a constant here, a line in [`configure`], a handler in its layer.

use actix_web::web;
use serde_json::{Value, json};

use super::pages;
use crate::connect::{ApiRoute, ConnectContext, descriptor, lifecycle};
use crate::forge::{ForgeContext, pre_uninstall as forge_pre_uninstall};
use crate::todo::{api, issue_api, jira_events, pages as todo_pages, publish};

/// The task API's caller through Connect (a context token); through Forge it is
/// [`ForgeContext`]. The same handlers serve both.
type ConnectApi = ConnectContext<ApiRoute>;

/// Every path we serve.
pub mod paths {
    pub(super) const LANDING: &str = "/";
    pub(super) const HEALTHZ: &str = "/healthz";
    pub(super) const READYZ: &str = "/readyz";
    /// Where Confluence fetches the descriptor (the URL an admin uploads).
    pub(crate) const DESCRIPTOR: &str = "/atlassian-connect.json";
    /// The same descriptor under the app's own prefix.
    pub(super) const DESCRIPTOR_ALIAS: &str = "/confluence/descriptor";
    pub(crate) const INSTALLED: &str = "/confluence/installed";
    pub(crate) const UNINSTALLED: &str = "/confluence/uninstalled";
    pub(crate) const ENABLED: &str = "/confluence/enabled";
    pub(crate) const DISABLED: &str = "/confluence/disabled";
    /// The TODO macro's iframe: one task (`?id=N`).
    pub(crate) const MACRO: &str = "/confluence/get_task";
    /// The Todo general page.
    pub(crate) const TODO_PAGE: &str = "/confluence/tasks";
    /// The macro editor (`?page_id=N`).
    pub(crate) const MACRO_EDITOR: &str = "/confluence/macro_editor";
    pub(super) const API_TASKS: &str = "/api/tasks";
    pub(super) const API_TASK: &str = "/api/tasks/{id}";
    /// "Publish to Confluence" from the Connect Todo page: the page to create, rendered (the
    /// Todo page creates it as the user with `AP.request`).
    pub(super) const API_PUBLISH: &str = "/api/publish";
    /// The task API as Forge Custom UI reaches it (`invokeRemote`, Forge Invocation Token).
    pub(super) const FORGE_API_TASKS: &str = "/forge/api/tasks";
    pub(super) const FORGE_API_TASK: &str = "/forge/api/tasks/{id}";
    /// The tasks of the Jira issue the token names (a Jira issue panel).
    pub(super) const FORGE_API_ISSUE_TASKS: &str = "/forge/api/issue/tasks";
    /// "Publish to Confluence" from the Forge global page: the page to create, rendered (the
    /// global page creates it as the user with `requestConfluence`).
    pub(super) const FORGE_API_PUBLISH: &str = "/forge/api/publish";
    /// Forge triggers: lifecycle (`avi:forge:installed:app`, `avi:forge:upgraded:app`) and
    /// Jira's deletions (`avi:jira:deleted:issue`, `avi:jira:deleted:project`).
    pub const FORGE_EVENTS: &str = "/forge/events";
    /// Forge's uninstall signal: the `preUninstall` module calls it when an admin uninstalls
    /// the app (Forge has no uninstall event); every manifest form routes its endpoint here.
    pub const FORGE_PRE_UNINSTALL: &str = "/forge/pre-uninstall";
    /// Everything Forge calls lives under this; any other path under it is a JSON 404.
    pub(crate) const FORGE_PREFIX: &str = "/forge/";
    /// The app icon the descriptor names (an embedded asset).
    pub const ICON: &str = "/images/confluence/logo_300x300.png";
}

/// The paths the descriptor template names, by the names it uses.
pub(crate) fn descriptor_paths() -> Value {
    json!({
        "installed": paths::INSTALLED,
        "uninstalled": paths::UNINSTALLED,
        "enabled": paths::ENABLED,
        "disabled": paths::DISABLED,
        "macro": paths::MACRO,
        "todo_page": paths::TODO_PAGE,
        "macro_editor": paths::MACRO_EDITOR,
        "icon": paths::ICON,
    })
}

/// Registers every route. Shared by the server and in-process tests and benchmarks.
pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    use paths::*;
    cfg.route(LANDING, web::get().to(pages::landing))
        // HEAD too: load balancers and uptime monitors often probe with it.
        .route(HEALTHZ, web::get().to(pages::healthz))
        .route(HEALTHZ, web::head().to(pages::healthz))
        .route(READYZ, web::get().to(pages::readyz))
        .route(READYZ, web::head().to(pages::readyz))
        .route(DESCRIPTOR, web::get().to(descriptor::serve))
        .route(DESCRIPTOR_ALIAS, web::get().to(descriptor::serve))
        // Lifecycle bodies are read by the handlers, after the token is verified.
        .route(INSTALLED, web::post().to(lifecycle::installed))
        .route(UNINSTALLED, web::post().to(lifecycle::uninstalled))
        .route(ENABLED, web::post().to(lifecycle::enabled))
        .route(DISABLED, web::post().to(lifecycle::disabled))
        .route(MACRO, web::get().to(todo_pages::get_task))
        .route(TODO_PAGE, web::get().to(todo_pages::tasks_page))
        .route(MACRO_EDITOR, web::get().to(todo_pages::macro_editor))
        .route(API_TASKS, web::get().to(api::list::<ConnectApi>))
        .route(API_TASKS, web::post().to(api::create::<ConnectApi>))
        .route(API_TASK, web::get().to(api::show::<ConnectApi>))
        .route(API_TASK, web::patch().to(api::update::<ConnectApi>))
        .route(API_TASK, web::delete().to(api::delete::<ConnectApi>))
        .route(API_PUBLISH, web::post().to(publish::publish::<ConnectApi>))
        .route(FORGE_API_TASKS, web::get().to(api::list::<ForgeContext>))
        .route(FORGE_API_TASKS, web::post().to(api::create::<ForgeContext>))
        .route(FORGE_API_TASK, web::get().to(api::show::<ForgeContext>))
        .route(FORGE_API_TASK, web::patch().to(api::update::<ForgeContext>))
        .route(
            FORGE_API_TASK,
            web::delete().to(api::delete::<ForgeContext>),
        )
        .route(FORGE_API_ISSUE_TASKS, web::get().to(issue_api::list))
        .route(FORGE_API_ISSUE_TASKS, web::post().to(issue_api::create))
        .route(
            FORGE_API_PUBLISH,
            web::post().to(publish::publish::<ForgeContext>),
        )
        .route(FORGE_EVENTS, web::post().to(jira_events::events))
        .route(
            FORGE_PRE_UNINSTALL,
            web::post().to(forge_pre_uninstall::pre_uninstall),
        )
        .default_service(web::to(pages::asset_or_404));
}
