//! What the server says about itself: `LUSERS` (251-255, 265, 266), `MOTD` (375, 372, 376, or
//! 422), `VERSION` (351 + 005), `TIME` (391), `INFO` (371, 374), `ADMIN` (256-259), `LINKS`
//! (364, 365: this server alone), and the ISUPPORT tokens of the welcome burst.

use palaver_proto::irc::IrcMessage;
use palaver_proto::{room_modes, timestamp, validate, ClientFrame, ServerFrame};

use super::{Step, Waiting};
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};
use crate::listener::irc::state::{numeric, ServerIdentity};

pub fn lusers(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    r.ask(Lusers, label, [ClientFrame::Info])
}

#[derive(Debug)]
pub struct Lusers;

impl Waiting for Lusers {
    fn name(&self) -> &'static str {
        "LUSERS"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::Info {
            users_online,
            max_users_online,
            connections,
            rooms,
            ..
        } = frame
        else {
            return None;
        };
        Some(Step::More(lusers_lines(
            lines,
            *users_online,
            *max_users_online,
            *connections,
            *rooms,
        )))
    }
}

/// The LUSERS numerics.
pub fn lusers_lines(
    lines: &Lines,
    users: usize,
    max_users: usize,
    connections: usize,
    rooms: usize,
) -> Vec<IrcMessage> {
    let mut out = vec![
        lines.num(
            Numeric::RPL_LUSERCLIENT,
            [format!(
                "There are {users} users and 0 invisible on 1 servers"
            )],
        ),
        lines.num(Numeric::RPL_LUSEROP, ["0", "IRC Operators online"]),
    ];
    let unknown = connections.saturating_sub(users);
    if unknown > 0 {
        out.push(lines.num(
            Numeric::RPL_LUSERUNKNOWN,
            [unknown.to_string(), "unknown connection(s)".into()],
        ));
    }
    out.push(lines.num(
        Numeric::RPL_LUSERCHANNELS,
        [rooms.to_string(), "channels formed".into()],
    ));
    out.push(lines.num(
        Numeric::RPL_LUSERME,
        [format!("I have {users} clients and 0 servers")],
    ));
    out.push(lines.num(
        Numeric::RPL_LOCALUSERS,
        [
            users.to_string(),
            max_users.to_string(),
            format!("Current local users {users}, max {max_users}"),
        ],
    ));
    out.push(lines.num(
        Numeric::RPL_GLOBALUSERS,
        [
            users.to_string(),
            max_users.to_string(),
            format!("Current global users {users}, max {max_users}"),
        ],
    ));
    out
}

pub fn motd(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let nick = r.nick_now();
    let lines = motd_lines(&r.server, &nick);
    r.reply(label, lines)
}

/// The MOTD numerics.
pub fn motd_lines(server: &ServerIdentity, nick: &str) -> Vec<IrcMessage> {
    let num = |code, text: String| numeric(&server.name, nick, code, [text]);
    if server.motd.is_empty() {
        return vec![num(Numeric::ERR_NOMOTD, "MOTD File is missing".into())];
    }
    let mut lines = vec![num(
        Numeric::RPL_MOTDSTART,
        format!("- {} Message of the day - ", server.name),
    )];
    for line in &server.motd {
        lines.push(num(Numeric::RPL_MOTD, format!("- {line}")));
    }
    lines.push(num(Numeric::RPL_ENDOFMOTD, "End of /MOTD command.".into()));
    lines
}

pub fn version(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let s = &r.server;
    let mut lines = vec![r.num(
        Numeric::RPL_VERSION,
        [
            format!("palaver-{}", s.version),
            s.name.clone(),
            "Palaver chat server".into(),
        ],
    )];
    lines.extend(isupport_lines(s, &r.nick_now()));
    r.reply(label, lines)
}

/// `ADMIN`: who runs the server (256-259).
pub fn admin(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let s = r.server.clone();
    let lines = vec![
        r.num(
            Numeric::RPL_ADMINME,
            [s.name.clone(), "Administrative info".into()],
        ),
        r.num(
            Numeric::RPL_ADMINLOC1,
            [format!("{}, a Palaver chat server", s.network)],
        ),
        r.num(
            Numeric::RPL_ADMINLOC2,
            ["Run by its admins: IRC operators here (WHOIS shows 313)"],
        ),
        r.num(Numeric::RPL_ADMINEMAIL, ["No e-mail address is published"]),
    ];
    r.reply(label, lines)
}

/// `LINKS`: this server alone (Palaver scales out through its store, not IRC links).
pub fn links(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let s = r.server.clone();
    let lines = vec![
        r.num(
            Numeric::RPL_LINKS,
            [
                s.name.clone(),
                s.name.clone(),
                format!("0 {} chat server", s.network),
            ],
        ),
        r.num(Numeric::RPL_ENDOFLINKS, ["*", "End of /LINKS list"]),
    ];
    r.reply(label, lines)
}

pub fn time(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let now = timestamp::format_millis(timestamp::now_millis());
    let name = r.server.name.clone();
    r.reply_num(label, Numeric::RPL_TIME, [name, now])
}

pub fn info(r: &mut Reader, _: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let lines = vec![
        r.num(
            Numeric::RPL_INFO,
            [format!(
                "Palaver {}: a chat server for native, IRC and web clients",
                r.server.version
            )],
        ),
        r.num(Numeric::RPL_ENDOFINFO, ["End of INFO list"]),
    ];
    r.reply(label, lines)
}

/// The 005 lines (twelve tokens each).
pub fn isupport_lines(s: &ServerIdentity, nick: &str) -> Vec<IrcMessage> {
    isupport(s)
        .chunks(12)
        .map(|chunk| {
            let mut params = chunk.to_vec();
            params.push("are supported by this server".into());
            numeric(&s.name, nick, Numeric::RPL_ISUPPORT, params)
        })
        .collect()
}

/// The RPL_ISUPPORT tokens.
pub fn isupport(s: &ServerIdentity) -> Vec<String> {
    vec![
        "AWAYLEN=200".into(),
        "CASEMAPPING=rfc8265".into(),
        format!("CHANLIMIT=#:{}", s.max_rooms_per_user),
        "CHANMODES=b,k,l,imnst".into(),
        format!("CHANNELLEN={}", validate::MAX_ROOM_CHARS + 1),
        "CHANTYPES=#".into(),
        format!("CHATHISTORY={}", s.history_page_max),
        "KICKLEN=300".into(),
        format!("KEYLEN={}", room_modes::MAX_KEY_BYTES),
        "LINELEN=512".into(),
        format!("MAXLIST=b:{}", room_modes::MAX_BANS),
        "MODES=6".into(),
        format!("MONITOR={}", crate::hub::MONITOR_MAX),
        "MSGREFTYPES=msgid".into(),
        format!("NETWORK={}", s.network),
        format!("NICKLEN={}", validate::MAX_USERNAME_CHARS),
        "PREFIX=(ov)@+".into(),
        "SAFELIST".into(),
        "TARGMAX=JOIN:,KICK:1,LIST:,NAMES:1,NOTICE:4,PART:,PRIVMSG:4,WHOIS:1".into(),
        format!("TOPICLEN={}", s.max_topic_bytes),
        "USERLEN=11".into(),
        "UTF8ONLY".into(),
        "WHOX".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ServerFrame;
    use serde_json::Value;

    #[test]
    fn lusers_counts_and_the_local_replies() {
        let mut h = Harness::registered("me");
        let actions = h.line("LUSERS");
        let token = h.token_of(&actions[0]);
        let lines = h.frame(ServerFrame::Info {
            users_online: 3,
            max_users_online: 5,
            connections: 4,
            rooms: 2,
            started: "t".into(),
            reference: Some(Value::from(token)),
        });
        assert_eq!(
            lines[0],
            ":srv 251 me :There are 3 users and 0 invisible on 1 servers"
        );
        assert!(lines
            .iter()
            .any(|l| l == ":srv 253 me 1 :unknown connection(s)"));
        let motd = h.line("MOTD");
        assert_eq!(h.replies(&motd), [":srv 422 me :MOTD File is missing"]);
        let version = h.line("VERSION");
        let lines = h.replies(&version);
        assert!(lines[0].starts_with(":srv 351 me palaver-0 srv"));
        assert!(lines[1..].iter().all(|l| l.contains(" 005 ")));
        assert!(lines.iter().any(|l| l.contains("PREFIX=(ov)@+")));
    }
}
