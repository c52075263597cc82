//! How many sites are in each pair of way-in states, for the metrics: counts only, never a
//! site's identity, so it is the one read of the sites store that spans every site.

use crate::db::Db;
use crate::error::Result;
use crate::site::ways_in::State;

const COUNT_BY_STATE: &str = "SELECT connect_state, forge_state, count(*) FROM jwt_tokens \
     GROUP BY connect_state, forge_state";

/// The sites per (Connect state, Forge state); `None` is a way in the site never had.
pub(crate) async fn count_by_state(db: &Db) -> Result<Vec<(Option<State>, Option<State>, i64)>> {
    db.read(async move |tx| {
        tx.query(COUNT_BY_STATE, &[], |row| {
            let state = |i| -> Result<Option<State>> {
                Ok(State::parse(row.get::<Option<String>>(i)?.as_deref()))
            };
            Ok((state(0)?, state(1)?, row.get::<i64>(2)?))
        })
        .await
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_statement_means_the_same_on_both_backends() {
        crate::db::assert_shared_sql(&[COUNT_BY_STATE]);
    }
}
