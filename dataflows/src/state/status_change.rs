//! The status-change matrix (semantics.md §4.4).

use crate::model::{GroupStatus, Priority, Substatus};

/// The part of a group a status change reads and writes.
pub struct StatusFields<'a> {
    pub status: &'a mut GroupStatus,
    pub substatus: &'a mut Option<Substatus>,
    pub priority: &'a mut Priority,
    pub priority_locked: bool,
    pub initial_priority: Priority,
}

/// Applies a status change. `Ok` means accepted (whether or not anything changed); `Err`
/// carries the dead-letter reason.
pub fn apply_status_change(group: StatusFields, new_status: i64, new_substatus: Option<i64>) -> Result<(), String> {
    let current = (*group.status as i64, group.substatus.map(|s| s as i64));
    if current == (new_status, new_substatus) {
        return Ok(());
    }
    let takes_substatus = new_status == GroupStatus::Unresolved as i64 || new_status == GroupStatus::Ignored as i64;
    match (takes_substatus, new_substatus) {
        (true, None) => return Err(format!("missing substatus for status {new_status}")),
        (false, Some(sub)) => return Err(format!("unexpected substatus {sub} for status {new_status}")),
        _ => {}
    }
    let invalid = |sub: i64| format!("invalid substatus {sub} for status {new_status}");
    match (GroupStatus::from_number(new_status), new_substatus) {
        (Some(GroupStatus::Resolved), _) => {
            *group.status = GroupStatus::Resolved;
            *group.substatus = None;
        }
        (Some(GroupStatus::Ignored), Some(sub)) => match Substatus::from_number(sub) {
            Some(s @ (Substatus::UntilEscalating | Substatus::UntilConditionMet | Substatus::Forever)) => {
                *group.status = GroupStatus::Ignored;
                *group.substatus = Some(s);
            }
            _ => return Err(invalid(sub)),
        },
        (Some(GroupStatus::Unresolved), Some(sub)) => match Substatus::from_number(sub) {
            Some(Substatus::Escalating) => {
                if *group.status == GroupStatus::Ignored {
                    *group.status = GroupStatus::Unresolved;
                    *group.substatus = Some(Substatus::Escalating);
                    if !group.priority_locked {
                        *group.priority = group.priority.escalated();
                    }
                }
            }
            Some(Substatus::Regressed) => {
                *group.status = GroupStatus::Unresolved;
                *group.substatus = Some(Substatus::Regressed);
            }
            Some(Substatus::Ongoing) => {
                let was_escalating = *group.substatus == Some(Substatus::Escalating);
                *group.status = GroupStatus::Unresolved;
                *group.substatus = Some(Substatus::Ongoing);
                if was_escalating && !group.priority_locked {
                    *group.priority = group.initial_priority;
                }
            }
            _ => return Err(invalid(sub)),
        },
        _ => return Err(format!("unsupported status {new_status}")),
    }
    Ok(())
}
