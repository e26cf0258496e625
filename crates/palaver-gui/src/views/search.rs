//! Searching messages: a field above the conversation (Enter searches this conversation or
//! everywhere), and the results in a window, newest first, the words found highlighted. A
//! result opens its conversation at that message; "More" pages further back.

use egui::text::LayoutJob;
use egui::{Color32, FontId, TextFormat};

use palaver_proto::{timestamp, ChatMessage, ClientFrame};

use crate::model::{ChatModel, ConversationId, SearchResults};

/// The search field's widget id (tests type into it).
pub const FIELD_ID: &str = "search-field";

/// What the search bar holds.
#[derive(Debug, Default)]
pub struct SearchBar {
    pub text: String,
    /// Search every conversation, not only the one shown.
    pub everywhere: bool,
    /// The results window is open.
    pub open: bool,
}

/// What the user asked for in the search bar or its results.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchAsk {
    /// Send this `search` request.
    Send(ClientFrame),
    /// Open this result: its message.
    Open(ChatMessage),
}

impl SearchBar {
    /// The field, and the request to send when Enter was pressed.
    pub fn field(&mut self, ui: &mut egui::Ui, chat: &ChatModel) -> Option<SearchAsk> {
        let mut ask = None;
        ui.horizontal(|ui| {
            let field = ui.add(
                egui::TextEdit::singleline(&mut self.text)
                    .id(egui::Id::unique(FIELD_ID))
                    .hint_text("Search messages")
                    .desired_width(220.0),
            );
            field.widget_info(|| {
                egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Search messages")
            });
            ui.checkbox(&mut self.everywhere, "everywhere");
            let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if enter && !self.text.trim().is_empty() {
                self.open = true;
                ask = Some(SearchAsk::Send(self.request(chat, None)));
            }
        });
        ask
    }

    /// A `search` for what is typed: in the conversation shown unless `everywhere`, before
    /// message `before_id` (paging).
    fn request(&self, chat: &ChatModel, before_id: Option<u64>) -> ClientFrame {
        let (room, with) = match chat.active().filter(|_| !self.everywhere) {
            Some(c) => match &c.id {
                ConversationId::Room(_) => (Some(c.title.clone()), None),
                ConversationId::Direct(_) => (None, Some(c.title.clone())),
            },
            None => (None, None),
        };
        ClientFrame::Search {
            query: self.text.trim().to_string(),
            room,
            with,
            from: None,
            after: None,
            before: None,
            before_id,
            limit: Some(20),
        }
    }

    /// The results window (while open): a result clicked, or "More".
    pub fn results(&mut self, ctx: &egui::Context, chat: &ChatModel) -> Option<SearchAsk> {
        let Some(found) = &chat.search else {
            return None;
        };
        let mut ask = None;
        let mut open = self.open;
        egui::Window::new("Search results")
            .id(egui::Id::unique("search-results"))
            .open(&mut open)
            .default_width(420.0)
            .default_pos(ctx.content_rect().right_top() + egui::vec2(-440.0, 60.0))
            .show(ctx, |ui| {
                ui.label(summary(found));
                egui::ScrollArea::vertical()
                    .max_height(400.0)
                    .show(ui, |ui| {
                        for m in &found.messages {
                            let response = ui.add(
                                egui::Button::new(hit(ui, m, &found.query))
                                    .frame(false)
                                    .wrap(),
                            );
                            if response
                                .on_hover_text("Open the conversation here")
                                .clicked()
                            {
                                ask = Some(SearchAsk::Open(m.clone()));
                            }
                            ui.separator();
                        }
                        if found.has_more && ui.button("More").clicked() {
                            let last = found.messages.last().map(ChatMessage::id);
                            ask = Some(SearchAsk::Send(self.request(chat, last)));
                        }
                    });
            });
        self.open = open;
        ask
    }
}

fn summary(found: &SearchResults) -> String {
    match (found.messages.len(), found.has_more) {
        (0, _) => format!("Nothing found for \"{}\".", found.query),
        (n, false) => format!("{n} found for \"{}\".", found.query),
        (n, true) => format!("The newest {n} for \"{}\".", found.query),
    }
}

/// One result: when, where, who, and the text with the words searched for highlighted.
fn hit(ui: &egui::Ui, m: &ChatMessage, query: &str) -> LayoutJob {
    use chrono::TimeZone;
    let (place, content, ts) = match m {
        ChatMessage::Message(m) => (
            format!("#{} {}", m.room, m.username),
            &m.content,
            &m.timestamp,
        ),
        ChatMessage::PrivateMessage(m) => (
            format!("{} → {}", m.sender, m.target),
            &m.content,
            &m.timestamp,
        ),
        _ => (String::new(), &String::new(), &String::new()),
    };
    let when = timestamp::parse_millis(ts)
        .and_then(|ms| chrono::Local.timestamp_millis_opt(ms).single())
        .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default();
    let text = ui.visuals().text_color();
    let weak = ui.visuals().weak_text_color();
    let plain = |color: Color32| TextFormat {
        font_id: FontId::proportional(13.0),
        color,
        ..Default::default()
    };
    let marked = TextFormat {
        background: ui.visuals().selection.bg_fill,
        ..plain(text)
    };
    let mut job = LayoutJob::default();
    job.append(&format!("{when}  {place}\n"), 0.0, plain(weak));
    for (piece, found) in highlight(content, query) {
        job.append(piece, 0.0, if found { marked.clone() } else { plain(text) });
    }
    job
}

/// `text` in pieces, each marked whether it starts with one of the query's words (as the
/// server finds them: prefixes, any case).
pub fn highlight<'a>(text: &'a str, query: &str) -> Vec<(&'a str, bool)> {
    let words: Vec<String> = palaver_proto::validate::search_words(query)
        .into_iter()
        .map(|w| palaver_proto::validate::search_fold(&w))
        .collect();
    let mut out = Vec::new();
    let mut start = 0;
    let mut in_word: Option<usize> = None;
    let flush = |out: &mut Vec<(&'a str, bool)>, from: usize, to: usize, word: bool| {
        if from < to {
            let piece = &text[from..to];
            let found = word && {
                let folded = palaver_proto::validate::search_fold(piece);
                words.iter().any(|w| folded.starts_with(w.as_str()))
            };
            out.push((piece, found));
        }
    };
    for (i, c) in text.char_indices() {
        let letter = c.is_alphanumeric();
        match (in_word, letter) {
            (None, true) => {
                flush(&mut out, start, i, false);
                start = i;
                in_word = Some(i);
            }
            (Some(_), false) => {
                flush(&mut out, start, i, true);
                start = i;
                in_word = None;
            }
            _ => {}
        }
    }
    flush(&mut out, start, text.len(), in_word.is_some());
    // Join neighbouring pieces that are both unmarked.
    let mut joined: Vec<(&'a str, bool)> = Vec::new();
    for (piece, found) in out {
        match joined.last_mut() {
            Some((last, false)) if !found => {
                let from = last.as_ptr() as usize - text.as_ptr() as usize;
                *last = &text[from..from + last.len() + piece.len()];
            }
            _ => joined.push((piece, found)),
        }
    }
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_words_searched_for_are_marked_as_the_server_finds_them() {
        let pieces = highlight("Deploy the déploiement, deployed!", "deplo");
        let marked: Vec<&str> = pieces.iter().filter(|(_, f)| *f).map(|(p, _)| *p).collect();
        assert_eq!(marked, ["Deploy", "déploiement", "deployed"]);
        let all: String = pieces.iter().map(|(p, _)| *p).collect();
        assert_eq!(all, "Deploy the déploiement, deployed!");
        assert_eq!(highlight("nothing here", "zzz"), [("nothing here", false)]);
    }
}
