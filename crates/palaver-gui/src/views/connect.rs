//! The connect screen: where to, and as whom. Each error shows next to what caused it.

use egui::{Color32, RichText};

use crate::app::{PalaverApp, Screen};

fn error(ui: &mut egui::Ui, text: &Option<String>) {
    if let Some(text) = text {
        ui.label(RichText::new(text).color(Color32::from_rgb(0xFF, 0x70, 0x70)));
    }
}

pub fn show(app: &mut PalaverApp, ui: &mut egui::Ui) {
    egui::CentralPanel::default().show(ui, |ui| {
        ui.vertical_centered(|ui| {
            ui.add_space(40.0);
            ui.heading("Join a Palaver server");
            ui.add_space(16.0);
        });
        let form_width = 360.0_f32.min(ui.available_width());
        ui.horizontal(|ui| {
            ui.add_space(((ui.available_width() - form_width) / 2.0).max(0.0));
            ui.vertical(|ui| {
                ui.set_width(form_width);
                let enabled = !app.connecting;
                let mut submit = false;
                ui.add_enabled_ui(enabled, |ui| {
                    ui.label("Server");
                    ui.horizontal(|ui| {
                        let host = ui.add(
                            egui::TextEdit::singleline(&mut app.settings.host)
                                .hint_text("host")
                                .desired_width(form_width - 90.0),
                        );
                        host.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Host")
                        });
                        let port = ui.add(
                            egui::TextEdit::singleline(&mut app.settings.port)
                                .hint_text("port")
                                .desired_width(70.0),
                        );
                        port.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::Role::TextInput, true, "Port")
                        });
                        submit |=
                            port.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    });
                    ui.checkbox(
                        &mut app.settings.tls,
                        "Use TLS (encrypted; the port is usually 7879)",
                    );
                    error(ui, &app.connect_errors.address);
                    ui.add_space(8.0);
                    let label = ui.label("Username");
                    let name = ui.add(
                        egui::TextEdit::singleline(&mut app.settings.username)
                            .hint_text("letters, digits, _ - .")
                            .desired_width(form_width),
                    );
                    let name = name.labelled_by(label.id);
                    submit |= name.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    error(ui, &app.connect_errors.username);
                    ui.add_space(8.0);
                    let label = ui.label("Password (if the name is registered)");
                    let password = ui.add(
                        egui::TextEdit::singleline(&mut app.password)
                            .password(true)
                            .hint_text("leave empty to join as a guest")
                            .desired_width(form_width),
                    );
                    let password = password.labelled_by(label.id);
                    submit |=
                        password.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    ui.add_space(12.0);
                    let connect = ui.add_sized([form_width, 32.0], egui::Button::new("Connect"));
                    submit |= connect.clicked();
                });
                if submit && enabled {
                    app.connect();
                }
                if app.connecting {
                    ui.horizontal(|ui| {
                        ui.spinner();
                        ui.label(format!(
                            "Connecting to {}:{}…",
                            app.settings.host.trim(),
                            app.settings.port.trim()
                        ));
                    });
                }
                error(ui, &app.connect_errors.other);
                ui.add_space(24.0);
                ui.separator();
                if ui.button("Host a server on this computer…").clicked() {
                    app.screen = Screen::Host;
                }
            });
        });
    });
}
