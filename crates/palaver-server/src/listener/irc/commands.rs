//! IRC commands to hub requests, for one connection: the half of the IRC listener that reads.
//!
//! [`Commands::handle`] takes one parsed line and returns what to do: requests for the hub
//! (tagged with the command's token, see [`super::state`]), replies the listener can give on its
//! own (CAP, MOTD, the numerics for missing parameters), or the end of the connection. It does
//! no I/O, so the registration state machine and every numeric are tested without a socket.

use std::sync::{Arc, Mutex};

use serde_json::Value;

use palaver_proto::irc::IrcMessage;
use palaver_proto::{timestamp, validate, ClientFrame, Request};

use super::caps;
use super::numeric::Numeric;
use super::state::{numeric, Command, IrcState, ServerIdentity};
use super::translate::isupport;
use crate::hub::{Profile, Protocol};

/// What a command asks the connection to do, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// What this connection says about itself, before it joins.
    Identify(Profile),
    Hub(Request),
    /// Lines to send, in order with the hub's replies.
    Reply(Vec<IrcMessage>),
    /// QUIT: send the lines, then leave with this reason.
    Quit(Vec<IrcMessage>, String),
}

/// The reading half of one IRC connection.
pub struct Commands {
    server: Arc<ServerIdentity>,
    state: Arc<Mutex<IrcState>>,
    /// NICK and USER as given before registration.
    nick: Option<String>,
    user: Option<(String, String)>,
    /// SASL PLAIN in progress: the base64 received so far (None: not started).
    sasl: Option<String>,
}

/// Commands a connection may use before it has registered.
const BEFORE_REGISTRATION: &[&str] = &[
    "CAP",
    "NICK",
    "USER",
    "PASS",
    "PING",
    "PONG",
    "QUIT",
    "AUTHENTICATE",
];

impl Commands {
    pub fn new(server: Arc<ServerIdentity>, state: Arc<Mutex<IrcState>>) -> Self {
        Commands {
            server,
            state,
            nick: None,
            user: None,
            sasl: None,
        }
    }

    /// The connection's nick (`*` before registration).
    pub fn nick_now(&self) -> String {
        self.lock().nick.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, IrcState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn num(
        &self,
        code: Numeric,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> IrcMessage {
        let nick = self.lock().nick.clone();
        numeric(&self.server.name, &nick, code, params)
    }

    /// Local reply lines, labeled if the command was.
    fn reply(&self, label: Option<String>, lines: Vec<IrcMessage>) -> Vec<Action> {
        let mut st = self.lock();
        let lines = match label.filter(|_| st.caps.has(caps::LABELED_RESPONSE)) {
            Some(label) => st.labeled(label, lines, &self.server.name),
            None => lines,
        };
        if lines.is_empty() {
            Vec::new()
        } else {
            vec![Action::Reply(lines)]
        }
    }

    /// A hub request with the command's token as `ref`.
    fn request(token: u64, frame: ClientFrame) -> Action {
        Action::Hub(Request {
            frame,
            reference: Some(Value::from(token)),
            client_tags: Vec::new(),
        })
    }

    /// The request that closes a command (see [`super::state`]).
    fn end(token: u64) -> Action {
        Self::request(token, ClientFrame::Ping)
    }

    /// Starts `command` and asks the hub `frames` for it, closed by a `ping`.
    fn ask(
        &self,
        command: Command,
        label: Option<String>,
        frames: impl IntoIterator<Item = ClientFrame>,
    ) -> Vec<Action> {
        let token = self.lock().begin(command, label);
        let mut actions: Vec<Action> = frames
            .into_iter()
            .map(|f| Self::request(token, f))
            .collect();
        actions.push(Self::end(token));
        actions
    }

    /// One line from the client.
    pub fn handle(&mut self, msg: IrcMessage) -> Vec<Action> {
        let label = msg
            .tag("label")
            .flatten()
            .map(str::to_string)
            .filter(|l| !l.is_empty() && l.len() <= 64);
        let (registered, registering) = {
            let st = self.lock();
            (st.registered, st.registering)
        };
        let command = msg.command.as_str();
        // Once the registration is on its way, later commands follow it to the hub in order
        // (clients send JOIN right after USER without waiting for the welcome).
        if !registered && !registering && !BEFORE_REGISTRATION.contains(&command) {
            let line = numeric(
                &self.server.name,
                "*",
                Numeric::ERR_NOTREGISTERED,
                ["You have not registered"],
            );
            return self.reply(label, vec![line]);
        }
        let p = &msg.params;
        let need = |n: usize| p.len() < n;
        if need(min_params(command)) {
            let line = self.num(
                Numeric::ERR_NEEDMOREPARAMS,
                [command, "Not enough parameters"],
            );
            return self.reply(label, vec![line]);
        }
        match command {
            "CAP" => self.cap(p, label),
            "PASS" if registered => {
                let line = self.num(Numeric::ERR_ALREADYREGISTERED, ["You may not reregister"]);
                self.reply(label, vec![line])
            }
            "PASS" => self.reply(label, Vec::new()),
            "NICK" => self.nick(p.first(), label),
            "USER" if registered => {
                let line = self.num(Numeric::ERR_ALREADYREGISTERED, ["You may not reregister"]);
                self.reply(label, vec![line])
            }
            "USER" if p[0].is_empty() || p[3].is_empty() => {
                let line = self.num(
                    Numeric::ERR_NEEDMOREPARAMS,
                    ["USER", "Not enough parameters"],
                );
                self.reply(label, vec![line])
            }
            "USER" => {
                self.user = Some((p[0].clone(), p[3].clone()));
                self.try_register(label)
            }
            "PING" => {
                let token = self.lock().begin(
                    Command::Ping {
                        token: p[0].clone(),
                    },
                    label,
                );
                vec![Self::end(token)]
            }
            "PONG" => self.reply(label, Vec::new()),
            "QUIT" => {
                let reason = p
                    .first()
                    .map(|r| format!("Quit: {r}"))
                    .unwrap_or_else(|| "Quit".into());
                let error = IrcMessage::new("ERROR", [format!("Closing link: ({reason})")]);
                vec![Action::Quit(vec![error], reason)]
            }
            "JOIN" => self.join(p, label),
            "PART" => self.part(p, label),
            "PRIVMSG" | "NOTICE" => {
                let client_tags: Vec<(String, Option<String>)> = msg
                    .tags
                    .iter()
                    .filter(|(k, _)| k.starts_with('+'))
                    .cloned()
                    .collect();
                let mut actions = self.message(command == "NOTICE", p, label);
                for action in &mut actions {
                    if let Action::Hub(request) = action {
                        if matches!(
                            request.frame,
                            ClientFrame::Message { .. }
                                | ClientFrame::PrivateMessage { .. }
                                | ClientFrame::Notice { .. }
                        ) {
                            request.client_tags = client_tags.clone();
                        }
                    }
                }
                actions
            }
            "TAGMSG" => {
                let client_tags: Vec<(String, Option<String>)> = msg
                    .tags
                    .iter()
                    .filter(|(k, _)| k.starts_with('+'))
                    .cloned()
                    .collect();
                let Some(target) = p.first().filter(|t| !t.is_empty()) else {
                    let line = self.num(Numeric::ERR_NORECIPIENT, ["No recipient given (TAGMSG)"]);
                    return self.reply(label, vec![line]);
                };
                let (room, target) = match target.strip_prefix('#') {
                    Some(room) => (Some(room.to_string()), None),
                    None => (None, Some(target.clone())),
                };
                let token = self.lock().begin(Command::TagMsg, label);
                let mut request = Request {
                    frame: ClientFrame::TagMessage { room, target },
                    reference: Some(Value::from(token)),
                    client_tags,
                };
                if request.client_tags.is_empty() {
                    // Nothing to relay: just the (labeled) acknowledgement.
                    request.frame = ClientFrame::Ping;
                }
                vec![Action::Hub(request), Self::end(token)]
            }
            "NAMES" => self.names(p, label),
            "TOPIC" => self.topic(p, label),
            "LIST" => {
                let only = p
                    .first()
                    .filter(|f| !f.is_empty())
                    .map(|f| f.split(',').map(str::to_string).collect());
                self.ask(Command::List { only }, label, [ClientFrame::Rooms])
            }
            "WHO" => self.who(p, label),
            "WHOIS" => {
                // WHOIS [server] nick
                let nick = p.last().cloned().unwrap_or_default();
                let nick = nick.split(',').next().unwrap_or_default().to_string();
                self.ask(
                    Command::Whois { nick: nick.clone() },
                    label,
                    [ClientFrame::Whois { username: nick }],
                )
            }
            "WHOWAS" => {
                let nick = p[0].clone();
                let count = p
                    .get(1)
                    .and_then(|c| c.parse::<usize>().ok())
                    .filter(|c| *c > 0);
                self.ask(
                    Command::Whowas {
                        nick: nick.clone(),
                        count,
                    },
                    label,
                    [ClientFrame::Whowas { username: nick }],
                )
            }
            "MODE" => self.mode(p, label),
            "KICK" => self.kick(p, label),
            "AWAY" => {
                let message = p.first().filter(|m| !m.is_empty()).cloned();
                self.ask(Command::Away, label, [ClientFrame::Away { message }])
            }
            "LUSERS" => self.ask(Command::Lusers, label, [ClientFrame::Info]),
            "MOTD" => {
                let nick = self.lock().nick.clone();
                self.reply(label, motd(&self.server, &nick))
            }
            "VERSION" => {
                let mut lines = vec![self.num(
                    Numeric::RPL_VERSION,
                    [
                        format!("palaver-{}", self.server.version),
                        self.server.name.clone(),
                        "Palaver chat server".into(),
                    ],
                )];
                lines.extend(self.isupport_lines());
                self.reply(label, lines)
            }
            "TIME" => {
                let now = timestamp::format_millis(timestamp::now_millis());
                let line = self.num(Numeric::RPL_TIME, [self.server.name.clone(), now]);
                self.reply(label, vec![line])
            }
            "INFO" => {
                let lines = vec![
                    self.num(
                        Numeric::RPL_INFO,
                        [format!(
                            "Palaver {}: a chat server for native, IRC and web clients",
                            self.server.version
                        )],
                    ),
                    self.num(Numeric::RPL_ENDOFINFO, ["End of INFO list"]),
                ];
                self.reply(label, lines)
            }
            "USERHOST" => {
                let asks = p.iter().take(5).map(|nick| ClientFrame::Who {
                    room: None,
                    username: Some(nick.clone()),
                });
                self.ask(Command::Userhost, label, asks)
            }
            "ISON" => {
                let nicks: Vec<String> = p
                    .iter()
                    .flat_map(|n| n.split(' '))
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect();
                self.ask(
                    Command::Ison { nicks },
                    label,
                    [ClientFrame::Users { room: None }],
                )
            }
            "CHATHISTORY" => self.chathistory(p, label),
            "AUTHENTICATE" => self.authenticate(p, label),
            "REGISTER" => {
                // REGISTER <account> <email> <password>; the account is your nick ("*").
                let account = if p[0] == "*" {
                    self.lock().nick.clone()
                } else {
                    p[0].clone()
                };
                if !self.lock().is_me(&account) {
                    let line = IrcMessage::new(
                        "FAIL",
                        [
                            "REGISTER",
                            "ACCOUNT_NAME_MUST_BE_NICK",
                            account.as_str(),
                            "Register the nick you are using",
                        ],
                    )
                    .with_source(self.server.name.as_str());
                    return self.reply(label, vec![line]);
                }
                let token = self
                    .lock()
                    .begin(Command::RegisterAccount { account }, label);
                vec![
                    // No closing ping: the answer comes after the password is hashed, off the
                    // hub's task; the `registered` or `error` frame ends the command.
                    Self::request(
                        token,
                        ClientFrame::Register {
                            password: palaver_proto::Secret(p[2].clone()),
                        },
                    ),
                ]
            }
            "OPER" => {
                let line = self.num(Numeric::ERR_NOOPERHOST, ["No O-lines for your host"]);
                self.reply(label, vec![line])
            }
            "KILL" | "REHASH" | "RESTART" | "DIE" | "SQUIT" | "CONNECT" | "WALLOPS" => {
                let line = self.num(
                    Numeric::ERR_NOPRIVILEGES,
                    ["Permission Denied- You're not an IRC operator"],
                );
                self.reply(label, vec![line])
            }
            other => {
                let line = self.num(Numeric::ERR_UNKNOWNCOMMAND, [other, "Unknown command"]);
                self.reply(label, vec![line])
            }
        }
    }

    /// The answer to a line that is not UTF-8 (UTF8ONLY): `FAIL <command> INVALID_UTF8`,
    /// labeled if it was; `lossy` is the line with the bad bytes replaced.
    pub fn refuse_non_utf8(&self, lossy: &str) -> Vec<Action> {
        let parsed = IrcMessage::parse(lossy).ok();
        let command = parsed
            .as_ref()
            .map(|m| m.command.clone())
            .unwrap_or_else(|| "*".into());
        let label = parsed
            .as_ref()
            .and_then(|m| m.tag("label").flatten().map(str::to_string));
        let fail = IrcMessage::new(
            "FAIL",
            [
                command.as_str(),
                "INVALID_UTF8",
                "Your line was not UTF-8 and was dropped; this network is UTF-8 only",
            ],
        )
        .with_source(self.server.name.as_str());
        self.reply(label, vec![fail])
    }

    fn isupport_lines(&self) -> Vec<IrcMessage> {
        isupport(&self.server)
            .chunks(12)
            .map(|chunk| {
                let mut params = chunk.to_vec();
                params.push("are supported by this server".into());
                self.num(Numeric::RPL_ISUPPORT, params)
            })
            .collect()
    }

    fn cap(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let sub = p[0].to_ascii_uppercase();
        let nick = self.lock().nick.clone();
        let server = self.server.name.clone();
        let cap_line = |params: Vec<String>| {
            let mut all = vec![nick.clone()];
            all.extend(params);
            IrcMessage::new("CAP", all).with_source(server.as_str())
        };
        match sub.as_str() {
            "LS" => {
                let version: u32 = p.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
                {
                    let mut st = self.lock();
                    if !st.registered {
                        st.cap_negotiating = true;
                    }
                    if version >= 302 {
                        st.caps.set(caps::CAP_NOTIFY, true);
                    }
                }
                let line = cap_line(vec![
                    "LS".into(),
                    caps::ls_entries(version >= 302).join(" "),
                ]);
                self.reply(label, vec![line])
            }
            "LIST" => {
                let enabled = self.lock().caps.names();
                self.reply(label, vec![cap_line(vec!["LIST".into(), enabled])])
            }
            "REQ" => {
                let asked = p.get(1).cloned().unwrap_or_default();
                let mut changes = Vec::new();
                let mut ok = true;
                for word in asked.split(' ').filter(|w| !w.is_empty()) {
                    let (on, name) = match word.strip_prefix('-') {
                        Some(name) => (false, name),
                        None => (true, word),
                    };
                    match caps::find(name) {
                        // cap-notify cannot be turned off once implied by 302, as the spec says.
                        Some(cap) if cap != caps::CAP_NOTIFY || on => changes.push((cap, on)),
                        _ => ok = false,
                    }
                }
                let mut st = self.lock();
                if !st.registered {
                    st.cap_negotiating = true;
                }
                let verdict = if ok && !changes.is_empty() {
                    for (cap, on) in changes {
                        st.caps.set(cap, on);
                    }
                    "ACK"
                } else {
                    "NAK"
                };
                drop(st);
                self.reply(label, vec![cap_line(vec![verdict.into(), asked])])
            }
            "END" => {
                {
                    let mut st = self.lock();
                    if st.registered {
                        return Vec::new();
                    }
                    st.cap_negotiating = false;
                }
                self.try_register(label)
            }
            other => {
                let line = numeric(
                    &self.server.name,
                    &nick,
                    Numeric::ERR_INVALIDCAPCMD,
                    [other, "Invalid CAP command"],
                );
                self.reply(label, vec![line])
            }
        }
    }

    fn nick(&mut self, wanted: Option<&String>, label: Option<String>) -> Vec<Action> {
        let Some(wanted) = wanted.filter(|w| !w.is_empty()) else {
            let line = self.num(Numeric::ERR_NONICKNAMEGIVEN, ["No nickname given"]);
            return self.reply(label, vec![line]);
        };
        let Ok(nick) = validate::username(wanted) else {
            let line = self.num(
                Numeric::ERR_ERRONEUSNICKNAME,
                [wanted.as_str(), "Erroneous nickname"],
            );
            return self.reply(label, vec![line]);
        };
        if self.lock().registered {
            let token = self
                .lock()
                .begin(Command::Nick { new: nick.clone() }, label);
            return vec![
                Self::request(token, ClientFrame::Rename { username: nick }),
                Self::end(token),
            ];
        }
        self.nick = Some(nick);
        self.try_register(label)
    }

    /// Registers once NICK and USER have arrived and capability negotiation is over.
    fn try_register(&mut self, label: Option<String>) -> Vec<Action> {
        let (Some(nick), Some((ident, realname))) = (self.nick.clone(), self.user.clone()) else {
            return Vec::new();
        };
        // After SASL the account's name is the nick (one identity across protocols).
        let nick = self.lock().account.clone().unwrap_or(nick);
        let token = {
            let mut st = self.lock();
            if st.registered || st.registering || st.cap_negotiating {
                return Vec::new();
            }
            st.registering = true;
            st.begin(Command::Register, label)
        };
        vec![
            Action::Identify(Profile {
                protocol: Protocol::Irc,
                ident: Some(ident),
                realname: Some(realname),
            }),
            Self::request(
                token,
                ClientFrame::Join {
                    username: nick,
                    since: None,
                    rooms: Some(Vec::new()),
                    resume_token: None,
                },
            ),
            Self::request(token, ClientFrame::Info),
            Self::end(token),
        ]
    }

    /// SASL PLAIN: `AUTHENTICATE PLAIN`, `+`, then the base64 of `authzid\0authcid\0password`
    /// in 400-byte chunks.
    fn authenticate(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        use base64::Engine;
        let (registered, negotiated, account) = {
            let st = self.lock();
            (st.registered, st.caps.has(caps::SASL), st.account.clone())
        };
        if registered || account.is_some() {
            let line = self.num(
                Numeric::ERR_SASLALREADY,
                ["You have already authenticated using SASL"],
            );
            return self.reply(label, vec![line]);
        }
        if !negotiated {
            let line = self.num(
                Numeric::ERR_SASLFAIL,
                ["SASL authentication failed: request the sasl capability first"],
            );
            return self.reply(label, vec![line]);
        }
        let arg = p[0].as_str();
        if arg == "*" {
            self.sasl = None;
            let line = self.num(Numeric::ERR_SASLABORTED, ["SASL authentication aborted"]);
            return self.reply(label, vec![line]);
        }
        let Some(buffer) = self.sasl.as_mut() else {
            if arg.eq_ignore_ascii_case("PLAIN") {
                self.sasl = Some(String::new());
                let line = IrcMessage::new("AUTHENTICATE", ["+"]);
                return self.reply(label, vec![line]);
            }
            let lines = vec![
                self.num(
                    Numeric::RPL_SASLMECHS,
                    ["PLAIN", "are available SASL mechanisms"],
                ),
                self.num(Numeric::ERR_SASLFAIL, ["SASL authentication failed"]),
            ];
            return self.reply(label, lines);
        };
        if arg != "+" {
            buffer.push_str(arg);
        }
        if arg.len() == 400 {
            return Vec::new(); // more chunks follow
        }
        let encoded = self.sasl.take().unwrap_or_default();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.as_bytes())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        let parts: Option<(String, String)> = decoded.and_then(|text| {
            let mut fields = text.split('\0');
            let _authzid = fields.next()?;
            let authcid = fields.next()?.to_string();
            let password = fields.next()?.to_string();
            Some((authcid, password))
        });
        let Some((username, password)) = parts else {
            let line = self.num(
                Numeric::ERR_SASLFAIL,
                ["SASL authentication failed: malformed PLAIN message"],
            );
            return self.reply(label, vec![line]);
        };
        let token = self.lock().begin(Command::Sasl, label);
        vec![
            // Ended by the `authenticated` or `error` frame (the check runs off the hub's task).
            Self::request(
                token,
                ClientFrame::Authenticate {
                    username,
                    password: palaver_proto::Secret(password),
                },
            ),
        ]
    }

    fn join(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        if p[0] == "0" {
            let channels: Vec<String> = self.lock().channels.iter().cloned().collect();
            let token = self.lock().begin(Command::Part, label);
            let mut actions: Vec<Action> = channels
                .into_iter()
                .map(|room| Self::request(token, ClientFrame::LeaveRoom { room, reason: None }))
                .collect();
            actions.push(Self::end(token));
            return actions;
        }
        let mut actions = Vec::new();
        let mut label = label;
        for chan in p[0].split(',').filter(|c| !c.is_empty()) {
            let Some(room) = chan.strip_prefix('#') else {
                let line = self.num(Numeric::ERR_NOSUCHCHANNEL, [chan, "No such channel"]);
                actions.extend(self.reply(label.take(), vec![line]));
                continue;
            };
            if validate::room_name(room).is_err() {
                let line = self.num(Numeric::ERR_BADCHANNAME, [chan, "Illegal channel name"]);
                actions.extend(self.reply(label.take(), vec![line]));
                continue;
            }
            let token = self.lock().begin(
                Command::Join {
                    channels: vec![chan.to_string()],
                    current: 0,
                    skip_names: false,
                },
                label.take(),
            );
            actions.push(Self::request(
                token,
                ClientFrame::JoinRoom {
                    room: room.to_string(),
                },
            ));
            actions.push(Self::request(
                token,
                ClientFrame::Who {
                    room: Some(room.to_string()),
                    username: None,
                },
            ));
            actions.push(Self::end(token));
        }
        actions
    }

    fn part(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let reason = p.get(1).filter(|r| !r.is_empty()).cloned();
        let token = self.lock().begin(Command::Part, label);
        let mut actions = Vec::new();
        let mut local = Vec::new();
        for chan in p[0].split(',').filter(|c| !c.is_empty()) {
            match chan.strip_prefix('#') {
                Some(room) => actions.push(Self::request(
                    token,
                    ClientFrame::LeaveRoom {
                        room: room.to_string(),
                        reason: reason.clone(),
                    },
                )),
                None => local.push(self.num(Numeric::ERR_NOSUCHCHANNEL, [chan, "No such channel"])),
            }
        }
        if !local.is_empty() {
            let held = self.lock().reply(Some(token), local);
            if !held.is_empty() {
                actions.insert(0, Action::Reply(held));
            }
        }
        actions.push(Self::end(token));
        actions
    }

    fn message(&mut self, notice: bool, p: &[String], label: Option<String>) -> Vec<Action> {
        let command = if notice { "NOTICE" } else { "PRIVMSG" };
        let Some(targets) = p.first().filter(|t| !t.is_empty()) else {
            if notice {
                return Vec::new();
            }
            let line = self.num(
                Numeric::ERR_NORECIPIENT,
                [format!("No recipient given ({command})")],
            );
            return self.reply(label, vec![line]);
        };
        let Some(text) = p.get(1).filter(|t| !t.is_empty()) else {
            if notice {
                return Vec::new();
            }
            let line = self.num(Numeric::ERR_NOTEXTTOSEND, ["No text to send"]);
            return self.reply(label, vec![line]);
        };
        let content = palaver_text(text);
        let mut actions = Vec::new();
        let mut label = label;
        let targets: Vec<&str> = targets
            .split(',')
            .filter(|t| !t.is_empty())
            .take(4)
            .collect();
        // One reply for all targets when it must be labeled or covers several targets.
        let shared = (!notice && (label.is_some() || targets.len() > 1)).then(|| {
            self.lock().begin(
                Command::Privmsg {
                    target: targets.first().copied().unwrap_or_default().to_string(),
                    closes_on_pong: true,
                },
                label.take(),
            )
        });
        for target in targets {
            let room = target.strip_prefix('#').map(str::to_string);
            if notice {
                let token = self.lock().begin(Command::Notice, label.take());
                let (room, target) = match room {
                    Some(room) => (Some(room), None),
                    None => (None, Some(target.to_string())),
                };
                actions.push(Self::request(
                    token,
                    ClientFrame::Notice {
                        content: content.clone(),
                        room,
                        target,
                    },
                ));
                actions.push(Self::end(token));
                continue;
            }
            let token = match shared {
                Some(token) => token,
                None => self.lock().begin(
                    Command::Privmsg {
                        target: target.to_string(),
                        closes_on_pong: false,
                    },
                    label.take(),
                ),
            };
            let frame = match room {
                Some(room) => ClientFrame::Message {
                    content: content.clone(),
                    room: Some(room),
                },
                None => ClientFrame::PrivateMessage {
                    target: target.to_string(),
                    content: content.clone(),
                },
            };
            actions.push(Self::request(token, frame));
        }
        actions.extend(shared.map(Self::end));
        actions
    }

    fn names(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let Some(chan) = p
            .first()
            .and_then(|c| c.split(',').next())
            .filter(|c| !c.is_empty())
        else {
            let line = self.num(Numeric::RPL_ENDOFNAMES, ["*", "End of /NAMES list"]);
            return self.reply(label, vec![line]);
        };
        self.ask(
            Command::Names {
                channel: chan.to_string(),
            },
            label,
            [ClientFrame::Who {
                room: Some(chan.trim_start_matches('#').to_string()),
                username: None,
            }],
        )
    }

    fn topic(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let chan = p[0].clone();
        let room = chan.trim_start_matches('#').to_string();
        if let Some(topic) = p.get(1) {
            let token = self.lock().begin(Command::TopicSet, label);
            return vec![
                Self::request(
                    token,
                    ClientFrame::Topic {
                        room,
                        topic: topic.clone(),
                    },
                ),
                Self::end(token),
            ];
        }
        self.ask(
            Command::TopicQuery { channel: chan },
            label,
            [ClientFrame::Rooms],
        )
    }

    fn who(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let mask = p
            .first()
            .filter(|m| !m.is_empty() && *m != "0")
            .cloned()
            .unwrap_or_else(|| "*".into());
        let frame = if let Some(room) = mask.strip_prefix('#') {
            Some(ClientFrame::Who {
                room: Some(room.to_string()),
                username: None,
            })
        } else if validate::username(&mask).is_ok() || mask.contains(['*', '?']) {
            Some(ClientFrame::Who {
                room: None,
                username: Some(mask.clone()),
            })
        } else {
            None
        };
        let token = self.lock().begin(Command::Who { mask }, label);
        let mut actions: Vec<Action> = frame.map(|f| Self::request(token, f)).into_iter().collect();
        if actions.is_empty() {
            // A mask matching nobody we can name (`*`, `0`, wildcards): the end of an empty list.
            let mask = match &self.lock().pending.get(&token).map(|p| p.command.clone()) {
                Some(Command::Who { mask }) => mask.clone(),
                _ => "*".into(),
            };
            let line = self.num(Numeric::RPL_ENDOFWHO, [mask.as_str(), "End of WHO list"]);
            let held = self.lock().reply(Some(token), vec![line]);
            if !held.is_empty() {
                actions.push(Action::Reply(held));
            }
        }
        actions.push(Self::end(token));
        actions
    }

    fn mode(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let target = p[0].clone();
        if target.starts_with('#') {
            let Some(modes) = p.get(1) else {
                let token = self
                    .lock()
                    .begin(Command::ModeQuery { channel: target }, label);
                return vec![Self::request(token, ClientFrame::Rooms), Self::end(token)];
            };
            let letters: String = modes.chars().filter(|c| !matches!(c, '+' | '-')).collect();
            let line = match letters.as_str() {
                "b" => self.num(
                    Numeric::RPL_ENDOFBANLIST,
                    [target.as_str(), "End of channel ban list"],
                ),
                "e" => self.num(
                    Numeric::RPL_ENDOFEXCEPTLIST,
                    [target.as_str(), "End of channel exception list"],
                ),
                "I" => self.num(
                    Numeric::RPL_ENDOFINVITELIST,
                    [target.as_str(), "End of channel invite list"],
                ),
                _ => {
                    let first = letters.chars().next().unwrap_or('?').to_string();
                    self.num(
                        Numeric::ERR_UNKNOWNMODE,
                        [first.as_str(), "is not a channel mode you can change here"],
                    )
                }
            };
            return self.reply(label, vec![line]);
        }
        let me = {
            let st = self.lock();
            st.is_me(&target).then(|| st.nick.clone())
        };
        let Some(me) = me else {
            let line = if validate::username(&target).is_ok() {
                self.num(
                    Numeric::ERR_USERSDONTMATCH,
                    ["Can't change mode for other users"],
                )
            } else {
                self.num(
                    Numeric::ERR_NOSUCHNICK,
                    [target.as_str(), "No such nick/channel"],
                )
            };
            return self.reply(label, vec![line]);
        };
        let Some(modes) = p.get(1) else {
            let invisible = self.lock().invisible;
            let line = self.num(Numeric::RPL_UMODEIS, [if invisible { "+i" } else { "+" }]);
            return self.reply(label, vec![line]);
        };
        let mut adding = true;
        let mut changed = String::new();
        let mut unknown = false;
        for c in modes.chars() {
            match c {
                '+' => adding = true,
                '-' => adding = false,
                'i' => {
                    let mut st = self.lock();
                    if st.invisible != adding {
                        st.invisible = adding;
                        changed.push(if adding { '+' } else { '-' });
                        changed.push('i');
                    }
                }
                _ => unknown = true,
            }
        }
        let mut lines = Vec::new();
        if unknown {
            lines.push(self.num(Numeric::ERR_UMODEUNKNOWNFLAG, ["Unknown MODE flag"]));
        }
        if !changed.is_empty() {
            lines.push(IrcMessage::new("MODE", [me.clone(), changed]).with_source(me.as_str()));
        }
        self.reply(label, lines)
    }

    fn kick(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let chan = p[0].clone();
        let room = chan.trim_start_matches('#').to_string();
        let reason = p.get(2).cloned();
        let kicks = p[1]
            .split(',')
            .filter(|n| !n.is_empty())
            .map(|nick| ClientFrame::Kick {
                room: room.clone(),
                username: nick.to_string(),
                reason: reason.clone(),
            });
        self.ask(Command::Kick { channel: chan }, label, kicks)
    }

    /// `CHATHISTORY LATEST <target> * <limit>` and `BEFORE <target> msgid=<id> <limit>`, from
    /// the same store as the native `history`. Its reply closes the command (history pages are
    /// read off the hub's task, so a closing ping could overtake them).
    fn chathistory(&mut self, p: &[String], label: Option<String>) -> Vec<Action> {
        let fail = |this: &Self, code: &str, text: &str| {
            let mut params: Vec<String> = vec!["CHATHISTORY".into(), code.into()];
            params.extend(p.iter().take(2).cloned());
            params.push(text.into());
            let line = IrcMessage::new("FAIL", params).with_source(this.server.name.as_str());
            this.reply(label.clone(), vec![line])
        };
        if p.len() < 4 {
            return fail(self, "INVALID_PARAMS", "Not enough parameters");
        }
        let sub = p[0].to_ascii_uppercase();
        let target = p[1].clone();
        let limit: u32 = match p[3].parse() {
            Ok(l) if l > 0 => l,
            _ => return fail(self, "INVALID_PARAMS", "Invalid limit"),
        };
        let msgid = p[2]
            .strip_prefix("msgid=")
            .and_then(|id| id.parse::<u64>().ok());
        let before =
            match (sub.as_str(), p[2].as_str(), msgid) {
                ("LATEST", "*", _) | ("LATEST", _, Some(_)) => None,
                ("BEFORE", _, Some(id)) => Some(id),
                ("BEFORE", _, None) => {
                    return fail(
                        self,
                        "INVALID_MSGREFTYPE",
                        "Only msgid references are supported",
                    )
                }
                _ => return fail(
                    self,
                    "INVALID_PARAMS",
                    "Supported: LATEST <target> *|msgid=<id> <limit> and BEFORE <target> msgid=<id> <limit>",
                ),
            };
        let (room, with) = match target.strip_prefix('#') {
            Some(room) => (Some(room.to_string()), None),
            None => (None, Some(target.clone())),
        };
        // LATEST msgid=X: the newest messages, but only those after X.
        let after_id = msgid.filter(|_| sub == "LATEST");
        let token = self
            .lock()
            .begin(Command::ChatHistory { target }, label.clone());
        vec![Self::request(
            token,
            ClientFrame::History {
                room,
                with,
                before: None,
                before_id: before,
                after_id,
                limit: Some(limit),
            },
        )]
    }
}

/// How many parameters a command needs at least.
fn min_params(command: &str) -> usize {
    match command {
        "USER" => 4,
        "KICK" => 2,
        "REGISTER" => 3,
        "CAP" | "PASS" | "PING" | "JOIN" | "PART" | "TOPIC" | "WHOWAS" | "MODE" | "USERHOST"
        | "ISON" | "AUTHENTICATE" => 1,
        _ => 0,
    }
}

/// The text of an IRC message as Palaver stores it: a CTCP ACTION becomes `/me ...`.
pub fn palaver_text(text: &str) -> String {
    match text
        .strip_prefix("\u{1}ACTION ")
        .map(|t| t.strip_suffix('\u{1}').unwrap_or(t))
    {
        Some(action) => format!("/me {action}"),
        None => text.to_string(),
    }
}

/// The MOTD numerics.
pub fn motd(server: &ServerIdentity, nick: &str) -> Vec<IrcMessage> {
    if server.motd.is_empty() {
        return vec![numeric(
            &server.name,
            nick,
            Numeric::ERR_NOMOTD,
            ["MOTD File is missing"],
        )];
    }
    let mut lines = vec![numeric(
        &server.name,
        nick,
        Numeric::RPL_MOTDSTART,
        [format!("- {} Message of the day - ", server.name)],
    )];
    for line in &server.motd {
        lines.push(numeric(
            &server.name,
            nick,
            Numeric::RPL_MOTD,
            [format!("- {line}")],
        ));
    }
    lines.push(numeric(
        &server.name,
        nick,
        Numeric::RPL_ENDOFMOTD,
        ["End of /MOTD command."],
    ));
    lines
}
