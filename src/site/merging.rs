//! What merging two rows of one site moves, decided once for both backends: the tables that
//! reference a site (`jwt_tokens`) and how each resolves a conflict. A table the merge does not
//! know makes it refuse, before anything is changed — on either backend — rather than guess
//! whether its rows may move (a unique key of its own could collide, or silently drop rows).

use std::fmt;

/// What happens to a row of the merged site that would duplicate one the surviving site has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnConflict {
    /// No unique key involves the site: every row moves.
    Never,
    /// Unique per site and `key`: the row the surviving site already has wins, and the merged
    /// site's duplicate goes with it (deleted with its row).
    SurvivorWins { key: &'static str },
}

/// A table whose rows belong to a site, through `column`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Moved {
    pub(crate) table: &'static str,
    pub(crate) column: &'static str,
    pub(crate) on_conflict: OnConflict,
}

/// Every table the merge moves (what the migrations created with a reference to `jwt_tokens`).
/// A migration that adds one adds it here, or every merge refuses.
pub(crate) const MOVED: &[Moved] = &[
    Moved {
        table: "tasks",
        column: "site_id",
        on_conflict: OnConflict::Never,
    },
    Moved {
        // A user seen both ways keeps the record of the site it becomes.
        table: "jwt_users",
        column: "site_id",
        on_conflict: OnConflict::SurvivorWins { key: "account_id" },
    },
    Moved {
        // Installation ids are unique on their own; the site they name moves.
        table: "forge_retired_installations",
        column: "site_id",
        on_conflict: OnConflict::Never,
    },
];

/// A reference to `jwt_tokens` the merge does not know how to move: the merge refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnknownReference {
    table: String,
    column: String,
}

impl fmt::Display for UnknownReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{} references jwt_tokens and the merge does not know how to move its rows \
             (add it to site::merging::MOVED)",
            self.table, self.column
        )
    }
}

/// The moves for the references the schema has (`(table, column)`, as the database lists
/// them), in [`MOVED`]'s order; refused at the first reference the merge does not know.
pub(crate) fn plan(
    references: &[(String, String)],
) -> Result<Vec<&'static Moved>, UnknownReference> {
    if let Some((table, column)) = references.iter().find(|(table, column)| {
        !MOVED
            .iter()
            .any(|known| known.table == table && known.column == column)
    }) {
        return Err(UnknownReference {
            table: table.clone(),
            column: column.clone(),
        });
    }
    Ok(MOVED
        .iter()
        .filter(|known| {
            references
                .iter()
                .any(|(table, column)| known.table == table && known.column == column)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(table: &str, column: &str) -> (String, String) {
        (table.to_string(), column.to_string())
    }

    #[test]
    fn the_known_references_move_in_one_order_whatever_order_the_database_lists_them() {
        let listed = [
            reference("forge_retired_installations", "site_id"),
            reference("jwt_users", "site_id"),
            reference("tasks", "site_id"),
        ];
        let tables: Vec<_> = plan(&listed).unwrap().iter().map(|m| m.table).collect();
        assert_eq!(
            tables,
            ["tasks", "jwt_users", "forge_retired_installations"]
        );
    }

    #[test]
    fn an_unknown_reference_refuses_the_merge() {
        let listed = [
            reference("tasks", "site_id"),
            reference("notes", "site_id"),
            reference("jwt_users", "owner_site"),
        ];
        let refused = plan(&listed).unwrap_err();
        assert_eq!(
            refused,
            UnknownReference {
                table: "notes".into(),
                column: "site_id".into()
            }
        );
        assert!(refused.to_string().contains("notes.site_id"));
    }
}
