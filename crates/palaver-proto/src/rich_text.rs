//! Rich text: the Markdown subset message content may use (see `docs/protocol.md`, "Rich
//! text"), parsed into blocks and spans that clients draw, and IRC's formatting codes both ways.
//!
//! Nothing here is HTML and nothing is executed: a client draws [`Block`]s and [`Span`]s with
//! its own widgets. Markers that do not close stay as typed; a backslash before a marker shows
//! it as typed; links are only `http://` and `https://`.
//!
//! IRC: [`from_irc`] turns a line's formatting codes (bold, italic, underline, strikethrough,
//! monospace; colours are dropped) into the subset, escaping what would otherwise be read as
//! markers; [`to_irc`] turns the subset into codes for IRC clients.

/// A line's or a block's pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Bold(Vec<Span>),
    Italic(Vec<Span>),
    Strike(Vec<Span>),
    /// Monospace, nothing formatted inside.
    Code(String),
    /// A link: what it shows, and where it leads (http or https only).
    Link {
        text: Vec<Span>,
        url: String,
    },
}

/// A message's blocks, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// One line of text.
    Line(Vec<Span>),
    /// A line quoted (`> `).
    Quote(Vec<Span>),
    /// A fenced code block: its lines as typed.
    Code {
        language: Option<String>,
        text: String,
    },
}

/// Nested formatting deeper than this is shown as typed.
const MAX_DEPTH: usize = 24;

/// The blocks of a message's content.
pub fn parse(content: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = content.split('\n').peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_end_matches('\r');
        if let Some(fence) = trimmed.strip_prefix("```") {
            let language = fence.trim();
            let language = (!language.is_empty() && !language.contains(char::is_whitespace))
                .then(|| language.to_string());
            let mut body = Vec::new();
            let mut closed = false;
            for inner in lines.by_ref() {
                if inner.trim_end_matches('\r').trim() == "```" {
                    closed = true;
                    break;
                }
                body.push(inner.trim_end_matches('\r'));
            }
            if closed {
                blocks.push(Block::Code {
                    language,
                    text: body.join("\n"),
                });
            } else {
                // No closing fence: everything as typed.
                blocks.push(Block::Line(vec![Span::Text(trimmed.to_string())]));
                blocks.extend(body.into_iter().map(|l| Block::Line(inline(l, 0))));
            }
        } else if let Some(quoted) = trimmed.strip_prefix("> ") {
            blocks.push(Block::Quote(inline(quoted, 0)));
        } else {
            blocks.push(Block::Line(inline(trimmed, 0)));
        }
    }
    blocks
}

/// Characters a backslash escapes.
const ESCAPABLE: &[char] = &['*', '_', '~', '`', '[', '>', '\\'];

fn push_text(out: &mut Vec<Span>, text: &str) {
    if text.is_empty() {
        return;
    }
    match out.last_mut() {
        Some(Span::Text(last)) => last.push_str(text),
        _ => out.push(Span::Text(text.to_string())),
    }
}

fn is_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric())
}

/// The spans of one line of text.
fn inline(text: &str, depth: usize) -> Vec<Span> {
    let mut out = Vec::new();
    if depth > MAX_DEPTH {
        push_text(&mut out, text);
        return out;
    }
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next().expect("not empty");
        let before = text[..i].chars().next_back();
        // An escape: the next character as typed.
        if c == '\\' {
            if let Some(next) = rest[1..].chars().next().filter(|n| ESCAPABLE.contains(n)) {
                push_text(&mut out, &next.to_string());
                i += 1 + next.len_utf8();
                continue;
            }
        }
        if c == '`' {
            if let Some(end) = rest[1..].find('`') {
                out.push(Span::Code(rest[1..1 + end].to_string()));
                i += end + 2;
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("**") {
            if let Some(end) = closing(after, "**") {
                out.push(Span::Bold(inline(&after[..end], depth + 1)));
                i += end + 4;
                continue;
            }
        }
        if let Some(after) = rest.strip_prefix("~~") {
            if let Some(end) = closing(after, "~~") {
                out.push(Span::Strike(inline(&after[..end], depth + 1)));
                i += end + 4;
                continue;
            }
        }
        if c == '*' && !rest.starts_with("**") {
            if let Some(end) = closing(&rest[1..], "*") {
                out.push(Span::Italic(inline(&rest[1..1 + end], depth + 1)));
                i += end + 2;
                continue;
            }
        }
        if c == '_' && !is_word(before) {
            // `_` only between non-word characters: snake_case_names stay as typed.
            let found = closing_where(&rest[1..], "_", |after| !is_word(after));
            if let Some(end) = found {
                out.push(Span::Italic(inline(&rest[1..1 + end], depth + 1)));
                i += end + 2;
                continue;
            }
        }
        if c == '[' {
            if let Some((label, url, used)) = link(rest) {
                out.push(Span::Link {
                    text: inline(label, depth + 1),
                    url: url.to_string(),
                });
                i += used;
                continue;
            }
        }
        if (rest.starts_with("http://") || rest.starts_with("https://")) && !is_word(before) {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            let url = rest[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
            if url.len() > "https://".len() {
                out.push(Span::Link {
                    text: vec![Span::Text(url.to_string())],
                    url: url.to_string(),
                });
                i += url.len();
                continue;
            }
        }
        push_text(&mut out, &c.to_string());
        i += c.len_utf8();
    }
    out
}

/// Where `marker` closes in `text` (not at its start, not escaped, not inside code).
fn closing(text: &str, marker: &str) -> Option<usize> {
    closing_where(text, marker, |_| true)
}

fn closing_where(
    text: &str,
    marker: &str,
    after_ok: impl Fn(Option<char>) -> bool,
) -> Option<usize> {
    let mut i = 0;
    while i < text.len() {
        let rest = &text[i..];
        let c = rest.chars().next()?;
        if c == '\\' {
            i += 1 + rest[1..].chars().next().map_or(0, char::len_utf8);
            continue;
        }
        if c == '`' {
            match rest[1..].find('`') {
                Some(end) => {
                    i += end + 2;
                    continue;
                }
                None => return None,
            }
        }
        if i > 0 && rest.starts_with(marker) {
            let after = rest[marker.len()..].chars().next();
            // `**` is not a single `*` closing.
            let doubled = marker == "*" && after == Some('*');
            if !doubled && after_ok(after) && !text[..i].ends_with(char::is_whitespace) {
                return Some(i);
            }
        }
        i += c.len_utf8();
    }
    None
}

/// `[label](http...)` at the start of `text`: the label, the url, the bytes used.
fn link(text: &str) -> Option<(&str, &str, usize)> {
    let close = text.find("](")?;
    let label = &text[1..close];
    if label.is_empty() || label.contains('\n') {
        return None;
    }
    let after = &text[close + 2..];
    let end = after.find(')')?;
    let url = &after[..end];
    let safe = (url.starts_with("http://") || url.starts_with("https://"))
        && !url.contains(char::is_whitespace);
    safe.then_some((label, url, close + 2 + end + 1))
}

/// The text of spans as people read it, without markers.
pub fn spans_text(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) | Span::Code(t) => out.push_str(t),
            Span::Bold(inner) | Span::Italic(inner) | Span::Strike(inner) => {
                out.push_str(&spans_text(inner))
            }
            Span::Link { text, .. } => out.push_str(&spans_text(text)),
        }
    }
    out
}

// ----- IRC -----

const BOLD: char = '\u{02}';
const ITALIC: char = '\u{1D}';
const UNDERLINE: char = '\u{1F}';
const STRIKE: char = '\u{1E}';
const MONOSPACE: char = '\u{11}';
const COLOUR: char = '\u{03}';
const HEX_COLOUR: char = '\u{04}';
const REVERSE: char = '\u{16}';
const RESET: char = '\u{0F}';

/// Content in the subset, as IRC formatting codes (markers and escapes gone, links as
/// `text (url)` unless the text is the url).
pub fn to_irc(content: &str) -> String {
    let mut out = Vec::new();
    for block in parse(content) {
        let line = match block {
            Block::Line(spans) => spans_irc(&spans),
            Block::Quote(spans) => format!("> {}", spans_irc(&spans)),
            Block::Code { text, .. } => text
                .split('\n')
                .map(|l| format!("{MONOSPACE}{l}{MONOSPACE}"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        out.push(line);
    }
    out.join("\n")
}

fn spans_irc(spans: &[Span]) -> String {
    let mut out = String::new();
    for span in spans {
        match span {
            Span::Text(t) => out.push_str(t),
            Span::Bold(inner) => out.push_str(&format!("{BOLD}{}{BOLD}", spans_irc(inner))),
            Span::Italic(inner) => out.push_str(&format!("{ITALIC}{}{ITALIC}", spans_irc(inner))),
            Span::Strike(inner) => out.push_str(&format!("{STRIKE}{}{STRIKE}", spans_irc(inner))),
            Span::Code(t) => out.push_str(&format!("{MONOSPACE}{t}{MONOSPACE}")),
            Span::Link { text, url } => {
                let shown = spans_irc(text);
                if shown == *url {
                    out.push_str(url);
                } else {
                    out.push_str(&format!("{shown} ({url})"));
                }
            }
        }
    }
    out
}

/// An IRC line's text in the subset: its formatting codes as markers (underline as italic,
/// colours dropped), and what would read as a marker escaped, so it shows as the IRC user typed.
pub fn from_irc(text: &str) -> String {
    #[derive(Clone, Copy, PartialEq)]
    enum Style {
        Bold,
        Italic,
        Strike,
        Code,
    }
    let marker = |s: Style| match s {
        Style::Bold => "**",
        Style::Italic => "_",
        Style::Strike => "~~",
        Style::Code => "`",
    };
    let mut out = String::new();
    let mut open: Vec<Style> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut previous: Option<char> = None;
    // Toggling a style closes those opened after it and opens them again, so markers nest.
    let toggle = |out: &mut String, open: &mut Vec<Style>, style: Style| {
        if let Some(at) = open.iter().position(|s| *s == style) {
            let reopen: Vec<Style> = open[at + 1..].to_vec();
            for s in open[at..].iter().rev() {
                out.push_str(marker(*s));
            }
            open.truncate(at);
            for s in reopen {
                out.push_str(marker(s));
                open.push(s);
            }
        } else {
            out.push_str(marker(style));
            open.push(style);
        }
    };
    while let Some(c) = chars.next() {
        let in_code = open.contains(&Style::Code);
        // A link is copied as it is (the subset reads it before any marker in it).
        let url_start = c == 'h'
            && !is_word(previous)
            && (rest_starts(&chars, "ttp://") || rest_starts(&chars, "ttps://"));
        previous = Some(c);
        if url_start && !in_code {
            out.push(c);
            while let Some(&next) = chars.peek() {
                if next.is_whitespace() || next.is_control() {
                    break;
                }
                out.push(next);
                chars.next();
            }
            continue;
        }
        match c {
            BOLD => toggle(&mut out, &mut open, Style::Bold),
            ITALIC | UNDERLINE => toggle(&mut out, &mut open, Style::Italic),
            STRIKE => toggle(&mut out, &mut open, Style::Strike),
            MONOSPACE => toggle(&mut out, &mut open, Style::Code),
            RESET => {
                for s in open.drain(..).rev() {
                    out.push_str(marker(s));
                }
            }
            REVERSE => {}
            COLOUR => {
                // ^C, ^CNN, ^CNN,NN: the digits go too.
                for _ in 0..2 {
                    if chars.peek().is_some_and(char::is_ascii_digit) {
                        chars.next();
                    }
                }
                let mut look = chars.clone();
                if look.next() == Some(',') && look.next().is_some_and(|d| d.is_ascii_digit()) {
                    chars.next();
                    for _ in 0..2 {
                        if chars.peek().is_some_and(char::is_ascii_digit) {
                            chars.next();
                        }
                    }
                }
            }
            HEX_COLOUR => {
                for _ in 0..6 {
                    if chars.peek().is_some_and(char::is_ascii_hexdigit) {
                        chars.next();
                    }
                }
                let mut look = chars.clone();
                if look.next() == Some(',') && look.next().is_some_and(|d| d.is_ascii_hexdigit()) {
                    chars.next();
                    for _ in 0..6 {
                        if chars.peek().is_some_and(char::is_ascii_hexdigit) {
                            chars.next();
                        }
                    }
                }
            }
            c if in_code && c == '`' => out.push('\''),
            c if !in_code && ESCAPABLE.contains(&c) => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    for s in open.into_iter().rev() {
        out.push_str(marker(s));
    }
    out
}

/// `text` shown as typed: every character the subset would read as a marker escaped (links are
/// left whole).
pub fn escape(text: &str) -> String {
    from_irc(&text.replace(
        [
            BOLD, ITALIC, UNDERLINE, STRIKE, MONOSPACE, COLOUR, HEX_COLOUR, REVERSE, RESET,
        ],
        "",
    ))
}

fn rest_starts(chars: &std::iter::Peekable<std::str::Chars<'_>>, prefix: &str) -> bool {
    chars.clone().take(prefix.len()).eq(prefix.chars())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Span {
        Span::Text(s.into())
    }

    fn line(content: &str) -> Vec<Span> {
        match parse(content).remove(0) {
            Block::Line(spans) => spans,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_subset_parses() {
        assert_eq!(
            line("a **bold** and *it* ~~x~~ `c*o*de`"),
            [
                t("a "),
                Span::Bold(vec![t("bold")]),
                t(" and "),
                Span::Italic(vec![t("it")]),
                t(" "),
                Span::Strike(vec![t("x")]),
                t(" "),
                Span::Code("c*o*de".into())
            ]
        );
        assert_eq!(
            line("**bold _inner_**"),
            [Span::Bold(vec![t("bold "), Span::Italic(vec![t("inner")])])]
        );
        assert_eq!(line("snake_case_name stays"), [t("snake_case_name stays")]);
        assert_eq!(
            line("2 * 3 * 4"),
            [t("2 * 3 * 4")],
            "spaced stars are arithmetic"
        );
        assert_eq!(line("**unclosed"), [t("**unclosed")]);
        assert_eq!(line("\\*not italic\\*"), [t("*not italic*")]);
        assert_eq!(
            line("see https://example.org/a. ok"),
            [
                t("see "),
                Span::Link {
                    text: vec![t("https://example.org/a")],
                    url: "https://example.org/a".into()
                },
                t(". ok")
            ]
        );
        assert_eq!(
            line("[docs](https://docs.rs/x)"),
            [Span::Link {
                text: vec![t("docs")],
                url: "https://docs.rs/x".into()
            }]
        );
        assert_eq!(
            line("[x](javascript:alert(1))"),
            [t("[x](javascript:alert(1))")]
        );
        assert_eq!(line("<b>raw</b>"), [t("<b>raw</b>")]);
    }

    #[test]
    fn blocks_quote_and_code() {
        let blocks = parse("> quoted\n```rust\nfn main() {}\n```\nafter");
        assert_eq!(blocks[0], Block::Quote(vec![t("quoted")]));
        assert_eq!(
            blocks[1],
            Block::Code {
                language: Some("rust".into()),
                text: "fn main() {}".into()
            }
        );
        assert_eq!(blocks[2], Block::Line(vec![t("after")]));
        assert_eq!(parse("```\nno end").len(), 2, "an unclosed fence is text");
    }

    #[test]
    fn hostile_input_stays_quick() {
        let stars = "*".repeat(4096);
        let started = std::time::Instant::now();
        let _ = parse(&stars);
        let _ = parse(&"**a ".repeat(1000));
        let _ = parse(&"[".repeat(4096));
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    #[test]
    fn irc_codes_become_the_subset_and_back() {
        assert_eq!(
            from_irc("\u{2}bold\u{2} and \u{1D}it\u{1D}"),
            "**bold** and _it_"
        );
        assert_eq!(
            from_irc("\u{1F}under\u{F} \u{3}4,2red\u{3} text"),
            "_under_ red text"
        );
        assert_eq!(
            from_irc("a*b*c and x_y"),
            "a\\*b\\*c and x\\_y",
            "IRC text is literal"
        );
        assert_eq!(from_irc("\u{2}unclosed"), "**unclosed**");
        assert_eq!(
            from_irc("\u{2}b\u{1D}bi\u{2}i\u{1D}"),
            "**b_bi_**_i_",
            "crossing toggles nest"
        );
        assert_eq!(from_irc("\u{11}code*\u{11}"), "`code*`");
        assert_eq!(
            from_irc("see http://x.org/a_b*c ok_"),
            "see http://x.org/a_b*c ok\\_",
            "links as they are"
        );
        assert_eq!(
            to_irc(&from_irc("see http://x.org/a_b*c ok")),
            "see http://x.org/a_b*c ok"
        );
        assert_eq!(escape("[a_b]"), "\\[a\\_b]");
        assert_eq!(
            to_irc("**bold** and *it* `c`"),
            "\u{2}bold\u{2} and \u{1D}it\u{1D} \u{11}c\u{11}"
        );
        assert_eq!(to_irc("[docs](https://docs.rs)"), "docs (https://docs.rs)");
        assert_eq!(to_irc("a\\*b\\*c"), "a*b*c");
        for irc in ["plain text", "a*b*c x_y [z](w)", "\u{2}bold\u{2} _x_"] {
            let back = to_irc(&from_irc(irc));
            assert_eq!(
                back.replace(['\u{2}', '\u{1D}'], ""),
                irc.replace(['\u{2}', '\u{1D}'], "")
            );
        }
    }
}
