//! `CAP`: IRCv3 capability negotiation (`LS [302]`, `LIST`, `REQ` all or nothing, `END`).
//! Registration waits for `CAP END` once negotiation has begun.

use palaver_proto::irc::IrcMessage;

use super::registration::try_register;
use crate::listener::irc::caps;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let sub = p[0].to_ascii_uppercase();
    let nick = r.nick_now();
    let cap_line = |r: &Reader, params: Vec<String>| {
        let mut all = vec![nick.clone()];
        all.extend(params);
        r.from_server("CAP", all)
    };
    match sub.as_str() {
        "LS" => {
            let version: u32 = p.get(1).and_then(|v| v.parse().ok()).unwrap_or(0);
            {
                let mut st = r.lock();
                if !st.registered {
                    st.cap_negotiating = true;
                }
                if version >= 302 {
                    st.caps.set(caps::CAP_NOTIFY, true);
                }
            }
            let entries = caps::ls_entries(version >= 302).join(" ");
            let line = cap_line(r, vec!["LS".into(), entries]);
            r.reply(label, vec![line])
        }
        "LIST" => {
            let enabled = r.lock().caps.names();
            let line = cap_line(r, vec!["LIST".into(), enabled]);
            r.reply(label, vec![line])
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
            let verdict = {
                let mut st = r.lock();
                if !st.registered {
                    st.cap_negotiating = true;
                }
                if ok && !changes.is_empty() {
                    for (cap, on) in changes {
                        st.caps.set(cap, on);
                    }
                    "ACK"
                } else {
                    "NAK"
                }
            };
            let line = cap_line(r, vec![verdict.into(), asked]);
            r.reply(label, vec![line])
        }
        "END" => {
            {
                let mut st = r.lock();
                if st.registered {
                    return Vec::new();
                }
                st.cap_negotiating = false;
            }
            try_register(r, label)
        }
        other => r.reply_num(
            label,
            Numeric::ERR_INVALIDCAPCMD,
            [other, "Invalid CAP command"],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{server, Harness};

    #[test]
    fn req_is_all_or_nothing_and_registration_waits_for_cap_end() {
        let mut h = Harness::fresh(server());
        let ls = h.line("CAP LS 302");
        assert!(h.replies(&ls)[0].starts_with(":srv CAP * LS :"));
        let nak = h.line("CAP REQ :server-time no-such-cap");
        assert_eq!(h.replies(&nak), [":srv CAP * NAK :server-time no-such-cap"]);
        let ack = h.line("CAP REQ :server-time invite-notify");
        assert_eq!(
            h.replies(&ack),
            [":srv CAP * ACK :server-time invite-notify"]
        );
        h.line("NICK ann");
        assert!(h.line("USER ann 0 * :Ann").is_empty(), "waits for CAP END");
        let end = h.line("CAP END");
        assert_eq!(h.hub_frames(&end), ["join ann", "info", "ping"]);
        let list = h.line("CAP LIST");
        assert_eq!(
            h.replies(&list),
            [":srv CAP * LIST :cap-notify server-time invite-notify"]
        );
    }
}
