//! IRC messages, as the Modern IRC documents and IRCv3 message-tags define them: parsing and
//! serialising one line, with no I/O. The IRC listener (to come) turns these into hub requests.
//!
//! A line is `[@tags ][:source ]COMMAND[ params...][ :trailing]`. Tag values are escaped
//! (`\:` `;`, `\s` space, `\\` backslash, `\r`, `\n`). The part without tags may be at most 512
//! bytes including CRLF; tags at most 8191 bytes (client-only tags 4094). Lines are split by the
//! same [`crate::LineDecoder`] as native frames, with the limit set to [`MAX_LINE_BYTES`], and
//! [`IrcMessage::parse`] reports a body over 510 bytes as [`IrcError::InputTooLong`] (numeric 417).

/// Longest line with tags, excluding CRLF: 8191 bytes of tags (with `@` and space) + 510.
pub const MAX_LINE_BYTES: usize = 8191 + 510;
/// Longest message body (everything after the tags), excluding CRLF.
pub const MAX_BODY_BYTES: usize = 510;
/// Longest tag section a client may send, with `@` and the trailing space.
pub const MAX_CLIENT_TAGS_BYTES: usize = 4096;
/// Most parameters a message may carry.
pub const MAX_PARAMS: usize = 15;

/// One IRC message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IrcMessage {
    /// Tags in order; a tag without a value has `None`.
    pub tags: Vec<(String, Option<String>)>,
    /// `nick!user@host` or a server name.
    pub source: Option<String>,
    /// Upper-cased command or a three-digit numeric.
    pub command: String,
    pub params: Vec<String>,
}

/// Why a line is not a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IrcError {
    #[error("empty line")]
    Empty,
    #[error("no command")]
    NoCommand,
    #[error("invalid command {0:?}")]
    InvalidCommand(String),
    #[error("the message is longer than 512 bytes")]
    InputTooLong,
    #[error("the tags are longer than the limit")]
    TagsTooLong,
    #[error("more than 15 parameters")]
    TooManyParams,
    /// NUL, or a CR or LF inside the message (only CRLF may end it).
    #[error("NUL, CR or LF inside a message")]
    InvalidCharacter,
}

impl IrcMessage {
    /// A message with a command and parameters.
    pub fn new(
        command: impl Into<String>,
        params: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        IrcMessage {
            tags: Vec::new(),
            source: None,
            command: command.into(),
            params: params.into_iter().map(Into::into).collect(),
        }
    }

    pub fn with_source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    pub fn with_tag(mut self, key: impl Into<String>, value: Option<String>) -> Self {
        self.tags.push((key.into(), value));
        self
    }

    /// The value of a tag, if present (`Some(None)` for a tag without a value).
    pub fn tag(&self, key: &str) -> Option<Option<&str>> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }

    /// Parses one line (without its CRLF).
    pub fn parse(line: &str) -> Result<IrcMessage, IrcError> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.contains(['\r', '\n', '\0']) {
            // A bare CR could end the line for one program and not another: refused.
            return Err(IrcError::InvalidCharacter);
        }
        let mut rest = line.trim_start_matches(' ');
        if rest.is_empty() {
            return Err(IrcError::Empty);
        }
        let mut message = IrcMessage::default();
        if let Some(tagged) = rest.strip_prefix('@') {
            let (tags, after) = tagged.split_once(' ').ok_or(IrcError::NoCommand)?;
            // Tags a client sends are limited to 4094 bytes (4096 with `@` and the space); the
            // 8191 of the specification include the server's own.
            if tags.len() + 2 > MAX_CLIENT_TAGS_BYTES {
                return Err(IrcError::TagsTooLong);
            }
            message.tags = parse_tags(tags);
            rest = after.trim_start_matches(' ');
        }
        if rest.len() > MAX_BODY_BYTES {
            return Err(IrcError::InputTooLong);
        }
        if let Some(sourced) = rest.strip_prefix(':') {
            let (source, after) = sourced.split_once(' ').ok_or(IrcError::NoCommand)?;
            message.source = Some(source.to_string());
            rest = after.trim_start_matches(' ');
        }
        let (command, mut params) = match rest.split_once(' ') {
            Some((command, params)) => (command, params),
            None => (rest, ""),
        };
        if command.is_empty() {
            return Err(IrcError::NoCommand);
        }
        let numeric = command.len() == 3 && command.bytes().all(|b| b.is_ascii_digit());
        // Commands are letters (or a numeric); other word characters make an unknown command
        // (421), anything else an invalid one.
        if !numeric
            && !command
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(IrcError::InvalidCommand(command.chars().take(32).collect()));
        }
        message.command = command.to_ascii_uppercase();
        loop {
            params = params.trim_start_matches(' ');
            if params.is_empty() {
                break;
            }
            if let Some(trailing) = params.strip_prefix(':') {
                message.params.push(trailing.to_string());
                break;
            }
            match params.split_once(' ') {
                Some((param, after)) => {
                    message.params.push(param.to_string());
                    params = after;
                }
                None => {
                    message.params.push(params.to_string());
                    break;
                }
            }
        }
        if message.params.len() > MAX_PARAMS {
            return Err(IrcError::TooManyParams);
        }
        Ok(message)
    }

    /// The line for this message, without CRLF.
    pub fn to_line(&self) -> String {
        let mut out = String::with_capacity(64);
        if !self.tags.is_empty() {
            out.push('@');
            for (i, (key, value)) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(key);
                if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
                    out.push('=');
                    escape_tag_value(value, &mut out);
                }
            }
            out.push(' ');
        }
        if let Some(source) = &self.source {
            out.push(':');
            out.push_str(source);
            out.push(' ');
        }
        out.push_str(&self.command);
        let last = self.params.len().saturating_sub(1);
        for (i, param) in self.params.iter().enumerate() {
            out.push(' ');
            if i == last && (param.is_empty() || param.contains(' ') || param.starts_with(':')) {
                out.push(':');
            }
            // No parameter may end the line early or hide a second line (CR, LF, NUL).
            if param.contains(['\r', '\n', '\0']) {
                out.extend(param.chars().map(|c| match c {
                    '\r' | '\n' | '\0' => ' ',
                    c => c,
                }));
            } else {
                out.push_str(param);
            }
        }
        out
    }
}

fn parse_tags(text: &str) -> Vec<(String, Option<String>)> {
    // A tag needs a key: `@=x` or `@;` carry nothing (found by the irc_line fuzzer: such a tag
    // could not be written back out).
    text.split(';')
        .filter(|t| !t.is_empty() && !t.starts_with('='))
        .map(|tag| match tag.split_once('=') {
            Some((key, value)) => {
                let value = unescape_tag_value(value);
                (key.to_string(), (!value.is_empty()).then_some(value))
            }
            None => (tag.to_string(), None),
        })
        .collect()
}

/// Tag value escaping from the IRCv3 message-tags specification.
fn unescape_tag_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {} // a trailing lone backslash is dropped
        }
    }
    out
}

fn escape_tag_value(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> IrcMessage {
        IrcMessage::parse(line).unwrap()
    }

    #[test]
    fn parses_the_parts_of_a_message() {
        let m = parse("@time=2026-11-21T14:30:25.123Z;msgid=42 :alice!alice@palaver PRIVMSG #general :hello there");
        assert_eq!(m.tag("time"), Some(Some("2026-11-21T14:30:25.123Z")));
        assert_eq!(m.tag("msgid"), Some(Some("42")));
        assert_eq!(m.source.as_deref(), Some("alice!alice@palaver"));
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, vec!["#general", "hello there"]);
    }

    #[test]
    fn commands_are_case_insensitive_and_numerics_accepted() {
        assert_eq!(parse("privmsg bob hi").command, "PRIVMSG");
        assert_eq!(parse(":srv 001 alice :Welcome").command, "001");
        assert_eq!(
            parse("NO_SUCH-CMD2 x").command,
            "NO_SUCH-CMD2",
            "unknown, not invalid"
        );
        assert!(matches!(
            IrcMessage::parse("PRIV*MSG x"),
            Err(IrcError::InvalidCommand(_))
        ));
        assert_eq!(IrcMessage::parse("   "), Err(IrcError::Empty));
        assert_eq!(
            IrcMessage::parse(":only-a-source"),
            Err(IrcError::NoCommand)
        );
    }

    #[test]
    fn params_middle_trailing_and_extra_spaces() {
        assert_eq!(
            parse("USER alice 0 * :Alice Liddell").params,
            vec!["alice", "0", "*", "Alice Liddell"]
        );
        assert_eq!(parse("TOPIC #a :").params, vec!["#a", ""]);
        assert_eq!(parse("JOIN   #a    #b").params, vec!["#a", "#b"]);
        assert_eq!(parse("PRIVMSG #a ::-)").params, vec!["#a", ":-)"]);
        assert_eq!(parse("PING").params, Vec::<String>::new());
        let fifteen = format!(
            "CMD {}",
            (0..16).map(|i| i.to_string()).collect::<Vec<_>>().join(" ")
        );
        assert_eq!(IrcMessage::parse(&fifteen), Err(IrcError::TooManyParams));
    }

    #[test]
    fn tag_values_are_unescaped_and_escaped_back() {
        let m = parse(r"@a=semi\:colon\sspace\\back;b;c= PING x");
        assert_eq!(m.tag("a"), Some(Some("semi;colon space\\back")));
        assert_eq!(m.tag("b"), Some(None));
        assert_eq!(m.tag("c"), Some(None), "an empty value is no value");
        let line = m.to_line();
        assert_eq!(IrcMessage::parse(&line).unwrap(), m);
        assert!(line.starts_with(r"@a=semi\:colon\sspace\\back;b;c PING x"));
    }

    #[test]
    fn serialises_the_trailing_parameter_only_when_needed() {
        let m = IrcMessage::new("PRIVMSG", ["#general", "hello world"]).with_source("alice!a@h");
        assert_eq!(m.to_line(), ":alice!a@h PRIVMSG #general :hello world");
        assert_eq!(IrcMessage::new("NICK", ["bob"]).to_line(), "NICK bob");
        assert_eq!(IrcMessage::new("TOPIC", ["#a", ""]).to_line(), "TOPIC #a :");
        assert_eq!(
            IrcMessage::new("PRIVMSG", ["#a", ":)"]).to_line(),
            "PRIVMSG #a ::)"
        );
    }

    #[test]
    fn the_body_limit_is_512_bytes_with_crlf_and_tags_do_not_count() {
        let body_ok = format!(
            "PRIVMSG #a :{}",
            "x".repeat(MAX_BODY_BYTES - "PRIVMSG #a :".len())
        );
        assert_eq!(body_ok.len(), 510);
        assert!(IrcMessage::parse(&body_ok).is_ok());
        let too_long = format!("{body_ok}x");
        assert_eq!(IrcMessage::parse(&too_long), Err(IrcError::InputTooLong));
        let tagged = format!("@label={} {body_ok}", "l".repeat(4000));
        assert!(
            IrcMessage::parse(&tagged).is_ok(),
            "tags have their own budget"
        );
        let huge_tags = format!("@a={} PING", "t".repeat(9000));
        assert_eq!(IrcMessage::parse(&huge_tags), Err(IrcError::TagsTooLong));
    }

    #[test]
    fn lines_come_through_the_shared_decoder_byte_by_byte() {
        let mut decoder = crate::LineDecoder::new(MAX_LINE_BYTES);
        let mut buf = bytes::BytesMut::new();
        let mut got = Vec::new();
        for b in b"NICK alice\r\nUSER alice 0 * :Alice\r\n" {
            buf.extend_from_slice(&[*b]);
            while let Some(line) = decoder.decode(&mut buf) {
                got.push(
                    IrcMessage::parse(std::str::from_utf8(&line.unwrap()).unwrap())
                        .unwrap()
                        .command,
                );
            }
        }
        assert_eq!(got, vec!["NICK", "USER"]);
    }

    #[test]
    fn a_bare_cr_is_refused_and_never_written() {
        // Found by the irc_line fuzzer: "NICK aR a \r " lost its last parameter on the way
        // back out; a CR inside a line is now refused.
        assert_eq!(
            IrcMessage::parse("NICK aR a \r "),
            Err(IrcError::InvalidCharacter)
        );
        assert_eq!(
            IrcMessage::parse("PING a\0b"),
            Err(IrcError::InvalidCharacter)
        );
        let m = IrcMessage::new("PRIVMSG", ["#general", "hi\rPRIVMSG #x :evil\nQUIT"]);
        let line = m.to_line();
        assert!(!line.contains(['\r', '\n']), "{line:?}");
        assert_eq!(IrcMessage::parse(&line).unwrap().params.len(), 2);
    }
}
