//! The emoji picker: a window with a filter and the emoji in rows, drawn only where in view
//! (the table has nearly 1,900). Choosing one inserts it into the message being written, or
//! reacts with it to the message the picker was opened for.
//!
//! egui draws emoji with its bundled monochrome font: colour emoji are for the web client and
//! terminals whose fonts have them.

use palaver_proto::emoji::{self, Emoji};

/// What the picker was opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickFor {
    /// The message being written.
    Composer,
    /// A reaction to this message.
    Reaction(u64),
}

/// The picker's state while it is open.
#[derive(Debug, Clone)]
pub struct EmojiPicker {
    pub open_for: PickFor,
    pub filter: String,
    found: Vec<Emoji>,
    found_for: Option<String>,
}

/// The filter field's widget id (tests type into it).
pub const FILTER_ID: &str = "emoji-filter";

const PER_ROW: usize = 10;

impl EmojiPicker {
    pub fn new(open_for: PickFor) -> Self {
        EmojiPicker {
            open_for,
            filter: String::new(),
            found: Vec::new(),
            found_for: None,
        }
    }

    /// Draws the picker; the emoji chosen, if one was. `open` turns false when it is closed.
    pub fn show(&mut self, ctx: &egui::Context, open: &mut bool) -> Option<&'static str> {
        if self.found_for.as_deref() != Some(self.filter.as_str()) {
            // Only what the fonts can draw (egui's emoji font predates the newest emoji).
            let font = egui::FontId::proportional(20.0);
            self.found = ctx.fonts_mut(|fonts| {
                emoji::filter(&self.filter)
                    .into_iter()
                    .filter(|e| fonts.has_glyphs(&font, e.emoji))
                    .collect()
            });
            self.found_for = Some(self.filter.clone());
        }
        let mut chosen = None;
        let title = match self.open_for {
            PickFor::Composer => "Emoji",
            PickFor::Reaction(_) => "React with",
        };
        egui::Window::new(title)
            .id(egui::Id::unique("emoji-picker"))
            .open(open)
            .collapsible(false)
            .resizable(false)
            .default_width(330.0)
            .show(ctx, |ui| {
                let filter_id = egui::Id::unique(FILTER_ID);
                let field = ui.add(
                    egui::TextEdit::singleline(&mut self.filter)
                        .id(filter_id)
                        .hint_text("Search emoji (name or :shortcode:)")
                        .desired_width(f32::INFINITY),
                );
                field.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Search emoji")
                });
                if !field.has_focus() && self.filter.is_empty() {
                    field.request_focus();
                }
                let enter = field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                if enter {
                    chosen = self.found.first().map(|e| e.emoji);
                }
                if self.found.is_empty() {
                    ui.label("No emoji has that name.");
                }
                let rows = self.found.len().div_ceil(PER_ROW);
                egui::ScrollArea::vertical().max_height(260.0).show_rows(
                    ui,
                    28.0,
                    rows,
                    |ui, range| {
                        for r in range {
                            ui.horizontal(|ui| {
                                let start = r * PER_ROW;
                                let end = (start + PER_ROW).min(self.found.len());
                                for e in &self.found[start..end] {
                                    let button =
                                        egui::Button::new(egui::RichText::new(e.emoji).size(20.0))
                                            .frame(false);
                                    let name = match e.shortcode {
                                        Some(code) => format!("{} :{code}:", e.name),
                                        None => e.name.to_string(),
                                    };
                                    let response = ui.add(button);
                                    response.widget_info(|| {
                                        egui::WidgetInfo::labeled(
                                            egui::Role::Button,
                                            true,
                                            format!("Emoji {}", e.emoji),
                                        )
                                    });
                                    if response.on_hover_text(name).clicked() {
                                        chosen = Some(e.emoji);
                                    }
                                }
                            });
                        }
                    },
                );
            });
        chosen
    }
}
