//! A successful answer turned into the tool's result: what kind of content it is (HTML, text,
//! or something the model cannot read, which is reported without being downloaded), its body
//! read up to the cap and decoded, and the result composed within the text limit.

use std::time::Instant;

use reqwest::Url;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};

use super::super::round::cut;
use super::{FetchError, MAX_READ_BYTES, html};

/// A `<title>` longer than this is cut: it is a line of the header, not the page.
const MAX_TITLE_CHARS: usize = 300;
/// Room kept for the note `cut` adds when the text is too long.
const CUT_NOTE_BYTES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Html,
    Text,
    /// No content type: decided from the first bytes.
    Unknown,
    Binary,
}

/// The kind a content type announces.
fn kind(content_type: Option<&str>) -> Kind {
    let Some(content_type) = content_type else {
        return Kind::Unknown;
    };
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    match (kind, subtype) {
        ("", _) => Kind::Unknown,
        ("text", "html") | ("application", "xhtml+xml") => Kind::Html,
        ("text", _) => Kind::Text,
        ("application", subtype)
            if subtype.ends_with("+json")
                || subtype.ends_with("+xml")
                || matches!(
                    subtype,
                    "json"
                        | "xml"
                        | "javascript"
                        | "ecmascript"
                        | "x-javascript"
                        | "yaml"
                        | "x-yaml"
                        | "toml"
                        | "x-ndjson"
                        | "sql"
                        | "graphql"
                ) =>
        {
            Kind::Text
        }
        _ => Kind::Binary,
    }
}

/// What the first bytes of a body without a content type look like.
fn sniff(body: &[u8]) -> Kind {
    let start = &body[..body.len().min(1024)];
    if start.contains(&0) {
        return Kind::Binary;
    }
    let head = String::from_utf8_lossy(start).trim_start_matches('\u{feff}').trim_start().to_ascii_lowercase();
    if head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<body") {
        return Kind::Html;
    }
    let valid = match std::str::from_utf8(start) {
        Ok(_) => true,
        // A character cut at the end of the sample is still text.
        Err(error) => error.error_len().is_none(),
    };
    if valid { Kind::Text } else { Kind::Binary }
}

/// The body as text: Latin-1 when the content type says so (every byte is a character),
/// otherwise UTF-8 with anything invalid replaced.
fn decode(body: &[u8], content_type: Option<&str>) -> String {
    let charset = content_type
        .and_then(|content_type| {
            content_type.split(';').skip(1).find_map(|parameter| {
                let (name, value) = parameter.split_once('=')?;
                name.trim().eq_ignore_ascii_case("charset").then(|| value.trim().trim_matches('"').to_ascii_lowercase())
            })
        })
        .unwrap_or_default();
    if matches!(charset.as_str(), "iso-8859-1" | "latin1" | "latin-1" | "windows-1252" | "cp1252" | "us-ascii") {
        body.iter().map(|byte| char::from(*byte)).collect()
    } else {
        String::from_utf8_lossy(body).into_owned()
    }
}

/// Reads the body of a successful answer from `url` and composes the result within `max_bytes`.
pub(super) async fn read(
    mut response: reqwest::Response,
    url: &Url,
    max_bytes: usize,
    deadline: Instant,
) -> Result<String, FetchError> {
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(|value| value.trim().chars().take(200).collect::<String>());
    let announced = kind(content_type.as_deref());
    let not_text = |size: Option<u64>| FetchError::NotText {
        url: url.to_string(),
        content_type: content_type.clone().unwrap_or_else(|| "unknown binary".into()),
        size,
    };
    if announced == Kind::Binary {
        let size = response.headers().get(CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse().ok());
        return Err(not_text(size));
    }
    let mut body = Vec::new();
    let mut read_cut = false;
    loop {
        let chunk = response.chunk().await.map_err(|error| FetchError::Request {
            url: url.to_string(),
            reason: format!("reading the body: {error}"),
        })?;
        let Some(chunk) = chunk else { break };
        body.extend_from_slice(&chunk);
        if body.len() > MAX_READ_BYTES {
            body.truncate(MAX_READ_BYTES);
            read_cut = true;
            break;
        }
    }
    let kind = match announced {
        Kind::Unknown => sniff(&body),
        known => known,
    };
    if kind == Kind::Binary {
        return Err(not_text(Some(body.len() as u64)));
    }
    let text = decode(&body, content_type.as_deref());
    let (title, text, stopped) = match kind {
        Kind::Html => {
            let base = url.clone();
            let page =
                tokio::task::spawn_blocking(move || html::to_markdown(&text, &base, deadline)).await.map_err(|_| {
                    FetchError::Request { url: url.to_string(), reason: "the page could not be converted".into() }
                })?;
            (page.title, page.markdown, page.stopped)
        }
        _ => (None, text, None),
    };
    let mut notes = Vec::new();
    if read_cut {
        notes.push(format!(
            "[cut: the page is longer than {MAX_READ_BYTES} bytes; only the first {MAX_READ_BYTES} were read]"
        ));
    }
    if let Some(stopped) = stopped {
        notes.push(format!("[cut: {stopped}; only its start is shown]"));
    }
    Ok(compose(url, content_type.as_deref(), title, text, &notes, max_bytes))
}

/// `URL: … · content-type: …`, the title, the text cut to fit `max_bytes`, and the notes on
/// what was not read.
fn compose(
    url: &Url,
    content_type: Option<&str>,
    title: Option<String>,
    text: String,
    notes: &[String],
    max_bytes: usize,
) -> String {
    let mut header = format!("URL: {url} · content-type: {}\n", content_type.unwrap_or("unknown"));
    if let Some(title) = title {
        let title: String = title.chars().take(MAX_TITLE_CHARS).collect();
        header.push_str(&format!("Title: {title}\n"));
    }
    header.push('\n');
    let notes: String = notes.iter().map(|note| format!("\n{note}")).collect();
    let room = max_bytes.saturating_sub(header.len() + notes.len());
    let text = if text.len() > room { cut(text, room.saturating_sub(CUT_NOTE_BYTES)) } else { text };
    format!("{header}{text}{notes}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_decide_what_is_read() {
        assert_eq!(kind(Some("text/html; charset=utf-8")), Kind::Html);
        assert_eq!(kind(Some("Application/XHTML+XML")), Kind::Html);
        for text in [
            "text/plain",
            "text/markdown",
            "text/csv",
            "application/json",
            "application/ld+json",
            "application/rss+xml",
        ] {
            assert_eq!(kind(Some(text)), Kind::Text, "{text}");
        }
        for binary in ["image/png", "application/pdf", "application/octet-stream", "video/mp4", "image/svg+xml"] {
            assert_eq!(kind(Some(binary)), Kind::Binary, "{binary}");
        }
        assert_eq!(kind(None), Kind::Unknown);
        assert_eq!(kind(Some("")), Kind::Unknown);
    }

    #[test]
    fn a_body_without_a_content_type_is_sniffed() {
        assert_eq!(sniff(b"\xef\xbb\xbf  <!DOCTYPE html><p>x"), Kind::Html);
        assert_eq!(sniff(b"plain words"), Kind::Text);
        assert_eq!(sniff("caf\u{e9}".as_bytes()), Kind::Text);
        assert_eq!(sniff(&"\u{e9}".as_bytes()[..1]), Kind::Text, "a character cut at the end");
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Kind::Binary);
        assert_eq!(sniff(b"\xff\xfe\xfd text"), Kind::Binary);
    }

    #[test]
    fn latin1_is_decoded_when_declared() {
        assert_eq!(decode(b"caf\xe9", Some("text/plain; charset=ISO-8859-1")), "café");
        assert_eq!(decode(b"caf\xe9", Some("text/plain")), "caf\u{fffd}");
        assert_eq!(decode("café".as_bytes(), Some("text/plain; charset=\"utf-8\"")), "café");
    }

    #[test]
    fn the_result_fits_the_limit_and_says_what_was_cut() {
        let url = Url::parse("https://example.com/a").unwrap();
        let short = compose(&url, Some("text/plain"), Some("T".into()), "hello".into(), &[], 1_000);
        assert_eq!(short, "URL: https://example.com/a · content-type: text/plain\nTitle: T\n\nhello");
        let long = compose(&url, None, None, "é".repeat(5_000), &["[cut: the page is longer]".into()], 1_000);
        assert!(long.len() <= 1_000, "{} bytes", long.len());
        assert!(long.starts_with("URL: https://example.com/a · content-type: unknown\n\néé"));
        assert!(long.contains("[cut: the result was 10000 bytes"), "{long}");
        assert!(long.ends_with(" are shown]\n[cut: the page is longer]"), "{long}");
    }
}
