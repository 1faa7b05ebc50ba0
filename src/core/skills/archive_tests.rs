//! Skill archives: the two layouts, and each hostile archive refused with its reason.

use std::io::Write;

use rawzip::path::EntryPath;
use rawzip::{CompressionMethod, ZipArchiveWriter};

use super::*;

const SKILL: &str = "---\nname: weather\ndescription: Forecasts for a city.\n---\nAsk wttr.in.\n";

/// One entry as a test writes it: any path bytes, any Unix mode.
struct Entry {
    path: Vec<u8>,
    bytes: Vec<u8>,
    mode: Option<u32>,
    method: CompressionMethod,
}

fn file(path: &str, bytes: &[u8]) -> Entry {
    Entry { path: path.as_bytes().to_vec(), bytes: bytes.to_vec(), mode: None, method: CompressionMethod::DEFLATE }
}

fn zip(entries: Vec<Entry>) -> Vec<u8> {
    let mut output = Vec::new();
    let mut archive = ZipArchiveWriter::new(&mut output);
    for entry in entries {
        let mut builder = archive.new_file(EntryPath::verbatim(entry.path)).compression_method(entry.method);
        if let Some(mode) = entry.mode {
            builder = builder.unix_permissions(mode);
        }
        let (mut writer, config) = builder.start().unwrap();
        if entry.method == CompressionMethod::DEFLATE {
            let encoder = flate2::write::DeflateEncoder::new(&mut writer, flate2::Compression::default());
            let mut data = config.wrap(encoder);
            data.write_all(&entry.bytes).unwrap();
            let (encoder, descriptor) = data.finish().unwrap();
            encoder.finish().unwrap();
            writer.finish(descriptor).unwrap();
        } else {
            let mut data = config.wrap(&mut writer);
            data.write_all(&entry.bytes).unwrap();
            let (_, descriptor) = data.finish().unwrap();
            writer.finish(descriptor).unwrap();
        }
    }
    archive.finish().unwrap();
    output
}

/// Offset of the `index`th central directory record.
fn central_record(zip: &[u8], index: usize) -> usize {
    zip.windows(4).enumerate().filter(|(_, window)| *window == b"PK\x01\x02").nth(index).unwrap().0
}

/// The archive with the declared (central directory) size of its `index`th entry replaced.
fn declare(mut zip: Vec<u8>, index: usize, size: u32) -> Vec<u8> {
    let at = central_record(&zip, index) + 24;
    zip[at..at + 4].copy_from_slice(&size.to_le_bytes());
    zip
}

fn refusal(zip: &[u8]) -> String {
    unpack(zip, &Limits::DEFAULT).unwrap_err().to_string()
}

#[test]
fn files_at_the_top_or_in_one_top_folder_named_as_the_skill() {
    let top = unpack(&zip(vec![file("SKILL.md", SKILL.as_bytes()), file("scripts/get.sh", b"curl")]), &Limits::DEFAULT)
        .unwrap();
    assert_eq!(top.manifest.name, "weather");
    assert_eq!(top.files.iter().map(|file| file.path.as_str()).collect::<Vec<_>>(), ["SKILL.md", "scripts/get.sh"]);
    let folder = unpack(
        &zip(vec![file("weather/SKILL.md", SKILL.as_bytes()), file("__MACOSX/weather/._SKILL.md", b"fork")]),
        &Limits::DEFAULT,
    )
    .unwrap();
    assert_eq!(folder.files.len(), 1, "Finder's metadata is left out");
    assert_eq!(folder.files[0].path, "SKILL.md");
    let mut stored = file("SKILL.md", SKILL.as_bytes());
    stored.method = CompressionMethod::STORE;
    assert_eq!(unpack(&zip(vec![stored]), &Limits::DEFAULT).unwrap().total_bytes(), SKILL.len() as u64);
}

#[test]
fn a_folder_named_otherwise_than_the_skill_is_refused() {
    let error = refusal(&zip(vec![file("forecast/SKILL.md", SKILL.as_bytes())]));
    assert_eq!(error, "the skill is named `weather` but its folder is `forecast`; they must be the same");
    let error = refusal(&zip(vec![file("a/SKILL.md", SKILL.as_bytes()), file("b/x", b"")]));
    assert_eq!(error, "the archive has no `SKILL.md` at its top or in one top folder");
}

#[test]
fn paths_that_leave_the_folder_are_refused() {
    for (path, expected) in [
        ("../evil.sh", "leaves its folder"),
        ("scripts/../../evil.sh", "leaves its folder"),
        ("/etc/cron.d/evil", "is an absolute path"),
        ("C:/evil", "has a `:`"),
        ("scripts\\..\\evil", "has a backslash"),
        ("a//b", "has an empty part"),
        (".molt-tmp-1/x", "keeps for itself"),
        ("bell\u{7}", "control character"),
    ] {
        let error = refusal(&zip(vec![file("SKILL.md", SKILL.as_bytes()), file(path, b"x")]));
        assert!(error.contains(expected), "{path}: {error}");
    }
    let mut link = file("passwd", b"/etc/passwd");
    link.mode = Some(0o120_777);
    assert_eq!(
        refusal(&zip(vec![file("SKILL.md", SKILL.as_bytes()), link])),
        "`passwd` is a symbolic link; a skill holds plain files and folders"
    );
    let not_utf8 = Entry { path: vec![b'a', 0xff], ..file("", b"") };
    assert!(refusal(&zip(vec![file("SKILL.md", SKILL.as_bytes()), not_utf8])).contains("is not UTF-8"));
}

#[test]
fn zip_bombs_stop_at_the_declared_size_and_the_limits() {
    let zeros = vec![0u8; 1024 * 1024];
    let honest = zip(vec![file("SKILL.md", SKILL.as_bytes()), file("zeros", &zeros)]);
    assert!(honest.len() < 10_000, "a megabyte of zeros deflates small: {}", honest.len());
    let lying = declare(honest.clone(), 1, 100);
    assert_eq!(refusal(&lying), "`zeros` says it holds 100 bytes but inflates to more");
    let short = declare(honest.clone(), 1, 2 * 1024 * 1024);
    assert!(refusal(&short).contains("does not match its declared size or checksum"), "{}", refusal(&short));
    let boasting = declare(honest.clone(), 1, u32::MAX);
    assert_eq!(refusal(&boasting), "the skill's files add up to more than 8388608 bytes unpacked");
    let small = Limits { total_bytes: 512 * 1024, ..Limits::DEFAULT };
    assert!(matches!(unpack(&honest, &small), Err(ArchiveError::TooLarge(_))), "the actual size counts too");
    let few = Limits { files: 1, ..Limits::DEFAULT };
    assert!(matches!(unpack(&honest, &few), Err(ArchiveError::TooManyFiles(1))));
    let tiny = Limits { archive_bytes: 100, ..Limits::DEFAULT };
    assert!(matches!(unpack(&honest, &tiny), Err(ArchiveError::ArchiveTooLarge { .. })));
}

#[test]
fn a_changed_byte_fails_the_checksum() {
    let mut stored = file("notes.txt", b"hello world");
    stored.method = CompressionMethod::STORE;
    let mut archive = zip(vec![file("SKILL.md", SKILL.as_bytes()), stored]);
    let at = archive.windows(11).position(|window| window == b"hello world").unwrap();
    archive[at] = b'j';
    let error = refusal(&archive);
    assert!(error.starts_with("`notes.txt` does not match its declared size or checksum"), "{error}");
}

#[test]
fn entries_sharing_bytes_are_refused() {
    let mut archive = zip(vec![file("SKILL.md", SKILL.as_bytes()), file("a.txt", b"shared")]);
    // A second central record for `a.txt`'s bytes under another name of the same length.
    let start = central_record(&archive, 1);
    let eocd = archive.windows(4).rposition(|window| window == b"PK\x05\x06").unwrap();
    let mut copy = archive[start..eocd].to_vec();
    let name = copy.windows(5).position(|window| window == b"a.txt").unwrap();
    copy[name] = b'b';
    let added = copy.len();
    archive.splice(eocd..eocd, copy);
    let eocd = eocd + added;
    for field in [8, 10] {
        let count = u16::from_le_bytes([archive[eocd + field], archive[eocd + field + 1]]) + 1;
        archive[eocd + field..eocd + field + 2].copy_from_slice(&count.to_le_bytes());
    }
    let size = u32::from_le_bytes(archive[eocd + 12..eocd + 16].try_into().unwrap()) + added as u32;
    archive[eocd + 12..eocd + 16].copy_from_slice(&size.to_le_bytes());
    let error = refusal(&archive);
    assert_eq!(error, "two entries share the same bytes in the archive (`b.txt`)");
}

#[test]
fn duplicates_encryption_other_methods_and_bad_front_matter_are_refused() {
    let twice = zip(vec![file("SKILL.md", SKILL.as_bytes()), file("a", b"1"), file("a", b"2")]);
    assert_eq!(refusal(&twice), "`a` is in the archive twice");
    let nested = zip(vec![file("SKILL.md", SKILL.as_bytes()), file("a", b"1"), file("a/b", b"2")]);
    assert_eq!(refusal(&nested), "`a` is in the archive twice");
    let mut bzip = file("x", b"1");
    bzip.method = CompressionMethod::BZIP2;
    assert!(refusal(&zip(vec![file("SKILL.md", SKILL.as_bytes()), bzip])).contains("only stored and DEFLATE"));
    let bad = zip(vec![file("SKILL.md", b"---\nname: weather\n---\n")]);
    assert_eq!(refusal(&bad), "`SKILL.md`: the front matter has no `description`");
    assert!(refusal(b"not a zip at all").starts_with("the body is not a readable `.zip`"));
    let big = zip(vec![file("SKILL.md", format!("{SKILL}{}", "x".repeat(300 * 1024)).as_bytes())]);
    assert_eq!(refusal(&big), "`SKILL.md` is over 262144 bytes");
}
