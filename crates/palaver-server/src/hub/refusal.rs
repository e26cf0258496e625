//! A request refused, as data: the stable code, what it is about (the user or room name the
//! client gave), and a sentence for people. The native protocol sends all three in its `error`
//! frame; the IRC listener builds its numerics from `code` and `subject` (`401 <nick>`, `403
//! <channel>`) and never reads the sentence, so rewording a sentence cannot break a protocol.

use palaver_proto::ErrorCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    /// The user or room the refusal is about, as the client named it (or as stored).
    pub subject: Option<String>,
    /// For people: says what was wrong and, where it helps, what to do.
    pub message: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Refusal {
            code,
            subject: None,
            message: message.into(),
        }
    }

    /// The same refusal, about `subject`.
    pub fn about(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }
}

/// What the shared validators (`palaver_proto::validate`) return.
impl From<(ErrorCode, String)> for Refusal {
    fn from((code, message): (ErrorCode, String)) -> Self {
        Refusal::new(code, message)
    }
}
