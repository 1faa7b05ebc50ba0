//! A server-sent events decoder: bytes in, complete `event`/`data` records out.

/// One SSE record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: Option<String>,
    pub data: String,
}

/// Incremental decoder; a record may arrive split across any number of chunks.
#[derive(Debug, Default)]
pub struct SseDecoder {
    buffer: Vec<u8>,
    event: Option<String>,
    data: Vec<String>,
}

/// Bound on one unterminated line, so a hostile stream cannot grow memory without limit.
const MAX_LINE_BYTES: usize = 4 * 1024 * 1024;

impl SseDecoder {
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        self.buffer.extend_from_slice(chunk);
        let mut records = Vec::new();
        while let Some(end) = self.buffer.iter().position(|&byte| byte == b'\n') {
            let mut line: Vec<u8> = self.buffer.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            let line = String::from_utf8(line).map_err(|_| "stream is not valid UTF-8".to_owned())?;
            if let Some(record) = self.line(&line) {
                records.push(record);
            }
        }
        if self.buffer.len() > MAX_LINE_BYTES {
            return Err("stream line exceeds 4 MiB".into());
        }
        Ok(records)
    }

    fn line(&mut self, line: &str) -> Option<SseEvent> {
        if line.is_empty() {
            if self.data.is_empty() {
                self.event = None;
                return None;
            }
            return Some(SseEvent { event: self.event.take(), data: std::mem::take(&mut self.data).join("\n") });
        }
        if line.starts_with(':') {
            return None;
        }
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => self.event = Some(value.to_owned()),
            "data" => self.data.push(value.to_owned()),
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_records_split_anywhere() {
        let stream = b"event: ping\ndata: {\"type\":\"ping\"}\n\n: comment\r\ndata: a\r\ndata: b\r\n\r\n";
        for split in 0..stream.len() {
            let mut decoder = SseDecoder::default();
            let mut records = decoder.push(&stream[..split]).unwrap();
            records.extend(decoder.push(&stream[split..]).unwrap());
            assert_eq!(
                records,
                [
                    SseEvent { event: Some("ping".into()), data: "{\"type\":\"ping\"}".into() },
                    SseEvent { event: None, data: "a\nb".into() },
                ]
            );
        }
    }

    #[test]
    fn refuses_invalid_utf8() {
        assert!(SseDecoder::default().push(b"data: \xff\n\n").is_err());
    }
}
