//! Drawing the terminal UI with ratatui: conversations (left), the conversation (centre),
//! members (right), a status line and the input line. Colours mean what they mean in the desktop
//! client: system grey italic, server red bold, own blue, others a colour each, private sent
//! magenta, private received orange.
//!
//! Only the newest lines that fit are laid out (from the bottom up, minus the scroll offset), so a
//! long conversation costs no more than a short one.

use chrono::TimeZone;
use ratatui::layout::{Constraint, Direction, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, Paragraph, Wrap};
use ratatui::Frame;

use super::tui::TuiApp;
use crate::model::{Line as ChatLine, LineKind, Status};

fn rgb(c: egui::Color32) -> Color {
    Color::Rgb(c.r(), c.g(), c.b())
}

/// The style of a line's kind (and author), matching the desktop client's meaning.
pub fn kind_style(kind: LineKind, author: Option<&str>) -> Style {
    let s = crate::theme::line_style(kind, author, true);
    let mut style = Style::default().fg(rgb(s.color));
    if s.bold {
        style = style.add_modifier(Modifier::BOLD);
    }
    if s.italic {
        style = style.add_modifier(Modifier::ITALIC);
    }
    style
}

pub fn draw(frame: &mut Frame, app: &mut TuiApp) {
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Min(3),
            Constraint::Length(1),
            Constraint::Length(1),
        ])
        .split(frame.area());
    let columns = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([
            Constraint::Length(20),
            Constraint::Min(20),
            Constraint::Length(18),
        ])
        .split(rows[0]);
    draw_conversations(frame, app, columns[0]);
    draw_messages(frame, app, columns[1]);
    draw_members(frame, app, columns[2]);
    draw_status(frame, app, rows[1]);
    draw_input(frame, app, rows[2]);
}

fn draw_conversations(frame: &mut Frame, app: &TuiApp, area: Rect) {
    let items: Vec<ListItem> = app
        .model
        .conversations
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let sigil = if c.is_room() { "#" } else { "@" };
            let mut text = format!("{} {sigil}{}", i + 1, c.title);
            if c.unread > 0 {
                text.push_str(&format!(" ({})", c.unread));
            }
            let mut style = Style::default();
            if i == app.model.active {
                style = style.add_modifier(Modifier::REVERSED);
            } else if c.mentions > 0 {
                style = style.fg(Color::Yellow).add_modifier(Modifier::BOLD);
            } else if c.unread > 0 {
                style = style.add_modifier(Modifier::BOLD);
            }
            ListItem::new(text).style(style)
        })
        .collect();
    frame.render_widget(
        List::new(items).block(Block::default().borders(Borders::RIGHT).title("Chats")),
        area,
    );
}

fn draw_members(frame: &mut Frame, app: &TuiApp, area: Rect) {
    let Some(c) = app.model.active() else { return };
    let items: Vec<ListItem> = c
        .members
        .iter()
        .map(|name| {
            ListItem::new(name.clone())
                .style(Style::default().fg(rgb(crate::theme::person_color(name, true))))
        })
        .collect();
    let title = if c.is_room() {
        format!("{} online", c.members.len())
    } else {
        "Private".to_string()
    };
    frame.render_widget(
        List::new(items).block(Block::default().borders(Borders::LEFT).title(title)),
        area,
    );
}

fn time(ts_ms: i64) -> String {
    chrono::Local
        .timestamp_millis_opt(ts_ms)
        .single()
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default()
}

/// A chat line as spans: time, then author and text in the kind's style.
pub fn line_spans(line: &ChatLine, http_base: Option<&str>) -> Line<'static> {
    let style = kind_style(line.kind, line.author.as_deref());
    let dim = Style::default().fg(Color::DarkGray);
    let mut spans = vec![Span::styled(format!("{} ", time(line.ts_ms)), dim)];
    if let (Some(_), Some(preview)) = (line.state.reply_to, &line.state.reply_preview) {
        let excerpt: String = preview.content.chars().take(40).collect();
        spans.push(Span::styled(
            format!("(↪ {}: {excerpt}) ", preview.username),
            dim.add_modifier(Modifier::ITALIC),
        ));
    }
    match (&line.author, line.kind) {
        (Some(author), _) if line.action => {
            spans.push(Span::styled(
                format!("* {author} {}", line.text),
                style.add_modifier(Modifier::ITALIC),
            ));
        }
        (Some(author), LineKind::Other) => {
            spans.push(Span::styled(format!("<{author}> "), style));
            spans.extend(rich_spans(&line.text, Style::default()));
        }
        (Some(author), _) => {
            spans.push(Span::styled(format!("<{author}> "), style));
            spans.extend(rich_spans(
                &line.text,
                style.remove_modifier(Modifier::BOLD),
            ));
        }
        (None, LineKind::Server) => spans.push(Span::styled(format!("! {}", line.text), style)),
        (None, _) => spans.push(Span::styled(line.text.clone(), style)),
    }
    if line.state.deleted {
        spans.push(Span::styled(
            "message deleted",
            dim.add_modifier(Modifier::ITALIC),
        ));
    } else if line.state.edited.is_some() {
        spans.push(Span::styled(" (edited)", dim));
    }
    for a in &line.state.attachments {
        let link = format!(
            "{}{}",
            http_base.unwrap_or_default().trim_end_matches('/'),
            a.url
        );
        spans.push(Span::styled(
            format!(
                "  [{} ({}) {link}]",
                a.name,
                crate::views::conversation::human_size(a.size)
            ),
            Style::default().fg(Color::Cyan),
        ));
    }
    if !line.state.reactions.is_empty() {
        let chips: Vec<String> = line
            .state
            .reactions
            .iter()
            .map(|r| format!("{} {}", r.emoji, r.users.len()))
            .collect();
        spans.push(Span::styled(format!("  [{}]", chips.join("  ")), dim));
    }
    let mut out = Line::from(spans);
    if line.mention {
        out = out.style(Style::default().bg(Color::Rgb(0x4A, 0x3F, 0x1A)));
    }
    out
}

fn draw_messages(frame: &mut Frame, app: &TuiApp, area: Rect) {
    let Some(c) = app.model.active() else {
        frame.render_widget(Paragraph::new("You are in no room: /join #room"), area);
        return;
    };
    let modes = if c.modes.is_empty() || c.modes == "+n" {
        String::new()
    } else {
        format!(" [{}]", c.modes)
    };
    let title = if c.topic.is_empty() {
        format!(
            " {}{}{modes} ",
            if c.is_room() { "#" } else { "@" },
            c.title
        )
    } else {
        format!(" #{}{modes} — {} ", c.title, c.topic)
    };
    let mut block = Block::default().borders(Borders::BOTTOM).title(title);
    if let Some(typing) = c.typing_text(palaver_proto::timestamp::now_millis()) {
        block = block.title_bottom(Line::styled(
            format!(" {typing} "),
            Style::default().fg(Color::DarkGray),
        ));
    }
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width.max(1) as usize;
    let base = app.model.http_base.as_deref();
    let end = c.lines.len().saturating_sub(app.scroll);
    // Take lines from the bottom until the area is full.
    let mut used = 0usize;
    let mut start = end;
    while start > 0 {
        let height = line_spans(&c.lines[start - 1], base)
            .width()
            .div_ceil(width)
            .max(1);
        if used + height > inner.height as usize {
            break;
        }
        used += height;
        start -= 1;
    }
    let mut lines: Vec<Line> = Vec::new();
    if start == 0 && c.loading_history {
        lines.push(Line::styled(
            "loading older messages…",
            Style::default().fg(Color::DarkGray),
        ));
    }
    lines.extend(c.lines[start..end].iter().map(|l| line_spans(l, base)));
    // Bottom-align: pad above when the lines do not fill the area.
    let pad = (inner.height as usize).saturating_sub(used.max(lines.len()));
    let mut padded: Vec<Line> = std::iter::repeat_n(Line::raw(""), pad).collect();
    padded.extend(lines);
    frame.render_widget(Paragraph::new(padded).wrap(Wrap { trim: false }), inner);
}

fn draw_status(frame: &mut Frame, app: &TuiApp, area: Rect) {
    let (text, color) = match &app.model.status {
        Status::Connected => (
            format!("connected to {} as {}", app.model.server, app.model.me),
            Color::Green,
        ),
        Status::Reconnecting { attempt } => (
            format!(
                "connection lost: reconnecting to {} (attempt {attempt})…",
                app.model.server
            ),
            Color::Yellow,
        ),
        Status::Disconnected(why) => (format!("disconnected: {why}"), Color::Red),
    };
    let scrolled = if app.scroll > 0 {
        format!("  [scrolled up {}: PageDown]", app.scroll)
    } else {
        String::new()
    };
    let line = Line::from(vec![
        Span::styled(format!("[{text}]"), Style::default().fg(color)),
        Span::styled(
            format!("{scrolled}  /help  PgUp older  Ctrl+N/P switch  Ctrl+C quit"),
            Style::default().fg(Color::DarkGray),
        ),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn draw_input(frame: &mut Frame, app: &TuiApp, area: Rect) {
    let prompt = match app.model.active() {
        Some(c) if c.is_room() => format!("#{}> ", c.title),
        Some(c) => format!("@{}> ", c.title),
        None => "> ".to_string(),
    };
    let prompt_width = prompt.chars().count() as u16;
    // Keep the cursor visible on long lines.
    let room = area.width.saturating_sub(prompt_width + 1) as usize;
    let skip = app.cursor.saturating_sub(room);
    let visible: String = app.input.chars().skip(skip).collect();
    let hint = crate::commands::hints(&app.input)
        .first()
        .map(|(u, w)| format!("   {u} — {w}"))
        .unwrap_or_default();
    let line = Line::from(vec![
        Span::styled(prompt, Style::default().fg(Color::Cyan)),
        Span::raw(visible),
        Span::styled(hint, Style::default().fg(Color::DarkGray)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let x = area.x + prompt_width + (app.cursor - skip) as u16;
    frame.set_cursor_position(Position::new(x.min(area.right().saturating_sub(1)), area.y));
}

/// A message's rich text as terminal styles: bold, italic, struck through, code in yellow,
/// links underlined (terminals make them clickable), quotes after a bar, blocks joined by ` ⏎ `.
pub fn rich_spans(content: &str, base: Style) -> Vec<Span<'static>> {
    use palaver_proto::rich_text::{parse, Block, Span as Rich};
    fn walk(spans: &[Rich], style: Style, out: &mut Vec<Span<'static>>) {
        for span in spans {
            match span {
                Rich::Text(t) => out.push(Span::styled(t.clone(), style)),
                Rich::Bold(inner) => walk(inner, style.add_modifier(Modifier::BOLD), out),
                Rich::Italic(inner) => walk(inner, style.add_modifier(Modifier::ITALIC), out),
                Rich::Strike(inner) => walk(inner, style.add_modifier(Modifier::CROSSED_OUT), out),
                Rich::Code(t) => out.push(Span::styled(t.clone(), style.fg(Color::Yellow))),
                Rich::Link { text, url } => {
                    let shown = palaver_proto::rich_text::spans_text(text);
                    let underlined = style.add_modifier(Modifier::UNDERLINED);
                    if shown == *url {
                        out.push(Span::styled(url.clone(), underlined));
                    } else {
                        walk(text, style, out);
                        out.push(Span::styled(format!(" <{url}>"), underlined));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    for (i, block) in parse(content).into_iter().enumerate() {
        if i > 0 {
            out.push(Span::styled(" ⏎ ", Style::default().fg(Color::DarkGray)));
        }
        match block {
            Block::Line(spans) => walk(&spans, base, &mut out),
            Block::Quote(spans) => {
                out.push(Span::styled("│ ", Style::default().fg(Color::DarkGray)));
                walk(&spans, base.add_modifier(Modifier::DIM), &mut out);
            }
            Block::Code { text, .. } => out.push(Span::styled(
                text.replace('\n', " ⏎ "),
                base.fg(Color::Yellow),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rich_text_becomes_terminal_styles() {
        let spans = rich_spans(
            "**ship** it `now`, see [docs](https://docs.rs)",
            Style::default(),
        );
        let bold = spans.iter().find(|s| s.content == "ship").unwrap();
        assert!(bold.style.add_modifier.contains(Modifier::BOLD));
        let code = spans.iter().find(|s| s.content == "now").unwrap();
        assert_eq!(code.style.fg, Some(Color::Yellow));
        let link = spans
            .iter()
            .find(|s| s.content.contains("https://docs.rs"))
            .unwrap();
        assert!(link.style.add_modifier.contains(Modifier::UNDERLINED));
        let text: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(text, "ship it now, see docs <https://docs.rs>");
    }
}
