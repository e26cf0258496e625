//! `MONITOR`: be told when nicks come online and go, wherever they connect. `MONITOR + a,b`
//! adds (730 RPL_MONONLINE / 731 RPL_MONOFFLINE for them; 734 when the list is full), `- a,b`
//! removes, `C` clears, `L` lists (732, 733), `S` says who of the list is online. Afterwards 730
//! and 731 arrive as people come and go. At most `MONITOR=100` nicks (ISUPPORT).

use palaver_proto::irc::IrcMessage;
use palaver_proto::{ClientFrame, ErrorCode, ServerFrame};

use super::{Refusal, Step, Waiting};
use crate::hub::MONITOR_MAX;
use crate::listener::irc::lines::Lines;
use crate::listener::irc::numeric::Numeric;
use crate::listener::irc::reader::{Action, Reader};

pub fn run(r: &mut Reader, msg: &IrcMessage, label: Option<String>) -> Vec<Action> {
    let p = &msg.params;
    let names = || -> Vec<String> {
        p.get(1)
            .map(|t| {
                t.split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let (frame, listing) = match p[0].as_str() {
        "+" => (
            ClientFrame::Monitor {
                add: names(),
                remove: Vec::new(),
                clear: false,
            },
            false,
        ),
        "-" => (
            ClientFrame::Monitor {
                add: Vec::new(),
                remove: names(),
                clear: false,
            },
            false,
        ),
        "C" | "c" => (
            ClientFrame::Monitor {
                add: Vec::new(),
                remove: Vec::new(),
                clear: true,
            },
            false,
        ),
        "L" | "l" | "S" | "s" => (
            ClientFrame::Monitor {
                add: Vec::new(),
                remove: Vec::new(),
                clear: false,
            },
            p[0].eq_ignore_ascii_case("L"),
        ),
        _ => {
            return r.reply_num(
                label,
                Numeric::ERR_UNKNOWNCOMMAND,
                ["MONITOR", "Unknown MONITOR subcommand (+, -, C, L, S)"],
            )
        }
    };
    let waiting = Monitor {
        listing,
        asked: names(),
    };
    r.ask(waiting, label, [frame])
}

#[derive(Debug)]
pub struct Monitor {
    /// `MONITOR L`: the list, not who is online.
    listing: bool,
    /// The nicks `+` asked for (for 734).
    asked: Vec<String>,
}

impl Waiting for Monitor {
    fn name(&self) -> &'static str {
        "MONITOR"
    }

    fn frame(&mut self, lines: &mut Lines, frame: &ServerFrame) -> Option<Step> {
        let ServerFrame::MonitorStatus {
            online, offline, ..
        } = frame
        else {
            return None;
        };
        if !self.listing {
            return Some(Step::More(status_lines(lines, online, offline)));
        }
        let mut all: Vec<String> = online.iter().chain(offline).cloned().collect();
        all.sort();
        let mut out: Vec<IrcMessage> = all
            .chunks(20)
            .map(|c| lines.num(Numeric::RPL_MONLIST, [c.join(",")]))
            .collect();
        out.push(lines.num(Numeric::RPL_ENDOFMONLIST, ["End of MONITOR list"]));
        Some(Step::More(out))
    }

    fn refused(&mut self, lines: &mut Lines, refusal: Refusal) -> Step {
        let line = match refusal.code {
            ErrorCode::ListFull => lines.num(
                Numeric::ERR_MONLISTFULL,
                [
                    MONITOR_MAX.to_string(),
                    self.asked.join(","),
                    "Monitor list is full".to_string(),
                ],
            ),
            _ => lines.fail_code("MONITOR", refusal),
        };
        Step::More(vec![line])
    }
}

/// 730 for those online, 731 for those not.
pub fn status_lines(lines: &Lines, online: &[String], offline: &[String]) -> Vec<IrcMessage> {
    let mut out = Vec::new();
    for chunk in online.chunks(20).filter(|c| !c.is_empty()) {
        out.push(lines.num(Numeric::RPL_MONONLINE, [chunk.join(",")]));
    }
    for chunk in offline.chunks(20).filter(|c| !c.is_empty()) {
        out.push(lines.num(Numeric::RPL_MONOFFLINE, [chunk.join(",")]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testing::Harness;
    use palaver_proto::ServerFrame;
    use serde_json::Value;

    #[test]
    fn monitor_answers_who_is_online_and_lists() {
        let mut h = Harness::registered("me");
        let actions = h.line("MONITOR + ann,bob");
        assert_eq!(h.hub_frames(&actions), ["monitor", "ping"]);
        let token = h.token_of(&actions[0]);
        let lines = h.frame(ServerFrame::MonitorStatus {
            online: vec!["ann".into()],
            offline: vec!["bob".into()],
            reference: Some(Value::from(token)),
        });
        assert_eq!(lines, [":srv 730 me ann", ":srv 731 me bob"]);
        let token = h.ask("MONITOR L");
        let lines = h.frame(ServerFrame::MonitorStatus {
            online: vec!["ann".into()],
            offline: vec!["bob".into()],
            reference: Some(Value::from(token)),
        });
        assert_eq!(
            lines,
            [":srv 732 me ann,bob", ":srv 733 me :End of MONITOR list"]
        );
        // News of someone coming.
        let news = h.frame(ServerFrame::MonitorStatus {
            online: vec!["bob".into()],
            offline: Vec::new(),
            reference: None,
        });
        assert_eq!(news, [":srv 730 me bob"]);
    }
}
