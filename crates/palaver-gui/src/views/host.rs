//! The "host a server" dashboard: address, port, database, Start/Stop, status, connected users
//! with Kick, a live log, and announcements.

use egui::{Color32, RichText};

use crate::app::{PalaverApp, Screen};
use crate::host::HostStatus;

pub fn show(app: &mut PalaverApp, ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.heading("Host a server");
        ui.label(
            "Runs a Palaver server inside this app. Others join it at this computer's address.",
        );
        ui.add_space(8.0);
        let editable = matches!(app.host.status, HostStatus::Stopped | HostStatus::Failed(_));
        ui.add_enabled_ui(editable, |ui| {
            egui::Grid::new("host-form")
                .num_columns(2)
                .spacing([12.0, 6.0])
                .show(ui, |ui| {
                    ui.label("Bind address");
                    let r =
                        ui.add(egui::TextEdit::singleline(&mut app.host.bind).desired_width(160.0));
                    r.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Bind address")
                    });
                    ui.end_row();
                    ui.label("Port");
                    let r =
                        ui.add(egui::TextEdit::singleline(&mut app.host.port).desired_width(80.0));
                    r.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Host port")
                    });
                    ui.end_row();
                    ui.label("Database file");
                    let r = ui.add(
                        egui::TextEdit::singleline(&mut app.host.database).desired_width(260.0),
                    );
                    r.widget_info(|| {
                        egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Database file")
                    });
                    ui.end_row();
                });
        });
        ui.add_space(6.0);
        ui.horizontal(|ui| {
            let running = app.host.is_running();
            if ui
                .add_enabled(editable, egui::Button::new("▶ Start"))
                .clicked()
            {
                let runtime = app.runtime.clone();
                let repaint = {
                    let ctx = ui.ctx().clone();
                    move || ctx.request_repaint()
                };
                app.host.start(&runtime, repaint);
            }
            if ui
                .add_enabled(running, egui::Button::new("⏹ Stop"))
                .clicked()
            {
                app.host.stop();
            }
            let (text, color) = match &app.host.status {
                HostStatus::Stopped => ("Stopped".to_string(), Color32::GRAY),
                HostStatus::Starting => {
                    ("Starting…".to_string(), Color32::from_rgb(0xFF, 0xA5, 0x3C))
                }
                HostStatus::Running(addr) => (
                    format!("Running on {addr}"),
                    Color32::from_rgb(0x4C, 0xC9, 0x6E),
                ),
                HostStatus::Stopping => {
                    ("Stopping…".to_string(), Color32::from_rgb(0xFF, 0xA5, 0x3C))
                }
                HostStatus::Failed(e) => (
                    format!("Not running: {e}"),
                    Color32::from_rgb(0xFF, 0x70, 0x70),
                ),
            };
            ui.label(RichText::new(text).color(color));
            if let HostStatus::Running(addr) = app.host.status {
                if app.chat.is_none() && ui.button("Join this server").clicked() {
                    let host = if addr.ip().is_unspecified() {
                        "127.0.0.1".to_string()
                    } else {
                        addr.ip().to_string()
                    };
                    app.settings.host = host;
                    app.settings.port = addr.port().to_string();
                    app.screen = Screen::Connect;
                }
            }
        });
        ui.separator();
        ui.columns(2, |columns| {
            let ui = &mut columns[0];
            ui.label(RichText::new(format!("Connected users ({})", app.host.users.len())).strong());
            let mut kick = None;
            let mut ban = None;
            egui::ScrollArea::vertical()
                .id_salt("host-users")
                .max_height(220.0)
                .show(ui, |ui| {
                    for user in &app.host.users {
                        ui.horizontal(|ui| {
                            ui.label(&user.username);
                            ui.label(RichText::new(&user.peer).weak().small());
                            if ui
                                .small_button("Kick")
                                .on_hover_text(format!("Remove {}", user.username))
                                .clicked()
                            {
                                kick = Some(user.username.clone());
                            }
                            if ui
                                .small_button("Ban 1h")
                                .on_hover_text(format!(
                                    "Ban the name {} for an hour (stored: it lasts across restarts)",
                                    user.username
                                ))
                                .clicked()
                            {
                                ban = Some(user.username.clone());
                            }
                        });
                    }
                    if app.host.users.is_empty() {
                        ui.label(RichText::new("Nobody yet.").weak());
                    }
                });
            if let Some(name) = kick {
                app.host.kick(&app.runtime, &name);
            }
            if let Some(name) = ban {
                app.host.ban(&app.runtime, &name);
            }
            ui.add_space(8.0);
            ui.label(RichText::new("Announcement to everyone").strong());
            let mut send = false;
            ui.horizontal(|ui| {
                let field = ui.add_enabled(
                    app.host.is_running(),
                    egui::TextEdit::singleline(&mut app.host.announcement)
                        .hint_text("e.g. Class starts in 5 minutes")
                        .desired_width(220.0),
                );
                field.widget_info(|| {
                    egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Announcement")
                });
                send |= field.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                send |= ui
                    .add_enabled(app.host.is_running(), egui::Button::new("Announce"))
                    .clicked();
            });
            if send {
                let runtime = app.runtime.clone();
                app.host.announce(&runtime);
            }
            let ui = &mut columns[1];
            ui.label(RichText::new("Log").strong());
            egui::ScrollArea::vertical()
                .id_salt("host-log")
                .stick_to_bottom(true)
                .auto_shrink([false, false])
                .show(ui, |ui| {
                    for line in &app.host.log {
                        ui.label(RichText::new(line).monospace().small());
                    }
                });
        });
    });
}
