//! Front matter: what is read, and every refusal with its reason.

use super::*;

fn skill(front: &str) -> String {
    format!("---\n{front}\n---\n\n# Instructions\n\nDo the thing.\n")
}

#[test]
fn name_description_and_openclaw_gates_are_read() {
    let text = skill(
        "name: pdf-tools\ndescription: >\n  Extract text and tables\n  from PDF files.\nlicense: MIT\n\
         metadata: {\"openclaw\": {\"emoji\": \"📄\", \"requires\": {\"bins\": [\"pdftotext\"], \"anyBins\": [\"qpdf\", \"mutool\"], \"env\": [\"PDF_KEY\"]}, \"os\": [\"linux\", \"darwin\"]}}",
    );
    let manifest = parse(&text).unwrap();
    assert_eq!(manifest.name, "pdf-tools");
    assert_eq!(manifest.description, "Extract text and tables from PDF files.");
    assert_eq!(manifest.gates.requires.bins, ["pdftotext"]);
    assert_eq!(manifest.gates.requires.any_bins, ["qpdf", "mutool"]);
    assert_eq!(manifest.gates.requires.env, ["PDF_KEY"]);
    assert_eq!(manifest.gates.os, ["linux", "darwin"]);
    assert!(!manifest.gates.always);
}

#[test]
fn gates_read_as_block_yaml_as_one_line_of_json_and_under_older_names() {
    let block = skill(
        "name: todo\ndescription: Tasks.\nmetadata:\n  openclaw:\n    requires:\n      env:\n        - TODOIST_API_KEY\n    os: linux",
    );
    let gates = parse(&block).unwrap().gates;
    assert_eq!(
        (gates.requires.env.as_slice(), gates.os.as_slice()),
        (&["TODOIST_API_KEY".to_owned()][..], &["linux".to_owned()][..])
    );
    let quoted = skill("name: todo\ndescription: Tasks.\nmetadata: '{\"clawdbot\": {\"always\": true}}'");
    assert!(parse(&quoted).unwrap().gates.always);
    let plain = skill("name: todo\ndescription: Tasks.\nmetadata:\n  author: someone\n  version: \"1.0\"");
    assert_eq!(parse(&plain).unwrap().gates, Gates::default(), "the specification's own metadata is not a gate");
}

#[test]
fn windows_line_ends_and_a_byte_order_mark_are_fine() {
    let text = "\u{feff}---\r\nname: crlf\r\ndescription: Works.\r\n---\r\nBody\r\n";
    assert_eq!(parse(text).unwrap().name, "crlf");
}

#[test]
fn every_refusal_says_why() {
    let cases: &[(String, &str)] = &[
        ("# Just Markdown\n".into(), "does not open with front matter"),
        ("---\nname: x\ndescription: y\n".into(), "not closed by a `---` line"),
        (skill("name: [unclosed\ndescription: y"), "not valid YAML"),
        (skill("- a\n- b"), "not a mapping"),
        (skill("description: Does things."), "has no `name`"),
        (skill("name: x"), "has no `description`"),
        (skill("name: 12\ndescription: y"), "`name` in the front matter must be text"),
        (skill("name: x\ndescription: \"   \""), "`description` is empty"),
        (skill(&format!("name: x\ndescription: {}", "d".repeat(1025))), "longer than 1024 characters"),
        (skill("name: Bad_Name\ndescription: y"), "`name`: `Bad_Name` has `B`"),
        (skill("name: ../etc\ndescription: y"), "only lowercase letters"),
        (
            skill("name: x\ndescription: y\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": \"jq\"}}}"),
            "`metadata.openclaw`: invalid type",
        ),
        (skill("name: x\ndescription: &d y\nlicense: *d"), "anchors and aliases"),
        (skill(&format!("name: x\ndescription: y\nnested: {}{}", "[".repeat(20), "]".repeat(20))), "nested more than"),
    ];
    for (text, expected) in cases {
        let error = parse(text).unwrap_err().to_string();
        assert!(error.contains(expected), "{text:?}: {error}");
    }
}

#[test]
fn an_alias_bomb_is_refused_before_it_grows() {
    let mut yaml = String::from("name: bomb\ndescription: y\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for level in 1..10 {
        let previous = format!("*a{}", level - 1);
        yaml.push_str(&format!("a{level}: &a{level} [{}]\n", vec![previous; 10].join(", ")));
    }
    assert!(matches!(parse(&skill(&yaml)), Err(ManifestError::Yaml(reason)) if reason.contains("aliases")));
}

#[test]
fn front_matter_is_bounded() {
    let long = skill(&format!("name: x\ndescription: y\npad: \"{}\"", "p".repeat(MAX_FRONT_MATTER_BYTES)));
    assert_eq!(parse(&long), Err(ManifestError::Unclosed));
}
