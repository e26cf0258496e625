//! The screens. Each `show` draws from the app's state and changes it in response to input;
//! none of them touches the network directly.
//!
//! - [`connect`]: host, port, username, Connect, with inline errors.
//! - [`chat`]: conversations on the left, the conversation in the centre, members on the right,
//!   the input line at the bottom.
//! - [`conversation`]: the virtualised list of lines.
//! - [`host`]: the "host a server" dashboard.
//! - [`emoji_picker`]: the emoji picker window.
//! - [`search`]: the search field and its results window.

pub mod chat;
pub mod connect;
pub mod conversation;
pub mod emoji_picker;
pub mod host;
pub mod rich_text;
pub mod search;

use egui::Color32;

use crate::app::{PalaverApp, Screen};

/// The bar along the top: screens, theme, connection status.
pub fn top_bar(app: &mut PalaverApp, ui: &mut egui::Ui) {
    egui::Panel::top("top-bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.heading("Palaver");
            ui.separator();
            let chat_screen = if app.chat.is_some() {
                Screen::Chat
            } else {
                Screen::Connect
            };
            if ui
                .selectable_label(
                    matches!(app.screen, Screen::Chat | Screen::Connect),
                    "💬 Chat",
                )
                .clicked()
            {
                app.screen = chat_screen;
            }
            if ui
                .selectable_label(app.screen == Screen::Host, "🖥 Host a server")
                .clicked()
            {
                app.screen = Screen::Host;
            }
            ui.separator();
            let (text, good) = app.status_text();
            let dot = if good {
                Color32::from_rgb(0x4C, 0xC9, 0x6E)
            } else if app.chat.is_some() || app.connecting {
                Color32::from_rgb(0xFF, 0xA5, 0x3C)
            } else {
                Color32::GRAY
            };
            let (rect, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
            ui.painter().circle_filled(rect.center(), 4.5, dot);
            ui.label(text);
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                let theme = if app.settings.dark {
                    "☀ Light"
                } else {
                    "🌙 Dark"
                };
                if ui.button(theme).clicked() {
                    app.settings.dark = !app.settings.dark;
                }
                if app.chat.is_some() && ui.button("Disconnect").clicked() {
                    app.disconnect();
                }
            });
        });
    });
}
