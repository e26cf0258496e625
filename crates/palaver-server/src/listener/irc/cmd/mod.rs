//! The IRC commands: one module per command or small family, each holding the command's
//! parameters, the hub requests it makes and the replies it builds from the hub's answers (as
//! mini-redis's `cmd/` and sable's handlers do), with its unit tests beside it.
//!
//! [`COMMANDS`] is the table the reader dispatches from (as ergo's `Commands`): each command's
//! name, the fewest parameters it takes (fewer is `461 ERR_NEEDMOREPARAMS`, answered before the
//! command runs) and whether it may be used before registration (else `451`). A command that
//! needs the hub starts a [`Waiting`]: the hub's frames that carry its token come back to it,
//! and so do its refusals (typed: a code and the subject they are about, never a sentence), and
//! the closing `pong` (see [`super::state`]).

use std::fmt::Debug;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ErrorCode, ServerFrame};

use super::lines::Lines;
use super::reader::{Action, Reader};

pub mod account;
pub mod admin;
pub mod away;
pub mod cap;
pub mod changes;
pub mod chathistory;
pub mod invite;
pub mod join;
pub mod kick;
pub mod list;
pub mod markread;
pub mod message;
pub mod mode;
pub mod monitor;
pub mod names;
pub mod oper;
pub mod part;
pub mod ping;
pub mod quit;
pub mod registration;
pub mod server_info;
pub mod setname;
pub mod topic;
pub mod userhost;
pub mod who;
pub mod whois;

#[cfg(test)]
pub mod testing;

/// Runs a command: the parsed line (with at least `min_params` parameters) and its label.
pub type Run = fn(&mut Reader, &IrcMessage, Option<String>) -> Vec<Action>;

/// One line of the command table.
pub struct CommandSpec {
    pub name: &'static str,
    /// Fewer parameters than this are answered with 461 before the command runs.
    pub min_params: usize,
    /// Usable before registration (the rest get 451 until then).
    pub before_registration: bool,
    pub run: Run,
}

const fn command(name: &'static str, min_params: usize, run: Run) -> CommandSpec {
    CommandSpec {
        name,
        min_params,
        before_registration: false,
        run,
    }
}

const fn early(name: &'static str, min_params: usize, run: Run) -> CommandSpec {
    CommandSpec {
        name,
        min_params,
        before_registration: true,
        run,
    }
}

/// Every command the IRC listener knows.
pub static COMMANDS: &[CommandSpec] = &[
    early("CAP", 1, cap::run),
    early("PASS", 1, registration::pass),
    early("NICK", 0, registration::nick),
    early("USER", 4, registration::user),
    early("AUTHENTICATE", 1, account::authenticate),
    early("PING", 0, ping::ping),
    early("PONG", 0, ping::pong),
    early("QUIT", 0, quit::run),
    command("REGISTER", 3, account::register),
    command("JOIN", 1, join::run),
    command("PART", 1, part::run),
    command("PRIVMSG", 0, message::privmsg),
    command("NOTICE", 0, message::notice),
    command("TAGMSG", 0, message::tagmsg),
    command("REDACT", 2, changes::redact),
    command("MARKREAD", 0, markread::run),
    command("NAMES", 0, names::run),
    command("TOPIC", 1, topic::run),
    command("LIST", 0, list::run),
    command("WHO", 0, who::run),
    command("WHOIS", 1, whois::whois),
    command("WHOWAS", 1, whois::whowas),
    command("MODE", 1, mode::run),
    command("KICK", 2, kick::run),
    command("INVITE", 2, invite::run),
    command("AWAY", 0, away::run),
    command("SETNAME", 1, setname::run),
    command("MONITOR", 1, monitor::run),
    command("LUSERS", 0, server_info::lusers),
    command("MOTD", 0, server_info::motd),
    command("VERSION", 0, server_info::version),
    command("TIME", 0, server_info::time),
    command("INFO", 0, server_info::info),
    command("ADMIN", 0, server_info::admin),
    command("LINKS", 0, server_info::links),
    command("USERHOST", 1, userhost::userhost),
    command("ISON", 1, userhost::ison),
    command("CHATHISTORY", 0, chathistory::run),
    command("OPER", 2, oper::oper),
    command("KILL", 1, oper::kill),
    command("KLINE", 1, admin::kline),
    command("UNKLINE", 1, admin::unkline),
    command("DLINE", 1, admin::dline),
    command("UNDLINE", 1, admin::undline),
    command("MUTE", 1, admin::mute),
    command("UNMUTE", 1, admin::unmute),
    command("LOCK", 1, admin::lock),
    command("UNLOCK", 1, admin::lock),
    command("DELROOM", 1, admin::delroom),
    command("GRANT", 2, admin::grant),
    command("REVOKE", 2, admin::grant),
    command("ANNOUNCE", 1, admin::announce),
    command("REHASH", 0, oper::operators_only),
    command("RESTART", 0, oper::operators_only),
    command("DIE", 0, oper::operators_only),
    command("SQUIT", 0, oper::operators_only),
    command("CONNECT", 0, oper::operators_only),
    command("WALLOPS", 0, oper::operators_only),
];

/// The table's line for `name` (already upper case, as the parser gives it).
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// What a command's answer to a hub frame comes to.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Lines of the reply; more may follow.
    More(Vec<IrcMessage>),
    /// The last lines of the reply: the command is over (no closing `pong` follows).
    Done(Vec<IrcMessage>),
}

/// A refusal from the hub, as data: what it is, what it is about, and the sentence for humans
/// (only ever shown as a last parameter).
#[derive(Debug, Clone, Copy)]
pub struct Refusal<'a> {
    pub code: ErrorCode,
    /// The nick or room the refusal is about, if any.
    pub subject: Option<&'a str>,
    pub message: &'a str,
}

impl Refusal<'_> {
    /// The nick the refusal is about, or `fallback`.
    pub fn nick_or(&self, fallback: &str) -> String {
        self.subject.unwrap_or(fallback).to_string()
    }

    /// The channel the refusal is about (`#room`), or `fallback`.
    pub fn channel_or(&self, fallback: &str) -> String {
        self.subject.map_or_else(
            || fallback.to_string(),
            |room| format!("#{}", room.trim_start_matches('#')),
        )
    }
}

/// A command that went to the hub and waits for its answers.
pub trait Waiting: Debug + Send {
    /// The command's name (FAIL replies; which command our own NOTICE answers).
    fn name(&self) -> &'static str;

    /// The registration itself (the one command a `not_joined` refusal is news to).
    fn registers(&self) -> bool {
        false
    }

    /// A frame carrying this command's token. `None`: not part of the reply (it is shown as it
    /// would be to anyone).
    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let _ = (lines, frame);
        None
    }

    /// The hub refused one of the command's requests.
    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        Step::More(vec![lines.fail_code(self.name(), refusal)])
    }

    /// The closing `pong`: lines that only make sense once everything else has arrived.
    fn end(&mut self, lines: &mut Lines) -> Vec<IrcMessage> {
        let _ = lines;
        Vec::new()
    }
}
