//! A fetched HTML page as Markdown for the model: its title, its text with headings, lists,
//! tables and links, and nothing of its scripts, styles or other markup that is not reading
//! matter. Links and images are made absolute against the page's final URL and inline `data:`
//! images are dropped.
//!
//! A hostile page must not cost more than a bounded effort. html5ever's tree builder scans its
//! stack of open elements for many tags (a page of 100,000 nested `<div>` takes minutes), so the
//! page is parsed in slices and the parse stops once more than [`MAX_OPEN_ELEMENTS`] are open
//! or the deadline has passed, keeping what was read; and htmd recurses once per level, so
//! what is nested deeper than [`MAX_DEPTH`] is flattened to its text before it converts.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Instant;

use htmd::{HtmlToMarkdown, Node};
use html5ever::tendril::{StrTendril, TendrilSink};
use html5ever::tree_builder::Tracer;
use html5ever::{ParseOpts, parse_document};
use markup5ever_rcdom::{Handle, NodeData, RcDom};
use reqwest::Url;

/// Elements whose content is not reading matter.
const SKIPPED: &[&str] =
    &["head", "script", "style", "noscript", "template", "svg", "math", "iframe", "object", "canvas", "select"];

/// Elements nested deeper than this keep only their text. Pages people read stay far below it.
const MAX_DEPTH: usize = 96;
/// The parse stops when the tree builder holds more elements than this (open ones, plus the
/// formatting ones it may reopen).
pub const MAX_OPEN_ELEMENTS: usize = 256;
/// The page is handed to the parser this many bytes at a time, and the bounds checked between.
const SLICE_BYTES: usize = 4 * 1024;

/// A page's title, if it has one, its content as Markdown, and why the parse stopped early.
#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    pub title: Option<String>,
    pub markdown: String,
    pub stopped: Option<Stopped>,
}

/// Why only the start of a page was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopped {
    Nesting,
    Deadline,
}

impl std::fmt::Display for Stopped {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Nesting => write!(formatter, "the page nests more than {MAX_OPEN_ELEMENTS} elements"),
            Self::Deadline => write!(formatter, "the page took too long to read"),
        }
    }
}

/// Converts `html`, fetched from `base`, giving up on the rest of the page at `deadline`.
pub fn to_markdown(html: &str, base: &Url, deadline: Instant) -> Page {
    let (tree, stopped) = parse(html, deadline);
    let title = prepare(&tree, base);
    let converter = HtmlToMarkdown::builder().skip_tags(SKIPPED.to_vec()).build();
    let markdown = converter.tree_to_markdown(&tree);
    Page { title, markdown: tidy(&markdown), stopped }
}

/// Counts the elements the tree builder holds.
struct Held(Cell<usize>);

impl Tracer for Held {
    type Handle = Handle;

    fn trace_handle(&self, _: &Handle) {
        self.0.set(self.0.get() + 1);
    }
}

/// The page's tree, parsed a slice at a time until it ends or a bound is crossed.
fn parse(html: &str, deadline: Instant) -> (Rc<Node>, Option<Stopped>) {
    let mut parser = parse_document(RcDom::default(), ParseOpts::default());
    let mut rest = html;
    let mut stopped = None;
    while !rest.is_empty() {
        let mut end = rest.len().min(SLICE_BYTES);
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (slice, after) = rest.split_at(end);
        parser.process(StrTendril::from_slice(slice));
        rest = after;
        let held = Held(Cell::new(0));
        parser.tokenizer.sink.trace_handles(&held);
        if held.0.get() > MAX_OPEN_ELEMENTS {
            stopped = Some(Stopped::Nesting);
        } else if Instant::now() > deadline {
            stopped = Some(Stopped::Deadline);
        }
        if stopped.is_some() {
            break;
        }
    }
    (parser.finish().document, stopped)
}

/// Walks the tree without recursion: resolves links, drops `data:` and `javascript:` targets,
/// flattens what is nested too deep; returns the first `<title>`'s text.
fn prepare(root: &Rc<Node>, base: &Url) -> Option<String> {
    let mut title = None;
    let mut pending = vec![(Rc::clone(root), 0_usize)];
    while let Some((node, depth)) = pending.pop() {
        if let NodeData::Element { name, attrs, .. } = &node.data {
            let tag = &*name.local;
            if tag == "title" && title.is_none() {
                title = Some(text_of(&node)).filter(|text| !text.is_empty());
            }
            // `<head>` is walked for its title only: what else it holds is skipped below it.
            if SKIPPED.contains(&tag) && tag != "head" {
                continue;
            }
            // A link or image whose target is dropped keeps its text (or alt) only.
            attrs.borrow_mut().retain_mut(|attr| {
                if !matches!((tag, &*attr.name.local), ("a" | "area", "href") | ("img", "src")) {
                    return true;
                }
                let resolved = absolute(&attr.value, base);
                attr.value.clear();
                attr.value.push_slice(&resolved);
                !resolved.is_empty()
            });
            if depth >= MAX_DEPTH {
                flatten(&node);
                continue;
            }
        }
        pending.extend(node.children.borrow().iter().map(|child| (Rc::clone(child), depth + 1)));
    }
    title
}

/// `target` made absolute against `base`; empty for `data:` and `javascript:` targets (an inline
/// image can be megabytes of base64, a script is not a place to go).
fn absolute(target: &str, base: &Url) -> String {
    let target = target.trim();
    match base.join(target) {
        Ok(url) if matches!(url.scheme(), "data" | "javascript") => String::new(),
        Ok(url) => url.to_string(),
        Err(_) => target.to_owned(),
    }
}

/// The text under `node`, skipped elements left out, whitespace collapsed.
fn text_of(node: &Rc<Node>) -> String {
    let mut words = Vec::new();
    each_text(node, |contents| words.extend(contents.split_whitespace().map(str::to_owned)));
    words.join(" ")
}

/// Calls `found` with each text node's contents under `node`, in document order, skipped
/// elements left out.
fn each_text(node: &Rc<Node>, mut found: impl FnMut(&str)) {
    let mut pending = vec![Rc::clone(node)];
    while let Some(node) = pending.pop() {
        match &node.data {
            NodeData::Text { contents } => found(&contents.borrow()),
            NodeData::Element { name, .. } if SKIPPED.contains(&&*name.local) => {}
            _ => pending.extend(node.children.borrow().iter().rev().cloned()),
        }
    }
}

/// Replaces what is under `node` by one text node holding its text. The text node is one of
/// its own (rcdom's text type is not reachable from here to make a new one).
fn flatten(node: &Rc<Node>) {
    let text = text_of(node);
    let mut first = None;
    let mut pending = vec![Rc::clone(node)];
    while let Some(current) = pending.pop() {
        if matches!(current.data, NodeData::Text { .. }) {
            first = Some(current);
            break;
        }
        pending.extend(current.children.borrow().iter().rev().cloned());
    }
    let children = match first {
        Some(kept) => {
            if let NodeData::Text { contents } = &kept.data {
                let mut contents = contents.borrow_mut();
                contents.clear();
                contents.push_slice(&text);
            }
            kept.parent.set(Some(Rc::downgrade(node)));
            vec![kept]
        }
        None => Vec::new(),
    };
    // The subtree let go here is dropped without recursion (rcdom's `Drop` is a loop).
    *node.children.borrow_mut() = children;
}

/// At most one blank line in a row, no blank lines at either end.
fn tidy(markdown: &str) -> String {
    let mut tidy = String::with_capacity(markdown.len());
    let mut blank_lines = 0;
    for line in markdown.trim().lines() {
        if line.trim().is_empty() {
            blank_lines += 1;
            if blank_lines > 1 {
                continue;
            }
        } else {
            blank_lines = 0;
        }
        tidy.push_str(line);
        tidy.push('\n');
    }
    tidy.truncate(tidy.trim_end().len());
    tidy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(html: &str) -> Page {
        let deadline = Instant::now() + std::time::Duration::from_secs(3600);
        to_markdown(html, &Url::parse("https://example.com/docs/page.html").unwrap(), deadline)
    }

    #[test]
    fn keeps_reading_matter_and_drops_scripts_and_styles() {
        let page = convert(
            r#"<!doctype html><html><head><title> The  Title </title><style>body { color: red }</style>
            <script>var secret = "token";</script></head><body>
            <h1>Hello &amp; welcome</h1><p>Some <b>bold</b> text.</p>
            <script type="application/ld+json">{"leak": 1}</script><noscript>Enable scripts</noscript>
            <style>.x { display: none }</style><svg><text>vector</text></svg><template><p>later</p></template>
            <ul><li>one</li><li>two</li></ul>
            <table><tr><th>a</th><th>b</th></tr><tr><td>1</td><td>2</td></tr></table>
            <pre><code>let x = 1;</code></pre></body></html>"#,
        );
        assert_eq!(page.title.as_deref(), Some("The Title"));
        assert_eq!(
            page.markdown,
            "# Hello & welcome\n\nSome **bold** text.\n\n*   one\n*   two\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n```\nlet x = 1;\n```"
        );
        for leaked in ["secret", "color", "leak", "Enable scripts", "display", "vector", "later", "The Title"] {
            assert!(!page.markdown.contains(leaked), "{leaked} leaked into {:?}", page.markdown);
        }
    }

    #[test]
    fn links_are_kept_readable_and_absolute() {
        let page = convert(
            r#"<p>See <a href="/about">about us</a>, <a href="next.html#part">the next page</a>,
            <a href="https://other.example/x?a=1&amp;b=2">elsewhere</a> and
            <a href="javascript:alert(1)">a script</a>.</p>
            <img src="pics/cat.png" alt="a cat"><img src="data:image/png;base64,AAAA" alt="inline">"#,
        );
        assert_eq!(
            page.markdown,
            "See [about us](https://example.com/about), [the next page](https://example.com/docs/next.html#part), \
             [elsewhere](https://other.example/x?a=1&b=2) and a script.\n\n![a cat](https://example.com/docs/pics/cat.png)"
        );
        assert_eq!(page.title, None);
    }

    #[test]
    fn a_page_nesting_past_the_bound_is_read_up_to_that_point() {
        // Unbounded, 100,000 nested `<div>` keep html5ever busy for minutes, then overflow
        // htmd's recursion.
        let html = format!("<p>start</p>{}deep", "<div>".repeat(100_000));
        let page = convert(&html);
        assert_eq!(page.stopped, Some(Stopped::Nesting));
        assert_eq!(page.markdown, "start");
    }

    #[test]
    fn nesting_deeper_than_the_converter_recurses_is_flattened_to_its_text() {
        let depth = 200;
        let html = format!("<p>start</p>{}deep <b>text</b>{}", "<div>".repeat(depth), "</div>".repeat(depth));
        let page = convert(&html);
        assert_eq!(page.stopped, None);
        assert_eq!(page.markdown, "start\n\ndeep text", "the bold is gone with the markup below the limit");
    }

    #[test]
    fn a_passed_deadline_stops_the_parse_after_one_slice() {
        let html = format!("<p>start</p><p>{}</p><p>end</p>", "words ".repeat(2_000));
        let page = to_markdown(&html, &Url::parse("https://example.com/").unwrap(), Instant::now());
        assert_eq!(page.stopped, Some(Stopped::Deadline));
        assert!(page.markdown.starts_with("start\n\nwords words"));
        assert!(!page.markdown.contains("end"));
    }

    #[test]
    fn blank_runs_are_collapsed() {
        assert_eq!(tidy("\n\na\n\n\n\nb  \nc\n\n"), "a\n\nb  \nc");
    }
}
