//! Grouping components: the tree every strategy builds, and the hash over it (grouping.md §3).

use md5::{Digest, Md5};
use serde_json::{json, Value};

/// A leaf value. Integers are kept apart from strings only so the debug tree shows them as
/// Sentry does; both hash as their decimal text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Primitive {
    Str(String),
    Int(i64),
}

impl Primitive {
    fn as_text(&self) -> std::borrow::Cow<'_, str> {
        match self {
            Primitive::Str(s) => std::borrow::Cow::Borrowed(s),
            Primitive::Int(i) => std::borrow::Cow::Owned(i.to_string()),
        }
    }
}

/// One entry of a component's `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Value(Primitive),
    Child(Component),
}

/// A node of the grouping tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub id: String,
    pub values: Vec<Item>,
    /// `None` means "derive from the values" (see [`Component::contributes`]).
    explicit: Option<bool>,
    pub hint: Option<String>,
}

impl Component {
    pub fn new(id: &str) -> Component {
        Component {
            id: id.to_owned(),
            values: Vec::new(),
            explicit: None,
            hint: None,
        }
    }

    /// A component holding one string.
    pub fn leaf(id: &str, value: impl Into<String>) -> Component {
        let mut c = Component::new(id);
        c.values.push(Item::Value(Primitive::Str(value.into())));
        c
    }

    pub fn with_children(id: &str, children: Vec<Component>) -> Component {
        let mut c = Component::new(id);
        c.values = children.into_iter().map(Item::Child).collect();
        c
    }

    pub fn push_str(&mut self, value: impl Into<String>) {
        self.values.push(Item::Value(Primitive::Str(value.into())));
    }

    pub fn push_int(&mut self, value: i64) {
        self.values.push(Item::Value(Primitive::Int(value)));
    }

    pub fn push_child(&mut self, child: Component) {
        self.values.push(Item::Child(child));
    }

    /// An explicit setting wins; otherwise a component contributes when it holds a primitive
    /// or a contributing child, so an empty component never does.
    pub fn contributes(&self) -> bool {
        self.explicit.unwrap_or_else(|| {
            self.values.iter().any(|v| match v {
                Item::Value(_) => true,
                Item::Child(c) => c.contributes(),
            })
        })
    }

    /// Force contribution on or off, recording why. The hint is only replaced when the flag
    /// actually changes, so the first reason for switching a component off is the one kept.
    pub fn set_contributes(&mut self, on: bool, hint: Option<&str>) {
        if self.contributes() != on {
            if let Some(h) = hint {
                self.hint = Some(h.to_owned());
            }
        }
        self.explicit = Some(on);
    }

    /// Like [`Self::set_contributes`] but always overwrites the hint.
    pub fn update(&mut self, on: Option<bool>, hint: Option<&str>) {
        if let Some(on) = on {
            self.explicit = Some(on);
        }
        if let Some(h) = hint {
            self.hint = Some(h.to_owned());
        }
    }

    pub fn children(&self) -> impl Iterator<Item = &Component> {
        self.values.iter().filter_map(|v| match v {
            Item::Child(c) => Some(c),
            Item::Value(_) => None,
        })
    }

    pub fn children_mut(&mut self) -> impl Iterator<Item = &mut Component> {
        self.values.iter_mut().filter_map(|v| match v {
            Item::Child(c) => Some(c),
            Item::Value(_) => None,
        })
    }

    /// The first direct child with this id.
    pub fn child(&self, id: &str) -> Option<&Component> {
        self.children().find(|c| c.id == id)
    }

    pub fn child_mut(&mut self, id: &str) -> Option<&mut Component> {
        self.children_mut().find(|c| c.id == id)
    }

    /// Is there a contributing component with this id anywhere below (or at) this node,
    /// reached only through contributing components?
    pub fn has_contributing(&self, id: &str) -> bool {
        if !self.contributes() {
            return false;
        }
        self.id == id || self.children().any(|c| c.has_contributing(id))
    }

    /// The primitives that enter the hash: depth-first, skipping non-contributing subtrees.
    pub fn flatten(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.contributes() {
            self.flatten_into(&mut out);
        }
        out
    }

    fn flatten_into(&self, out: &mut Vec<String>) {
        for v in &self.values {
            match v {
                Item::Value(p) => out.push(p.as_text().into_owned()),
                Item::Child(c) if c.contributes() => c.flatten_into(out),
                Item::Child(_) => {}
            }
        }
    }

    /// MD5 of the flattened values, or `None` when the component does not contribute.
    pub fn hash(&self) -> Option<String> {
        self.contributes().then(|| md5_hex(self.flatten()))
    }

    /// Sentry's debug shape `{id, contributes, hint, values}`.
    pub fn to_json(&self) -> Value {
        let values: Vec<Value> = self
            .values
            .iter()
            .map(|v| match v {
                Item::Value(Primitive::Str(s)) => json!(s),
                Item::Value(Primitive::Int(i)) => json!(i),
                Item::Child(c) => c.to_json(),
            })
            .collect();
        json!({"id": self.id, "contributes": self.contributes(), "hint": self.hint, "values": values})
    }
}

/// Lowercase hex MD5 over the concatenation of `parts` (no separator).
pub fn md5_hex<I, S>(parts: I) -> String
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut hasher = Md5::new();
    for p in parts {
        hasher.update(p.as_ref().as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_component_does_not_contribute() {
        assert!(!Component::new("x").contributes());
        assert_eq!(Component::new("x").hash(), None);
    }

    #[test]
    fn hash_skips_non_contributing_children() {
        let mut root = Component::new("app");
        root.push_child(Component::leaf("type", "Foo"));
        let mut off = Component::leaf("value", "bar");
        off.set_contributes(false, Some("ignored"));
        root.push_child(off);
        root.push_int(-5);
        assert_eq!(root.flatten(), vec!["Foo", "-5"]);
        assert_eq!(root.hash(), Some(md5_hex(["Foo-5"])));
        assert_eq!(md5_hex::<[&str; 0], &str>([]), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
