//! The TOML configuration: organisations, their projects, and the API's bearer tokens.
//! Without one, every project id is accepted under organisation `sentry` with slug
//! `project-<id>`, and the API has no tokens (anonymous, loopback only: src/auth.rs).

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
    #[serde(default)]
    pub tokens: Vec<TokenConfig>,
}

/// `[[tokens]]`: a bearer token bound to one organisation, with Sentry scopes
/// (`event:read`, `event:write`, `event:admin`; each implies the ones before it).
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    pub token: String,
    pub organization: String,
    pub scopes: Vec<crate::auth::Scope>,
    /// The user the token acts for (e-mail or username): `assignedTo: "me"`, `hasSeen`, …
    pub user: Option<String>,
}

/// Never prints the secret.
impl std::fmt::Debug for TokenConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenConfig")
            .field("token", &"<redacted>")
            .field("organization", &self.organization)
            .field("scopes", &self.scopes)
            .field("user", &self.user)
            .finish()
    }
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
    tokens: Vec<TokenConfig>,
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
            // Short ids are the slug and a per-project counter: two projects of one
            // organization with one slug would show the same short ids (Sentry refuses them).
            // Short ids print the slug upper-cased, so slugs that differ in case only collide.
            let mut slugs = std::collections::BTreeMap::new();
            for project in &org.projects {
                if project.slug.trim().is_empty() {
                    bail!("project {} of organization {:?} has an empty slug", project.id, org.slug);
                }
                if let Some((first, first_slug)) = slugs.insert(project.slug.to_uppercase(), (project.id, project.slug.as_str())) {
                    bail!(
                        "projects {first} ({first_slug:?}) and {} ({:?}) of organization {:?} have the same slug up to case: their short ids would be the same",
                        project.id,
                        project.slug,
                        org.slug
                    );
                }
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
        for (i, token) in file.tokens.iter().enumerate() {
            let which = format!("tokens[{i}] (organization {:?})", token.organization);
            if token.token.is_empty() || token.token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                bail!("{which}: the token must be non-empty, without spaces or control characters");
            }
            if !organizations.contains(&token.organization) {
                bail!("{which}: the organization is not declared in [[organizations]]");
            }
            if token.scopes.is_empty() {
                bail!("{which}: no scopes (use event:read, event:write or event:admin)");
            }
            if file.tokens[..i].iter().any(|t| t.token == token.token) {
                bail!("{which}: the same token is declared twice");
            }
        }
        Ok(Catalog {
            declared: Some(declared),
            organizations,
            tokens: file.tokens,
        })
    }

    /// The API's bearer tokens (empty: no authentication, see src/auth.rs).
    pub fn tokens(&self) -> &[TokenConfig] {
        &self.tokens
    }

    /// A declared project's slug, borrowed (None: `project(id)`'s slug is `project-{id}`, or
    /// there is no such project, which callers name the same way).
    pub fn declared_slug(&self, id: u64) -> Option<&str> {
        self.declared.as_ref()?.get(&id).map(|p| p.slug.as_str())
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
