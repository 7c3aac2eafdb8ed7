//! Numeric group ids: one counter over all projects, in creation (log) order. Creations are
//! rare (quotas bound them), so a single worker orders them.

use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::generic::Operator;
use timely::dataflow::operators::Capability;
use timely::dataflow::Stream;

use super::epoch_of;

use crate::model::Seq;
use crate::state::GroupKey;

/// The next id to assign (meaningful on worker 0), shared with the worker loop for checkpoints.
pub type NextId = std::rc::Rc<std::cell::Cell<u64>>;

pub fn assign_ids<'scope>(
    created: Stream<'scope, u64, Vec<(Seq, GroupKey)>>,
    next_id: NextId,
) -> Stream<'scope, u64, super::Updates<(GroupKey, u64)>> {
    created.unary_frontier(Exchange::new(|_: &(Seq, GroupKey)| 0), "AssignIds", |_, _| {
        let mut pending: super::Stash<Capability<u64>, (Seq, GroupKey)> = Default::default();
        move |(input, frontier), output| {
            input.for_each(|cap, data| {
                pending
                    .entry(epoch_of(&cap))
                    .or_insert_with(|| (cap.retain_least(0).expect("an input stamp has a time"), Vec::new()))
                    .1
                    .append(data);
            });
            while let Some((epoch, (cap, mut created))) = super::pop_closed(&mut pending, |e| frontier.less_equal(e)) {
                created.sort_unstable();
                let mut session = output.session(&cap);
                for (_, key) in created {
                    let id = next_id.get();
                    session.give(((key, id), epoch, 1isize));
                    next_id.set(id + 1);
                }
            }
        }
    })
}
