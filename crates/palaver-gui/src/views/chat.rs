//! The chat screen: conversations (left), the conversation (centre), members (right), input
//! (bottom).

use std::collections::HashMap;

use egui::{Key, Modifiers, RichText};

use palaver_proto::ClientFrame;

use super::conversation::{self, RowHeights};
use crate::app::PalaverApp;
use crate::commands::{self, Action, Completion, Recall, Target};
use crate::model::{ConversationId, LineKind};

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
}

pub fn show(app: &mut PalaverApp, ui: &mut egui::Ui) {
    if app.chat.is_none() {
        return;
    }
    conversations_panel(app, ui);
    members_panel(app, ui);
    input_panel(app, ui);
    egui::CentralPanel::default().show(ui, |ui| central(app, ui));
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
                    if let Some(outbox) = &app.outbox {
                        outbox.send(ClientFrame::JoinRoom {
                            room: app.chat_view.join_room.trim().to_string(),
                            key: None,
                        });
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
    egui::Panel::bottom("input").show(ui, |ui| {
        ui.add_space(4.0);
        let hints = commands::hints(&app.chat_view.input);
        if !hints.is_empty() {
            for (usage, what) in hints {
                ui.label(RichText::new(format!("{usage}  —  {what}")).small().weak());
            }
        }
        let focused = ui.memory(|m| m.has_focus(input_id));
        let mut submit = false;
        if focused {
            let (enter, tab, up, down) = ui.input_mut(|i| {
                (
                    i.consume_key(Modifiers::NONE, Key::Enter),
                    i.consume_key(Modifiers::NONE, Key::Tab),
                    !app.chat_view.input.contains('\n')
                        && i.consume_key(Modifiers::NONE, Key::ArrowUp),
                    !app.chat_view.input.contains('\n')
                        && i.consume_key(Modifiers::NONE, Key::ArrowDown),
                )
            });
            submit = enter;
            if tab {
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
        ui.horizontal(|ui| {
            let send = ui.button("Send");
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
            if send.clicked() {
                submit = true;
                response.request_focus();
            }
        });
        ui.add_space(4.0);
        if submit {
            submit_input(app);
        }
    });
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
    match commands::interpret(&text, &target) {
        Action::Nothing => {}
        Action::Send(frame) => {
            if let Some(outbox) = &app.outbox {
                outbox.send(frame);
            }
        }
        Action::Private { to, content } => {
            chat.open_direct(&to);
            if let Some(outbox) = &app.outbox {
                outbox.send(ClientFrame::PrivateMessage {
                    reply_to: None,
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
    }
    app.chat_view.jump_to_latest = true;
}

fn central(app: &mut PalaverApp, ui: &mut egui::Ui) {
    let dark = app.settings.dark;
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
    let view = &mut app.chat_view;
    view.rendered.clear();
    let heights = view.heights.entry(conv.id.clone()).or_default();
    let jump = std::mem::take(&mut view.jump_to_latest);
    let outcome = conversation::show(ui, conv, heights, dark, jump, &mut view.rendered);
    view.at_bottom = outcome.at_bottom;
    view.rows_drawn = outcome.rows_drawn;
    // At the top with more on the server: ask for the page before the oldest line.
    if outcome.at_top && conv.has_more && !conv.loading_history {
        let frame = match &conv.id {
            ConversationId::Room(_) => ClientFrame::History {
                room: Some(conv.title.clone()),
                with: None,
                before: conv.oldest_seq(),
                before_id: None,
                after_id: None,
                limit: Some(100),
                around_id: None,
                oldest_first: false,
            },
            ConversationId::Direct(_) => ClientFrame::History {
                room: None,
                with: Some(conv.title.clone()),
                before: conv.oldest_seq(),
                before_id: None,
                after_id: None,
                limit: Some(100),
                around_id: None,
                oldest_first: false,
            },
        };
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
