//! Byte encodings of what the two files and snapshots hold. Decoders never panic: bad bytes are
//! `io::ErrorKind::InvalidData`.

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::types::Entry;

/// First byte of a stored log entry: JSON of the openraft entry (values base64).
const ENTRY_JSON_V1: u8 = 1;

/// Magic and version at the head of snapshot data.
const SNAPSHOT_MAGIC: &[u8; 4] = b"CFSN";
const SNAPSHOT_V1: u32 = 1;

pub(crate) fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// JSON for small meta records (vote, log ids, membership).
pub(crate) fn to_json<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| invalid(format!("encode: {e}")))
}

/// Parses a meta record written by [`to_json`].
pub(crate) fn from_json<T: DeserializeOwned>(bytes: &[u8], what: &str) -> io::Result<T> {
    serde_json::from_slice(bytes).map_err(|e| invalid(format!("decode {what}: {e}")))
}

pub(crate) fn u64_bytes(v: u64) -> [u8; 8] {
    v.to_le_bytes()
}

pub(crate) fn read_u64(bytes: &[u8], what: &str) -> io::Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| invalid(format!("{what}: expected 8 bytes, got {}", bytes.len())))?;
    Ok(u64::from_le_bytes(arr))
}

/// Encodes a log entry for the `raft_log` table.
pub(crate) fn encode_entry(entry: &Entry) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(128);
    out.push(ENTRY_JSON_V1);
    serde_json::to_writer(&mut out, entry)
        .map_err(|e| invalid(format!("encode log entry: {e}")))?;
    Ok(out)
}

/// Decodes a log entry written by [`encode_entry`].
pub(crate) fn decode_entry(bytes: &[u8]) -> io::Result<Entry> {
    match bytes.split_first() {
        Some((&ENTRY_JSON_V1, json)) => {
            serde_json::from_slice(json).map_err(|e| invalid(format!("decode log entry: {e}")))
        }
        Some((v, _)) => Err(invalid(format!("unknown log entry format {v}"))),
        None => Err(invalid("empty log entry")),
    }
}

/// Streams key/value pairs into the snapshot data format:
/// `"CFSN" | version u32 | count u64 | (key_len u32, key, value_len u64, value)*`, all little-endian.
pub(crate) struct SnapshotWriter {
    buf: Vec<u8>,
    count: u64,
}

impl SnapshotWriter {
    pub(crate) fn new() -> Self {
        let mut buf = Vec::with_capacity(4096);
        buf.extend_from_slice(SNAPSHOT_MAGIC);
        buf.extend_from_slice(&SNAPSHOT_V1.to_le_bytes());
        buf.extend_from_slice(&0u64.to_le_bytes()); // count, patched in finish()
        Self { buf, count: 0 }
    }

    pub(crate) fn push(&mut self, key: &str, value: &[u8]) -> io::Result<()> {
        let key_len = u32::try_from(key.len()).map_err(|_| invalid("snapshot key too long"))?;
        self.buf.extend_from_slice(&key_len.to_le_bytes());
        self.buf.extend_from_slice(key.as_bytes());
        self.buf
            .extend_from_slice(&(value.len() as u64).to_le_bytes());
        self.buf.extend_from_slice(value);
        self.count += 1;
        Ok(())
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        if let Some(slot) = self.buf.get_mut(8..16) {
            slot.copy_from_slice(&self.count.to_le_bytes());
        }
        self.buf
    }
}

/// Parses snapshot data, checking every length; returns the key/value pairs in stored (sorted) order.
pub(crate) fn decode_snapshot(data: &[u8]) -> io::Result<Vec<(&str, &[u8])>> {
    let mut r = Reader { rest: data };
    if r.take(4)? != SNAPSHOT_MAGIC {
        return Err(invalid("snapshot: bad magic"));
    }
    let version = u32::from_le_bytes(r.array()?);
    if version != SNAPSHOT_V1 {
        return Err(invalid(format!(
            "snapshot: unknown format version {version}"
        )));
    }
    let count = u64::from_le_bytes(r.array()?);
    // Each pair takes at least 12 bytes, so a bogus count cannot make us allocate much.
    let cap = usize::try_from(count)
        .unwrap_or(usize::MAX)
        .min(r.rest.len() / 12);
    let mut pairs = Vec::with_capacity(cap);
    for _ in 0..count {
        let key_len = u32::from_le_bytes(r.array()?) as usize;
        let key = std::str::from_utf8(r.take(key_len)?)
            .map_err(|_| invalid("snapshot: key is not UTF-8"))?;
        let value_len = usize::try_from(u64::from_le_bytes(r.array()?))
            .map_err(|_| invalid("snapshot: value too long"))?;
        let value = r.take(value_len)?;
        pairs.push((key, value));
    }
    if !r.rest.is_empty() {
        return Err(invalid("snapshot: trailing bytes"));
    }
    Ok(pairs)
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> io::Result<&'a [u8]> {
        if n > self.rest.len() {
            return Err(invalid("snapshot: truncated"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let bytes = self.take(N)?;
        bytes.try_into().map_err(|_| invalid("snapshot: truncated"))
    }
}

#[cfg(test)]
mod tests {
    use openraft::entry::RaftEntry;

    use super::*;
    use crate::types::{Command, TypeConfig, WireOp};

    #[test]
    fn entry_round_trip_uses_base64_values() {
        let value: Vec<u8> = (0..=255u8).collect();
        let cmd = Command::Batch(vec![
            WireOp::Put {
                key: "a/b".into(),
                value: value.clone(),
            },
            WireOp::Delete { key: "c".into() },
        ]);
        let entry = Entry::new_normal(
            openraft::testing::log_id::<TypeConfig>(3, 1, 42),
            cmd.clone(),
        );
        let bytes = encode_entry(&entry).unwrap();
        // 256 bytes as base64 is 344 chars; as a JSON number array it would be ~900.
        assert!(bytes.len() < 600, "{} bytes", bytes.len());
        let back = decode_entry(&bytes).unwrap();
        assert_eq!(back.log_id(), entry.log_id());
        assert!(matches!(back.payload, openraft::EntryPayload::Normal(ref c) if *c == cmd));
    }

    #[test]
    fn bad_entries_rejected() {
        assert!(decode_entry(b"").is_err());
        assert!(decode_entry(b"\x09{}").is_err());
        assert!(decode_entry(b"\x01{not json").is_err());
    }

    #[test]
    fn snapshot_round_trip_and_truncation() {
        let mut w = SnapshotWriter::new();
        w.push("a", b"1").unwrap();
        w.push("b/c", b"").unwrap();
        w.push("d", &[0u8, 255]).unwrap();
        let data = w.finish();
        let pairs = decode_snapshot(&data).unwrap();
        assert_eq!(
            pairs,
            vec![("a", &b"1"[..]), ("b/c", &b""[..]), ("d", &[0u8, 255][..])]
        );

        for cut in 0..data.len() {
            assert!(
                decode_snapshot(&data[..cut]).is_err(),
                "truncated at {cut} accepted"
            );
        }
        let mut trailing = data.clone();
        trailing.push(0);
        assert!(decode_snapshot(&trailing).is_err());
        let mut bad_magic = data;
        bad_magic[0] = b'X';
        assert!(decode_snapshot(&bad_magic).is_err());
    }

    #[test]
    fn empty_snapshot() {
        let data = SnapshotWriter::new().finish();
        assert!(decode_snapshot(&data).unwrap().is_empty());
    }
}
