//! A project's parts of the dump line, written once per project and formatter instead of
//! once per group: the short id's prefix (the slug upper-cased and escaped) and the
//! `project` object's fields (the id as a string, the slug escaped). Kept in a small
//! direct-mapped table: a group's project costs a comparison where it cost a catalog lookup,
//! two or three numbers and the slug's escaping.

use super::{escaped, needs_escape, number, string};
use crate::config::Catalog;

/// Table slots (projects with the same id modulo this share a slot; the last one wins).
const SLOTS: usize = 1024;

pub(super) struct ProjectText {
    project: u64,
    /// `SLUG` of `SLUG-SHORTID`, escaped.
    pub(super) short_id_prefix: Box<[u8]>,
    /// `"id":"N","slug":"slug"`.
    pub(super) fields: Box<[u8]>,
}

impl ProjectText {
    fn new(catalog: &Catalog, project: u64) -> Self {
        let (mut prefix, mut fields) = (Vec::new(), b"\"id\":\"".to_vec());
        number(&mut fields, project);
        fields.extend_from_slice(b"\",\"slug\":");
        match catalog.declared_slug(project) {
            Some(slug) => {
                // `to_uppercase` of ASCII needing no escapes is the ASCII upper case.
                if slug.bytes().all(|b| b.is_ascii() && !needs_escape(b)) {
                    prefix.extend(slug.bytes().map(|b| b.to_ascii_uppercase()));
                } else {
                    escaped(&mut prefix, &slug.to_uppercase());
                }
                string(&mut fields, slug);
            }
            None => {
                prefix.extend_from_slice(b"PROJECT-");
                number(&mut prefix, project);
                fields.extend_from_slice(b"\"project-");
                number(&mut fields, project);
                fields.push(b'"');
            }
        }
        ProjectText {
            project,
            short_id_prefix: prefix.into(),
            fields: fields.into(),
        }
    }
}

/// The table of one formatter (the catalog does not change during a dump).
#[derive(Default)]
pub(crate) struct Projects {
    slots: Vec<Option<ProjectText>>,
}

impl Projects {
    pub(super) fn text(&mut self, catalog: &Catalog, project: u64) -> &ProjectText {
        if self.slots.is_empty() {
            self.slots.resize_with(SLOTS, || None);
        }
        let slot = &mut self.slots[(project % SLOTS as u64) as usize];
        if slot.as_ref().is_some_and(|text| text.project != project) {
            *slot = None;
        }
        slot.get_or_insert_with(|| ProjectText::new(catalog, project))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_sharing_a_slot_get_their_own_text() {
        let text = r#"
            [[organizations]]
            slug = "sentry"
            projects = [{ id = 1, slug = "web" }, { id = 1025, slug = "a\"pi" }]
        "#;
        let declared = Catalog::from_config(toml::from_str(text).expect("config")).expect("catalog");
        for catalog in [declared, Catalog::default()] {
            let mut projects = Projects::default();
            // 1, 1025 and 2049 share a slot; 7 has its own.
            for project in [1, 1025, 1, 2049, 7, 2049, 1025, 7, 1] {
                let fresh = ProjectText::new(&catalog, project);
                let text = projects.text(&catalog, project);
                assert_eq!(text.project, project);
                assert_eq!(text.short_id_prefix, fresh.short_id_prefix, "{project}");
                assert_eq!(text.fields, fresh.fields, "{project}");
            }
        }
        let catalog = Catalog::default();
        let text = Projects::default().text(&catalog, 2049).fields.clone();
        assert_eq!(&*text, br#""id":"2049","slug":"project-2049""#);
    }
}
