//! Watched names (IRC's MONITOR): a session names people it wants to hear about, and is told
//! when each comes online or goes, wherever in the network they connect.
//!
//! The hub keeps who watches whom (`watchers`, by folded name, and each session's own list);
//! the places a name comes and goes (a join, a departure, a rename, here or on another node)
//! call [`Hub::monitor_news`].

use serde_json::Value;

use palaver_proto::{validate, ErrorCode, ServerFrame};

use super::{Hub, HubIo, SessionId};

/// The most names one session may watch (ISUPPORT `MONITOR`).
pub const MONITOR_MAX: usize = 100;

impl Hub {
    /// Whether someone is online under this folded name, here or on another node.
    fn online_key(&self, key: &str) -> bool {
        self.users.contains_key(key) || self.remote.get(key).is_some()
    }

    /// `monitor`: change the watch list, and say who of it is online.
    pub(super) fn monitor(
        &mut self,
        session: SessionId,
        add: Vec<String>,
        remove: Vec<String>,
        clear: bool,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let mut dropped: Vec<String> = Vec::new();
        if clear {
            dropped.extend(std::mem::take(&mut s.monitoring));
        }
        for name in &remove {
            let key = validate::fold(name);
            if s.monitoring.remove(&key) {
                dropped.push(key);
            }
        }
        let mut added = Vec::new();
        let mut full = false;
        for name in &add {
            let Ok(name) = validate::username(name) else {
                continue;
            };
            if s.monitoring.len() >= MONITOR_MAX && !s.monitoring.contains(&validate::fold(&name)) {
                full = true;
                break;
            }
            s.monitoring.insert(validate::fold(&name));
            added.push(name);
        }
        let asked_status = add.is_empty() && remove.is_empty() && !clear;
        let listed: Vec<String> = if asked_status {
            s.monitoring.iter().cloned().collect()
        } else {
            Vec::new()
        };
        for key in dropped {
            if let Some(w) = self.watchers.get_mut(&key) {
                w.remove(&session);
                if w.is_empty() {
                    self.watchers.remove(&key);
                }
            }
        }
        for name in &added {
            self.watchers
                .entry(validate::fold(name))
                .or_default()
                .insert(session);
        }
        if full {
            let message = format!("At most {MONITOR_MAX} names may be watched.");
            self.error_to(session, ErrorCode::ListFull, message, reference.clone(), io);
        }
        let names: Vec<String> = if asked_status { listed } else { added.clone() };
        if names.is_empty() && !asked_status {
            if reference.is_some() && !full {
                let frame = ServerFrame::MonitorStatus {
                    online: Vec::new(),
                    offline: Vec::new(),
                    reference,
                };
                self.send_to(session, &frame, io);
            }
            return;
        }
        let (online, offline): (Vec<String>, Vec<String>) = names
            .into_iter()
            .partition(|n| self.online_key(&validate::fold(n)));
        let online = online.into_iter().map(|n| self.shown_name(&n)).collect();
        let frame = ServerFrame::MonitorStatus {
            online,
            offline,
            reference,
        };
        self.send_to(session, &frame, io);
    }

    /// A name as its holder shows it, if it is online (else as given).
    fn shown_name(&self, name: &str) -> String {
        let key = validate::fold(name);
        if let Some(&s) = self.users.get(&key) {
            return self.user_of(s).0;
        }
        self.remote
            .get(&key)
            .map_or_else(|| name.to_string(), |u| u.name.clone())
    }

    /// `name` came online (or went): the sessions watching it are told.
    pub(super) fn monitor_news(&mut self, name: &str, online: bool, io: &mut impl HubIo) {
        let Some(watchers) = self.watchers.get(&validate::fold(name)) else {
            return;
        };
        let frame = if online {
            ServerFrame::MonitorStatus {
                online: vec![name.to_string()],
                offline: Vec::new(),
                reference: None,
            }
        } else {
            ServerFrame::MonitorStatus {
                online: Vec::new(),
                offline: vec![name.to_string()],
                reference: None,
            }
        };
        let watchers: Vec<SessionId> = watchers.iter().copied().collect();
        for session in watchers {
            self.send_to(session, &frame, io);
        }
    }

    /// A session is gone: it watches no one any more.
    pub(super) fn stop_watching(&mut self, session: SessionId, watched: &[String]) {
        for key in watched {
            if let Some(w) = self.watchers.get_mut(key) {
                w.remove(&session);
                if w.is_empty() {
                    self.watchers.remove(key);
                }
            }
        }
    }
}
