//! Rows of a JSON-lines export (`row_to_json` of PostgreSQL, one object per line: the backup
//! taken where pg_dump is missing) back into typed rows of a table, by its spec: each column by
//! name, decoded by its kind, a missing or `null` column as the kind's NULL (refused for a NOT
//! NULL column). Pure; the restore reads the files and inserts through `Store::insert_tables`.

use super::io::Row;
use super::spec::{ColKind, TableSpec};
use crate::error::StoreError;
use sea_orm::Value;

fn bad(spec: &TableSpec, detail: String) -> StoreError {
    StoreError::Invalid { what: "JSON-lines row", detail: format!("{}: {detail}", spec.name) }
}

/// The row of `spec`'s table that `line` (one JSON object) holds, in column order.
pub fn row_from_json(spec: &TableSpec, line: &str) -> Result<Row, StoreError> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| bad(spec, format!("not JSON: {e}")))?;
    let obj = v.as_object().ok_or_else(|| bad(spec, "not a JSON object".into()))?;
    if let Some(k) = obj.keys().find(|k| spec.position(k).is_none()) {
        return Err(bad(spec, format!("unknown column {k:?}")));
    }
    spec.columns
        .iter()
        .map(|c| {
            let field = obj.get(c.name).filter(|f| !f.is_null());
            let Some(f) = field else {
                return if c.nullable {
                    Ok(c.kind.null())
                } else {
                    Err(bad(spec, format!("column {} is NOT NULL but missing", c.name)))
                };
            };
            let wrong = || bad(spec, format!("column {} holds {f}, not a {:?}", c.name, c.kind));
            Ok(match c.kind {
                ColKind::Int64 => Value::BigInt(Some(f.as_i64().ok_or_else(wrong)?)),
                ColKind::Int32 => Value::Int(Some(f.as_i64().and_then(|n| i32::try_from(n).ok()).ok_or_else(wrong)?)),
                ColKind::Double => Value::Double(Some(f.as_f64().ok_or_else(wrong)?)),
                ColKind::Text => Value::String(Some(f.as_str().ok_or_else(wrong)?.to_owned())),
                // PostgreSQL's row_to_json writes bytea as "\\x" and hex.
                ColKind::Bytes => Value::Bytes(Some(
                    f.as_str()
                        .and_then(|t| t.strip_prefix("\\x"))
                        .and_then(|h| hex::decode(h).ok())
                        .ok_or_else(wrong)?,
                )),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::copy::spec::table_spec;

    #[test]
    fn rows_decode_by_column_kind_and_bad_ones_are_refused() {
        let spec = table_spec("users").unwrap();
        // Build a line from the spec itself, so the test follows the schema.
        let mut obj = serde_json::Map::new();
        for (i, c) in spec.columns.iter().enumerate() {
            let v = match c.kind {
                ColKind::Int64 | ColKind::Int32 => serde_json::json!(i as i64 + 1),
                ColKind::Double => serde_json::json!(1.5),
                ColKind::Text => serde_json::json!(format!("t{i}")),
                ColKind::Bytes => serde_json::json!("\\x00ff"),
            };
            obj.insert(c.name.to_string(), v);
        }
        let line = serde_json::Value::Object(obj.clone()).to_string();
        let row = row_from_json(&spec, &line).unwrap();
        assert_eq!(row.len(), spec.columns.len());
        for (i, (c, v)) in spec.columns.iter().zip(&row).enumerate() {
            match c.kind {
                ColKind::Int64 => assert_eq!(v, &Value::BigInt(Some(i as i64 + 1))),
                ColKind::Int32 => assert_eq!(v, &Value::Int(Some(i as i32 + 1))),
                ColKind::Double => assert_eq!(v, &Value::Double(Some(1.5))),
                ColKind::Text => assert_eq!(v, &Value::String(Some(format!("t{i}")))),
                ColKind::Bytes => assert_eq!(v, &Value::Bytes(Some(vec![0, 255]))),
            }
        }
        // NULL where allowed, refused where not.
        for c in &spec.columns {
            let mut o = obj.clone();
            o.insert(c.name.to_string(), serde_json::Value::Null);
            let r = row_from_json(&spec, &serde_json::Value::Object(o).to_string());
            assert_eq!(r.is_ok(), c.nullable, "{}", c.name);
        }
        let mut o = obj.clone();
        o.insert("surprise".into(), serde_json::json!(1));
        assert!(row_from_json(&spec, &serde_json::Value::Object(o).to_string()).is_err());
        let text = spec.columns.iter().find(|c| c.kind == ColKind::Text).unwrap();
        let mut o = obj.clone();
        o.insert(text.name.to_string(), serde_json::json!(7));
        assert!(row_from_json(&spec, &serde_json::Value::Object(o).to_string()).is_err());
        assert!(row_from_json(&spec, "[1,2]").is_err());
        assert!(row_from_json(&spec, "{").is_err());
    }
}
