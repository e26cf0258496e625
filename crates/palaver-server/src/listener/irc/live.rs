//! The frames that answer no command of this connection: the chat as an IRC client sees it.
//!
//! Messages are PRIVMSG (rendered by [`cmd::message`]), a `system` join is JOIN, a departure is
//! one QUIT however many rooms announce it, a rename one NICK, topics are TOPIC, announcements
//! are server NOTICEs. Frames that only make sense as a reply (a `who`, a `history` page) and
//! arrive with no command waiting show nothing.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{validate, ServerFrame, SystemEvent};

use super::caps;
use super::cmd;
use super::lines::Lines;
use super::state::{channel, IrcState};

/// The lines for a frame no command is waiting for.
pub fn frame(lines: &mut Lines, frame: &ServerFrame) -> Vec<IrcMessage> {
    match frame {
        ServerFrame::Welcome(welcome) => cmd::registration::welcome(lines, welcome),
        ServerFrame::Message(m) => cmd::message::public(lines, m),
        ServerFrame::PrivateMessage(m) => cmd::message::private(lines, m),
        ServerFrame::Reaction(r) => cmd::changes::reaction(lines, r),
        ServerFrame::Edited(e) => cmd::changes::edited(lines, e),
        ServerFrame::Deleted(d) => cmd::changes::deleted(lines, d),
        ServerFrame::ReadMarker(m) => cmd::markread::seen(lines, m),
        ServerFrame::Typing {
            room,
            target,
            state,
            timestamp,
            ..
        } => cmd::changes::typing(
            lines,
            (room.as_deref(), target.as_deref()),
            *state,
            timestamp,
        ),
        ServerFrame::Notice {
            room,
            target,
            username,
            content,
            timestamp,
        } => cmd::message::notice_seen(
            lines,
            room.as_deref(),
            target.as_deref(),
            username,
            content,
            timestamp,
        ),
        ServerFrame::TagMessage {
            room,
            target,
            username,
            timestamp,
        } => cmd::message::tagmsg_seen(
            lines,
            room.as_deref(),
            target.as_deref(),
            username,
            timestamp,
        ),
        ServerFrame::System {
            room: Some(room),
            event: Some(event),
            username: Some(username),
            new_username,
            by,
            reason,
            ..
        } => system(
            lines,
            room,
            *event,
            username,
            new_username.as_deref(),
            by.as_deref(),
            reason.as_deref(),
        ),
        ServerFrame::Server { message, .. } => {
            let nick = lines.st.nick.clone();
            vec![lines.from_server("NOTICE", [nick, format!("[Announcement] {message}")])]
        }
        ServerFrame::Topic {
            room,
            topic,
            timestamp,
            ..
        } => {
            let mut line =
                IrcMessage::new("TOPIC", [channel(room), topic.clone()]).with_source(lines.source);
            line.tags = lines.chat_tags(timestamp, None);
            vec![line]
        }
        ServerFrame::ModeChanged {
            room,
            modes,
            params,
            ..
        } => {
            let mut all = vec![channel(room), modes.clone()];
            all.extend(params.iter().cloned());
            vec![IrcMessage::new("MODE", all).with_source(lines.source)]
        }
        ServerFrame::Invited { room, username, .. } => cmd::invite::seen(lines, room, username),
        ServerFrame::RealnameChanged { realname, .. } => cmd::setname::seen(lines, realname),
        ServerFrame::MonitorStatus {
            online, offline, ..
        } => cmd::monitor::status_lines(lines, online, offline),
        ServerFrame::AccountChanged { account, .. } if lines.has(caps::ACCOUNT_NOTIFY) => {
            let account = account.clone().unwrap_or_else(|| "*".into());
            vec![IrcMessage::new("ACCOUNT", [account]).with_source(lines.source)]
        }
        ServerFrame::Away {
            username, message, ..
        } => cmd::away::seen(lines, username, message.as_deref()),
        ServerFrame::Renamed { new, .. } => {
            let line = IrcMessage::new("NICK", [new.clone()]).with_source(lines.source);
            lines.st.nick = new.clone();
            vec![line]
        }
        // A channel this connection did not ask for (the account's other device joined it, or
        // this one attached to a user already in it): JOIN, topic, marker and names.
        ServerFrame::JoinedRoom {
            room,
            read_marker,
            members,
            operators,
            ..
        } => {
            let (fresh, mut out) = cmd::join::joined(lines, room);
            if fresh {
                let marker = read_marker.as_ref();
                out.extend(cmd::markread::on_join(lines, &room.name, marker));
                out.extend(cmd::names::member_lines(
                    lines, &room.name, members, operators,
                ));
            }
            out
        }
        // A private message sent from another device of this user: its echo.
        ServerFrame::PrivateConfirmation {
            id: Some(id),
            target,
            content,
            timestamp,
            delivered: true,
            state,
            reference: None,
            ..
        } if lines.has(caps::ECHO_MESSAGE) => {
            cmd::message::sent_elsewhere(lines, target, content, timestamp, *id, state)
        }
        ServerFrame::LeftRoom {
            room, by, reason, ..
        } => cmd::part::left(lines, room, by.as_deref(), reason.as_deref()),
        ServerFrame::History {
            room,
            with,
            messages,
            ..
        } => {
            let target = match (room, with) {
                (Some(room), _) => channel(room),
                (None, Some(with)) => with.clone(),
                _ => return Vec::new(),
            };
            cmd::chathistory::batch(lines, &target, messages)
        }
        ServerFrame::PasswordChanged { .. } => {
            let nick = lines.st.nick.clone();
            vec![lines.from_server("NOTICE", [nick, "Your password was changed.".to_string()])]
        }
        ServerFrame::Done { message, .. } => {
            let nick = lines.st.nick.clone();
            vec![lines.from_server("NOTICE", [nick, message.clone()])]
        }
        // Replies whose command is over, and the native keepalive (IRC has PING of its own).
        _ => Vec::new(),
    }
}

/// A join, part, kick, quit or rename seen in a shared room.
fn system(
    lines: &mut Lines,
    room: &str,
    event: SystemEvent,
    username: &str,
    new_username: Option<&str>,
    by: Option<&str>,
    reason: Option<&str>,
) -> Vec<IrcMessage> {
    let chan = channel(room);
    let source = lines.source;
    let event_seq = lines.event;
    // One QUIT or NICK per user, however many shared rooms announce it.
    let once = |st: &mut IrcState| {
        if event_seq.is_some() && st.last_event == event_seq {
            return false;
        }
        st.last_event = event_seq;
        true
    };
    match event {
        SystemEvent::Joined => vec![join_line(lines, chan)],
        SystemEvent::Left => {
            let mut params = vec![chan];
            params.extend(reason.map(str::to_string));
            vec![IrcMessage::new("PART", params).with_source(source)]
        }
        SystemEvent::Kicked if by.is_some() => {
            let why = reason.or(by).unwrap_or_default().to_string();
            vec![IrcMessage::new("KICK", [chan, username.to_string(), why]).with_source(source)]
        }
        SystemEvent::Disconnected | SystemEvent::Kicked => {
            if !once(lines.st) {
                return Vec::new();
            }
            let why = match reason {
                Some(r) if event == SystemEvent::Kicked => format!("Killed ({r})"),
                Some(r) => r.to_string(),
                None => "Connection closed".into(),
            };
            vec![IrcMessage::new("QUIT", [why]).with_source(source)]
        }
        SystemEvent::Renamed => {
            let Some(new) = new_username else {
                return Vec::new();
            };
            if !once(lines.st) {
                return Vec::new();
            }
            vec![IrcMessage::new("NICK", [new.to_string()]).with_source(source)]
        }
        SystemEvent::Topic | SystemEvent::Other => Vec::new(),
    }
}

/// Someone's JOIN: with extended-join, their account (`*` for none) and real name too.
fn join_line(lines: &Lines, chan: String) -> IrcMessage {
    let mut params = vec![chan];
    if lines.has(caps::EXTENDED_JOIN) {
        let sender = lines.sender;
        params.push(sender.account.clone().unwrap_or_else(|| "*".into()));
        params.push(sender.realname.clone().unwrap_or_default());
    }
    let mut line = IrcMessage::new("JOIN", params).with_source(lines.source);
    lines.push_account_tag(&mut line.tags);
    line
}

/// Whether `name` is this connection's channel (folded names).
pub fn in_channel(st: &IrcState, room: &str) -> bool {
    st.channels.contains(&validate::fold(room))
}
