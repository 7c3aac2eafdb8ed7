//! Group status, substatus, priority and level, with their stored numbers and API strings
//! (issue-platform.md §6.1).

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum GroupStatus {
    Unresolved = 0,
    Resolved = 1,
    Ignored = 2,
    PendingDeletion = 3,
    DeletionInProgress = 4,
    PendingMerge = 5,
    Reprocessing = 6,
}

impl GroupStatus {
    pub fn from_number(n: i64) -> Option<GroupStatus> {
        Some(match n {
            0 => GroupStatus::Unresolved,
            1 => GroupStatus::Resolved,
            2 => GroupStatus::Ignored,
            3 => GroupStatus::PendingDeletion,
            4 => GroupStatus::DeletionInProgress,
            5 => GroupStatus::PendingMerge,
            6 => GroupStatus::Reprocessing,
            _ => return None,
        })
    }

    pub fn api_name(self) -> &'static str {
        match self {
            GroupStatus::Unresolved => "unresolved",
            GroupStatus::Resolved => "resolved",
            GroupStatus::Ignored => "ignored",
            GroupStatus::PendingDeletion | GroupStatus::DeletionInProgress => "pending_deletion",
            GroupStatus::PendingMerge => "pending_merge",
            GroupStatus::Reprocessing => "reprocessing",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Substatus {
    UntilEscalating = 1,
    Escalating = 2,
    Ongoing = 3,
    UntilConditionMet = 4,
    Forever = 5,
    Regressed = 6,
    New = 7,
}

impl Substatus {
    pub fn from_number(n: i64) -> Option<Substatus> {
        Some(match n {
            1 => Substatus::UntilEscalating,
            2 => Substatus::Escalating,
            3 => Substatus::Ongoing,
            4 => Substatus::UntilConditionMet,
            5 => Substatus::Forever,
            6 => Substatus::Regressed,
            7 => Substatus::New,
            _ => return None,
        })
    }

    pub fn api_name(self) -> &'static str {
        match self {
            Substatus::UntilEscalating => "archived_until_escalating",
            Substatus::Escalating => "escalating",
            Substatus::Ongoing => "ongoing",
            Substatus::UntilConditionMet => "archived_until_condition_met",
            Substatus::Forever => "archived_forever",
            Substatus::Regressed => "regressed",
            Substatus::New => "new",
        }
    }

    pub fn from_api_name(name: &str) -> Option<Substatus> {
        (1..=7).filter_map(Substatus::from_number).find(|s| s.api_name() == name)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Low = 25,
    Medium = 50,
    High = 75,
}

impl Priority {
    pub fn from_number(n: i64) -> Option<Priority> {
        match n {
            25 => Some(Priority::Low),
            50 => Some(Priority::Medium),
            75 => Some(Priority::High),
            _ => None,
        }
    }

    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn api_name(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    /// Parsed case-insensitively, as Sentry does.
    pub fn from_api_name(name: &str) -> Option<Priority> {
        match name.to_ascii_lowercase().as_str() {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            _ => None,
        }
    }

    /// One level up, for escalation: low → medium, otherwise high.
    pub fn escalated(self) -> Priority {
        match self {
            Priority::Low => Priority::Medium,
            _ => Priority::High,
        }
    }
}

/// Event levels; `Unknown` stands for a string Sentry does not map to a level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    Sample,
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
    Unknown,
}

impl Level {
    /// Every level, in declaration order.
    pub const ALL: [Level; 7] = [
        Level::Sample,
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Fatal,
        Level::Unknown,
    ];

    /// Absent or empty → info; an unrecognised string → unknown.
    pub fn parse(text: Option<&str>) -> Level {
        match text.unwrap_or("") {
            "" | "info" => Level::Info,
            "sample" => Level::Sample,
            "debug" => Level::Debug,
            "warning" => Level::Warning,
            "error" => Level::Error,
            "fatal" => Level::Fatal,
            _ => Level::Unknown,
        }
    }

    pub fn api_name(self) -> &'static str {
        match self {
            Level::Sample => "sample",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
            Level::Unknown => "unknown",
        }
    }
}
