//! The Palaver desktop client (`palaver`): a chat window on top of `palaver-client`, and a
//! "host a server" dashboard on top of the `palaver-server` library.
//!
//! - [`app`]: screens, session, settings; [`app::PalaverApp::show`] draws a frame.
//! - [`model`]: the chat as data (conversations, lines, unread counts), no widgets.
//! - [`commands`]: slash commands, Tab completion, input recall; pure functions.
//! - [`net`]: the network on a tokio runtime, talking to the UI through channels.
//! - [`previews`]: pictures sent with messages, fetched and shown small.
//! - [`read_markers`]: how far the user has read, shared with their other devices.
//! - [`host`]: the embedded server and what its dashboard shows.
//! - [`theme`]: colours per kind of line and per person; dark and light.
//! - [`typing`]: when to tell the others that you are typing.
//! - [`views`]: the screens.
//! - [`terminal`]: `palaver chat`, the terminal client (ratatui) and its line mode for scripts.

pub mod app;
pub mod commands;
pub mod host;
pub mod model;
pub mod net;
pub mod previews;
pub mod read_markers;
pub mod terminal;
pub mod theme;
pub mod typing;
pub mod views;

pub use app::{PalaverApp, Screen, Settings};
