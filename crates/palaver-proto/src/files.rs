//! Files as the protocol names them: the limits of a name, and which content types may be shown
//! inline (images that cannot run script). The server enforces these; clients use them to decide
//! what to preview.

/// The longest file name kept, in bytes (longer names are cut at a character boundary).
pub const MAX_NAME_BYTES: usize = 200;

/// The content types the server serves inline, for previews: raster images only (SVG can
/// carry script).
pub const INLINE_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

pub fn inline_image(content_type: &str) -> bool {
    INLINE_IMAGES.contains(&content_type)
}

/// A file name as stored and shown: no path (only what follows the last `/` or `\\`), no
/// control characters, no leading dots, at most [`MAX_NAME_BYTES`]; `file` if nothing is left.
pub fn sanitise_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '"' | '<' | '>' | ':' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut end = trimmed.len().min(MAX_NAME_BYTES);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    match &trimmed[..end] {
        "" => "file".to_string(),
        name => name.to_string(),
    }
}

/// A content type as stored: lower case, without parameters, `type/subtype` of letters,
/// digits and `.+-`; `application/octet-stream` otherwise.
pub fn sanitise_content_type(content_type: &str) -> String {
    let main = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let ok = |part: &str| {
        !part.is_empty()
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
    };
    match main.split_once('/') {
        Some((kind, sub)) if ok(kind) && ok(sub) && main.len() <= 100 => main,
        _ => "application/octet-stream".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_controls_and_leading_dots() {
        assert_eq!(sanitise_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitise_name("C:\\Users\\me\\cat.png"), "cat.png");
        assert_eq!(sanitise_name(".bashrc"), "bashrc");
        assert_eq!(sanitise_name("a\u{0}b\nc.txt"), "abc.txt");
        assert_eq!(sanitise_name("<script>.html"), "_script_.html");
        assert_eq!(sanitise_name("..."), "file");
        assert_eq!(sanitise_name(&"é".repeat(300)).len(), 200);
    }

    #[test]
    fn content_types_are_plain_or_octet_stream() {
        assert_eq!(sanitise_content_type("Image/PNG; charset=x"), "image/png");
        assert_eq!(
            sanitise_content_type("text/html\r\nX: y"),
            "application/octet-stream"
        );
        assert_eq!(sanitise_content_type(""), "application/octet-stream");
        assert!(inline_image("image/webp"));
        assert!(!inline_image("image/svg+xml"));
    }
}
