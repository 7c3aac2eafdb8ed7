//! The TOML configuration: organisations and their projects. Without one, every project id is
//! accepted under organisation `sentry` with slug `project-<id>`.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use anyhow::{bail, Context};
use connectors::decode::ProjectFilter;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    #[serde(default)]
    pub organizations: Vec<OrganizationConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrganizationConfig {
    pub slug: String,
    #[serde(default)]
    pub projects: Vec<ProjectConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    pub id: u64,
    pub slug: String,
    pub platform: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectInfo {
    pub id: u64,
    pub slug: String,
    pub platform: Option<String>,
    pub organization: String,
}

/// Who owns which project.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    /// None: no configuration, every project is accepted.
    declared: Option<BTreeMap<u64, ProjectInfo>>,
    organizations: Vec<String>,
}

pub const DEFAULT_ORGANIZATION: &str = "sentry";

impl Catalog {
    pub fn load(path: &Path) -> anyhow::Result<Catalog> {
        let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
        let file: ConfigFile = toml::from_str(&text).with_context(|| format!("invalid config {}", path.display()))?;
        Catalog::from_config(file)
    }

    pub fn from_config(file: ConfigFile) -> anyhow::Result<Catalog> {
        let mut declared = BTreeMap::new();
        let mut organizations = Vec::new();
        for org in file.organizations {
            if organizations.contains(&org.slug) {
                bail!("organization {:?} is declared twice", org.slug);
            }
            for project in org.projects {
                let info = ProjectInfo {
                    id: project.id,
                    slug: project.slug,
                    platform: project.platform,
                    organization: org.slug.clone(),
                };
                if declared.insert(project.id, info).is_some() {
                    bail!("project {} is declared twice", project.id);
                }
            }
            organizations.push(org.slug);
        }
        Ok(Catalog {
            declared: Some(declared),
            organizations,
        })
    }

    pub fn project(&self, id: u64) -> Option<ProjectInfo> {
        match &self.declared {
            Some(declared) => declared.get(&id).cloned(),
            None => Some(ProjectInfo {
                id,
                slug: format!("project-{id}"),
                platform: None,
                organization: DEFAULT_ORGANIZATION.into(),
            }),
        }
    }

    /// The organisation owning `project`, without building a `ProjectInfo`.
    pub fn organization_of(&self, project: u64) -> Option<&str> {
        match &self.declared {
            Some(declared) => declared.get(&project).map(|p| p.organization.as_str()),
            None => Some(DEFAULT_ORGANIZATION),
        }
    }

    pub fn has_organization(&self, slug: &str) -> bool {
        match &self.declared {
            Some(_) => self.organizations.iter().any(|o| o == slug),
            None => slug == DEFAULT_ORGANIZATION,
        }
    }

    pub fn project_filter(&self) -> ProjectFilter {
        match &self.declared {
            Some(declared) => ProjectFilter::Only(declared.keys().copied().collect::<HashSet<_>>()),
            None => ProjectFilter::Any,
        }
    }
}
