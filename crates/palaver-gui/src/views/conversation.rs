//! The conversation: a virtualised list of lines.
//!
//! Only the rows in view are laid out and drawn. Each row's height is measured the first time it
//! is drawn and remembered; rows never drawn count with an estimate. The heights are summed each
//! frame to place the visible rows (a sum over 100,000 floats costs microseconds), so a
//! conversation of any length scrolls as smoothly as a short one. The list follows new lines
//! while you are at the bottom; scroll up and it stays put and offers "Jump to latest". Reaching
//! the top asks the server for older history.

use chrono::{Datelike, Local, TimeZone};
use egui::text::LayoutJob;
use egui::{Align, Color32, FontId, Layout, TextFormat, UiBuilder};

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
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct ListOutcome {
    pub at_bottom: bool,
    pub at_top: bool,
    /// Rows laid out this frame.
    pub rows_drawn: usize,
}

const ESTIMATE: f32 = 20.0;

/// Draws the list; `rendered` receives (kind, text) of each row drawn.
pub fn show(
    ui: &mut egui::Ui,
    conversation: &Conversation,
    heights: &mut RowHeights,
    dark: bool,
    jump_to_latest: bool,
    rendered: &mut Vec<(LineKind, String)>,
) -> ListOutcome {
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
    if jump_to_latest {
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
                    |ui| row(ui, line, previous, dark, rendered),
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
    }
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
    dark: bool,
    rendered: &mut Vec<(LineKind, String)>,
) {
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
            job.append(&line.text, 0.0, fmt(color, false, body.size));
            plain = format!("{author}: {}", line.text);
        }
        (LineKind::PrivateSent | LineKind::PrivateReceived, Some(author)) => {
            let label = format!("{author}: ");
            job.append(&label, 0.0, fmt(strong(style.color), false, body.size));
            let text = if line.action {
                format!("* {author} {}", line.text)
            } else {
                line.text.clone()
            };
            job.append(&text, 0.0, fmt(style.color, line.action, body.size));
            plain = format!("{label}{text}");
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
    let frame = if line.mention {
        egui::Frame::new()
            .fill(theme::mention_fill(dark))
            .inner_margin(2.0)
            .corner_radius(3.0)
    } else {
        egui::Frame::new().inner_margin(egui::Margin::symmetric(0, 1))
    };
    frame.show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(job);
    });
    rendered.push((line.kind, plain));
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
