//! Emoji and their `:shortcodes:`, the same for every client: the table is the `emojis` crate's
//! (Unicode's emoji with GitHub's shortcodes, names and groups).
//!
//! - [`replace_shortcodes`]: what a client does to a message before sending it: every known
//!   `:shortcode:` outside backticks becomes its emoji.
//! - [`complete`]: the emoji whose shortcodes start with what was typed after a `:`.
//! - [`normalise_reaction`]: one spelling per reaction (a shortcode or an emoji missing its
//!   variation selector becomes the emoji), so that `:heart:`, `❤` and `❤️` are one reaction.
//! - [`table_json`]: the whole table for the web client (`GET /emoji.json`).

/// The emoji a `:shortcode:` (without its colons) names.
pub fn by_shortcode(code: &str) -> Option<&'static str> {
    emojis::get_by_shortcode(code).map(|e| e.as_str())
}

/// `text` with every known `:shortcode:` replaced by its emoji, except inside backticks (code).
pub fn replace_shortcodes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut code = false;
    let mut rest = text;
    while let Some(i) = rest.find([':', '`']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix('`') {
            code = !code;
            out.push('`');
            rest = after;
            continue;
        }
        // A `:name:` with a known name becomes its emoji; anything else stays as typed.
        let named = tail[1..].find(':').map(|end| &tail[1..=end]);
        match named
            .filter(|n| !code && is_shortcode(n))
            .and_then(by_shortcode)
        {
            Some(emoji) => {
                out.push_str(emoji);
                rest = &tail[named.map_or(0, str::len) + 2..];
            }
            None => {
                out.push(':');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_shortcode(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '+' || c == '-')
}

/// Up to `limit` emoji whose shortcodes start with `prefix` (shortest shortcodes first), as
/// (shortcode, emoji).
pub fn complete(prefix: &str, limit: usize) -> Vec<(&'static str, &'static str)> {
    let prefix = prefix.to_ascii_lowercase();
    if prefix.is_empty() {
        return Vec::new();
    }
    let mut found: Vec<(&'static str, &'static str)> = emojis::iter()
        .flat_map(|e| e.shortcodes().map(move |code| (code, e.as_str())))
        .filter(|(code, _)| code.starts_with(&prefix))
        .collect();
    found.sort_by_key(|(code, _)| (code.len(), *code));
    found.truncate(limit);
    found
}

/// The one spelling of a reaction: a known `:shortcode:` or emoji (with or without its
/// variation selector) becomes the emoji as the table writes it; anything else stays as given.
pub fn normalise_reaction(reaction: &str) -> String {
    if let Some(emoji) = reaction
        .strip_prefix(':')
        .and_then(|r| r.strip_suffix(':'))
        .and_then(by_shortcode)
    {
        return emoji.to_string();
    }
    if let Some(e) = emojis::get(reaction) {
        return e.as_str().to_string();
    }
    let bare: String = reaction.chars().filter(|c| *c != '\u{FE0F}').collect();
    let with = format!("{bare}\u{FE0F}");
    match emojis::get(&bare).or_else(|| emojis::get(&with)) {
        Some(e) => e.as_str().to_string(),
        None => reaction.to_string(),
    }
}

/// One emoji of the table, for pickers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Emoji {
    pub emoji: &'static str,
    pub name: &'static str,
    /// Its first shortcode, if it has one.
    pub shortcode: Option<&'static str>,
    pub group: &'static str,
}

fn entry(e: &'static emojis::Emoji) -> Emoji {
    Emoji {
        emoji: e.as_str(),
        name: e.name(),
        shortcode: e.shortcode(),
        group: group_name(e.group()),
    }
}

/// Every emoji of the table, in Unicode's order (by group).
pub fn all() -> impl Iterator<Item = Emoji> {
    emojis::iter().map(entry)
}

/// The emoji a picker's filter finds: shortcodes starting with it first, then names and
/// shortcodes containing it (case ignored); every emoji for an empty filter.
pub fn filter(text: &str) -> Vec<Emoji> {
    let text = text.trim().trim_matches(':').to_lowercase();
    if text.is_empty() {
        return all().collect();
    }
    let starts = |e: &&'static emojis::Emoji| e.shortcodes().any(|c| c.starts_with(&text));
    // The closest shortcodes first: `heart` before `heart_eyes`.
    let mut closest: Vec<(usize, &'static emojis::Emoji)> = emojis::iter()
        .filter(starts)
        .map(|e| {
            let len = e
                .shortcodes()
                .filter(|c| c.starts_with(&text))
                .map(str::len);
            (len.min().unwrap_or(usize::MAX), e)
        })
        .collect();
    closest.sort_by_key(|(len, _)| *len);
    let mut found: Vec<Emoji> = closest.into_iter().map(|(_, e)| entry(e)).collect();
    found.extend(
        emojis::iter()
            .filter(|e| !starts(e))
            .filter(|e| e.name().contains(&text) || e.shortcodes().any(|c| c.contains(&text)))
            .map(entry),
    );
    found
}

/// One emoji as the web client's table has it.
#[derive(serde::Serialize)]
struct Entry {
    e: &'static str,
    n: &'static str,
    s: Vec<&'static str>,
    g: &'static str,
}

/// Every emoji of the table as JSON: `[{"e":"😀","n":"grinning face","s":["grinning"],
/// "g":"Smileys & Emotion"}, ...]`, in Unicode's order.
pub fn table_json() -> String {
    let entries: Vec<Entry> = emojis::iter()
        .map(|e| Entry {
            e: e.as_str(),
            n: e.name(),
            s: e.shortcodes().collect(),
            g: group_name(e.group()),
        })
        .collect();
    serde_json::to_string(&entries).expect("the table serialises")
}

fn group_name(group: emojis::Group) -> &'static str {
    use emojis::Group::*;
    match group {
        SmileysAndEmotion => "Smileys & Emotion",
        PeopleAndBody => "People & Body",
        AnimalsAndNature => "Animals & Nature",
        FoodAndDrink => "Food & Drink",
        TravelAndPlaces => "Travel & Places",
        Activities => "Activities",
        Objects => "Objects",
        Symbols => "Symbols",
        Flags => "Flags",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortcodes_become_emoji_outside_code() {
        assert_eq!(
            replace_shortcodes("ship it :rocket: :tada:"),
            "ship it 🚀 🎉"
        );
        assert_eq!(replace_shortcodes("time 10:30:45"), "time 10:30:45");
        assert_eq!(replace_shortcodes(":nope_not_one: ok"), ":nope_not_one: ok");
        assert_eq!(replace_shortcodes("`:rocket:` :rocket:"), "`:rocket:` 🚀");
        assert_eq!(replace_shortcodes("a::b :+1:"), "a::b 👍");
    }

    #[test]
    fn completion_offers_the_closest_shortcodes_first() {
        let found = complete("thu", 3);
        assert_eq!(found[0], ("thumbsup", "👍"));
        assert!(found.iter().all(|(code, _)| code.starts_with("thu")));
        assert!(complete("", 5).is_empty());
    }

    #[test]
    fn a_picker_filter_finds_shortcodes_then_names() {
        let found = filter("tada");
        assert_eq!(found[0].emoji, "🎉");
        let found = filter("heart");
        assert!(found.iter().take(3).any(|e| e.emoji == "❤️"));
        assert!(filter("").len() > 1_500);
        assert!(filter("zzzznothing").is_empty());
    }

    #[test]
    fn one_reaction_has_one_spelling() {
        assert_eq!(normalise_reaction(":heart:"), "❤️");
        assert_eq!(normalise_reaction("❤"), "❤️");
        assert_eq!(normalise_reaction("❤️"), "❤️");
        assert_eq!(normalise_reaction("👍"), "👍");
        assert_eq!(normalise_reaction(":not-a-code:"), ":not-a-code:");
        assert_eq!(normalise_reaction("+1"), "+1");
    }

    #[test]
    fn the_web_table_has_names_shortcodes_and_groups() {
        let table: serde_json::Value = serde_json::from_str(&table_json()).unwrap();
        let all = table.as_array().unwrap();
        assert!(all.len() > 1_500, "{}", all.len());
        let rocket = all.iter().find(|e| e["e"] == "🚀").unwrap();
        assert_eq!(rocket["s"][0], "rocket");
        assert_eq!(rocket["g"], "Travel & Places");
    }
}
