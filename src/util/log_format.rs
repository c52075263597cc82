//! `LOG_FORMAT=json`: each log line as one JSON object — `time` (RFC 3339, UTC), `level`,
//! `target`, `message`, and the record's key-values (the access log's `method`, `route`,
//! `status`, `ms`, `request_id`). serde_json does every escape; nothing here builds JSON by
//! hand. The text format is env_logger's own and ignores the key-values.
//!
//! Any other line written while a request's handler runs on its async worker carries the
//! request's id too ([`with_request_id`]); lines from the blocking pool (SQLite work) do not.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use log::kv::{Key, Value, VisitSource};
use serde_json::{Map, Value as Json};

static JSON: AtomicBool = AtomicBool::new(false);

tokio::task_local! {
    /// The id of the request whose handler is running (JSON lines only).
    static REQUEST_ID: String;
}

/// Runs `work` (a request's handler) so that the JSON lines it writes carry `id`; with the text
/// format it runs as it is.
pub(crate) async fn with_request_id<F: std::future::Future>(id: &str, work: F) -> F::Output {
    if is_json() {
        REQUEST_ID.scope(id.to_owned(), work).await
    } else {
        work.await
    }
}

/// Records that lines are written as JSON (`main`, before the first line): the access log
/// then also works out the route template its line carries.
pub fn set_json() {
    JSON.store(true, Ordering::Relaxed);
}

/// Whether lines are written as JSON.
pub(crate) fn is_json() -> bool {
    JSON.load(Ordering::Relaxed)
}

/// Writes `record` as one JSON object and a newline (the formatter `main` gives env_logger).
pub fn write_json(out: &mut dyn Write, record: &log::Record<'_>) -> io::Result<()> {
    let mut line = Map::new();
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    line.insert("time".into(), Json::String(time));
    line.insert("level".into(), Json::String(record.level().to_string()));
    line.insert("target".into(), Json::String(record.target().to_owned()));
    line.insert("message".into(), Json::String(record.args().to_string()));
    let mut fields = Fields(&mut line);
    // A value that cannot be visited is left out; the line itself is still written.
    let _ = record.key_values().visit(&mut fields);
    if !line.contains_key("request_id") {
        let _ = REQUEST_ID.try_with(|id| line.insert("request_id".into(), Json::from(id.as_str())));
    }
    serde_json::to_writer(&mut *out, &line)?;
    out.write_all(b"\n")
}

/// Collects a record's key-values as JSON numbers where they are numbers, else strings. The
/// four fixed fields are never overwritten by a key-value of the same name.
struct Fields<'a>(&'a mut Map<String, Json>);

impl<'kvs> VisitSource<'kvs> for Fields<'_> {
    fn visit_pair(&mut self, key: Key<'kvs>, value: Value<'kvs>) -> Result<(), log::kv::Error> {
        let json = if let Some(n) = value.to_u64() {
            Json::from(n)
        } else if let Some(n) = value.to_i64() {
            Json::from(n)
        } else if let Some(x) = value.to_f64() {
            serde_json::Number::from_f64(x).map_or(Json::Null, Json::Number)
        } else {
            Json::String(value.to_string())
        };
        self.0.entry(key.as_str()).or_insert(json);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_one_json_object_with_the_fields_and_escapes() {
        let mut out = Vec::new();
        let kvs: &[(&str, Value<'_>)] = &[
            ("status", Value::from(404u16)),
            ("ms", Value::from(1.25f64)),
            ("route", Value::from("/a/{id}")),
            ("level", Value::from("not the level")),
        ];
        let record = log::Record::builder()
            .level(log::Level::Warn)
            .target("todo_connect::access")
            .args(format_args!("quote \" newline \n tab \t end"))
            .key_values(&kvs)
            .build();
        write_json(&mut out, &record).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches('\n').count(), 1, "{text}");
        let line: Json = serde_json::from_str(text.trim_end()).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["target"], "todo_connect::access");
        assert_eq!(line["message"], "quote \" newline \n tab \t end");
        assert_eq!(line["status"], 404);
        assert_eq!(line["ms"], 1.25);
        assert_eq!(line["route"], "/a/{id}");
        let time = line["time"].as_str().unwrap();
        time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339).unwrap();
    }

    #[actix_web::test]
    async fn lines_written_inside_a_request_carry_its_id() {
        let record = |out: &mut Vec<u8>| {
            let record = log::Record::builder().args(format_args!("inside")).build();
            write_json(out, &record).unwrap();
        };
        let mut inside = Vec::new();
        REQUEST_ID
            .scope("req-7".to_owned(), async { record(&mut inside) })
            .await;
        let line: Json = serde_json::from_slice(&inside).unwrap();
        assert_eq!(line["request_id"], "req-7");
        let mut outside = Vec::new();
        record(&mut outside);
        let line: Json = serde_json::from_slice(&outside).unwrap();
        assert!(line.get("request_id").is_none(), "{line}");
    }
}
