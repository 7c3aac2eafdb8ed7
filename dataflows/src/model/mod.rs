//! The domain model: messages, group types, statuses, times.

pub mod block;
pub mod grouptype;
pub mod json_string;
pub mod mutation;
pub mod record;
pub mod status;
pub mod tags;
mod text_arena;
pub mod time;
pub mod uuid;

pub use grouptype::{group_type, Category, GroupType, GROUP_TYPES};
pub use mutation::{
    Assignee, Commit, GroupUpdate, InboxChange, MutationKind, MutationRecord, StatusDetails, StatusUpdate, Subscription,
    SubscriptionReason, Triage,
};
pub use record::*;
pub use status::{GroupStatus, Level, Priority, Substatus};
pub use time::{format_iso, Micros};
