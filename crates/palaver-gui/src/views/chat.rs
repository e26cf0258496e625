//! The chat screen: conversations (left), the conversation (centre), members (right), input
//! (bottom). Above the conversation, the search field; below it, who is typing. Replying and
//! editing show a bar above the input; the emoji picker and the search results are windows.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use egui::{Key, Modifiers, RichText};

use palaver_proto::emoji;
use palaver_proto::{timestamp, ClientFrame, TypingState};

use super::conversation::{self, ListInput, RowAction, RowHeights};
use super::emoji_picker::{EmojiPicker, PickFor};
use super::search::{SearchAsk, SearchBar};
use crate::app::PalaverApp;
use crate::commands::{self, Action, Completion, Recall, Target};
use crate::model::{ConversationId, LineKind};

/// How long a message jumped to stays highlighted.
const FLASH: Duration = Duration::from_millis(1500);

/// The input line's widget id (tests focus it by this).
pub const INPUT_ID: &str = "chat-input";

/// The chat screen's own state (what is typed, scroll, measurements).
#[derive(Default)]
pub struct ChatView {
    pub input: String,
    pub completion: Completion,
    pub recall: Recall,
    pub join_room: String,
    heights: HashMap<ConversationId, RowHeights>,
    jump_to_latest: bool,
    /// Whether the conversation shown was scrolled to the bottom in the last frame.
    pub at_bottom: bool,
    /// Each row drawn in the last frame: its kind and text (what a test or a screen reader sees).
    pub rendered: Vec<(LineKind, String)>,
    /// Rows laid out in the last frame.
    pub rows_drawn: usize,
    /// The message being answered: its id and "bob: the start of it".
    pub replying: Option<(u64, String)>,
    /// The message being edited (the input holds its new text).
    pub editing: Option<u64>,
    /// A deletion waiting for confirmation.
    pub confirm_delete: Option<u64>,
    pub picker: Option<EmojiPicker>,
    pub search: SearchBar,
    /// The message just jumped to, highlighted until then.
    flash: Option<(u64, Instant)>,
    /// When to tell the others about typing.
    typing: crate::typing::TypingNotifier,
    /// The path typed in the "send a file" window, while it is open.
    pub file_path: Option<String>,
    /// Pictures sent with messages, fetched for their previews.
    pub previews: crate::previews::Previews,
    /// Give the input the focus in this frame and the next (a reply or an edit began: egui may
    /// move the focus with the arrow key that began it, at the end of the frame).
    refocus: u8,
}

pub fn show(app: &mut PalaverApp, ui: &mut egui::Ui) {
    if app.chat.is_none() {
        return;
    }
    conversations_panel(app, ui);
    members_panel(app, ui);
    input_panel(app, ui);
    egui::CentralPanel::default().show(ui, |ui| central(app, ui));
    windows(app, ui.ctx());
    typing_pause(app, ui.ctx());
    mark_shown_read(app, ui.ctx());
    app.chat_view.previews.poll(ui.ctx());
}

/// The emoji picker, the search results, the confirmation of a deletion, the file to send;
/// files dropped on the window are sent.
fn windows(app: &mut PalaverApp, ctx: &egui::Context) {
    let dropped: Vec<std::path::PathBuf> = ctx.input(|i| {
        i.raw
            .dropped_files
            .iter()
            .map(|f| f.path().to_path_buf())
            .collect()
    });
    for path in dropped {
        send_file(app, path);
    }
    if let Some(path) = &mut app.chat_view.file_path {
        let mut open = true;
        let mut chosen = None;
        egui::Window::new("Send a file")
            .id(egui::Id::unique("send-file"))
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label("The file's path (or drop files on the window):");
                let field = ui.add(
                    egui::TextEdit::singleline(path)
                        .id(egui::Id::unique("file-path"))
                        .desired_width(320.0),
                );
                field.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "File path")
                });
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if (ui.button("Send").clicked() || enter) && !path.trim().is_empty() {
                    chosen = Some(std::path::PathBuf::from(path.trim()));
                }
            });
        if chosen.is_some() || !open {
            app.chat_view.file_path = None;
        }
        if let Some(path) = chosen {
            send_file(app, path);
        }
    }
    if let Some(picker) = &mut app.chat_view.picker {
        let mut open = true;
        let chosen = picker.show(ctx, &mut open);
        let open_for = picker.open_for;
        if chosen.is_some() || !open {
            app.chat_view.picker = None;
        }
        match (chosen, open_for) {
            (Some(e), PickFor::Composer) => {
                app.chat_view.input.push_str(e);
                ctx.memory_mut(|m| m.request_focus(egui::Id::unique(INPUT_ID)));
            }
            // Picked: given (picking one already given does not take it back).
            (Some(e), PickFor::Reaction(id)) => app.send(ClientFrame::React {
                id,
                emoji: e.to_string(),
                on: Some(true),
            }),
            (None, _) => {}
        }
    }
    if let Some(chat) = &app.chat {
        if app.chat_view.search.open {
            if let Some(ask) = app.chat_view.search.results(ctx, chat) {
                search_ask(app, ask);
            }
        }
    }
    if let Some(id) = app.chat_view.confirm_delete {
        let mut decided = None;
        egui::Window::new("Delete message?")
            .id(egui::Id::unique("confirm-delete"))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::vec2(0.0, 0.0))
            .show(ctx, |ui| {
                ui.label("It is deleted for everyone, and its text is gone for good.");
                ui.horizontal(|ui| {
                    if ui.button("Delete").clicked() {
                        decided = Some(true);
                    }
                    if ui.button("Cancel").clicked() {
                        decided = Some(false);
                    }
                });
            });
        match decided {
            Some(true) => {
                app.chat_view.confirm_delete = None;
                app.send(ClientFrame::Delete { id });
            }
            Some(false) => app.chat_view.confirm_delete = None,
            None => {}
        }
    }
}

/// What the search field or its results asked for.
fn search_ask(app: &mut PalaverApp, ask: SearchAsk) {
    match ask {
        SearchAsk::Send(frame) => app.send(frame),
        SearchAsk::Open(message) => {
            let Some(chat) = &mut app.chat else { return };
            let index = chat.conversation_of(&message);
            if let Some(request) = chat.jump(index, message.id()) {
                app.send(request);
            }
        }
    }
}

/// Read markers: the conversation shown is read, while the window has the focus.
fn mark_shown_read(app: &mut PalaverApp, ctx: &egui::Context) {
    if ctx.input(|i| i.viewport().focused) == Some(false) {
        return;
    }
    let now = timestamp::now_millis();
    let Some(chat) = &mut app.chat else { return };
    let due = chat.mark_read_due(now);
    let wait = chat.mark_read_wait(now);
    if let Some(frame) = due {
        app.send(frame);
    }
    if let Some(ms) = wait {
        ctx.request_repaint_after(Duration::from_millis(ms as u64 + 10));
    }
}

/// Typing: `paused` after a while without a key.
fn typing_pause(app: &mut PalaverApp, ctx: &egui::Context) {
    let now = timestamp::now_millis();
    if let Some((place, state)) = app.chat_view.typing.tick(now) {
        if let Some(frame) = typing_frame(app, &place, state) {
            app.send(frame);
        }
    }
    if let Some(ms) = app.chat_view.typing.next_tick_in(now) {
        ctx.request_repaint_after(Duration::from_millis(ms as u64 + 10));
    }
}

/// A `typing` frame for a conversation.
fn typing_frame(
    app: &PalaverApp,
    place: &ConversationId,
    state: TypingState,
) -> Option<ClientFrame> {
    let chat = app.chat.as_ref()?;
    let c = &chat.conversations[chat.find(place)?];
    let (room, target) = match place {
        ConversationId::Room(_) => (Some(c.title.clone()), None),
        ConversationId::Direct(_) => (None, Some(c.title.clone())),
    };
    Some(ClientFrame::Typing {
        room,
        target,
        state,
    })
}

/// Tells the others about typing in the conversation shown, when the input changed.
fn typed(app: &mut PalaverApp) {
    let Some(place) = app
        .chat
        .as_ref()
        .and_then(|c| c.active())
        .map(|c| c.id.clone())
    else {
        return;
    };
    if app.chat_view.editing.is_some() {
        return;
    }
    let now = timestamp::now_millis();
    if let Some(state) = app
        .chat_view
        .typing
        .typed(&place, &app.chat_view.input, now)
    {
        if let Some(frame) = typing_frame(app, &place, state) {
            app.send(frame);
        }
    }
}

fn conversations_panel(app: &mut PalaverApp, ui: &mut egui::Ui) {
    let Some(chat) = &mut app.chat else { return };
    let mut leave = None;
    let mut select = None;
    egui::Panel::left("conversations")
        .default_size(180.0)
        .show(ui, |ui| {
            ui.add_space(4.0);
            ui.label(RichText::new("Rooms").strong());
            for (i, c) in chat
                .conversations
                .iter()
                .enumerate()
                .filter(|(_, c)| c.is_room())
            {
                ui.horizontal(|ui| {
                    let badge = badge(c.unread, c.mentions);
                    let label = format!("# {}{badge}", c.title);
                    if ui.selectable_label(i == chat.active, label).clicked() {
                        select = Some(i);
                    }
                    if ui
                        .small_button("×")
                        .on_hover_text(format!("Leave #{}", c.title))
                        .clicked()
                    {
                        leave = Some(c.title.clone());
                    }
                });
            }
            ui.horizontal(|ui| {
                let field = ui.add(
                    egui::TextEdit::singleline(&mut app.chat_view.join_room)
                        .hint_text("room")
                        .desired_width(100.0),
                );
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                if (ui.button("Join").clicked() || enter)
                    && !app.chat_view.join_room.trim().is_empty()
                {
                    let join = ClientFrame::JoinRoom {
                        room: app.chat_view.join_room.trim().to_string(),
                        key: None,
                    };
                    chat.asking(&join);
                    if let Some(outbox) = &app.outbox {
                        outbox.send(join);
                    }
                    app.chat_view.join_room.clear();
                }
            });
            ui.add_space(8.0);
            ui.label(RichText::new("Direct messages").strong());
            for (i, c) in chat
                .conversations
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.is_room())
            {
                let label = format!("@ {}{}", c.title, badge(c.unread, c.mentions));
                if ui.selectable_label(i == chat.active, label).clicked() {
                    select = Some(i);
                }
            }
        });
    if let Some(i) = select {
        chat.select(i);
    }
    if let (Some(room), Some(outbox)) = (leave, &app.outbox) {
        outbox.send(ClientFrame::LeaveRoom { room, reason: None });
    }
}

fn badge(unread: usize, mentions: usize) -> String {
    match (unread, mentions) {
        (0, _) => String::new(),
        (n, 0) => format!("  ({n})"),
        (n, _) => format!("  ({n}, @)"),
    }
}

fn members_panel(app: &mut PalaverApp, ui: &mut egui::Ui) {
    let Some(chat) = &mut app.chat else { return };
    let Some(active) = chat.active() else { return };
    let mut open = None;
    let members: Vec<String> = active.members.iter().cloned().collect();
    let title = if active.is_room() {
        format!("In #{} ({} online)", active.title, members.len())
    } else {
        format!("Talking with {}", active.title)
    };
    egui::Panel::right("members")
        .default_size(160.0)
        .show(ui, |ui| {
            ui.add_space(4.0);
            ui.label(RichText::new(title).strong());
            egui::ScrollArea::vertical().show(ui, |ui| {
                for name in &members {
                    let me = palaver_proto::validate::fold(name)
                        == palaver_proto::validate::fold(&chat.me);
                    let color = crate::theme::person_color(name, app.settings.dark);
                    let text = if me {
                        RichText::new(format!("{name} (you)")).color(color)
                    } else {
                        RichText::new(name).color(color)
                    };
                    let response = ui.selectable_label(false, text);
                    if response.clicked() && !me {
                        open = Some(name.clone());
                    }
                    response.on_hover_text("Click to send a private message");
                }
            });
        });
    if let Some(name) = open {
        chat.open_direct(&name);
    }
}

fn input_panel(app: &mut PalaverApp, ui: &mut egui::Ui) {
    let input_id = egui::Id::unique(INPUT_ID);
    egui::Panel::bottom("input")
        .resizable(false)
        .show(ui, |ui| {
            let focused = ui.memory(|m| m.has_focus(input_id));
            let mut submit = false;
            if focused {
                let (enter, tab, up, down, escape) = ui.input_mut(|i| {
                    (
                        i.consume_key(Modifiers::NONE, Key::Enter),
                        i.consume_key(Modifiers::NONE, Key::Tab),
                        !app.chat_view.input.contains('\n')
                            && i.consume_key(Modifiers::NONE, Key::ArrowUp),
                        !app.chat_view.input.contains('\n')
                            && i.consume_key(Modifiers::NONE, Key::ArrowDown),
                        i.consume_key(Modifiers::NONE, Key::Escape),
                    )
                });
                submit = enter;
                if escape {
                    app.chat_view.replying = None;
                    if app.chat_view.editing.take().is_some() {
                        app.chat_view.input.clear();
                    }
                }
                if up || down {
                    app.chat_view.refocus = 2;
                }
                let emoji = tab && commands::complete_emoji(&mut app.chat_view.input);
                if emoji || (up && app.chat_view.input.is_empty() && edit_last(app)) {
                    move_cursor_to_end(ui, input_id, &app.chat_view.input);
                } else if tab {
                    let names = app
                        .chat
                        .as_ref()
                        .map(|c| c.known_names())
                        .unwrap_or_default();
                    if let Some(completed) = app
                        .chat_view
                        .completion
                        .complete(&app.chat_view.input, &names)
                    {
                        app.chat_view.input = completed;
                        move_cursor_to_end(ui, input_id, &app.chat_view.input);
                    }
                } else if up {
                    if let Some(line) = app.chat_view.recall.up() {
                        app.chat_view.input = line.to_string();
                        move_cursor_to_end(ui, input_id, &app.chat_view.input);
                    }
                } else if down {
                    if let Some(line) = app.chat_view.recall.down() {
                        app.chat_view.input = line.to_string();
                        move_cursor_to_end(ui, input_id, &app.chat_view.input);
                    }
                } else if ui.input(|i| !i.events.is_empty()) {
                    app.chat_view.completion.reset();
                }
            }
            let target = app.chat.as_ref().and_then(|c| c.active()).map(|c| {
                if c.is_room() {
                    format!("#{}", c.title)
                } else {
                    c.title.clone()
                }
            });
            // Bottom up: whatever shows above the input (hints, the reply bar) grows the panel
            // upwards instead of pushing the input off the window.
            ui.with_layout(egui::Layout::bottom_up(egui::Align::Min), |ui| {
                ui.add_space(4.0);
                ui.horizontal(|ui| {
                    let send = ui.button("Send");
                    let can_send_files = app.chat.as_ref().is_some_and(|c| c.max_upload_bytes > 0);
                    if can_send_files
                        && ui
                            .button("File…")
                            .on_hover_text("Send a file (or drop it here)")
                            .clicked()
                    {
                        app.chat_view.file_path = Some(String::new());
                    }
                    let smile = ui.button("☺").on_hover_text("Emoji");
                    smile.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::Button, true, "Emoji")
                    });
                    if smile.clicked() {
                        app.chat_view.picker = Some(EmojiPicker::new(PickFor::Composer));
                    }
                    let hint = format!(
                        "Message {}  (Enter sends, Shift+Enter for a new line, /help)",
                        target.unwrap_or_default()
                    );
                    let edit = egui::TextEdit::multiline(&mut app.chat_view.input)
                        .id(input_id)
                        .hint_text(hint)
                        .desired_rows(1)
                        .lock_focus(true)
                        .desired_width(ui.available_width());
                    let response = ui.add(edit);
                    response.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::MultilineTextInput, true, "Message")
                    });
                    if response.changed() {
                        typed(app);
                    }
                    if app.chat_view.refocus > 0 {
                        app.chat_view.refocus -= 1;
                        response.request_focus();
                    }
                    if send.clicked() {
                        submit = true;
                        response.request_focus();
                    }
                });
                compose_bar(app, ui);
                let hints = commands::hints(&app.chat_view.input);
                for (usage, what) in hints.into_iter().rev() {
                    ui.label(RichText::new(format!("{usage}  —  {what}")).small().weak());
                }
                ui.add_space(4.0);
            });
            if submit {
                submit_input(app);
            }
        });
}

/// "Replying to bob: …" or "Editing your message", with ✕ to cancel.
fn compose_bar(app: &mut PalaverApp, ui: &mut egui::Ui) {
    let view = &mut app.chat_view;
    let text = match (&view.replying, view.editing) {
        (_, Some(_)) => "Editing your message (Escape cancels)".to_string(),
        (Some((_, preview)), None) => format!("Replying to {preview}"),
        (None, None) => return,
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(text).italics());
        if ui.small_button("×").on_hover_text("Cancel").clicked() {
            view.replying = None;
            if view.editing.take().is_some() {
                view.input.clear();
            }
        }
    });
}

/// Up in an empty input: edit my newest message in the conversation shown.
fn edit_last(app: &mut PalaverApp) -> bool {
    let Some(chat) = &app.chat else { return false };
    let me = palaver_proto::validate::fold(&chat.me);
    let Some(c) = chat.active() else { return false };
    let mine = c.lines.iter().rev().find(|l| {
        l.id.is_some()
            && !l.state.deleted
            && l.author.as_deref().map(palaver_proto::validate::fold) == Some(me.clone())
    });
    let Some(line) = mine else { return false };
    app.chat_view.editing = line.id;
    app.chat_view.replying = None;
    app.chat_view.refocus = 2;
    app.chat_view.input = match line.action {
        true => format!("/me {}", line.text),
        false => line.text.clone(),
    };
    true
}

fn move_cursor_to_end(ui: &egui::Ui, id: egui::Id, text: &str) {
    if let Some(mut state) = egui::TextEdit::load_state(ui.ctx(), id) {
        let end = egui::text::CCursor::new(text.chars().count());
        state
            .cursor
            .set_char_range(Some(egui::text::CCursorRange::one(end)));
        state.store(ui.ctx(), id);
    }
}

/// Does what the input line says: send, a command, or help.
pub fn submit_input(app: &mut PalaverApp) {
    let text = std::mem::take(&mut app.chat_view.input);
    let Some(chat) = &mut app.chat else { return };
    let Some(active) = chat.active() else { return };
    let target = match &active.id {
        ConversationId::Room(_) => Target::Room(active.title.clone()),
        ConversationId::Direct(_) => Target::Direct(active.title.clone()),
    };
    if !text.trim().is_empty() {
        app.chat_view.recall.push(text.clone());
    }
    app.chat_view.completion.reset();
    if let Some(place) = app.chat_view.typing.sent() {
        if let Some(frame) = typing_frame(app, &place, TypingState::Done) {
            app.send(frame);
        }
    }
    let Some(chat) = &mut app.chat else { return };
    if let Some(id) = app.chat_view.editing.take() {
        if !text.trim().is_empty() {
            let content = emoji::replace_shortcodes(text.trim_end());
            if let Some(outbox) = &app.outbox {
                outbox.send(ClientFrame::Edit { id, content });
            }
        }
        return;
    }
    let reply_to = app.chat_view.replying.take().map(|(id, _)| id);
    match commands::interpret(&text, &target) {
        Action::Nothing => {}
        Action::Send(frame) => {
            let frame = match frame {
                ClientFrame::Message { content, room, .. } => ClientFrame::Message {
                    attachments: Vec::new(),
                    content,
                    room,
                    reply_to,
                },
                ClientFrame::PrivateMessage {
                    target, content, ..
                } => ClientFrame::PrivateMessage {
                    attachments: Vec::new(),
                    target,
                    content,
                    reply_to,
                },
                other => other,
            };
            chat.asking(&frame);
            if let Some(outbox) = &app.outbox {
                outbox.send(frame);
            }
        }
        Action::Private { to, content } => {
            chat.open_direct(&to);
            if let Some(outbox) = &app.outbox {
                outbox.send(ClientFrame::PrivateMessage {
                    attachments: Vec::new(),
                    reply_to,
                    target: to,
                    content,
                });
            }
        }
        Action::Help => {
            chat.local(LineKind::Help, "Commands:");
            for (usage, what) in commands::COMMANDS {
                chat.local(LineKind::Help, format!("  {usage}  —  {what}"));
            }
            chat.local(
                LineKind::Help,
                "  Tab completes names, Up recalls what you sent.",
            );
        }
        Action::Quit => app.disconnect(),
        Action::Refuse(why) => chat.local(LineKind::Error, why),
        Action::Upload(path) => send_file(app, path),
        Action::OnMessage { back, mine, act } => {
            match chat.on_message(chat.active, back, mine, act) {
                Ok(frame) => {
                    if let Some(outbox) = &app.outbox {
                        outbox.send(frame);
                    }
                }
                Err(why) => chat.local(LineKind::Error, why),
            }
        }
    }
    app.chat_view.jump_to_latest = true;
}

fn central(app: &mut PalaverApp, ui: &mut egui::Ui) {
    let dark = app.settings.dark;
    if let Some(chat) = &app.chat {
        if let Some(ask) = app.chat_view.search.field(ui, chat) {
            search_ask(app, ask);
        }
    }
    let Some(chat) = &mut app.chat else { return };
    let active_index = chat.active;
    let Some(conv) = chat.conversations.get(active_index) else {
        ui.label("You are in no room. Join one on the left.");
        return;
    };
    let modes = (!conv.modes.is_empty() && conv.modes != "+n").then_some(conv.modes.as_str());
    if let Some(modes) = modes {
        ui.horizontal(|ui| {
            if !conv.topic.is_empty() {
                ui.label(RichText::new(format!("Topic: {}", conv.topic)).italics());
            }
            ui.label(RichText::new(format!("[{modes}]")).weak())
                .on_hover_text(
                    "The room's modes: t topic lock, m moderated, i invite only, k key, l limit, \
                 s secret. /mode changes them.",
                );
        });
        ui.separator();
    } else if !conv.topic.is_empty() {
        ui.label(RichText::new(format!("Topic: {}", conv.topic)).italics());
        ui.separator();
    }
    if conv.loading_history {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Loading older messages…");
        });
    }
    let mut back_to_latest = false;
    if conv.detached {
        ui.horizontal(|ui| {
            ui.label(RichText::new("You are reading older messages.").italics());
            back_to_latest = ui.button("Back to the newest").clicked();
        });
    }
    let now_ms = timestamp::now_millis();
    let typing = conv.typing_text(now_ms);
    if conv.typing.iter().any(|(_, s, _)| *s != TypingState::Done) {
        ui.ctx().request_repaint_after(Duration::from_secs(1));
    }
    let view = &mut app.chat_view;
    view.rendered.clear();
    let heights = view.heights.entry(conv.id.clone()).or_default();
    let jump = std::mem::take(&mut view.jump_to_latest);
    let flash = view
        .flash
        .filter(|(_, at)| at.elapsed() < FLASH)
        .map(|(id, _)| id);
    let input = ListInput {
        dark,
        jump_to_latest: jump,
        me: &chat.me,
        scroll_to: chat.jump_to,
        flash,
        http_base: chat.http_base.as_deref(),
        previews: Some(&view.previews),
    };
    let typing_height = 18.0;
    let list_height = (ui.available_height() - typing_height).max(40.0);
    let outcome = ui
        .allocate_ui(egui::vec2(ui.available_width(), list_height), |ui| {
            conversation::show(ui, conv, heights, input, &mut view.rendered)
        })
        .inner;
    ui.label(
        RichText::new(typing.unwrap_or_default())
            .small()
            .weak()
            .italics(),
    );
    if flash.is_some() {
        ui.ctx().request_repaint_after(FLASH);
    }
    view.at_bottom = outcome.at_bottom;
    view.rows_drawn = outcome.rows_drawn;
    if let Some(base) = chat.http_base.as_deref() {
        for (id, url) in &outcome.wanted_previews {
            view.previews.fetch(&app.runtime, ui.ctx(), id, base, url);
        }
    }
    if let Some(id) = outcome.scrolled_to {
        chat.jump_to = None;
        view.flash = Some((id, Instant::now()));
    }
    for action in outcome.actions.clone() {
        row_action(view, chat, app.outbox.as_ref(), active_index, action);
    }
    if back_to_latest {
        if let Some(request) = chat.back_to_latest(active_index) {
            if let Some(outbox) = &app.outbox {
                outbox.send(request);
            }
        }
        app.chat_view.jump_to_latest = true;
        return;
    }
    let Some(conv) = chat.conversations.get(active_index) else {
        return;
    };
    // At the top with more on the server: ask for the page before the oldest line.
    if outcome.at_top && conv.has_more && !conv.loading_history {
        let frame = conv.history_request(|q| q.before = conv.oldest_seq());
        if let Some(outbox) = &app.outbox {
            outbox.send(frame);
            chat.conversations[active_index].loading_history = true;
        }
    }
    if !outcome.at_bottom {
        let rect = ui.max_rect();
        let pos = egui::pos2(rect.right() - 150.0, rect.bottom() - 40.0);
        egui::Area::new(egui::Id::unique("jump-to-latest"))
            .fixed_pos(pos)
            .show(ui.ctx(), |ui| {
                if ui.button("Jump to latest ⬇").clicked() {
                    app.chat_view.jump_to_latest = true;
                }
            });
    }
}

/// What was clicked on a message of the conversation `index`.
fn row_action(
    view: &mut ChatView,
    chat: &mut crate::model::ChatModel,
    outbox: Option<&crate::net::Outbox>,
    index: usize,
    action: RowAction,
) {
    let send = |frame: ClientFrame| {
        if let Some(outbox) = outbox {
            outbox.send(frame);
        }
    };
    let line_of =
        |chat: &crate::model::ChatModel, id: u64| chat.line_of(id).map(|(_, l)| l.clone());
    match action {
        RowAction::React { id, emoji } => send(ClientFrame::React {
            id,
            emoji,
            on: None,
        }),
        RowAction::PickReaction(id) => view.picker = Some(EmojiPicker::new(PickFor::Reaction(id))),
        RowAction::Reply(id) => {
            if let Some(line) = line_of(chat, id) {
                let author = line.author.unwrap_or_default();
                let excerpt: String = line.text.chars().take(60).collect();
                view.replying = Some((id, format!("{author}: {excerpt}")));
                view.editing = None;
                view.refocus = 2;
            }
        }
        RowAction::Edit(id) => {
            if let Some(line) = line_of(chat, id) {
                view.editing = Some(id);
                view.replying = None;
                view.refocus = 2;
                view.input = match line.action {
                    true => format!("/me {}", line.text),
                    false => line.text,
                };
            }
        }
        RowAction::Delete(id) => view.confirm_delete = Some(id),
        RowAction::Jump(id) => {
            if let Some(request) = chat.jump(index, id) {
                send(request);
            }
        }
    }
}

/// Sends a file to the conversation shown.
pub fn send_file(app: &mut PalaverApp, path: std::path::PathBuf) {
    let Some(chat) = &mut app.chat else { return };
    let Some(active) = chat.active() else { return };
    let target = match &active.id {
        ConversationId::Room(_) => Target::Room(active.title.clone()),
        ConversationId::Direct(_) => Target::Direct(active.title.clone()),
    };
    let base = match (&chat.http_base, chat.max_upload_bytes) {
        (Some(base), max) if max > 0 => base.clone(),
        _ => return chat.local(LineKind::Error, "This server takes no files."),
    };
    chat.local(LineKind::System, format!("Sending {}…", path.display()));
    if let Some(outbox) = &app.outbox {
        outbox.send_file(
            &app.runtime,
            (base, path, chat.max_upload_bytes),
            target,
            app.notes.0.clone(),
        );
    }
}
