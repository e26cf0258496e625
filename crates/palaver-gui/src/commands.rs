//! What the input line means: slash commands, plain text, and Tab completion of names.
//!
//! Pure functions, so the rules are tested without a window. The desktop client and the terminal
//! client share them.

use palaver_proto::ClientFrame;

/// The commands, for `/help` and the inline hint.
pub const COMMANDS: &[(&str, &str)] = &[
    ("/join #room [key]", "join (or create) a room; the key if it has one"),
    (
        "/leave [#room]",
        "leave a room (the current one by default)",
    ),
    ("/msg name text", "send a private message"),
    ("/me text", "describe an action: * alice waves"),
    (
        "/react [N] emoji",
        "react to the newest message (N: the Nth newest); again to take it back",
    ),
    ("/reply [N] text", "answer the newest message (or the Nth newest)"),
    ("/edit text", "replace the text of your newest message"),
    ("/delete [N]", "delete your newest message (or your Nth newest)"),
    ("/upload PATH", "send a file to this conversation"),
    ("/topic text", "set the current room's topic"),
    (
        "/kick name [reason]",
        "remove someone from the room (room operators)",
    ),
    (
        "/mode [+tsimkl-b ...]",
        "show or change the room's modes (room operators): +t topic lock, +m moderated, +i invite only, +k key, +l limit, +b mask, +o/+v name",
    ),
    (
        "/invite name [#room]",
        "invite someone into this room (needed for +i)",
    ),
    ("/op, /deop, /voice, /devoice name", "give or take operator status or voice"),
    (
        "/search words",
        "find messages in your rooms and private conversations (newest first)",
    ),
    ("/away [message]", "mark yourself away (no message: back)"),
    (
        "/mute name [minutes]",
        "silence someone in this room (moderators)",
    ),
    ("/unmute name", "let someone speak again (moderators)"),
    (
        "/ban name [minutes] [reason]",
        "ban a name from the server (admins)",
    ),
    ("/unban name", "lift a ban (admins)"),
    (
        "/lock, /unlock",
        "only moderators may enter this room (moderators)",
    ),
    (
        "/announce text",
        "a server announcement to everyone (admins)",
    ),
    ("/register password", "protect your name with a password"),
    ("/password old new", "change your account's password"),
    ("/help", "list the commands"),
];

/// What to do with a line typed into the input.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Send this frame to the server.
    Send(ClientFrame),
    /// Send a private message and show the direct conversation with `to`.
    Private {
        to: String,
        content: String,
    },
    /// Send the file at this path to the conversation shown.
    Upload(std::path::PathBuf),
    /// Show the command list.
    Help,
    /// Leave the server.
    Quit,
    /// The line was wrong: say why.
    Refuse(String),
    /// Do something to a message of the conversation shown: the `back`-th newest (1: the
    /// newest), counting only mine if `mine`.
    OnMessage {
        back: usize,
        mine: bool,
        act: MessageAct,
    },
    Nothing,
}

/// What `/react`, `/reply`, `/edit` and `/delete` do to a message.
#[derive(Debug, Clone, PartialEq)]
pub enum MessageAct {
    React(String),
    Reply(String),
    Edit(String),
    Delete,
}

/// Where plain text goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Room(String),
    Direct(String),
}

/// Interprets a line typed while `target` is the conversation shown.
pub fn interpret(line: &str, target: &Target) -> Action {
    let line = line.trim_end_matches(['\n', '\r']);
    if line.trim().is_empty() {
        return Action::Nothing;
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return plain(&format!("/{escaped}"), target);
    }
    let Some(command) = line.strip_prefix('/') else {
        return plain(line, target);
    };
    let (name, rest) = command.split_once(' ').unwrap_or((command, ""));
    let rest = rest.trim();
    match name.to_lowercase().as_str() {
        "join" | "j" => {
            let mut words = rest.split_whitespace();
            match words.next() {
                Some(room) => Action::Send(ClientFrame::JoinRoom {
                    room: room.to_string(),
                    key: words.next().map(str::to_string),
                }),
                None => Action::Refuse("Usage: /join #room [key]".into()),
            }
        }
        "mode" => {
            let mut words: Vec<&str> = rest.split_whitespace().collect();
            let room = match words.first() {
                Some(w) if w.starts_with('#') => Some(words.remove(0).trim_start_matches('#').to_string()),
                _ => room_of(target),
            };
            let Some(room) = room else {
                return Action::Refuse("Usage: /mode [#room] [+tsimkl-b ...]".into());
            };
            let modes = words.first().map(|m| m.to_string());
            let params = words.iter().skip(1).map(|w| w.to_string()).collect();
            Action::Send(ClientFrame::Mode { room, modes, params })
        }
        "op" | "deop" | "voice" | "devoice" => match (rest.split_whitespace().next(), room_of(target)) {
            (Some(who), Some(room)) => {
                let modes = match name.to_lowercase().as_str() {
                    "op" => "+o",
                    "deop" => "-o",
                    "voice" => "+v",
                    _ => "-v",
                };
                Action::Send(ClientFrame::Mode {
                    room,
                    modes: Some(modes.into()),
                    params: vec![who.to_string()],
                })
            }
            (None, _) => Action::Refuse(format!("Usage: /{name} name")),
            (_, None) => Action::Refuse(format!("/{name} works in a room; switch to the room first.")),
        },
        "search" | "find" => {
            if rest.is_empty() {
                return Action::Refuse("Usage: /search words".into());
            }
            Action::Send(ClientFrame::Search {
                query: rest.to_string(),
                room: None,
                with: None,
                from: None,
                after: None,
                before: None,
                before_id: None,
                limit: None,
            })
        }
        "invite" => {
            let mut words = rest.split_whitespace();
            let who = words.next();
            let room = words
                .next()
                .map(|r| r.trim_start_matches('#').to_string())
                .or_else(|| room_of(target));
            match (who, room) {
                (Some(who), Some(room)) => Action::Send(ClientFrame::Invite {
                    room,
                    username: who.to_string(),
                }),
                _ => Action::Refuse("Usage: /invite name [#room]".into()),
            }
        }
        "leave" | "part" => {
            let room = match (rest.split_whitespace().next(), target) {
                (Some(room), _) => room.to_string(),
                (None, Target::Room(room)) => room.clone(),
                (None, Target::Direct(_)) => return Action::Refuse("Usage: /leave #room".into()),
            };
            Action::Send(ClientFrame::LeaveRoom { room, reason: None })
        }
        "msg" | "query" => match rest.split_once(' ') {
            Some((to, content)) if !content.trim().is_empty() => Action::Private {
                to: to.to_string(),
                content: palaver_proto::emoji::replace_shortcodes(content.trim()),
            },
            _ => Action::Refuse("Usage: /msg name text".into()),
        },
        "upload" | "file" => match rest {
            "" => Action::Refuse("Usage: /upload PATH".into()),
            path => Action::Upload(std::path::PathBuf::from(path)),
        },
        "react" => {
            let (back, emoji) = back_and_rest(rest);
            match emoji.split_whitespace().next() {
                Some(emoji) => Action::OnMessage {
                    back,
                    mine: false,
                    act: MessageAct::React(emoji.to_string()),
                },
                None => Action::Refuse("Usage: /react [N] emoji  (N: messages back, 1 = the newest)".into()),
            }
        }
        "reply" => {
            let (back, text) = back_and_rest(rest);
            if text.is_empty() {
                return Action::Refuse("Usage: /reply [N] text  (N: messages back, 1 = the newest)".into());
            }
            Action::OnMessage {
                back,
                mine: false,
                act: MessageAct::Reply(palaver_proto::emoji::replace_shortcodes(text)),
            }
        }
        "edit" if rest.is_empty() => Action::Refuse("Usage: /edit new text  (your newest message)".into()),
        "edit" => Action::OnMessage {
            back: 1,
            mine: true,
            act: MessageAct::Edit(palaver_proto::emoji::replace_shortcodes(rest)),
        },
        "delete" => Action::OnMessage {
            back: back_and_rest(rest).0,
            mine: true,
            act: MessageAct::Delete,
        },
        "me" => {
            if rest.is_empty() {
                Action::Refuse("Usage: /me text".into())
            } else {
                plain(&format!("/me {rest}"), target)
            }
        }
        "topic" => match target {
            Target::Room(room) => Action::Send(ClientFrame::Topic {
                room: room.clone(),
                topic: rest.to_string(),
            }),
            Target::Direct(_) => Action::Refuse("Topics belong to rooms; switch to a room first.".into()),
        },
        "kick" => match (rest.split_once(' '), target) {
            (_, Target::Direct(_)) => Action::Refuse("Kick from a room: switch to the room first.".into()),
            (Some((name, reason)), Target::Room(room)) => Action::Send(ClientFrame::Kick {
                room: room.clone(),
                username: name.to_string(),
                reason: Some(reason.trim().to_string()).filter(|r| !r.is_empty()),
            }),
            (None, Target::Room(room)) if !rest.is_empty() => Action::Send(ClientFrame::Kick {
                room: room.clone(),
                username: rest.to_string(),
                reason: None,
            }),
            _ => Action::Refuse("Usage: /kick name [reason]".into()),
        },
        "mute" | "unmute" | "lock" | "unlock" if matches!(target, Target::Direct(_)) => {
            Action::Refuse(format!("/{name} works in a room; switch to the room first."))
        }
        "mute" => match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [who, rest @ ..] => Action::Send(ClientFrame::Mute {
                username: who.to_string(),
                room: room_of(target),
                minutes: rest.first().and_then(|m| m.parse().ok()),
            }),
            [] => Action::Refuse("Usage: /mute name [minutes]".into()),
        },
        "unmute" => match rest.split_whitespace().next() {
            Some(who) => Action::Send(ClientFrame::Unmute {
                username: who.to_string(),
                room: room_of(target),
            }),
            None => Action::Refuse("Usage: /unmute name".into()),
        },
        "ban" => {
            let mut words = rest.split_whitespace();
            match words.next() {
                Some(who) => {
                    let mut rest: Vec<&str> = words.collect();
                    let minutes = rest.first().and_then(|m| m.parse::<u64>().ok());
                    if minutes.is_some() {
                        rest.remove(0);
                    }
                    let reason = rest.join(" ");
                    Action::Send(ClientFrame::Ban {
                        username: Some(who.to_string()),
                        address: None,
                        minutes,
                        reason: Some(reason).filter(|r| !r.is_empty()),
                    })
                }
                None => Action::Refuse("Usage: /ban name [minutes] [reason]".into()),
            }
        }
        "unban" => match rest.split_whitespace().next() {
            Some(who) => Action::Send(ClientFrame::Unban {
                username: Some(who.to_string()),
                address: None,
            }),
            None => Action::Refuse("Usage: /unban name".into()),
        },
        "lock" | "unlock" => Action::Send(ClientFrame::LockRoom {
            room: room_of(target).unwrap_or_default(),
            locked: name.eq_ignore_ascii_case("lock"),
        }),
        "announce" if !rest.is_empty() => Action::Send(ClientFrame::Announce {
            message: rest.to_string(),
        }),
        "announce" => Action::Refuse("Usage: /announce text".into()),
        "away" => Action::Send(ClientFrame::Away {
            message: Some(rest.to_string()).filter(|m| !m.is_empty()),
        }),
        "register" => match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [password] => Action::Send(ClientFrame::Register {
                password: palaver_proto::Secret(password.to_string()),
            }),
            _ => Action::Refuse("Usage: /register password (one word, at least 8 characters)".into()),
        },
        "password" => match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            [old, new] => Action::Send(ClientFrame::ChangePassword {
                old: palaver_proto::Secret(old.to_string()),
                new: palaver_proto::Secret(new.to_string()),
            }),
            _ => Action::Refuse("Usage: /password old new".into()),
        },
        "help" | "?" => Action::Help,
        "quit" | "exit" => Action::Quit,
        other => Action::Refuse(format!("Unknown command /{other}; type /help for the list (start with // to send a line beginning with /).")),
    }
}

fn room_of(target: &Target) -> Option<String> {
    match target {
        Target::Room(room) => Some(room.clone()),
        Target::Direct(_) => None,
    }
}

/// A message to the conversation shown; known `:shortcodes:` become their emoji.
fn plain(text: &str, target: &Target) -> Action {
    let content = palaver_proto::emoji::replace_shortcodes(text);
    match target {
        Target::Room(room) => Action::Send(ClientFrame::Message {
            attachments: Vec::new(),
            reply_to: None,
            content,
            room: Some(room.clone()),
        }),
        Target::Direct(to) => Action::Private {
            to: to.clone(),
            content,
        },
    }
}

/// `[N] rest`: how many messages back (1, the newest, when there is no number), and the rest.
fn back_and_rest(rest: &str) -> (usize, &str) {
    match rest.split_once(' ') {
        Some((n, after)) if n.parse::<usize>().is_ok_and(|n| n > 0) => {
            (n.parse().unwrap_or(1), after.trim())
        }
        _ => match rest.parse::<usize>() {
            Ok(n) if n > 0 => (n, ""),
            _ => (1, rest),
        },
    }
}

/// Tab after `:sho`: the closest emoji for the shortcode being typed. True if it completed.
pub fn complete_emoji(input: &mut String) -> bool {
    let start = input
        .rfind(|c: char| c.is_whitespace())
        .map_or(0, |i| i + 1);
    let word = &input[start..];
    let Some(code) = word
        .strip_prefix(':')
        .filter(|c| c.len() >= 2 && !c.contains(':'))
    else {
        return false;
    };
    let Some((_, emoji)) = palaver_proto::emoji::complete(code, 1).into_iter().next() else {
        return false;
    };
    input.truncate(start);
    input.push_str(emoji);
    true
}

/// Commands whose name starts with what is typed, for the inline hint.
pub fn hints(input: &str) -> Vec<(&'static str, &'static str)> {
    let Some(typed) = input.strip_prefix('/') else {
        return Vec::new();
    };
    if typed.contains(' ') || input.starts_with("//") {
        return Vec::new();
    }
    COMMANDS
        .iter()
        .filter(|(usage, _)| usage[1..].starts_with(&typed.to_lowercase()))
        .copied()
        .collect()
}

/// Tab completion state: cycles through names matching the word being completed.
#[derive(Debug, Default, Clone)]
pub struct Completion {
    /// The line before the first Tab, and the candidates found then.
    base: Option<(String, Vec<String>)>,
    index: usize,
}

impl Completion {
    /// Completes the last word of `input` against `names`; repeated calls cycle. Returns the new
    /// input, or `None` if nothing matches.
    pub fn complete(&mut self, input: &str, names: &[String]) -> Option<String> {
        let (base, candidates) = match &self.base {
            Some((base, candidates)) if self.is_continuation(input) => {
                (base.clone(), candidates.clone())
            }
            _ => {
                let word_start = input.rfind(' ').map_or(0, |i| i + 1);
                let prefix = palaver_proto::validate::fold(&input[word_start..]);
                let candidates: Vec<String> = names
                    .iter()
                    .filter(|n| palaver_proto::validate::fold(n).starts_with(&prefix))
                    .cloned()
                    .collect();
                if candidates.is_empty() || prefix.is_empty() {
                    return None;
                }
                self.base = Some((input.to_string(), candidates.clone()));
                self.index = 0;
                (input.to_string(), candidates)
            }
        };
        let word_start = base.rfind(' ').map_or(0, |i| i + 1);
        let name = &candidates[self.index % candidates.len()];
        self.index += 1;
        let suffix = if word_start == 0 { ": " } else { " " };
        Some(format!("{}{}{}", &base[..word_start], name, suffix))
    }

    fn is_continuation(&self, input: &str) -> bool {
        let Some((base, candidates)) = &self.base else {
            return false;
        };
        let word_start = base.rfind(' ').map_or(0, |i| i + 1);
        candidates.iter().any(|n| {
            input == format!("{}{}: ", &base[..word_start], n)
                || input == format!("{}{} ", &base[..word_start], n)
        })
    }

    /// Forgets the cycle (any key other than Tab).
    pub fn reset(&mut self) {
        self.base = None;
        self.index = 0;
    }
}

/// Up/Down recall of lines sent before.
#[derive(Debug, Default, Clone)]
pub struct Recall {
    sent: Vec<String>,
    /// Position while browsing (None: not browsing).
    at: Option<usize>,
}

impl Recall {
    pub fn push(&mut self, line: String) {
        if self.sent.last() != Some(&line) {
            self.sent.push(line);
        }
        if self.sent.len() > 500 {
            self.sent.remove(0);
        }
        self.at = None;
    }

    /// The previous line sent, if any.
    pub fn up(&mut self) -> Option<&str> {
        let at = match self.at {
            None => self.sent.len().checked_sub(1)?,
            Some(0) => 0,
            Some(i) => i - 1,
        };
        self.at = Some(at);
        self.sent.get(at).map(String::as_str)
    }

    /// The next line sent, or an empty line past the newest.
    pub fn down(&mut self) -> Option<&str> {
        let at = self.at?;
        if at + 1 >= self.sent.len() {
            self.at = None;
            return Some("");
        }
        self.at = Some(at + 1);
        self.sent.get(at + 1).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room() -> Target {
        Target::Room("general".into())
    }

    #[test]
    fn plain_text_goes_to_the_conversation_shown() {
        assert_eq!(
            interpret("hello", &room()),
            Action::Send(ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: "hello".into(),
                room: Some("general".into())
            })
        );
        assert_eq!(
            interpret("hello", &Target::Direct("bob".into())),
            Action::Private {
                to: "bob".into(),
                content: "hello".into()
            }
        );
        assert_eq!(interpret("   ", &room()), Action::Nothing);
    }

    #[test]
    fn commands() {
        assert_eq!(
            interpret("/join #rust", &room()),
            Action::Send(ClientFrame::JoinRoom {
                room: "#rust".into(),
                key: None
            })
        );
        assert_eq!(
            interpret("/leave", &room()),
            Action::Send(ClientFrame::LeaveRoom {
                room: "general".into(),
                reason: None
            })
        );
        assert_eq!(
            interpret("/msg bob  see you soon", &room()),
            Action::Private {
                to: "bob".into(),
                content: "see you soon".into()
            }
        );
        assert_eq!(
            interpret("/me waves", &room()),
            Action::Send(ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: "/me waves".into(),
                room: Some("general".into())
            })
        );
        assert_eq!(interpret("/help", &room()), Action::Help);
        assert!(matches!(interpret("/msg bob", &room()), Action::Refuse(_)));
        assert!(
            matches!(interpret("/frobnicate", &room()), Action::Refuse(m) if m.contains("/help"))
        );
        assert_eq!(
            interpret("//shrug", &room()),
            Action::Send(ClientFrame::Message {
                attachments: Vec::new(),
                reply_to: None,
                content: "/shrug".into(),
                room: Some("general".into())
            })
        );
    }

    #[test]
    fn hints_follow_the_prefix() {
        assert_eq!(hints("/j").len(), 1);
        assert_eq!(hints("/").len(), COMMANDS.len());
        assert!(hints("hello").is_empty());
        assert!(hints("/join x").is_empty());
    }

    #[test]
    fn tab_completes_and_cycles() {
        let names: Vec<String> = ["alice", "Albert", "bob"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut c = Completion::default();
        assert_eq!(c.complete("al", &names).as_deref(), Some("alice: "));
        assert_eq!(c.complete("alice: ", &names).as_deref(), Some("Albert: "));
        assert_eq!(c.complete("Albert: ", &names).as_deref(), Some("alice: "));
        c.reset();
        assert_eq!(
            c.complete("thanks b", &names).as_deref(),
            Some("thanks bob ")
        );
        c.reset();
        assert_eq!(c.complete("zed", &names), None);
    }

    #[test]
    fn recall_walks_back_and_forth() {
        let mut r = Recall::default();
        r.push("one".into());
        r.push("two".into());
        assert_eq!(r.up(), Some("two"));
        assert_eq!(r.up(), Some("one"));
        assert_eq!(r.up(), Some("one"));
        assert_eq!(r.down(), Some("two"));
        assert_eq!(r.down(), Some(""));
        assert_eq!(r.down(), None);
    }

    #[test]
    fn account_and_moderation_commands() {
        let room = Target::Room("general".into());
        assert_eq!(
            interpret("/kick bob spamming links", &room),
            Action::Send(ClientFrame::Kick {
                room: "general".into(),
                username: "bob".into(),
                reason: Some("spamming links".into())
            })
        );
        assert!(matches!(interpret("/kick", &room), Action::Refuse(_)));
        assert!(matches!(
            interpret("/register hunter2hunter2", &room),
            Action::Send(ClientFrame::Register { .. })
        ));
        assert!(matches!(
            interpret("/register two words", &room),
            Action::Refuse(_)
        ));
        assert!(matches!(
            interpret("/password old-one new-one", &room),
            Action::Send(ClientFrame::ChangePassword { .. })
        ));
        assert_eq!(
            interpret("/away", &room),
            Action::Send(ClientFrame::Away { message: None })
        );
        assert_eq!(
            interpret("/ban mallory 30 posting spam", &room),
            Action::Send(ClientFrame::Ban {
                username: Some("mallory".into()),
                address: None,
                minutes: Some(30),
                reason: Some("posting spam".into())
            })
        );
        assert_eq!(
            interpret("/mute bob 5", &room),
            Action::Send(ClientFrame::Mute {
                username: "bob".into(),
                room: Some("general".into()),
                minutes: Some(5)
            })
        );
        assert!(matches!(
            interpret("/lock", &room),
            Action::Send(ClientFrame::LockRoom { locked: true, .. })
        ));
    }

    #[test]
    fn search_asks_the_server() {
        assert!(matches!(
            interpret("/search deploy tonight", &room()),
            Action::Send(ClientFrame::Search { query, room: None, .. }) if query == "deploy tonight"
        ));
        assert!(matches!(interpret("/search", &room()), Action::Refuse(_)));
    }
}
