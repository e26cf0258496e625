//! The full-screen terminal UI: state, keys, and the event loop.
//!
//! Keys: Enter sends, Up/Down recall, Tab completes names, PageUp/PageDown scroll (PageUp at the
//! top loads older history), Ctrl+N/Ctrl+P or Alt+1..9 switch conversations, Esc or Ctrl+U clear
//! the line, Ctrl+W deletes a word, Ctrl+A/Ctrl+E go to its start/end, Ctrl+C or `/quit` leaves. The terminal is restored on every way out, panics included.

use std::process::ExitCode;

use ratatui::crossterm::event::{
    self, Event as TermEvent, KeyCode, KeyEvent, KeyEventKind, KeyModifiers,
};
use tokio::runtime::Handle;
use tokio::sync::mpsc;

use palaver_client::{Client, Event};
use palaver_proto::ClientFrame;

use super::ChatArgs;
use crate::commands::{self, Action, Completion, Recall, Target};
use crate::model::{ChatModel, ConversationId, LineKind};
use crate::net::Outbox;

/// Everything the terminal UI shows and edits.
pub struct TuiApp {
    pub model: ChatModel,
    pub input: String,
    /// Cursor position in `input`, in characters.
    pub cursor: usize,
    completion: Completion,
    recall: Recall,
    /// Lines scrolled up from the newest (0: following new messages).
    pub scroll: usize,
    outbox: Outbox,
    runtime: Handle,
    pub quit: bool,
    typing: crate::typing::TypingNotifier,
    /// What went wrong off the UI's task (a file that was not sent), to show.
    notes: (
        mpsc::UnboundedSender<String>,
        mpsc::UnboundedReceiver<String>,
    ),
}

impl TuiApp {
    /// A UI for a joined session; frames are sent in order through the client on `runtime`.
    pub fn new(model: ChatModel, client: Client, runtime: Handle) -> Self {
        let outbox = Outbox::new(&runtime, client);
        TuiApp {
            model,
            input: String::new(),
            cursor: 0,
            completion: Completion::default(),
            recall: Recall::default(),
            scroll: 0,
            outbox,
            runtime,
            quit: false,
            typing: Default::default(),
            notes: mpsc::unbounded_channel(),
        }
    }

    /// Shows what went wrong off the UI's task.
    pub fn show_notes(&mut self) {
        while let Ok(note) = self.notes.1.try_recv() {
            self.model.local(LineKind::Error, note);
        }
    }

    /// Tells the others about typing, when the input changed or time passed.
    fn tell_typing(&mut self, changed: bool) {
        let now = palaver_proto::timestamp::now_millis();
        let told = match (changed, self.model.active()) {
            (true, Some(c)) => {
                let place = c.id.clone();
                self.typing
                    .typed(&place, &self.input, now)
                    .map(|state| (place, state))
            }
            _ => self.typing.tick(now),
        };
        if let Some((place, state)) = told {
            self.send_typing(&place, state);
        }
    }

    fn send_typing(&self, place: &ConversationId, state: palaver_proto::TypingState) {
        let Some(c) = self.model.find(place).map(|i| &self.model.conversations[i]) else {
            return;
        };
        let (room, target) = match place {
            ConversationId::Room(_) => (Some(c.title.clone()), None),
            ConversationId::Direct(_) => (None, Some(c.title.clone())),
        };
        self.send(ClientFrame::Typing {
            room,
            target,
            state,
        });
    }

    /// An event from the session.
    pub fn on_event(&mut self, event: Event) {
        let closed = matches!(event, Event::Closed { .. });
        self.model.apply(event);
        self.model.notify.clear();
        self.mark_shown_read();
        if closed {
            self.model.local(
                LineKind::Error,
                "The session has ended. Press Ctrl+C to leave.",
            );
        }
    }

    fn send(&self, frame: ClientFrame) {
        self.outbox.send(frame);
    }

    /// The conversation shown is read (a terminal has no focus to ask about); throttled ones
    /// go on the next tick.
    fn mark_shown_read(&mut self) {
        let now = palaver_proto::timestamp::now_millis();
        if let Some(frame) = self.model.mark_read_due(now) {
            self.send(frame);
        }
    }

    /// A key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        if key.kind == KeyEventKind::Release {
            return;
        }
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let alt = key.modifiers.contains(KeyModifiers::ALT);
        if key.code != KeyCode::Tab {
            self.completion.reset();
        }
        let before = self.input.clone();
        self.key(key, ctrl, alt);
        if self.input != before && key.code != KeyCode::Enter {
            self.tell_typing(true);
        }
    }

    /// Time passed (the event loop's tick): `paused` if typing stopped.
    pub fn on_tick(&mut self) {
        self.tell_typing(false);
        self.mark_shown_read();
    }

    fn key(&mut self, key: KeyEvent, ctrl: bool, alt: bool) {
        match key.code {
            KeyCode::Char('c') if ctrl => self.leave(),
            KeyCode::Char('d') if ctrl && self.input.is_empty() => self.leave(),
            KeyCode::Char('u') if ctrl => self.set_input(String::new()),
            KeyCode::Char('a') if ctrl => self.cursor = 0,
            KeyCode::Char('e') if ctrl => self.cursor = self.input.chars().count(),
            KeyCode::Char('w') if ctrl => {
                // Delete the word before the cursor, as shells do.
                let chars: Vec<char> = self.input.chars().collect();
                let mut start = self.cursor;
                while start > 0 && chars[start - 1] == ' ' {
                    start -= 1;
                }
                while start > 0 && chars[start - 1] != ' ' {
                    start -= 1;
                }
                let rest: String = chars[..start].iter().chain(&chars[self.cursor..]).collect();
                self.input = rest;
                self.cursor = start;
            }
            KeyCode::Char('n') if ctrl => self.switch(1),
            KeyCode::Char('p') if ctrl => self.switch(-1),
            KeyCode::Char(d) if alt && d.is_ascii_digit() && d != '0' => {
                let index = d as usize - '1' as usize;
                if index < self.model.conversations.len() {
                    self.model.select(index);
                    self.scroll = 0;
                }
            }
            KeyCode::Right if alt => self.switch(1),
            KeyCode::Left if alt => self.switch(-1),
            KeyCode::Char(c) if !ctrl => {
                let at = self.byte_at(self.cursor);
                self.input.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                let at = self.byte_at(self.cursor - 1);
                self.input.remove(at);
                self.cursor -= 1;
            }
            KeyCode::Delete if self.cursor < self.input.chars().count() => {
                let at = self.byte_at(self.cursor);
                self.input.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(self.input.chars().count()),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = self.input.chars().count(),
            KeyCode::Esc => self.set_input(String::new()),
            KeyCode::Up => {
                if let Some(line) = self.recall.up() {
                    let line = line.to_string();
                    self.set_input(line);
                }
            }
            KeyCode::Down => {
                if let Some(line) = self.recall.down() {
                    let line = line.to_string();
                    self.set_input(line);
                }
            }
            KeyCode::Tab => {
                let mut input = self.input.clone();
                if commands::complete_emoji(&mut input) {
                    self.set_input(input);
                    return;
                }
                let names = self.model.known_names();
                if let Some(done) = self.completion.complete(&self.input, &names) {
                    self.set_input(done);
                }
            }
            KeyCode::PageUp => self.page_up(),
            KeyCode::PageDown => self.scroll = self.scroll.saturating_sub(10),
            KeyCode::Enter => self.submit(),
            _ => {}
        }
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.input
            .char_indices()
            .nth(chars)
            .map_or(self.input.len(), |(i, _)| i)
    }

    fn set_input(&mut self, text: String) {
        self.cursor = text.chars().count();
        self.input = text;
    }

    fn switch(&mut self, step: isize) {
        let n = self.model.conversations.len() as isize;
        if n > 0 {
            let next = (self.model.active as isize + step).rem_euclid(n) as usize;
            self.model.select(next);
            self.scroll = 0;
        }
    }

    /// Scrolls up; at the top of what is loaded, asks the server for the page before it.
    fn page_up(&mut self) {
        self.scroll += 10;
        let Some(c) = self.model.active() else { return };
        if self.scroll + 20 >= c.lines.len() && c.has_more && !c.loading_history {
            let frame = match &c.id {
                ConversationId::Room(_) => ClientFrame::History {
                    room: Some(c.title.clone()),
                    with: None,
                    before: c.oldest_seq(),
                    before_id: None,
                    after_id: None,
                    limit: Some(100),
                    around_id: None,
                    oldest_first: false,
                },
                ConversationId::Direct(_) => ClientFrame::History {
                    room: None,
                    with: Some(c.title.clone()),
                    before: c.oldest_seq(),
                    before_id: None,
                    after_id: None,
                    limit: Some(100),
                    around_id: None,
                    oldest_first: false,
                },
            };
            self.send(frame);
            if let Some(c) = self.model.active_mut() {
                c.loading_history = true;
            }
        }
        let len = self.model.active().map_or(0, |c| c.lines.len());
        self.scroll = self.scroll.min(len.saturating_sub(1));
    }

    fn leave(&mut self) {
        self.outbox.quit(&self.runtime);
        self.quit = true;
    }

    fn submit(&mut self) {
        let text = std::mem::take(&mut self.input);
        self.cursor = 0;
        self.scroll = 0;
        let Some(active) = self.model.active() else {
            return;
        };
        let target = match &active.id {
            ConversationId::Room(_) => Target::Room(active.title.clone()),
            ConversationId::Direct(_) => Target::Direct(active.title.clone()),
        };
        if !text.trim().is_empty() {
            self.recall.push(text.clone());
        }
        if let Some(place) = self.typing.sent() {
            self.send_typing(&place, palaver_proto::TypingState::Done);
        }
        match commands::interpret(&text, &target) {
            Action::Nothing => {}
            Action::Send(frame) => {
                self.model.asking(&frame);
                self.send(frame)
            }
            Action::Private { to, content } => {
                self.model.open_direct(&to);
                self.send(ClientFrame::PrivateMessage {
                    attachments: Vec::new(),
                    reply_to: None,
                    target: to,
                    content,
                });
            }
            Action::Help => {
                self.model.local(LineKind::Help, "Commands:");
                for (usage, what) in commands::COMMANDS {
                    self.model
                        .local(LineKind::Help, format!("  {usage}  —  {what}"));
                }
                self.model.local(LineKind::Help, "  /quit  —  leave");
                self.model.local(
                    LineKind::Help,
                    "  Keys: Tab completes names, Up/Down recall, PageUp/PageDown scroll, Ctrl+N/Ctrl+P or Alt+1..9 switch, Ctrl+C quits",
                );
            }
            Action::Quit => self.leave(),
            Action::Refuse(why) => self.model.local(LineKind::Error, why),
            Action::Upload(path) => match self.model.http_base.clone() {
                Some(base) if self.model.max_upload_bytes > 0 => {
                    self.model
                        .local(LineKind::System, format!("Sending {}…", path.display()));
                    self.outbox.send_file(
                        &self.runtime,
                        (base, path, self.model.max_upload_bytes),
                        target,
                        self.notes.0.clone(),
                    );
                }
                _ => self
                    .model
                    .local(LineKind::Error, "This server takes no files."),
            },
            Action::OnMessage { back, mine, act } => {
                match self.model.on_message(self.model.active, back, mine, act) {
                    Ok(frame) => self.send(frame),
                    Err(why) => self.model.local(LineKind::Error, why),
                }
            }
        }
    }
}

/// Runs the full-screen UI on a joined session until the user leaves.
pub async fn run(
    args: &ChatArgs,
    username: &str,
    client: Client,
    mut events: mpsc::Receiver<Event>,
) -> ExitCode {
    let server = format!("{}:{}", args.host, args.port);
    let mut app = TuiApp::new(ChatModel::new(username, &server), client, Handle::current());

    // Keys come from a plain thread blocked on the terminal.
    let (keys_tx, mut keys) = mpsc::channel::<TermEvent>(64);
    std::thread::Builder::new()
        .name("palaver-keys".into())
        .spawn(move || {
            while let Ok(event) = event::read() {
                if keys_tx.blocking_send(event).is_err() {
                    break;
                }
            }
        })
        .expect("spawn key reader");

    // ratatui::init enters the alternate screen and raw mode, and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::init();
    let mut term_signal =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let result = loop {
        if let Err(e) = terminal.draw(|frame| super::render::draw(frame, &mut app)) {
            break Err(e);
        }
        tokio::select! {
            key = keys.recv() => match key {
                Some(TermEvent::Key(key)) => app.on_key(key),
                Some(_) => {} // resize and others: the loop redraws
                None => app.quit = true,
            },
            event = events.recv() => match event {
                Some(event) => app.on_event(event),
                None => app.quit = true,
            },
            _ = async { match &mut term_signal { Some(s) => { s.recv().await; } None => std::future::pending().await } } => app.leave(),
            // Ctrl+C arrives as a key in raw mode; this is for `kill -INT`.
            _ = tokio::signal::ctrl_c() => app.leave(),
            // Typing pauses and others' typing expires with time: redraw every second.
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => app.on_tick(),
        }
        app.show_notes();
        if app.quit {
            break Ok(());
        }
    };
    ratatui::restore();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("palaver: terminal error: {e}");
            ExitCode::FAILURE
        }
    }
}
