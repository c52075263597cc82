//! Who created a task, by display name: asked of the site (a [`NameSource`]: a Connect site as
//! the app with its shared secret, a Forge site with its app system token;
//! `GET …/rest/api/user?accountId=…`), kept in memory for at most ten minutes, never stored.
//!
//! How long a render waits for a name — the choice, and why (measured in
//! docs/performance.md):
//!
//! - **One lookup per name.** Names live in a single-flight cache ([`FlightCache`]): renders
//!   that need the same unknown name share one lookup. The lookup runs as its own task, so a
//!   render that stops waiting does not cancel it, and its answer fills the cache for the
//!   renders after it.
//! - **One waiting request per site.** Only a request that *starts* lookups may wait for them
//!   (at most [`PAGE_BUDGET`], all of them together), and only one request of a site waits at a
//!   time. Every other render goes ahead at once and shows the account id for a name not known
//!   yet; later renders show the name.
//! - **A slow site is not waited for.** When a site makes its waiting request use up the whole
//!   budget (or a lookup of it takes longer than the budget), no request waits for that site for
//!   [`FAILURE_TTL`]; its lookups still run, in the background, and fill the cache. A lookup
//!   that answers within the budget makes the site worth waiting for again.
//!
//! So a slow or down Confluence costs one waiting request per site (and again at most once a
//! minute while it stays slow), never every render, and no request waits longer than the page
//! budget. Waiting at all is worth it for the first render on a healthy site: the lookup takes
//! milliseconds, and the name is shown at once instead of the account id. Never waiting would
//! keep the tail equally low, but every first view of a page would show ids.

mod patience;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use futures_util::future::join_all;
use percent_encoding::utf8_percent_encode;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use super::task::Task;
use crate::connect::Installation;
use crate::connect::host_client::{HostClient, HostClients};
use crate::forge::{CallError, ForgeClient, Product};
use crate::site::SiteId;
use crate::util::flight::{FlightCache, Loaded, Peek};
use crate::util::url::RFC3986;
use patience::SitePatience;

/// How long a display name is remembered (personal data: memory only, briefly).
const NAME_TTL: Duration = Duration::from_secs(10 * 60);
/// How long a failed lookup is not retried, and a slow site not waited for.
const FAILURE_TTL: Duration = Duration::from_secs(60);
/// The most a request waits for names, all lookups together (they run concurrently).
const PAGE_BUDGET: Duration = Duration::from_millis(1500);
/// Distinct accounts looked up for one page at most; the rest show their account id.
const MAX_LOOKUPS_PER_PAGE: usize = 20;
/// Names (and remembered failures) kept at most.
const MAX_ENTRIES: usize = 50_000;

/// (site, account id).
type Key = (SiteId, String);

/// A lookup that gave no name: the site failed, timed out, or gave none for the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct NoName;

/// The in-memory display-name cache, shared by all workers.
pub struct DisplayNames {
    names: FlightCache<Key, String, NoName>,
    patience: Arc<SitePatience>,
    budget: Duration,
}

impl Default for DisplayNames {
    fn default() -> Self {
        Self::with_budget(PAGE_BUDGET)
    }
}

/// A task as the API shows it: with its creator's display name (or account id).
#[derive(Serialize)]
pub(crate) struct NamedTask<'a> {
    #[serde(flatten)]
    task: &'a Task,
    created_by_name: Option<&'a str>,
}

#[derive(Deserialize, Default)]
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

/// Jira's bulk user answer (`GET /rest/api/3/user/bulk`).
#[derive(Deserialize)]
struct JiraUsers {
    #[serde(default)]
    values: Vec<User>,
}

/// A Forge site, asked as the app with the system token of the product the call came from:
/// Confluence (`{apiBaseUrl}/wiki/rest/api/user`) or Jira (`{apiBaseUrl}/rest/api/3/user/bulk`,
/// scope `read:jira-user`). Without a system token in memory nothing is asked and the account
/// id is shown.
impl NameSource for ForgeClient {
    fn site(&self) -> SiteId {
        ForgeClient::site(self)
    }

    fn display_name(&self, account: String) -> impl Future<Output = Option<String>> + 'static {
        let client = self.clone();
        async move {
            let id = utf8_percent_encode(&account, RFC3986);
            let user = match client.product() {
                Product::Confluence => client
                    .as_app(
                        Method::GET,
                        &format!("/wiki/rest/api/user?accountId={id}"),
                        None,
                    )
                    .await
                    .and_then(|response| Ok(response.json::<User>()?)),
                Product::Jira => client
                    .as_app(
                        Method::GET,
                        &format!("/rest/api/3/user/bulk?accountId={id}"),
                        None,
                    )
                    .await
                    .and_then(|response| Ok(response.json::<JiraUsers>()?))
                    .map(|users| users.values.into_iter().next().unwrap_or_default()),
            };
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
    /// A cache whose waiting request waits at most `budget` ([`PAGE_BUDGET`] in the app).
    fn with_budget(budget: Duration) -> Self {
        Self {
            names: FlightCache::new(MAX_ENTRIES),
            patience: Arc::default(),
            budget,
        }
    }

    /// Names for `accounts` on an installed site, asked of it as the app when not cached.
    pub(crate) async fn for_site<'a>(
        &self,
        hosts: &HostClients,
        installation: &Arc<Installation>,
        accounts: impl IntoIterator<Item = &'a str>,
    ) -> HashMap<String, String> {
        let host = hosts.for_site(installation.clone());
        self.resolve(&host, accounts).await
    }

    /// Names for `accounts` on this site that are known now, or — for the one request of the
    /// site allowed to wait — learnt within the budget. Accounts without a name (yet) are absent
    /// from the answer; their lookups go on and fill the cache for later renders.
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
            match self.names.peek(&(site, account.to_string())) {
                Peek::Ready(Ok(name)) => {
                    names.insert(account.to_string(), name);
                }
                // Remembered failure, or someone else's lookup under way: do not wait for it.
                Peek::Ready(Err(NoName)) | Peek::Loading => {}
                Peek::Missing if missing.len() < MAX_LOOKUPS_PER_PAGE => missing.push(account),
                Peek::Missing => {}
            }
        }
        if missing.is_empty() {
            return names;
        }
        let Some(_turn) = self.patience.take_turn(site) else {
            // Another request of this site is waiting, or the site is slow: start the lookups
            // (polled once, so each is spawned) and render without them.
            for account in missing {
                let _ = self.lookup(source, account).now_or_never();
            }
            return names;
        };
        // All lookups start together, so each one's budget ends at the same moment.
        let lookups = missing.iter().map(|account| async move {
            let found = actix_web::rt::time::timeout(self.budget, self.lookup(source, account));
            (*account, found.await)
        });
        let mut gave_up = false;
        for (account, found) in join_all(lookups).await {
            match found {
                Ok(Ok(name)) => {
                    names.insert(account.to_string(), name);
                }
                Ok(Err(NoName)) => {}
                Err(_) => gave_up = true,
            }
        }
        if gave_up {
            self.patience.too_slow(site);
        }
        names
    }

    /// The name of `account`: kept, or the lookup under way, or a new lookup (its own task).
    fn lookup(
        &self,
        source: &impl NameSource,
        account: &str,
    ) -> impl Future<Output = Result<String, NoName>> {
        let site = source.site();
        let key = (site, account.to_string());
        let (source, account) = (source.clone(), account.to_string());
        let (patience, budget) = (self.patience.clone(), self.budget);
        let load = move || async move {
            let started = Instant::now();
            let found = source.display_name(account).await;
            patience.answered(site, started.elapsed() <= budget);
            match found {
                Some(name) => Loaded {
                    result: Ok(name),
                    keep_for: NAME_TTL,
                },
                None => Loaded {
                    result: Err(NoName),
                    keep_for: FAILURE_TTL,
                },
            }
        };
        async move { self.names.get(&key, load, NoName).await }
    }
}

/// Tasks with `created_by_name`: the display name, else the account id.
pub(crate) fn named<'a>(
    tasks: &'a [Task],
    names: &'a HashMap<String, String>,
) -> Vec<NamedTask<'a>> {
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
