//! A message's rich text (the protocol's Markdown subset, parsed by `palaver_proto::rich_text`)
//! as egui draws it: bold in the strong text colour, italic, struck through, code in a
//! monospace font on a tinted background, links in the link colour and underlined (and listed
//! under the message as real links, which a label cannot hold), quotes after a bar, code blocks
//! in monospace. Nothing is interpreted beyond the subset.

use egui::text::LayoutJob;
use egui::{Color32, FontId, Stroke, TextFormat};

use palaver_proto::rich_text::{parse, spans_text, Block, Span};

/// What a message's text added to a layout: the text as read, and its links (text, url).
pub struct Drawn {
    pub text: String,
    pub links: Vec<(String, String)>,
}

/// Appends `content` to `job` in `base`'s look, with the subset's formatting.
pub fn append(
    job: &mut LayoutJob,
    content: &str,
    base: &TextFormat,
    visuals: &egui::Visuals,
) -> Drawn {
    let mut drawn = Drawn {
        text: String::new(),
        links: Vec::new(),
    };
    let mono = FontId::monospace(base.font_id.size - 1.0);
    for (i, block) in parse(content).into_iter().enumerate() {
        if i > 0 {
            job.append("\n", 0.0, base.clone());
            drawn.text.push('\n');
        }
        match block {
            Block::Line(spans) => spans_into(job, &spans, base, visuals, &mut drawn),
            Block::Quote(spans) => {
                let bar = TextFormat {
                    color: visuals.weak_text_color(),
                    ..base.clone()
                };
                job.append("| ", 0.0, bar);
                let quoted = TextFormat {
                    color: visuals.weak_text_color(),
                    ..base.clone()
                };
                spans_into(job, &spans, &quoted, visuals, &mut drawn);
            }
            Block::Code { text, .. } => {
                let code = TextFormat {
                    font_id: mono.clone(),
                    background: visuals.code_bg_color,
                    ..base.clone()
                };
                job.append(&text, 0.0, code);
                drawn.text.push_str(&text);
            }
        }
    }
    drawn
}

fn spans_into(
    job: &mut LayoutJob,
    spans: &[Span],
    format: &TextFormat,
    visuals: &egui::Visuals,
    drawn: &mut Drawn,
) {
    for span in spans {
        match span {
            Span::Text(text) => {
                job.append(text, 0.0, format.clone());
                drawn.text.push_str(text);
            }
            Span::Bold(inner) => {
                let bold = TextFormat {
                    color: strong(format.color, visuals),
                    ..format.clone()
                };
                spans_into(job, inner, &bold, visuals, drawn);
            }
            Span::Italic(inner) => {
                let italic = TextFormat {
                    italics: true,
                    ..format.clone()
                };
                spans_into(job, inner, &italic, visuals, drawn);
            }
            Span::Strike(inner) => {
                let struck = TextFormat {
                    strikethrough: Stroke::new(1.0, format.color),
                    ..format.clone()
                };
                spans_into(job, inner, &struck, visuals, drawn);
            }
            Span::Code(text) => {
                let code = TextFormat {
                    font_id: FontId::monospace(format.font_id.size - 1.0),
                    background: visuals.code_bg_color,
                    ..format.clone()
                };
                job.append(text, 0.0, code);
                drawn.text.push_str(text);
            }
            Span::Link { text, url } => {
                let link = TextFormat {
                    color: visuals.hyperlink_color,
                    underline: Stroke::new(1.0, visuals.hyperlink_color),
                    ..format.clone()
                };
                spans_into(job, text, &link, visuals, drawn);
                drawn.links.push((spans_text(text), url.clone()));
            }
        }
    }
}

/// A colour a little stronger than `color` (egui's fonts have no bold face).
fn strong(color: Color32, visuals: &egui::Visuals) -> Color32 {
    if color == visuals.text_color() {
        visuals.strong_text_color()
    } else {
        color.gamma_multiply(1.2)
    }
}
