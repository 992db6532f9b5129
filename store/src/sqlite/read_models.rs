//! Read models published per client in the ledger file: publish (insert or replace) and read.

use rusqlite::{params, Connection};

use crate::error::StoreError;

fn sql_int(value: u64) -> i64 {
    i64::try_from(value).expect("positions fit in SQLite's i64")
}

fn checkpoint(value: i64, name: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| {
        StoreError::Unavailable(format!(
            "read model {name} has a negative checkpoint ({value})"
        ))
    })
}

/// Inserts or replaces one client's published read model.
pub(crate) fn publish(
    conn: &Connection,
    model: &crate::api::ClientReadModel,
    saved_at_micros: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO client_read_models (client_id, name, next_position, body, saved_at)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (client_id, name) DO UPDATE SET
             next_position = excluded.next_position, body = excluded.body, saved_at = excluded.saved_at",
        params![
            model.client_id,
            model.name,
            sql_int(model.next_position),
            model.body,
            saved_at_micros
        ],
    )
    .map_err(StoreError::Sqlite)?;
    Ok(())
}

/// Every read model published for `client_id`, by name.
pub(crate) fn read_models(
    conn: &Connection,
    client_id: &str,
) -> Result<Vec<crate::api::ClientReadModel>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT name, next_position, body FROM client_read_models WHERE client_id = ?1 ORDER BY name",
        )
        .map_err(StoreError::Sqlite)?;
    let rows = stmt
        .query_map([client_id], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, i64>(1)?,
                row.get::<_, String>(2)?,
            ))
        })
        .map_err(StoreError::Sqlite)?;
    let mut out = Vec::new();
    for row in rows {
        let (name, next, body) = row.map_err(StoreError::Sqlite)?;
        out.push(crate::api::ClientReadModel {
            client_id: client_id.to_owned(),
            next_position: checkpoint(next, &name)?,
            name,
            body,
        });
    }
    Ok(out)
}
