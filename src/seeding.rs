//! What the load test's scale round (`examples/loadtest_peer seed`, `scripts/loadtest.sh`)
//! calls to fill a database with thousands of Connect sites and millions of tasks in minutes,
//! not over HTTP: each batch of sites is ONE transaction of the real store functions — the
//! install ([`crate::site::store::connect::install_in`]) and the task create with its quota
//! ([`crate::todo::store::create_many_in`]: `create_in` for each, pipelined on PostgreSQL) —
//! so a seeded site and its tasks are exactly what an `installed` callback and
//! `POST /api/tasks` would have stored, on either backend. Not an API: hidden from the docs, changed whenever the load test needs it.
//!
//! Why here and not in `testkit`: the stores' transaction-scoped functions and [`Db::write`]
//! are crate-private, and making them public for one test tool would widen the API every
//! caller sees; this module exposes only "seed this batch" (as `fuzzing` exposes only what
//! the fuzz targets call).

use crate::app::StartupError;
use crate::config::Settings;
use crate::connect::installations::NewInstallation;
use crate::db::{Db, Stamp};
use crate::error::AppError;
use crate::site::SiteId;
use crate::site::store::connect::install_in;
use crate::todo::store::{Created, NewTask, create_many_in};
use crate::todo::task::TaskTitle;
use crate::util::secret::Secret;
use crate::util::url::BaseUrl;

/// A Connect site to seed: what its `installed` callback would carry, and its tasks.
#[derive(Debug, Clone)]
pub struct SeedSite {
    pub client_key: String,
    /// The HS256 secret the load-test peer signs this site's tokens with.
    pub shared_secret: String,
    /// Where the app would call the site (display names): the peer's slow sites, or nothing.
    pub base_url: String,
    pub tasks: Vec<SeedTask>,
}

/// One task of a seeded site.
#[derive(Debug, Clone)]
pub struct SeedTask {
    pub title: String,
    /// The account id of its creator (whose display name the macro shows).
    pub created_by: String,
}

/// A seeded site: its row id and its tasks' ids, in the order given.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub site: SiteId,
    pub task_ids: Vec<i64>,
}

/// The database the settings name, opened and migrated as `serve` opens it, with the app key
/// sites are installed under and the task quota a create respects.
pub struct Seeder {
    db: Db,
    addon_key: String,
    quota: i64,
}

impl Seeder {
    /// Opens (creating and migrating if needed) the database the settings name.
    pub fn open(settings: &Settings) -> Result<Self, StartupError> {
        Ok(Self {
            db: crate::app::startup::open_database(settings)?,
            addon_key: settings.addon_key.clone(),
            quota: i64::try_from(settings.max_tasks_per_site).unwrap_or(i64::MAX),
        })
    }

    /// Installs `sites` and creates their tasks in one transaction: all of them or, on any
    /// failure (a refused install, a bad title, the quota reached), none.
    pub async fn seed(&self, sites: Vec<SeedSite>) -> Result<Vec<Seeded>, String> {
        // As the install handler does: a base URL the app could not parse would make the
        // site's every request a 401, far from its cause.
        for site in &sites {
            BaseUrl::parse(&site.base_url, false)
                .map_err(|e| format!("{}: base URL: {e}", site.client_key))?;
        }
        let (addon_key, quota) = (self.addon_key.clone(), self.quota);
        let now = Stamp::now();
        self.db
            .write(async move |tx| {
                let mut seeded = Vec::with_capacity(sites.len());
                for site in &sites {
                    let refused =
                        |why: String| AppError::internal(format!("{}: {why}", site.client_key));
                    let ids = install_in(tx, &addon_key, &installation(site), now)
                        .await?
                        .map_err(|e| refused(format!("install refused: {e:?}")))?;
                    let id = *ids.first().ok_or_else(|| refused("no site".into()))?;
                    let tasks = site
                        .tasks
                        .iter()
                        .map(new_task)
                        .collect::<Result<Vec<_>, _>>();
                    let tasks = tasks.map_err(&refused)?;
                    let mut task_ids = Vec::with_capacity(tasks.len());
                    for created in create_many_in(tx, id, &tasks, now, quota).await? {
                        match created {
                            Created::Task(task) => task_ids.push(task.id),
                            other => return Err(refused(format!("task not created: {other:?}"))),
                        }
                    }
                    seeded.push(Seeded { site: id, task_ids });
                }
                Ok(seeded)
            })
            .await
            .map_err(|e| match e {
                AppError::Internal(cause) => cause,
                other => other.to_string(),
            })
    }
}

/// What the site's `installed` callback would carry.
fn installation(site: &SeedSite) -> NewInstallation {
    NewInstallation {
        client_key: site.client_key.clone(),
        shared_secret: Secret::new(site.shared_secret.clone()),
        base_url: site.base_url.clone(),
        display_url: None,
        product_type: "confluence".into(),
        description: Some("seeded by the load test".into()),
        oauth_client_id: None,
        server_version: None,
        plugins_version: None,
        sen: None,
        installation_id: None,
        cloud_id: None,
    }
}

fn new_task(task: &SeedTask) -> Result<NewTask, String> {
    Ok(NewTask {
        title: TaskTitle::parse(&task.title)?,
        page_id: None,
        issue: None,
        created_by: Some(task.created_by.clone()),
    })
}
