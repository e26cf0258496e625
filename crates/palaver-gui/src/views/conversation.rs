//! The conversation: a virtualised list of lines.
//!
//! Only the rows in view are laid out and drawn. Each row's height is measured the first time it
//! is drawn and remembered; rows never drawn count with an estimate. The heights are summed each
//! frame to place the visible rows (a sum over 100,000 floats costs microseconds), so a
//! conversation of any length scrolls as smoothly as a short one. The list follows new lines
//! while you are at the bottom; scroll up and it stays put and offers "Jump to latest". Reaching
//! the top asks the server for older history.
//!
//! A message shows what became of it: the message it answers (click to jump there), "(edited)",
//! "message deleted", its reactions (click one to give or take back yours, `+` for another).
//! Hovering a message offers Reply, React, and for your own Edit and Delete; what is clicked
//! comes back as [`RowAction`]s.

use chrono::{Datelike, Local, TimeZone};
use egui::text::LayoutJob;
use egui::{Align, Color32, FontId, Layout, RichText, TextFormat, UiBuilder};

use crate::model::{Conversation, Line, LineKind};
use crate::theme;

/// Measured row heights of one conversation.
#[derive(Debug, Default, Clone)]
pub struct RowHeights {
    width: f32,
    first_id: Option<u64>,
    heights: Vec<f32>,
}

/// What the list asks of its owner after a frame.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ListOutcome {
    pub at_bottom: bool,
    pub at_top: bool,
    /// Rows laid out this frame.
    pub rows_drawn: usize,
    /// What was clicked on messages.
    pub actions: Vec<RowAction>,
    /// The message scrolled to (a jump), once it was found.
    pub scrolled_to: Option<u64>,
    /// Pictures in view not fetched yet: (file id, link).
    pub wanted_previews: Vec<(String, String)>,
}

/// Something asked of one message.
#[derive(Debug, Clone, PartialEq)]
pub enum RowAction {
    /// Give or take back this reaction.
    React {
        id: u64,
        emoji: String,
    },
    /// Open the emoji picker to react.
    PickReaction(u64),
    Reply(u64),
    Edit(u64),
    Delete(u64),
    /// Show the message this one answers.
    Jump(u64),
}

/// How the list is drawn this frame.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListInput<'a> {
    pub dark: bool,
    pub jump_to_latest: bool,
    /// My name (whose messages offer Edit and Delete, and whose reactions are mine).
    pub me: &'a str,
    /// Scroll to this message if it is in the list.
    pub scroll_to: Option<u64>,
    /// Highlight this message (just jumped to).
    pub flash: Option<u64>,
    /// Where files' links lead (`welcome`'s `http_base`).
    pub http_base: Option<&'a str>,
    /// The pictures fetched so far.
    pub previews: Option<&'a crate::previews::Previews>,
}

const ESTIMATE: f32 = 20.0;

/// Draws the list; `rendered` receives (kind, text) of each row drawn.
pub fn show(
    ui: &mut egui::Ui,
    conversation: &Conversation,
    heights: &mut RowHeights,
    input: ListInput,
    rendered: &mut Vec<(LineKind, String)>,
) -> ListOutcome {
    let jump_to_latest = input.jump_to_latest;
    let mut actions = Vec::new();
    let mut wanted = Vec::new();
    let target = input
        .scroll_to
        .and_then(|id| lines_index(&conversation.lines, id));
    let lines = &conversation.lines;
    let width = ui.available_width();
    let first_id = lines.first().and_then(|l| l.id);
    let mut extra_above = 0.0;
    if (heights.width - width).abs() > 0.5 {
        *heights = RowHeights {
            width,
            first_id,
            heights: vec![ESTIMATE; lines.len()],
        };
    } else if heights.first_id != first_id
        && heights.heights.len() < lines.len()
        && first_id.is_some()
    {
        // Older history was inserted above: keep what is in view where it is.
        let added = lines.len() - heights.heights.len();
        let mut fresh = vec![ESTIMATE; added];
        fresh.append(&mut heights.heights);
        heights.heights = fresh;
        heights.first_id = first_id;
        extra_above = added as f32 * ESTIMATE;
    }
    heights.heights.resize(lines.len(), ESTIMATE);
    heights.first_id = first_id;

    let mut area = egui::ScrollArea::vertical()
        .id_salt(("conversation", &conversation.id))
        .auto_shrink([false, false])
        .stick_to_bottom(true);
    if let Some(i) = target {
        // A little of what came before stays in view above it.
        let above: f32 = heights.heights[..i].iter().sum();
        area = area.vertical_scroll_offset((above - 60.0).max(0.0));
    } else if jump_to_latest {
        let total: f32 = heights.heights.iter().sum();
        area = area.vertical_scroll_offset((total - ui.available_height()).max(0.0));
    } else if extra_above > 0.0 {
        let current = ui
            .ctx()
            .data(|d| {
                d.get_temp::<f32>(egui::Id::unique(("conversation-offset", &conversation.id)))
            })
            .unwrap_or(0.0);
        area = area.vertical_scroll_offset(current + extra_above);
    }
    let mut drawn = 0;
    let output = area.show_viewport(ui, |ui, viewport| {
        let total: f32 = heights.heights.iter().sum();
        let top = ui.min_rect().top();
        ui.set_height(total.max(viewport.height()));
        let mut y = 0.0;
        for (i, line) in lines.iter().enumerate() {
            let h = heights.heights[i];
            if y + h < viewport.min.y {
                y += h;
                continue;
            }
            if y > viewport.max.y {
                break;
            }
            let previous = i.checked_sub(1).map(|p| &lines[p]);
            let rect = egui::Rect::from_min_size(
                egui::pos2(ui.min_rect().left(), top + y),
                egui::vec2(width, h.max(1.0)),
            );
            let used = ui
                .scope_builder(
                    UiBuilder::new()
                        .max_rect(rect)
                        .layout(Layout::top_down(Align::Min)),
                    |ui| {
                        let out = (&mut actions, &mut wanted);
                        row(ui, line, previous, &input, rendered, out)
                    },
                )
                .response
                .rect
                .height();
            heights.heights[i] = used.max(1.0);
            y += used.max(1.0);
            drawn += 1;
        }
    });
    let offset = output.state.clamped_offset().y;
    ui.ctx().data_mut(|d| {
        d.insert_temp(
            egui::Id::unique(("conversation-offset", &conversation.id)),
            offset,
        )
    });
    let content = output.content_size.y;
    let view = output.inner_rect.height();
    ListOutcome {
        at_bottom: offset + view >= content - 4.0,
        at_top: offset <= 1.0,
        rows_drawn: drawn,
        wanted_previews: wanted,
        actions,
        scrolled_to: target.and(input.scroll_to),
    }
}

fn lines_index(lines: &[Line], id: u64) -> Option<usize> {
    lines.iter().position(|l| l.id == Some(id))
}

fn local_day(ts_ms: i64) -> Option<chrono::NaiveDate> {
    Local
        .timestamp_millis_opt(ts_ms)
        .single()
        .map(|t| t.date_naive())
}

/// One line: a day separator if the day changed, then time, author and text in the kind's look.
fn row(
    ui: &mut egui::Ui,
    line: &Line,
    previous: Option<&Line>,
    input: &ListInput,
    rendered: &mut Vec<(LineKind, String)>,
    (actions, wanted): (&mut Vec<RowAction>, &mut Vec<(String, String)>),
) {
    let dark = input.dark;
    let day = local_day(line.ts_ms);
    if day.is_some() && previous.and_then(|p| local_day(p.ts_ms)) != day {
        if let Some(day) = day {
            ui.add_space(4.0);
            ui.vertical_centered(|ui| {
                let text = format!(
                    "——  {}, {} {} {}  ——",
                    day.weekday(),
                    day.day(),
                    month(day.month()),
                    day.year()
                );
                ui.label(egui::RichText::new(text).small().weak());
            });
            ui.add_space(2.0);
        }
    }
    let style = theme::line_style(line.kind, line.author.as_deref(), dark);
    let body = FontId::proportional(14.0);
    let time = Local
        .timestamp_millis_opt(line.ts_ms)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default();
    let text_color = ui.visuals().text_color();
    let mut job = LayoutJob::default();
    job.wrap.max_width = ui.available_width();
    let fmt = |color: Color32, italics: bool, size: f32| TextFormat {
        font_id: FontId::proportional(size),
        color,
        italics,
        ..Default::default()
    };
    job.append(
        &format!("{time}  "),
        0.0,
        fmt(ui.visuals().weak_text_color(), false, 12.0),
    );
    let strong = |c: Color32| if style.bold { c } else { c.gamma_multiply(0.9) };
    let mut plain = String::new();
    let mut links: Vec<(String, String)> = Vec::new();
    if let (Some(id), Some(preview)) = (line.state.reply_to, &line.state.reply_preview) {
        let text = format!("↪ {}: {}", preview.username, one_line(&preview.content, 80));
        let link = ui
            .add(egui::Label::new(RichText::new(text).small().weak()).sense(egui::Sense::click()));
        if link
            .on_hover_text("Show the message this answers")
            .clicked()
        {
            actions.push(RowAction::Jump(id));
        }
    } else if line.state.reply_to.is_some() {
        ui.label(
            RichText::new("↪ a deleted message")
                .small()
                .weak()
                .italics(),
        );
    }
    match (line.kind, &line.author) {
        (LineKind::Own | LineKind::Other, Some(author)) if line.action => {
            job.append(
                &format!("* {author} {}", line.text),
                0.0,
                fmt(strong(style.color), true, body.size),
            );
            plain = format!("* {author} {}", line.text);
        }
        (LineKind::Own | LineKind::Other, Some(author)) => {
            job.append(
                &format!("{author}: "),
                0.0,
                fmt(strong(style.color), false, body.size),
            );
            let color = if line.kind == LineKind::Own {
                style.color
            } else {
                text_color
            };
            let drawn = super::rich_text::append(
                &mut job,
                &line.text,
                &fmt(color, false, body.size),
                ui.visuals(),
            );
            plain = format!("{author}: {}", drawn.text);
            links = drawn.links;
        }
        (LineKind::PrivateSent | LineKind::PrivateReceived, Some(author)) => {
            let label = format!("{author}: ");
            job.append(&label, 0.0, fmt(strong(style.color), false, body.size));
            if line.action {
                let text = format!("* {author} {}", line.text);
                job.append(&text, 0.0, fmt(style.color, true, body.size));
                plain = format!("{label}{text}");
            } else {
                let drawn = super::rich_text::append(
                    &mut job,
                    &line.text,
                    &fmt(style.color, false, body.size),
                    ui.visuals(),
                );
                plain = format!("{label}{}", drawn.text);
                links = drawn.links;
            }
        }
        (LineKind::Server, _) => {
            job.append(
                &format!("📢 {}", line.text),
                0.0,
                fmt(style.color, false, 15.0),
            );
            plain.push_str(&line.text);
        }
        _ => {
            job.append(&line.text, 0.0, fmt(style.color, style.italic, body.size));
            plain.push_str(&line.text);
        }
    }
    if line.state.deleted {
        job.append(
            "message deleted",
            0.0,
            fmt(ui.visuals().weak_text_color(), true, body.size),
        );
        plain.push_str("message deleted");
    } else if line.state.edited.is_some() {
        job.append(
            "  (edited)",
            0.0,
            fmt(ui.visuals().weak_text_color(), false, 11.0),
        );
        plain.push_str(" (edited)");
    }
    let flash = line.id.is_some() && line.id == input.flash;
    let frame = if line.mention || flash {
        egui::Frame::new()
            .fill(theme::mention_fill(dark))
            .inner_margin(2.0)
            .corner_radius(3.0)
    } else {
        egui::Frame::new().inner_margin(egui::Margin::symmetric(0, 1))
    };
    let shown = frame.show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(job);
        for (text, url) in &links {
            ui.hyperlink_to(RichText::new(format!("Link: {text}")).small(), url);
        }
        files(ui, line, input, wanted);
        if let Some(id) = line.id.filter(|_| !line.state.deleted) {
            reactions(ui, id, line, input.me, actions);
        }
    });
    if let Some(id) = line.id.filter(|_| !line.state.deleted) {
        if ui.rect_contains_pointer(shown.response.rect) {
            let mine = line.author.as_deref().is_some_and(|a| {
                palaver_proto::validate::fold(a) == palaver_proto::validate::fold(input.me)
            });
            hover_actions(ui, shown.response.rect, id, mine, actions);
        }
    }
    rendered.push((line.kind, plain));
}

/// The first `max` characters of `text` on one line.
fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &flat[..at]),
        None => flat,
    }
}

/// The files sent with a message: name and size, a link that opens it in the browser; a
/// picture also shown small (click it to open it), in a box of the same size while it loads.
fn files(ui: &mut egui::Ui, line: &Line, input: &ListInput, wanted: &mut Vec<(String, String)>) {
    use crate::previews::{fitted, Preview, PREVIEW_MAX_BYTES, PREVIEW_SIZE};
    for a in &line.state.attachments {
        let kind = if a.is_image() { "Image" } else { "File" };
        let text = format!("{kind}: {} ({})", a.name, human_size(a.size));
        let Some(base) = input.http_base else {
            ui.label(text);
            continue;
        };
        let url = format!("{}{}", base.trim_end_matches('/'), a.url);
        ui.hyperlink_to(text, &url);
        if !a.is_image() || a.size > PREVIEW_MAX_BYTES {
            continue;
        }
        let preview = input.previews.and_then(|p| p.get(&a.id));
        if matches!(preview, Some(Preview::Failed)) {
            continue;
        }
        let (rect, _) = ui.allocate_exact_size(PREVIEW_SIZE, egui::Sense::hover());
        match preview {
            Some(Preview::Ready(texture)) => {
                let size = fitted(texture.size_vec2());
                let at = egui::Rect::from_min_size(rect.min, size);
                let image = egui::Image::new((texture.id(), size))
                    .alt_text(format!("Picture: {}", a.name))
                    .sense(egui::Sense::click());
                let shown = ui.put(at, image);
                if shown.on_hover_text(&a.name).clicked() {
                    ui.ctx().open_url(egui::OpenUrl::new_tab(&url));
                }
            }
            _ => {
                ui.put(
                    rect,
                    egui::Label::new(RichText::new("Loading the picture…").weak()),
                );
                if preview.is_none() {
                    wanted.push((a.id.clone(), a.url.clone()));
                }
            }
        }
    }
}

/// `12 KiB`, `3.4 MiB`.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        b if b < 1024 => format!("{b} B"),
        b if b < 1024 * 1024 => format!("{} KiB", b / 1024),
        b => format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0)),
    }
}

/// A message's reactions: a chip per emoji with its count (yours highlighted), and `+`.
fn reactions(ui: &mut egui::Ui, id: u64, line: &Line, me: &str, actions: &mut Vec<RowAction>) {
    if line.state.reactions.is_empty() {
        return;
    }
    let me = palaver_proto::validate::fold(me);
    ui.horizontal_wrapped(|ui| {
        for r in &line.state.reactions {
            let mine = r
                .users
                .iter()
                .any(|u| palaver_proto::validate::fold(u) == me);
            let chip = ui
                .selectable_label(mine, format!("{} {}", r.emoji, r.users.len()))
                .on_hover_text(r.users.join(", "));
            if chip.clicked() {
                actions.push(RowAction::React {
                    id,
                    emoji: r.emoji.clone(),
                });
            }
        }
        if ui
            .small_button("+")
            .on_hover_text("Add a reaction")
            .clicked()
        {
            actions.push(RowAction::PickReaction(id));
        }
    });
}

/// Reply, React, and for one's own message Edit and Delete, over the row's right end.
fn hover_actions(
    ui: &mut egui::Ui,
    rect: egui::Rect,
    id: u64,
    mine: bool,
    actions: &mut Vec<RowAction>,
) {
    let width = if mine { 220.0 } else { 110.0 };
    let bar = egui::Rect::from_min_size(
        egui::pos2(rect.right() - width, rect.top()),
        egui::vec2(width, 20.0),
    );
    ui.scope_builder(
        UiBuilder::new()
            .max_rect(bar)
            .layout(Layout::right_to_left(Align::Min)),
        |ui| {
            let mut offer = |ui: &mut egui::Ui, label: &str, action: RowAction| {
                if ui.small_button(label).clicked() {
                    actions.push(action);
                }
            };
            if mine {
                offer(ui, "Delete", RowAction::Delete(id));
                offer(ui, "Edit", RowAction::Edit(id));
            }
            offer(ui, "React", RowAction::PickReaction(id));
            offer(ui, "Reply", RowAction::Reply(id));
        },
    );
}

fn month(m: u32) -> &'static str {
    [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ][(m.clamp(1, 12) - 1) as usize]
}
