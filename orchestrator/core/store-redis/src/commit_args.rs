//! The KEYS and ARGV of commit.lua, built from a [`Commit`].

use crate::{pubsub, Keys};
use ::redis::Script;
use baton_store::{Commit, Expect};

/// KEYS declared before the queues and worker sets the commit refers to by index.
const FIXED_KEYS: usize = 9;

/// Builds KEYS and ARGV of commit.lua (see its header).
pub(super) fn commit_invocation<'a>(
    script: &'a Script,
    keys: &Keys,
    c: &Commit,
    history_limit: usize,
    expire_ms: i64,
    now_ms: i64,
) -> ::redis::ScriptInvocation<'a> {
    let mut inv = script.prepare_invoke();
    inv.key(keys.job(&c.job_id))
        .key(keys.k("counts"))
        .key(keys.k("timers"))
        .key(keys.k("leases"))
        .key(keys.k("tasks"))
        .key(keys.hist(&c.job_id))
        .key(keys.k("skills"))
        .key(keys.quarantine(&c.owner))
        .key(keys.quarantine_owners());
    // The arguments go straight into the invocation (no intermediate strings: the job's
    // document is the largest of them and was copied twice). Extra keys are declared as
    // they are first met, after the fixed ones; commit.lua refers to them by index.
    let mut extra: Vec<String> = Vec::new();
    let mut index_of = |inv: &mut ::redis::ScriptInvocation<'a>, key: String| -> usize {
        match extra.iter().position(|k| *k == key) {
            Some(i) => FIXED_KEYS + 1 + i,
            None => {
                inv.key(&key);
                extra.push(key);
                FIXED_KEYS + extra.len()
            }
        }
    };
    let expected = match c.expect {
        Expect::New => 0,
        Expect::Version(v) => v,
    };
    let done_channel = if baton_protocol::job_status::is_terminal(&c.status) || c.revived {
        keys.done_channel()
    } else {
        String::new()
    };
    inv.arg(expected)
        .arg(&c.status)
        .arg(&c.doc)
        .arg(history_limit)
        .arg(expire_ms)
        .arg(keys.wake_channel())
        .arg(keys.command_channel())
        .arg(done_channel)
        .arg(&c.job_id)
        .arg(&c.origin)
        .arg(now_ms)
        .arg(&c.owner)
        .arg(&c.blueprint)
        .arg(&keys.tag);
    inv.arg(c.set_slots.len());
    for (task_id, slot) in &c.set_slots {
        inv.arg(format!("t:{task_id}")).arg(slot.encode());
    }
    inv.arg(c.del_slots.len());
    for t in &c.del_slots {
        inv.arg(format!("t:{t}"));
    }
    inv.arg(c.store_tasks.len());
    for (task_id, blob) in &c.store_tasks {
        inv.arg(task_id).arg(blob.encode());
    }
    inv.arg(c.enqueue.len());
    for e in &c.enqueue {
        let index = index_of(&mut inv, keys.queue(&e.skill));
        inv.arg(index).arg(-e.priority).arg(&e.member).arg(&e.skill);
    }
    inv.arg(c.dequeue.len());
    for (skill, member) in &c.dequeue {
        let index = index_of(&mut inv, keys.queue(skill));
        inv.arg(index).arg(member);
    }
    inv.arg(c.drop_tasks.len());
    for t in &c.drop_tasks {
        inv.arg(t);
    }
    inv.arg(c.release.len());
    for (task_id, worker) in &c.release {
        let index = index_of(&mut inv, keys.worker_tasks(worker));
        inv.arg(task_id).arg(index);
    }
    inv.arg(c.cancel.len());
    for n in &c.cancel {
        let index = index_of(&mut inv, keys.worker_cancels(&n.worker_id));
        inv.arg(index).arg(&n.task_id).arg(pubsub::command_message(
            &n.worker_id,
            &baton_store::rules::cancel_command(&n.task_id, &n.job_id),
        ));
    }
    inv.arg(c.timers_add.len());
    for (member, due) in &c.timers_add {
        inv.arg(member).arg(due);
    }
    inv.arg(c.timers_del.len());
    for t in &c.timers_del {
        inv.arg(t);
    }
    inv.arg(c.history.len());
    for h in &c.history {
        inv.arg(h);
    }
    inv
}
