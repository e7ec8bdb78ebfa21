//! Version 2 `config`: engine-wide version limit, CAS requirement and automatic deletion.

use engine_sdk::{EngineError, Request, Response, Storage, field};
use serde_json::{Map, Value};

use crate::backend::KvV2;
use crate::error::KvError;
use crate::store::{CONFIG_KEY, DVA_DISABLED, go_seconds, int_field, load_config, to_bytes};

/// GET: the current settings.
pub(crate) async fn read(req: &Request<'_>) -> Result<Response, EngineError> {
    let config = load_config(req.storage).await?;
    let mut data = Map::new();
    data.insert("max_versions".into(), config.max_versions.into());
    data.insert("cas_required".into(), config.cas_required.into());
    data.insert(
        "metadata_cas_required".into(),
        config.metadata_cas_required.into(),
    );
    data.insert(
        "delete_version_after".into(),
        go_seconds(config.delete_version_after).into(),
    );
    Ok(Response::data(data))
}

/// POST: changes the settings given; a negative `delete_version_after` disables it for every key, zero clears it.
pub(crate) async fn write(b: &KvV2, req: &Request<'_>) -> Result<Response, EngineError> {
    let max = max_versions(req.data)?;
    let cas = field::boolean(req.data, "cas_required")?;
    let metadata_cas = field::boolean(req.data, "metadata_cas_required")?;
    let dva = signed_seconds(req.data, "delete_version_after")?;
    if max.is_none() && cas.is_none() && metadata_cas.is_none() && dva.is_none() {
        return Ok(Response::default());
    }
    let _guard = b.config_lock.lock().await;
    let mut config = load_config(req.storage).await?;
    if let Some(m) = max {
        config.max_versions = m;
    }
    if let Some(c) = cas {
        config.cas_required = c;
    }
    if let Some(c) = metadata_cas {
        config.metadata_cas_required = c;
    }
    if let Some(d) = dva {
        config.delete_version_after = if d < 0 { DVA_DISABLED } else { d };
    }
    req.storage.put(CONFIG_KEY, &to_bytes(&config)?).await?;
    Ok(Response::default())
}

/// `max_versions`: a non-negative integer that fits OpenBao's 32 bits.
pub(crate) fn max_versions(data: &Map<String, Value>) -> Result<Option<u32>, KvError> {
    match int_field(data, "max_versions")? {
        None => Ok(None),
        Some(v) => u32::try_from(v).map(Some).map_err(|_| {
            KvError::InvalidField("field \"max_versions\" must be a non-negative integer".into())
        }),
    }
}

/// A duration that may be negative (whole seconds): a number of seconds or a Go duration string.
fn signed_seconds(data: &Map<String, Value>, name: &str) -> Result<Option<i64>, KvError> {
    let bad = || KvError::InvalidField(format!("field {name:?} must be a duration"));
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            })
            .map(Some)
            .ok_or_else(bad),
        Some(Value::String(s)) => {
            let s = s.trim();
            let (neg, rest) = match s.strip_prefix('-') {
                Some(r) => (true, r),
                None => (false, s),
            };
            let d = api_spec::duration::parse(rest).map_err(|_| bad())?;
            let secs = i64::try_from(d.as_secs()).map_err(|_| bad())?;
            Ok(Some(if neg { -secs } else { secs }))
        }
        Some(_) => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn signed_durations() {
        let d = json!({"a": "3h25m19s", "b": "-1s", "c": -5, "d": "0", "e": "nope", "f": 30});
        let d = d.as_object().unwrap();
        assert_eq!(signed_seconds(d, "a").unwrap(), Some(12_319));
        assert_eq!(signed_seconds(d, "b").unwrap(), Some(-1));
        assert_eq!(signed_seconds(d, "c").unwrap(), Some(-5));
        assert_eq!(signed_seconds(d, "d").unwrap(), Some(0));
        assert!(signed_seconds(d, "e").is_err());
        assert_eq!(signed_seconds(d, "f").unwrap(), Some(30));
        assert_eq!(signed_seconds(d, "missing").unwrap(), None);
    }
}
