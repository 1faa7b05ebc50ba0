//! The skills scan: what is listed, what is not and why, and a prompt section that stays the
//! same while the skills do.

use std::ffi::OsString;

use super::*;

struct Fixture {
    dir: tempfile::TempDir,
    skills: Skills,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let skills = Skills::new(dir.path());
        Self { dir, skills }
    }

    fn skill(&self, folder: &str, front: &str) {
        let path = self.dir.path().join("skills").join(folder);
        std::fs::create_dir_all(&path).unwrap();
        std::fs::write(path.join("SKILL.md"), format!("---\n{front}\n---\n\n# {folder}\n\nSteps.\n")).unwrap();
    }

    fn survey(&self) -> Survey {
        let var = |_: &str| None::<OsString>;
        self.skills.survey(&Machine { var: &var, path: None, os: "linux" })
    }

    fn view(&self, name: &str) -> SkillView {
        self.survey().skills.into_iter().find(|skill| skill.name == name).unwrap()
    }
}

#[test]
fn usable_enabled_skills_are_listed_in_name_order_and_the_rest_say_why() {
    let fixture = Fixture::new();
    fixture.skill("weather", "name: weather\ndescription: Forecasts for a city.");
    fixture.skill("calendar", "name: calendar\ndescription: Reads the calendar.");
    fixture.skill("github", "name: github\ndescription: Issues.\nmetadata: {\"openclaw\": {\"requires\": {\"bins\": [\"gh\"], \"env\": [\"GH_TOKEN\"]}}}");
    fixture.skill("renamed", "name: other\ndescription: Mismatch.");
    fixture.skill("Bad_Folder", "name: bad\ndescription: x");
    fixture.skill("broken", "name: broken");
    std::fs::create_dir_all(fixture.dir.path().join("skills/empty")).unwrap();
    std::fs::create_dir_all(fixture.dir.path().join("skills/.molt-tmp-1")).unwrap();
    std::fs::write(fixture.dir.path().join("skills/README.md"), "not a skill").unwrap();

    let survey = fixture.survey();
    let names: Vec<&str> = survey.skills.iter().map(|skill| skill.name.as_str()).collect();
    assert_eq!(names, ["Bad_Folder", "broken", "calendar", "empty", "github", "renamed", "weather"]);
    assert_eq!(
        survey.section,
        "\n\n## Skills\n\nSkills are instructions for particular tasks, kept in the workspace. When a request \
         matches a skill's description, read its file with `read_file` first and follow it; paths it names are \
         relative to its folder.\n\
         \n- calendar (skills/calendar/SKILL.md): Reads the calendar.\
         \n- weather (skills/weather/SKILL.md): Forecasts for a city."
    );
    let github = fixture.view("github");
    assert_eq!((github.usable, github.listed, github.enabled), (false, false, true));
    assert_eq!(
        github.reason.as_deref(),
        Some("needs `gh` on `PATH`; needs `GH_TOKEN` set in the gateway's environment")
    );
    assert_eq!(fixture.view("broken").reason.as_deref(), Some("`SKILL.md`: the front matter has no `description`"));
    assert_eq!(
        fixture.view("renamed").reason.as_deref(),
        Some("`SKILL.md` names it `other` but its folder is `renamed`; they must be the same")
    );
    assert_eq!(fixture.view("empty").reason.as_deref(), Some("it has no `SKILL.md`"));
    assert!(fixture.view("Bad_Folder").reason.unwrap().starts_with("the folder's name cannot be a skill's"));
    let calendar = fixture.view("calendar");
    assert_eq!((calendar.listed, calendar.path.as_str(), calendar.reason), (true, "skills/calendar/SKILL.md", None));
}

#[test]
fn a_switched_off_skill_leaves_the_prompt_and_the_section_is_stable() {
    let fixture = Fixture::new();
    fixture.skill("weather", "name: weather\ndescription: Forecasts.");
    fixture.skill("notes", "name: notes\ndescription: Notes.");
    let first = fixture.survey().section;
    assert_eq!(first, fixture.survey().section, "the same skills give the same bytes");
    lock(&fixture.skills.disabled).insert("weather".into());
    let off = fixture.survey();
    assert!(!off.section.contains("weather"));
    let weather = off.skills.iter().find(|skill| skill.name == "weather").unwrap();
    assert_eq!(
        (weather.enabled, weather.usable, weather.listed, weather.reason.as_deref()),
        (false, true, false, None)
    );
    lock(&fixture.skills.disabled).clear();
    assert_eq!(fixture.survey().section, first);
    lock(&fixture.skills.disabled).insert("notes".into());
    lock(&fixture.skills.disabled).insert("weather".into());
    assert_eq!(fixture.survey().section, "", "nothing listed, no section");
}

#[test]
fn an_edited_skill_is_read_again() {
    let fixture = Fixture::new();
    fixture.skill("weather", "name: weather\ndescription: Forecasts.");
    assert!(fixture.survey().section.contains("Forecasts."));
    // Another size: the cache cannot mistake it for the old file, however coarse the clock.
    fixture.skill("weather", "name: weather\ndescription: Forecasts for any city.");
    assert!(fixture.survey().section.contains("Forecasts for any city."));
    std::fs::remove_dir_all(fixture.dir.path().join("skills/weather")).unwrap();
    assert!(fixture.survey().skills.is_empty());
    assert!(lock(&fixture.skills.cache).is_empty(), "a removed skill leaves the cache");
}

#[test]
fn skills_past_the_bounds_are_usable_but_not_listed() {
    let fixture = Fixture::new();
    for index in 0..(MAX_LISTED + 2) {
        let name = format!("skill-{index:03}");
        fixture.skill(&name, &format!("name: {name}\ndescription: Does task {index}."));
    }
    let survey = fixture.survey();
    let listed = survey.skills.iter().filter(|skill| skill.listed).count();
    assert_eq!(listed, MAX_LISTED);
    let last = survey.skills.last().unwrap();
    assert_eq!((last.usable, last.listed), (true, false));
    assert!(last.reason.as_deref().unwrap().starts_with("not listed: the prompt lists 100 skills"));
    assert!(
        survey.section.ends_with(
            "- … and 2 more, not listed here: the list is full (`list_files` on `skills` shows every skill)"
        )
    );
}

#[test]
fn the_temporary_prefix_is_the_one_replication_skips() {
    assert_eq!(crate::core::skills::archive::RESERVED_PREFIX, crate::daemon::replication::workspace::TEMPORARY_PREFIX);
}
