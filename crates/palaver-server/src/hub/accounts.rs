//! Accounts in the hub: who may use a registered name, `login`, `register` and
//! `change_password`. The hub decides; the slow part (argon2, the database) is an effect
//! ([`HubIo::password_work`]) whose answer comes back as a method call.

use serde_json::Value;

use palaver_proto::{validate, ErrorCode, Secret, ServerFrame};

use super::session::PendingLogin;
use super::{identity, Hub, HubEvent, HubIo, PasswordOp, PasswordRequest, SessionId};
use crate::store::accounts::password_acceptable;

impl Hub {
    /// Registers the names that have accounts (at startup).
    pub fn load_accounts(&mut self, names: Vec<String>) {
        for name in names {
            self.remember_account(&name);
        }
    }

    fn remember_account(&mut self, name: &str) {
        self.registered.insert(validate::fold(name));
        for key in validate::lookalike_keys(name) {
            self.registered_lookalikes.insert(key, name.to_string());
        }
    }

    /// Whether this connection may take `name` (folded `key`): a registered name needs its
    /// account, a look-alike of a registered name is refused, and a server that requires
    /// accounts refuses guests.
    pub(super) fn may_use_name(
        &self,
        session: SessionId,
        name: &str,
        key: &str,
    ) -> Result<(), (ErrorCode, String)> {
        let account = self.sessions.get(&session).and_then(|s| s.account.clone());
        if self.registered.contains(key) && account.as_deref() != Some(key) {
            return Err((
                ErrorCode::AccountRequired,
                format!("The name {name:?} is registered: log in with its password, or choose another name."),
            ));
        }
        if account.as_deref() != Some(key) {
            if let Some(registered) = validate::lookalike_keys(name)
                .iter()
                .find_map(|k| self.registered_lookalikes.get(k))
                .filter(|r| validate::fold(r) != key)
            {
                return Err((
                    ErrorCode::UsernameTaken,
                    format!("The username {name:?} looks too much like the registered name {registered:?}; choose another."),
                ));
            }
        }
        if self.config.require_account && account.is_none() {
            return Err((
                ErrorCode::AccountRequired,
                "This server is for account holders: log in with your name and password.".into(),
            ));
        }
        Ok(())
    }

    /// `login` (`then.join` set) and `authenticate` (not): check the password, then join or
    /// just answer.
    pub(super) fn login(
        &mut self,
        session: SessionId,
        password: Secret,
        then: PendingLogin,
        io: &mut impl HubIo,
    ) {
        let reference = then.reference.clone();
        if let Some(name) = self.sessions[&session].name() {
            let message = format!("You have already joined as {name:?}.");
            return self.error_to(session, ErrorCode::AlreadyJoined, message, reference, io);
        }
        let Some(peer) = self.begin_password_work(session, &reference, io) else {
            return;
        };
        let checked = validate::username(&then.username);
        let Some(name) = self.or_refuse_about(session, checked, &then.username, &reference, io)
        else {
            return;
        };
        let key = validate::fold(&name);
        self.sessions.get_mut(&session).expect("exists").login = Some(PendingLogin {
            username: name,
            ..then
        });
        io.password_work(PasswordRequest {
            session,
            peer,
            op: PasswordOp::Check { key, password },
        });
    }

    /// The peer of a session that may start password work now: one operation at a time per
    /// connection (with the throttle, this bounds what one connection can queue to one job).
    fn begin_password_work(
        &mut self,
        session: SessionId,
        reference: &Option<Value>,
        io: &mut impl HubIo,
    ) -> Option<String> {
        let s = self.sessions.get(&session)?;
        if s.login.is_some() {
            let message =
                "A password is already being checked for this connection; wait for its answer.";
            self.error_to(
                session,
                ErrorCode::TooManyAttempts,
                message,
                reference.clone(),
                io,
            );
            return None;
        }
        Some(s.peer.clone())
    }

    /// `oper`: an admin account's password gives this session the admin's powers (it keeps
    /// its name).
    pub(super) fn oper(
        &mut self,
        session: SessionId,
        username: String,
        password: Secret,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(peer) = self.begin_password_work(session, &reference, io) else {
            return;
        };
        let checked = validate::username(&username);
        let Some(name) = self.or_refuse_about(session, checked, &username, &reference, io) else {
            return;
        };
        let key = validate::fold(&name);
        self.sessions.get_mut(&session).expect("exists").login = Some(PendingLogin {
            join: None,
            username: name,
            reference,
            oper: true,
        });
        io.password_work(PasswordRequest {
            session,
            peer,
            op: PasswordOp::Check { key, password },
        });
    }

    /// The answer to a [`PasswordOp::Check`].
    pub fn password_checked(
        &mut self,
        session: SessionId,
        key: String,
        result: Result<(), ErrorCode>,
        io: &mut impl HubIo,
    ) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let Some(login) = s.login.take() else {
            return;
        };
        match result {
            Ok(()) if login.oper => {
                if self.moderation.admins.contains(&key) {
                    s.oper = Some(key);
                    let frame = ServerFrame::Done {
                        action: "oper".into(),
                        message: format!(
                            "You are now an operator: the powers of the admin {}.",
                            login.username
                        ),
                        reference: login.reference,
                    };
                    self.send_to(session, &frame, io);
                } else {
                    let message = format!("{} is not an admin account.", login.username);
                    self.error_to(
                        session,
                        ErrorCode::NotAuthorized,
                        message,
                        login.reference,
                        io,
                    );
                }
            }
            Ok(()) => {
                s.account = Some(key);
                // An account created outside this server (`account add`) is known from now on.
                self.remember_account(&login.username);
                if let Some(ask) = login.join {
                    self.join(session, &login.username, ask, login.reference, io);
                } else {
                    let frame = ServerFrame::Authenticated {
                        username: login.username,
                        reference: login.reference,
                    };
                    self.send_to(session, &frame, io);
                }
            }
            Err(code) => {
                // The same answer whether the name has no account or the password is wrong.
                let message = match code {
                    ErrorCode::TooManyAttempts => {
                        "Too many login attempts for that name or from your address; wait a minute."
                    }
                    ErrorCode::ServerBusy => ErrorCode::ServerBusy.sentence(),
                    _ => "That name and password do not match an account.",
                };
                self.error_to(session, code, message, login.reference, io);
            }
        }
        self.run_held(session, io);
        self.reap_slow(io);
    }

    pub(super) fn register(
        &mut self,
        session: SessionId,
        password: Secret,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let (name, key) = self.user_of(session);
        if self.registered.contains(&key) {
            let message = format!("{name:?} is already a registered account.");
            return self.error_to(
                session,
                ErrorCode::AlreadyRegistered,
                message,
                reference,
                io,
            );
        }
        if self
            .or_refuse(
                session,
                password_acceptable(password.expose(), self.config.min_password_chars),
                &reference,
                io,
            )
            .is_none()
        {
            return;
        }
        let Some(peer) = self.begin_password_work(session, &reference, io) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&session) {
            s.login = Some(PendingLogin {
                join: None,
                username: name.clone(),
                reference,
                oper: false,
            });
        }
        io.password_work(PasswordRequest {
            session,
            peer,
            op: PasswordOp::Create {
                key,
                name,
                password,
            },
        });
    }

    /// The answer to a [`PasswordOp::Create`].
    pub fn account_created(
        &mut self,
        session: SessionId,
        key: String,
        name: String,
        result: Result<(), ErrorCode>,
        io: &mut impl HubIo,
    ) {
        if result.is_ok() {
            self.remember_account(&name);
            io.event(HubEvent::Registered {
                username: name.clone(),
            });
        }
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let reference = s.login.take().and_then(|l| l.reference);
        match result {
            Ok(()) => {
                // The session's private history so far becomes the account's.
                if s.account.is_none() && s.user.is_some() {
                    let guest = s.owner();
                    io.reassign_private_history(guest, identity::account_owner(&key));
                }
                s.account = Some(key);
                let frame = ServerFrame::Registered {
                    username: name.clone(),
                    reference,
                };
                self.send_to(session, &frame, io);
                if let Some(source) = self.address(session) {
                    let news = ServerFrame::AccountChanged {
                        username: name.clone(),
                        account: Some(name),
                    };
                    let out = super::Outgoing::from_user(news, source);
                    self.tell_neighbours(session, &out, io);
                }
            }
            Err(code) => self.error_to(session, code, code.sentence(), reference, io),
        }
        self.run_held(session, io);
        self.reap_slow(io);
    }

    pub(super) fn change_password(
        &mut self,
        session: SessionId,
        old: Secret,
        new: Secret,
        reference: Option<Value>,
        io: &mut impl HubIo,
    ) {
        let Some(key) = self.sessions[&session].account.clone() else {
            let message = "Only an account's owner can change its password: log in first.";
            return self.error_to(session, ErrorCode::AccountRequired, message, reference, io);
        };
        if self
            .or_refuse(
                session,
                password_acceptable(new.expose(), self.config.min_password_chars),
                &reference,
                io,
            )
            .is_none()
        {
            return;
        }
        let Some(peer) = self.begin_password_work(session, &reference, io) else {
            return;
        };
        if let Some(s) = self.sessions.get_mut(&session) {
            s.login = Some(PendingLogin {
                join: None,
                username: String::new(),
                reference,
                oper: false,
            });
        }
        io.password_work(PasswordRequest {
            session,
            peer,
            op: PasswordOp::Change { key, old, new },
        });
    }

    /// The answer to a [`PasswordOp::Change`].
    pub fn password_changed(
        &mut self,
        session: SessionId,
        result: Result<(), ErrorCode>,
        io: &mut impl HubIo,
    ) {
        let Some(s) = self.sessions.get_mut(&session) else {
            return;
        };
        let reference = s.login.take().and_then(|l| l.reference);
        match result {
            Ok(()) => self.send_to(session, &ServerFrame::PasswordChanged { reference }, io),
            Err(code) => {
                let message = match code {
                    ErrorCode::InvalidCredentials => "The old password is not right.",
                    other => other.sentence(),
                };
                self.error_to(session, code, message, reference, io)
            }
        }
        self.run_held(session, io);
        self.reap_slow(io);
    }
}
