//! The Todo domain and how it shows up in Confluence: validated types, the tenant-scoped store,
//! the JSON API and the iframe pages.

pub mod api;
pub mod pages;
pub mod people;
pub mod publish;
pub mod store;
pub mod task;

use actix_web::web;

/// Routes under `/confluence` (iframe pages).
pub fn configure_pages(cfg: &mut web::ServiceConfig) {
    cfg.route("/get_task", web::get().to(pages::get_task))
        .route("/tasks", web::get().to(pages::tasks_page))
        .route("/macro_editor", web::get().to(pages::macro_editor));
}

/// Routes under `/api` (JSON for the browser side).
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.route("/tasks", web::get().to(api::list))
        .route("/tasks", web::post().to(api::create))
        .route("/tasks/{id}", web::get().to(api::show))
        .route("/tasks/{id}", web::patch().to(api::update))
        .route("/tasks/{id}", web::delete().to(api::delete))
        .route("/publish", web::post().to(publish::publish));
}
