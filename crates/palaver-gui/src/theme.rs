//! How things look: the two themes, a colour per kind of line (following the classroom client:
//! system grey italic, server red bold, own blue, private sent purple, private received orange)
//! and a stable colour per person.

use egui::{Color32, Visuals};

use crate::model::LineKind;

/// The dark palette of the first classroom client: near-black panels, ocean-blue accents.
const DARK_GREY: Color32 = Color32::from_rgb(0x12, 0x12, 0x12);
const MEDIUM_GREY: Color32 = Color32::from_rgb(0x1F, 0x1B, 0x24);
const OCEAN_BLUE: Color32 = Color32::from_rgb(0x46, 0x4E, 0xB8);

pub fn visuals(dark: bool) -> Visuals {
    if dark {
        let mut v = Visuals::dark();
        v.panel_fill = MEDIUM_GREY;
        v.window_fill = MEDIUM_GREY;
        v.extreme_bg_color = DARK_GREY;
        v.faint_bg_color = Color32::from_rgb(0x26, 0x22, 0x2C);
        v.selection.bg_fill = OCEAN_BLUE;
        v.widgets.active.bg_fill = OCEAN_BLUE;
        v.hyperlink_color = Color32::from_rgb(0x8A, 0x9A, 0xFF);
        v
    } else {
        Visuals::light()
    }
}

/// The look of one kind of line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LineStyle {
    pub color: Color32,
    pub bold: bool,
    pub italic: bool,
}

pub fn line_style(kind: LineKind, author: Option<&str>, dark: bool) -> LineStyle {
    let pick = |d: Color32, l: Color32| if dark { d } else { l };
    let (color, bold, italic) = match kind {
        LineKind::System => (
            pick(Color32::from_gray(150), Color32::from_gray(110)),
            false,
            true,
        ),
        LineKind::Help => (
            pick(Color32::from_gray(190), Color32::from_gray(70)),
            false,
            false,
        ),
        LineKind::Server => (
            pick(
                Color32::from_rgb(0xFF, 0x55, 0x55),
                Color32::from_rgb(0xC0, 0x10, 0x10),
            ),
            true,
            false,
        ),
        LineKind::Error => (
            pick(
                Color32::from_rgb(0xFF, 0x70, 0x70),
                Color32::from_rgb(0xB0, 0x20, 0x20),
            ),
            false,
            false,
        ),
        LineKind::Own => (
            pick(
                Color32::from_rgb(0x6C, 0xA8, 0xFF),
                Color32::from_rgb(0x10, 0x4C, 0xC0),
            ),
            true,
            false,
        ),
        LineKind::PrivateSent => (
            pick(
                Color32::from_rgb(0xC0, 0x84, 0xFC),
                Color32::from_rgb(0x7B, 0x1F, 0xA2),
            ),
            true,
            false,
        ),
        LineKind::PrivateReceived => (
            pick(
                Color32::from_rgb(0xFF, 0xA5, 0x3C),
                Color32::from_rgb(0xC2, 0x5E, 0x00),
            ),
            true,
            false,
        ),
        LineKind::Other => (person_color(author.unwrap_or(""), dark), true, false),
    };
    LineStyle {
        color,
        bold,
        italic,
    }
}

/// A colour for a person's name, the same every time and on every client: a hash of the folded
/// name picks one of a set of readable hues (none of them the blue of your own messages).
pub fn person_color(name: &str, dark: bool) -> Color32 {
    const DARK: [Color32; 8] = [
        Color32::from_rgb(0x4C, 0xC9, 0x6E),
        Color32::from_rgb(0x2E, 0xC4, 0xB6),
        Color32::from_rgb(0xE9, 0xC4, 0x6A),
        Color32::from_rgb(0xF2, 0x7E, 0xA9),
        Color32::from_rgb(0x9B, 0xD7, 0x70),
        Color32::from_rgb(0x70, 0xD6, 0xFF),
        Color32::from_rgb(0xE0, 0x9F, 0x7D),
        Color32::from_rgb(0xB8, 0xB0, 0xFF),
    ];
    const LIGHT: [Color32; 8] = [
        Color32::from_rgb(0x1B, 0x7F, 0x3B),
        Color32::from_rgb(0x0B, 0x7A, 0x70),
        Color32::from_rgb(0x8A, 0x6A, 0x00),
        Color32::from_rgb(0xB0, 0x2A, 0x5B),
        Color32::from_rgb(0x4A, 0x7A, 0x1E),
        Color32::from_rgb(0x0A, 0x6C, 0x96),
        Color32::from_rgb(0x9A, 0x4A, 0x1E),
        Color32::from_rgb(0x5A, 0x4A, 0xB0),
    ];
    // FNV-1a: stable across runs and platforms (unlike std's hasher).
    let mut hash: u32 = 0x811C_9DC5;
    for b in palaver_proto::validate::fold(name).bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    let palette = if dark { &DARK } else { &LIGHT };
    palette[(hash as usize) % palette.len()]
}

/// Background for lines that mention you.
pub fn mention_fill(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgba_unmultiplied(0xE9, 0xC4, 0x6A, 40)
    } else {
        Color32::from_rgba_unmultiplied(0xFF, 0xD5, 0x4F, 70)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_its_own_look() {
        let kinds = [
            LineKind::System,
            LineKind::Server,
            LineKind::Own,
            LineKind::PrivateSent,
            LineKind::PrivateReceived,
        ];
        for dark in [true, false] {
            let colors: Vec<_> = kinds
                .iter()
                .map(|k| line_style(*k, None, dark).color)
                .collect();
            for (i, a) in colors.iter().enumerate() {
                for b in &colors[i + 1..] {
                    assert_ne!(a, b);
                }
            }
            assert!(line_style(LineKind::System, None, dark).italic);
            assert!(line_style(LineKind::Server, None, dark).bold);
        }
    }

    #[test]
    fn person_colours_are_stable_and_case_insensitive() {
        assert_eq!(person_color("Bob", true), person_color("bob", true));
        let distinct: std::collections::HashSet<_> =
            ["alice", "bob", "carol", "dave", "erin", "frank"]
                .iter()
                .map(|n| person_color(n, true))
                .collect();
        assert!(distinct.len() >= 4);
    }
}
