//! Changes to an installed site's Connect way in after its install (uninstall, enable,
//! disable), on either backend, and hearing the changes other replicas make.

use crate::db::{Db, Stamp};
use crate::error::Result;
use crate::site::SiteId;

/// Marks the Connect way in uninstalled and erases its secret; tasks are kept. The site stays
/// installed while Forge still is (a Connect app retired after the move to Forge: its tasks
/// stay reachable through Forge, and `purge` does not take it). PostgreSQL types the
/// parameters of every `SET` expression before assigning any, so a bare `$1` in the `CASE`
/// would be text: `COALESCE` with the column types it (`$1` is never NULL).
const MARK_UNINSTALLED: &str = "UPDATE jwt_tokens SET connect_uninstalled_at = $1,
         updated_at = $1,
         uninstalled_at = CASE WHEN forge_state = 'installed' THEN NULL
                               ELSE COALESCE($1, uninstalled_at) END,
         installed = CASE WHEN forge_state = 'installed' THEN true ELSE false END,
         enabled = false, shared_secret = NULL, connect_state = 'uninstalled'
     WHERE addon_key = $2 AND client_key = $3 AND shared_secret IS NOT NULL";

/// Enables or disables an installed site.
const SET_ENABLED: &str = "UPDATE jwt_tokens SET enabled = $1, updated_at = $2
     WHERE addon_key = $3 AND client_key = $4 AND installed = true";

/// A lifecycle change to an installed site's Connect way in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SiteChange {
    /// `uninstalled`: erase the secret, keep the tasks.
    Uninstall,
    /// `enabled` (true) / `disabled` (false).
    Enable(bool),
}

/// Applies one lifecycle change in one transaction, telling the other replicas when it changed
/// something; `false` when nothing changed (idempotent).
pub(crate) async fn change(
    db: &Db,
    addon_key: &str,
    client_key: &str,
    change: SiteChange,
) -> Result<bool> {
    let (addon_key, client_key) = (addon_key.to_string(), client_key.to_string());
    let now = Stamp::now();
    db.write(async move |tx| {
        let changed = match change {
            SiteChange::Uninstall => {
                tx.execute(MARK_UNINSTALLED, &[&now, &addon_key, &client_key])
                    .await?
            }
            SiteChange::Enable(on) => {
                tx.execute(SET_ENABLED, &[&on, &now, &addon_key, &client_key])
                    .await?
            }
        };
        if changed > 0 {
            tx.notify_site_changed(&client_key).await?;
        }
        Ok(changed > 0)
    })
    .await
}

/// A change another replica made, as [`hear_changes`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Heard<'a> {
    /// Hearing (again): anything before may have been missed.
    Listening,
    /// Not hearing: changes are being missed until the next `Listening`.
    Lost,
    /// Some site changed, which one unknown (an older replica's Forge change).
    SomeSite,
    /// This site's identities changed.
    Site(SiteId),
    /// The Connect installation of this client key changed.
    ClientKey(&'a str),
    /// A task of this site (`Some(id)`), or any of its tasks (`None`), changed.
    Tasks(SiteId, Option<i64>),
}

/// Whether other replicas may share this database (PostgreSQL): a cache then trusts itself
/// only while it hears their changes.
pub(crate) fn replicated(db: &Db) -> bool {
    db.replicated()
}

/// On PostgreSQL, starts hearing the other replicas' site changes on the current runtime,
/// calling `on` for each; on SQLite (one server) there is nothing to hear.
pub(crate) fn hear_changes(db: &Db, on: impl Fn(Heard<'_>) + 'static) {
    use crate::db::postgres::{SITE_CHANGES_CHANNEL, listen::Event, payload_site, payload_tasks};
    db.listen(SITE_CHANGES_CHANNEL, move |event| {
        on(match event {
            Event::Listening => Heard::Listening,
            Event::Lost => Heard::Lost,
            Event::Notified("") => Heard::SomeSite,
            Event::Notified(payload) => match (payload_site(payload), payload_tasks(payload)) {
                (Some(site), _) => Heard::Site(site),
                (None, Some((site, task))) => Heard::Tasks(site, task),
                (None, None) => Heard::ClientKey(payload),
            },
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_statements_number_their_parameters_as_postgresql_does() {
        crate::db::assert_shared_sql(&[MARK_UNINSTALLED, SET_ENABLED]);
    }
}
