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
    let mut extra: Vec<String> = Vec::new();
    // 1-based index in KEYS (Lua) of an extra key, declared once however often used.
    let mut index_of = |key: String| -> usize {
        match extra.iter().position(|k| *k == key) {
            Some(i) => FIXED_KEYS + 1 + i,
            None => {
                extra.push(key);
                FIXED_KEYS + extra.len()
            }
        }
    };
    let expected = match c.expect {
        Expect::New => 0,
        Expect::Version(v) => v,
    };
    let mut args: Vec<String> = vec![
        expected.to_string(),
        c.status.clone(),
        c.doc.clone(),
        history_limit.to_string(),
        expire_ms.to_string(),
        keys.wake_channel(),
        keys.command_channel(),
        if baton_protocol::job_status::is_terminal(&c.status) || c.revived {
            keys.done_channel()
        } else {
            String::new()
        },
        c.job_id.clone(),
        c.origin.clone(),
        now_ms.to_string(),
        c.owner.clone(),
        c.blueprint.clone(),
        keys.tag.clone(),
    ];
    args.push(c.set_slots.len().to_string());
    for (task_id, slot) in &c.set_slots {
        args.push(format!("t:{task_id}"));
        args.push(slot.encode());
    }
    args.push(c.del_slots.len().to_string());
    args.extend(c.del_slots.iter().map(|t| format!("t:{t}")));
    args.push(c.store_tasks.len().to_string());
    for (task_id, blob) in &c.store_tasks {
        args.push(task_id.clone());
        args.push(blob.encode());
    }
    args.push(c.enqueue.len().to_string());
    for e in &c.enqueue {
        args.push(index_of(keys.queue(&e.skill)).to_string());
        args.push((-e.priority).to_string());
        args.push(e.member.clone());
        args.push(e.skill.clone());
    }
    args.push(c.dequeue.len().to_string());
    for (skill, member) in &c.dequeue {
        args.push(index_of(keys.queue(skill)).to_string());
        args.push(member.clone());
    }
    args.push(c.drop_tasks.len().to_string());
    args.extend(c.drop_tasks.iter().cloned());
    args.push(c.release.len().to_string());
    for (task_id, worker) in &c.release {
        args.push(task_id.clone());
        args.push(index_of(keys.worker_tasks(worker)).to_string());
    }
    args.push(c.cancel.len().to_string());
    for n in &c.cancel {
        args.push(index_of(keys.worker_cancels(&n.worker_id)).to_string());
        args.push(n.task_id.clone());
        args.push(pubsub::command_message(
            &n.worker_id,
            &baton_store::rules::cancel_command(&n.task_id, &n.job_id),
        ));
    }
    args.push(c.timers_add.len().to_string());
    for (member, due) in &c.timers_add {
        args.push(member.clone());
        args.push(due.to_string());
    }
    args.push(c.timers_del.len().to_string());
    args.extend(c.timers_del.iter().cloned());
    args.push(c.history.len().to_string());
    args.extend(c.history.iter().cloned());
    for key in extra {
        inv.key(key);
    }
    for a in args {
        inv.arg(a);
    }
    inv
}
