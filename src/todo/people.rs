//! Who created a task, by display name: asked of the site (a [`NameSource`]: a Connect site as
//! the app with its shared secret, a Forge site with its app system token;
//! `GET …/rest/api/user?accountId=…`), kept in memory for at most ten minutes, never stored.
//! A page never waits on Confluence for more than [`PAGE_BUDGET`]: a name not found in time is
//! shown as the account id.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use percent_encoding::utf8_percent_encode;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::task::Task;
use crate::connect::Installation;
use crate::connect::host_client::{HostClient, HostClients};
use crate::forge::{CallError, ForgeClient};
use crate::site::SiteId;
use crate::util::url::RFC3986;

/// How long a display name is remembered (personal data: memory only, briefly).
pub const NAME_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a failed lookup is not retried, so a down site does not slow every page.
pub const FAILURE_TTL: Duration = Duration::from_secs(60);
/// The most a page waits for names, all lookups together (they run concurrently).
pub const PAGE_BUDGET: Duration = Duration::from_millis(1500);
/// Distinct accounts looked up for one page at most; the rest show their account id.
const MAX_LOOKUPS_PER_PAGE: usize = 20;
/// Above this many entries, expired ones are dropped.
const MAX_ENTRIES: usize = 50_000;

/// (site, account id) -> (display name, or `None` after a failure; when learnt).
type Entries = HashMap<(SiteId, String), (Option<String>, Instant)>;

/// The in-memory display-name cache, shared by all workers.
#[derive(Default)]
pub struct DisplayNames {
    entries: Mutex<Entries>,
}

/// A task as the API shows it: with its creator's display name (or account id).
#[derive(Serialize)]
pub struct NamedTask<'a> {
    #[serde(flatten)]
    pub task: &'a Task,
    pub created_by_name: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    display_name: Option<String>,
    public_name: Option<String>,
}

/// A site whose users' display names can be asked for. Owned and cloneable, so a lookup can
/// outlive the request that started it.
pub trait NameSource: Clone + 'static {
    /// The site whose users these are (names are kept per site).
    fn site(&self) -> SiteId;
    /// The display name of `account`, or `None` (logged) when the site does not give one.
    fn display_name(&self, account: String) -> impl Future<Output = Option<String>> + 'static;
}

/// A Connect site, asked as the app (JWT signed with its shared secret).
impl NameSource for HostClient {
    fn site(&self) -> SiteId {
        self.installation().site
    }

    fn display_name(&self, account: String) -> impl Future<Output = Option<String>> + 'static {
        let host = self.clone();
        async move {
            let target = format!(
                "/rest/api/user?accountId={}",
                utf8_percent_encode(&account, RFC3986)
            );
            let user = host
                .as_app(Method::GET, &target, None)
                .await
                .and_then(|response| response.json::<User>());
            match user {
                Ok(user) => name_of(user),
                Err(err) => {
                    log::warn!("display name lookup: {err}");
                    None
                }
            }
        }
    }
}

/// A Forge site, asked as the app with its system token (`{apiBaseUrl}/wiki/rest/api/user`).
/// Without a system token in memory nothing is asked and the account id is shown.
impl NameSource for ForgeClient {
    fn site(&self) -> SiteId {
        ForgeClient::site(self)
    }

    fn display_name(&self, account: String) -> impl Future<Output = Option<String>> + 'static {
        let client = self.clone();
        async move {
            let target = format!(
                "/wiki/rest/api/user?accountId={}",
                utf8_percent_encode(&account, RFC3986)
            );
            let user = client
                .as_app(Method::GET, &target, None)
                .await
                .and_then(|response| Ok(response.json::<User>()?));
            match user {
                Ok(user) => name_of(user),
                Err(err @ CallError::NoSystemToken(_)) => {
                    log::debug!("display name lookup: {err}");
                    None
                }
                Err(err) => {
                    log::warn!("display name lookup: {err}");
                    None
                }
            }
        }
    }
}

/// The name to show for a Confluence user: the display name, else the public name, trimmed
/// and at most 255 characters.
fn name_of(user: User) -> Option<String> {
    [user.display_name, user.public_name]
        .into_iter()
        .flatten()
        .map(|n| n.trim().chars().take(255).collect::<String>())
        .find(|n| !n.is_empty())
}

impl DisplayNames {
    /// Names for `accounts` on an installed site, asked of it as the app when not cached.
    pub async fn for_site<'a>(
        &self,
        hosts: &HostClients,
        installation: &Arc<Installation>,
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, String> {
        let host = hosts.for_site(installation.clone());
        self.resolve(&host, accounts).await
    }

    /// Names for `accounts` on this site: cached, else looked up within [`PAGE_BUDGET`].
    /// Accounts without a name (yet) are absent from the answer.
    pub async fn resolve<'a>(
        &self,
        source: &impl NameSource,
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, String> {
        let site = source.site();
        let mut names = HashMap::new();
        let mut missing: Vec<&str> = Vec::new();
        for account in accounts {
            if names.contains_key(account) || missing.contains(&account) {
                continue;
            }
            match self.cached(site, account) {
                Some(Some(name)) => {
                    names.insert(account.to_string(), name);
                }
                Some(None) => {}
                None if missing.len() < MAX_LOOKUPS_PER_PAGE => missing.push(account),
                None => {}
            }
        }
        let lookups = missing.iter().map(|account| async move {
            let lookup = source.display_name(account.to_string());
            let found = actix_web::rt::time::timeout(PAGE_BUDGET, lookup).await;
            (*account, found.unwrap_or(None))
        });
        for (account, found) in join_all(lookups).await {
            self.remember(site, account, found.clone());
            if let Some(name) = found {
                names.insert(account.to_string(), name);
            }
        }
        names
    }

    fn cached(&self, site: SiteId, account: &str) -> Option<Option<String>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (name, at) = entries.get(&(site, account.to_string()))?;
        let ttl = if name.is_some() {
            NAME_TTL
        } else {
            FAILURE_TTL
        };
        (at.elapsed() < ttl).then(|| name.clone())
    }

    fn remember(&self, site: SiteId, account: &str, name: Option<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() > MAX_ENTRIES {
            entries.retain(|_, (_, at)| at.elapsed() < NAME_TTL);
        }
        let key = (site, account.to_string());
        entries.insert(key, (name, Instant::now()));
    }
}

/// Tasks with `created_by_name`: the display name, else the account id.
pub fn named<'a>(tasks: &'a [Task], names: &'a HashMap<String, String>) -> Vec<NamedTask<'a>> {
    tasks
        .iter()
        .map(|task| NamedTask {
            task,
            created_by_name: task
                .created_by
                .as_deref()
                .map(|id| names.get(id).map_or(id, String::as_str)),
        })
        .collect()
}
