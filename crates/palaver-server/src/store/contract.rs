//! What every store must do, as test functions run against each backend (SQLite always, and a
//! throwaway PostgreSQL where one can run): numbering per conversation, pages, resumes, owners of
//! private history, rooms. `contract_tests!` turns them into `#[test]`s for one backend.

#![cfg(test)]

use palaver_proto::message_changes::MessageState;

use super::{
    Backend, Change, Conversation, DirectSide, LastMessage, MessageKind, Page, PageQuery,
    RoomRecord, SearchQuery, StoredMessage, TargetsQuery,
};

pub fn public(id: u64, room: &str, user: &str, text: &str) -> StoredMessage {
    StoredMessage {
        change: None,
        state: Default::default(),
        id,
        seq: 0,
        ts_ms: 1_000 + id as i64,
        content: text.into(),
        kind: MessageKind::Public {
            owner: String::new(),
            room: room.into(),
            room_key: room.to_lowercase(),
            username: user.into(),
            username_key: user.to_lowercase(),
        },
    }
}

/// A private message; each side's owner is `name#n` (the n-th holder of the name).
pub fn private(id: u64, from: &str, to: &str, text: &str) -> StoredMessage {
    let side = |s: &str| match s.split_once('#') {
        Some((name, _)) => (name.to_string(), format!("guest:{s}")),
        None => (s.to_string(), format!("guest:{s}#1")),
    };
    let ((sender, sender_owner), (target, target_owner)) = (side(from), side(to));
    StoredMessage {
        change: None,
        state: Default::default(),
        id,
        seq: 0,
        ts_ms: 1_000 + id as i64,
        content: text.into(),
        kind: MessageKind::Private {
            sender_key: sender.to_lowercase(),
            sender,
            sender_owner,
            target_key: target.to_lowercase(),
            target,
            target_owner,
        },
    }
}

/// `name`'s side of its conversation with `other` (`name#n`: the n-th holder of the name).
pub fn direct(name: &str, other: &str) -> Conversation {
    let owner = if name.contains('#') {
        format!("guest:{name}")
    } else {
        format!("guest:{name}#1")
    };
    let me = DirectSide {
        key: name.split('#').next().unwrap().to_lowercase(),
        owner,
    };
    Conversation::Direct {
        me,
        other_key: other.into(),
    }
}

pub fn room(key: &str) -> Conversation {
    Conversation::Room(key.into())
}

pub fn newest(limit: usize) -> PageQuery {
    PageQuery {
        limit,
        ..PageQuery::default()
    }
}

pub fn ids(page: &Page) -> Vec<u64> {
    page.messages.iter().map(|m| m.id).collect()
}

pub fn seqs(page: &Page) -> Vec<u64> {
    page.messages.iter().map(|m| m.seq).collect()
}

pub fn each_conversation_numbers_its_messages_in_commit_order(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    let mut batch = vec![
        public(10, "general", "alice", "g1"),
        private(11, "alice", "bob", "d1"),
        public(12, "rust", "bob", "r1"),
        public(13, "general", "bob", "g2"),
        private(14, "bob", "alice", "d2"),
    ];
    db.append(&mut batch).unwrap();
    // The store gives ids (whatever the hub put there) and seqs.
    let numbered: Vec<(u64, u64)> = batch.iter().map(|m| (m.id, m.seq)).collect();
    assert_eq!(numbered, [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)]);
    let mut later = vec![public(0, "general", "carol", "g3")];
    db.append(&mut later).unwrap();
    assert_eq!((later[0].id, later[0].seq), (6, 3));
    drop(db);
    let mut db = open();
    let mut again = vec![private(20, "alice", "bob", "d3")];
    db.append(&mut again).unwrap();
    assert_eq!(again[0].seq, 3, "numbering goes on across restarts");
    assert_eq!(again[0].id, 7, "ids go on across restarts");
    let general = db.page(&room("general"), &newest(10)).unwrap();
    assert_eq!(ids(&general), [1, 4, 6]);
    assert_eq!(seqs(&general), [1, 2, 3]);
    let rooms: Vec<(String, u64)> = {
        db.save_room(&RoomRecord {
            key: "general".into(),
            name: "general".into(),
            topic: String::new(),
            created_ms: 1,
            last_seq: 0,
        })
        .unwrap();
        db.rooms()
            .unwrap()
            .into_iter()
            .map(|r| (r.key, r.last_seq))
            .collect()
    };
    assert_eq!(rooms, [("general".to_string(), 3)]);
}

pub fn pages_backwards_oldest_first_by_seq_or_by_message(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    let mut batch: Vec<_> = (1..=10)
        .map(|i| public(100 + i, "general", "alice", &format!("m{i}")))
        .collect();
    db.append(&mut batch).unwrap();
    db.append(&mut [public(111, "rust", "bob", "elsewhere")])
        .unwrap();
    assert_eq!(db.last_id().unwrap(), 11);

    let page = db.page(&room("general"), &newest(4)).unwrap();
    assert_eq!(seqs(&page), [7, 8, 9, 10]);
    assert!(page.has_more);
    let before = PageQuery {
        before: Some(3),
        ..newest(4)
    };
    let page = db.page(&room("general"), &before).unwrap();
    assert_eq!(seqs(&page), [1, 2]);
    assert!(!page.has_more);
    assert_eq!(page.messages[0], batch[0]);
    // By message id (IRC's msgid): before id 5 (seq 5), and after id 8 (seq 8).
    let before_id = PageQuery {
        before_id: Some(5),
        ..newest(2)
    };
    assert_eq!(
        seqs(&db.page(&room("general"), &before_id).unwrap()),
        [3, 4]
    );
    let after_id = PageQuery {
        after_id: Some(8),
        ..newest(10)
    };
    assert_eq!(
        seqs(&db.page(&room("general"), &after_id).unwrap()),
        [9, 10]
    );
    // Forwards (IRC's CHATHISTORY AFTER and BETWEEN): the oldest after id 3, up to 3.
    let forwards = PageQuery {
        after_id: Some(3),
        oldest_first: true,
        ..newest(3)
    };
    let page = db.page(&room("general"), &forwards).unwrap();
    assert_eq!(seqs(&page), [4, 5, 6]);
    assert!(page.has_more);
    let between = PageQuery {
        after_id: Some(3),
        before_id: Some(6),
        oldest_first: true,
        ..newest(10)
    };
    assert_eq!(seqs(&db.page(&room("general"), &between).unwrap()), [4, 5]);
    // Around id 5: it, and as many before as after (the odd one after).
    for (limit, expected) in [(1, vec![5]), (3, vec![4, 5, 6]), (4, vec![4, 5, 6, 7])] {
        let around = PageQuery {
            around_id: Some(5),
            ..newest(limit)
        };
        assert_eq!(seqs(&db.page(&room("general"), &around).unwrap()), expected);
    }
    let around_first = PageQuery {
        around_id: Some(1),
        ..newest(3)
    };
    assert_eq!(
        seqs(&db.page(&room("general"), &around_first).unwrap()),
        [1, 2, 3]
    );
    // A message of another conversation, or none at all, bounds nothing: an empty page.
    let elsewhere = PageQuery {
        before_id: Some(11),
        ..newest(10)
    };
    assert!(db
        .page(&room("general"), &elsewhere)
        .unwrap()
        .messages
        .is_empty());
}

pub fn resuming_reads_a_conversation_after_its_cursor_in_pages(
    open: &dyn Fn() -> Box<dyn Backend>,
) {
    let mut db = open();
    let mut batch: Vec<_> = (1..=7)
        .map(|i| public(i, "general", "x", &format!("g{i}")))
        .collect();
    batch.push(private(8, "bob", "alice", "to me"));
    batch.push(private(9, "bob", "carol", "not mine"));
    db.append(&mut batch).unwrap();
    let page = db.after(&room("general"), 2, 3).unwrap();
    assert_eq!(seqs(&page), [3, 4, 5]);
    assert!(page.has_more);
    let page = db.after(&room("general"), 5, 3).unwrap();
    assert_eq!(seqs(&page), [6, 7]);
    assert!(!page.has_more);
    let mine = db.after(&direct("alice", "bob"), 0, 10).unwrap();
    assert_eq!(ids(&mine), [8]);
    assert!(db
        .after(&direct("alice", "carol"), 0, 10)
        .unwrap()
        .messages
        .is_empty());
}

pub fn private_history_belongs_to_its_two_parties(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    db.append(&mut [
        private(1, "alice", "bob", "a->b"),
        private(2, "bob", "alice", "b->a"),
        private(3, "alice", "carol", "a->c"),
    ])
    .unwrap();
    let page = db.page(&direct("bob", "alice"), &newest(50)).unwrap();
    assert_eq!(ids(&page), [1, 2]);
    let page = db.page(&direct("carol", "bob"), &newest(50)).unwrap();
    assert!(page.messages.is_empty());
}

pub fn a_later_holder_of_a_name_sees_none_of_the_earlier_ones_private_history(
    open: &dyn Fn() -> Box<dyn Backend>,
) {
    let mut db = open();
    db.append(&mut [
        private(1, "alice", "bob", "to the first bob"),
        private(2, "bob", "alice", "from the first bob"),
        private(3, "bob", "carol", "first bob to carol"),
        private(4, "alice", "bob#2", "to the second bob"),
    ])
    .unwrap();
    assert_eq!(
        ids(&db.page(&direct("bob#2", "alice"), &newest(50)).unwrap()),
        [4]
    );
    assert!(db
        .page(&direct("bob#2", "carol"), &newest(50))
        .unwrap()
        .messages
        .is_empty());
    assert_eq!(
        ids(&db.page(&direct("bob", "alice"), &newest(50)).unwrap()),
        [1, 2]
    );
    // alice was alice all along: she sees her conversations with both.
    assert_eq!(
        ids(&db.page(&direct("alice", "bob"), &newest(50)).unwrap()),
        [1, 2, 4]
    );
    assert_eq!(
        ids(&db.after(&direct("bob#2", "alice"), 0, 50).unwrap()),
        [4]
    );
    assert_eq!(ids(&db.after(&direct("bob", "carol"), 0, 50).unwrap()), [3]);
    // The first bob registers: his messages become the account's.
    db.reassign_owner("guest:bob#1", "account:bob").unwrap();
    let account = Conversation::Direct {
        me: DirectSide {
            key: "bob".into(),
            owner: "account:bob".into(),
        },
        other_key: "alice".into(),
    };
    assert_eq!(ids(&db.page(&account, &newest(50)).unwrap()), [1, 2]);
    assert!(db
        .after(&direct("bob", "carol"), 0, 50)
        .unwrap()
        .messages
        .is_empty());
}

pub fn rooms_and_topics_persist(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    let mut room = RoomRecord {
        key: "rust".into(),
        name: "Rust".into(),
        topic: String::new(),
        created_ms: 5,
        last_seq: 0,
    };
    db.save_room(&room).unwrap();
    room.topic = "crabs".into();
    db.set_topic("rust", "crabs").unwrap();
    // Another node making the same room again changes nothing.
    let again = RoomRecord {
        name: "RUST".into(),
        topic: String::new(),
        created_ms: 9,
        ..room.clone()
    };
    db.save_room(&again).unwrap();
    drop(db);
    let mut db = open();
    assert_eq!(db.rooms().unwrap(), vec![room.clone()]);
    assert_eq!(db.room("rust").unwrap(), Some(room));
    assert_eq!(db.room("nowhere").unwrap(), None);
}

pub fn conversations_with_news_between_two_times(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    // ts_ms is 1000 + id.
    let mut batch = vec![
        public(1, "general", "alice", "g"),
        private(2, "alice", "bob", "to bob"),
        public(3, "rust", "carol", "r"),
        private(4, "carol", "alice", "to alice"),
        private(5, "bob", "dave", "not alice's"),
        public(6, "general", "bob", "g again"),
        private(7, "alice#2", "erin", "a later alice's"),
    ];
    db.append(&mut batch).unwrap();
    let me = DirectSide {
        key: "alice".into(),
        owner: "guest:alice#1".into(),
    };
    let query = |after_ms, before_ms, limit| TargetsQuery {
        me: me.clone(),
        rooms: vec![
            ("general".into(), "General".into()),
            ("rust".into(), "Rust".into()),
            ("empty".into(), "Empty".into()),
        ],
        after_ms,
        before_ms,
        limit,
    };
    let news = |q: TargetsQuery, db: &mut Box<dyn Backend>| -> Vec<(String, i64)> {
        db.targets(&q)
            .unwrap()
            .into_iter()
            .map(|LastMessage { room, with, ts_ms }| (room.or(with).unwrap(), ts_ms))
            .collect()
    };
    assert_eq!(
        news(query(0, i64::MAX, 10), &mut db),
        [
            ("bob".to_string(), 1002),
            ("Rust".to_string(), 1003),
            ("carol".to_string(), 1004),
            ("General".to_string(), 1006)
        ],
        "a room counts by its newest message; another holder's conversations are not mine"
    );
    assert_eq!(news(query(0, i64::MAX, 2), &mut db).len(), 2);
    let between: Vec<String> = news(query(1002, 1006, 10), &mut db)
        .into_iter()
        .map(|(t, _)| t)
        .collect();
    assert_eq!(between, ["Rust", "carol"], "both times excluded");
}

pub fn search_finds_words_only_where_the_user_may_read(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    let mut batch = vec![
        public(1, "general", "alice", "Deploy the build tonight"),
        public(2, "rust", "bob", "the deployment went fine"),
        private(3, "alice", "bob", "deploy the secret fix"),
        private(4, "carol", "dave", "deploy their own thing"),
        public(5, "general", "bob", "nothing to see here"),
        private(6, "alice#2", "bob", "a later alice deploys"),
        public(7, "general", "bob", "déploiement and naïve café"),
    ];
    db.append(&mut batch).unwrap();
    let alice = DirectSide {
        key: "alice".into(),
        owner: "guest:alice#1".into(),
    };
    let query = |words: &[&str]| SearchQuery {
        words: words.iter().map(|w| w.to_string()).collect(),
        me: alice.clone(),
        rooms: vec!["general".into()],
        private: true,
        with: None,
        from: None,
        after_ms: None,
        before_ms: None,
        before_id: None,
        limit: 10,
    };
    let found = |q: SearchQuery, db: &mut Box<dyn Backend>| ids(&db.search(&q).unwrap());
    assert_eq!(
        found(query(&["deploy"]), &mut db),
        [3, 1],
        "newest first; not a room alice is not in, nor others' or an earlier holder's private talk"
    );
    assert_eq!(
        found(query(&["DEPL"]), &mut db),
        [7, 3, 1],
        "prefixes, any case, and déploiement without its accent"
    );
    let everywhere = SearchQuery {
        rooms: vec!["general".into(), "rust".into()],
        ..query(&["deploy"])
    };
    assert_eq!(found(everywhere, &mut db), [3, 2, 1]);
    assert_eq!(
        found(query(&["deploy", "secret"]), &mut db),
        [3],
        "all words"
    );
    assert_eq!(found(query(&["cafe"]), &mut db), [7], "without accents too");
    let by_bob = SearchQuery {
        from: Some("alice".into()),
        ..query(&["deploy"])
    };
    assert_eq!(found(by_bob, &mut db), [3, 1]);
    let rooms_only = SearchQuery {
        private: false,
        ..query(&["deploy"])
    };
    assert_eq!(found(rooms_only, &mut db), [1]);
    let with_bob = SearchQuery {
        rooms: Vec::new(),
        with: Some("bob".into()),
        ..query(&["deploy"])
    };
    assert_eq!(found(with_bob, &mut db), [3]);
    let page = db
        .search(&SearchQuery {
            limit: 1,
            ..query(&["deploy"])
        })
        .unwrap();
    assert_eq!((ids(&page), page.has_more), (vec![3], true));
    let next = SearchQuery {
        before_id: Some(3),
        ..query(&["deploy"])
    };
    assert_eq!(found(next, &mut db), [1]);
    let dated = SearchQuery {
        after_ms: Some(1001),
        ..query(&["deploy"])
    };
    assert_eq!(found(dated, &mut db), [3]);
}

/// A change to message `of` by `user` in `room`.
pub fn change(room: &str, user: &str, change: Change, content: &str) -> StoredMessage {
    StoredMessage {
        change: Some(change),
        ..public(0, room, user, content)
    }
}

/// Reactions toggle, edits replace the text, a deletion wipes the text (and every earlier
/// version, and the reactions) from history and search; pages show messages as they are now,
/// a resume reads the changes in seq order.
pub fn messages_change_in_their_conversation(open: &dyn Fn() -> Box<dyn Backend>) {
    let mut db = open();
    let mut batch = vec![
        public(0, "general", "alice", "the deploy is tonight"),
        public(0, "general", "bob", "ok"),
    ];
    db.append(&mut batch).unwrap();
    let (first, second) = (batch[0].id, batch[1].id);
    let mut reply = vec![StoredMessage {
        state: MessageState {
            reply_to: Some(first),
            ..Default::default()
        },
        ..public(0, "general", "carol", "which deploy?")
    }];
    db.append(&mut reply).unwrap();
    let mut changes = vec![
        change(
            "general",
            "bob",
            Change::React {
                toggle: true,
                of: first,
                added: true,
            },
            "👍",
        ),
        change(
            "general",
            "carol",
            Change::React {
                toggle: true,
                of: first,
                added: true,
            },
            "👍",
        ),
        change(
            "general",
            "carol",
            Change::React {
                toggle: true,
                of: first,
                added: true,
            },
            "🎉",
        ),
        change(
            "general",
            "carol",
            Change::React {
                toggle: true,
                of: first,
                added: true,
            },
            "🎉",
        ),
        change(
            "general",
            "alice",
            Change::Edit { of: first },
            "the deploy is tomorrow",
        ),
    ];
    db.append(&mut changes).unwrap();
    let added: Vec<bool> = changes[..4]
        .iter()
        .map(|c| matches!(c.change, Some(Change::React { added: true, .. })))
        .collect();
    assert_eq!(
        added,
        [true, true, true, false],
        "the second 🎉 takes it back"
    );
    assert_eq!(
        changes.iter().map(|c| c.seq).collect::<Vec<_>>(),
        [4, 5, 6, 7, 8],
        "changes take the conversation's next seqs"
    );

    let page = db.page(&room("general"), &newest(10)).unwrap();
    assert_eq!(
        ids(&page),
        [first, second, reply[0].id],
        "history holds messages only"
    );
    let now = &page.messages[0];
    assert_eq!(now.content, "the deploy is tomorrow");
    assert!(now.state.edited.is_some());
    let reactions: Vec<(&str, Vec<&str>)> = now
        .state
        .reactions
        .iter()
        .map(|r| {
            (
                r.emoji.as_str(),
                r.users.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(reactions, [("👍", vec!["bob", "carol"])]);
    let answer = &page.messages[2];
    assert_eq!(answer.state.reply_to, Some(first));
    let preview = answer.state.reply_preview.as_ref().expect("a preview");
    assert_eq!(
        (preview.username.as_str(), preview.content.as_str()),
        ("alice", "the deploy is tomorrow")
    );
    let words = |w: &str| SearchQuery {
        words: vec![w.into()],
        me: DirectSide {
            key: "x".into(),
            owner: "x".into(),
        },
        rooms: vec!["general".into()],
        private: false,
        with: None,
        from: None,
        after_ms: None,
        before_ms: None,
        before_id: None,
        limit: 10,
    };
    assert_eq!(
        ids(&db.search(&words("tomorrow")).unwrap()),
        [first],
        "the edit is found, once"
    );
    assert!(
        ids(&db.search(&words("tonight")).unwrap()).is_empty(),
        "the old text is not"
    );
    let found = db.message(first).unwrap().expect("found by id");
    assert_eq!(found.state.reactions.len(), 1);
    assert!(
        db.message(changes[0].id).unwrap().is_none(),
        "a change is not a message"
    );

    // A resume after seq 3 reads the changes, in order.
    let replay = db.after(&room("general"), 3, 10).unwrap();
    let kinds: Vec<Option<&'static str>> = replay
        .messages
        .iter()
        .map(|m| m.change.map(Change::column))
        .collect();
    assert_eq!(
        kinds,
        [
            Some("react"),
            Some("react"),
            Some("react"),
            Some("unreact"),
            Some("edit")
        ]
    );

    let mut deletion = vec![change("general", "alice", Change::Delete { of: first }, "")];
    db.append(&mut deletion).unwrap();
    let page = db.page(&room("general"), &newest(10)).unwrap();
    let gone = &page.messages[0];
    assert!(gone.state.deleted);
    assert_eq!(gone.content, "");
    assert!(gone.state.reactions.is_empty() && gone.state.edited.is_none());
    assert!(
        page.messages[2].state.reply_preview.is_none(),
        "no preview of a deleted message"
    );
    for word in ["tomorrow", "tonight", "deploy"] {
        let found = ids(&db.search(&words(word)).unwrap());
        assert!(
            !found.contains(&first),
            "{word}: the deleted text is not searchable"
        );
    }
    let replay = db.after(&room("general"), 3, 10).unwrap();
    assert!(
        replay
            .messages
            .iter()
            .all(|m| !m.content.contains("tomorrow")),
        "nor kept in its edits"
    );
    let mut late = vec![
        change(
            "general",
            "bob",
            Change::React {
                toggle: true,
                of: first,
                added: true,
            },
            "😮",
        ),
        change("general", "alice", Change::Edit { of: first }, "back again"),
    ];
    db.append(&mut late).unwrap();
    assert!(matches!(
        late[0].change,
        Some(Change::React { added: false, .. })
    ));
    assert_eq!(
        late[1].content, "",
        "an edit of a deleted message keeps no text"
    );
    let gone = db.message(first).unwrap().unwrap();
    assert!(gone.state.deleted && gone.content.is_empty() && gone.state.reactions.is_empty());

    // An edit and the deletion in one batch: the edit keeps no text either.
    let second_id = page.messages[1].id;
    let mut both = vec![
        change(
            "general",
            "bob",
            Change::Edit { of: second_id },
            "a second secret",
        ),
        change("general", "bob", Change::Delete { of: second_id }, ""),
    ];
    db.append(&mut both).unwrap();
    let replay = db.after(&room("general"), 0, 100).unwrap();
    assert!(
        replay
            .messages
            .iter()
            .all(|m| !m.content.contains("second secret")),
        "{:?}",
        replay.messages
    );
}

/// A read marker moves only forward, to a message that exists, by seq or by time; it belongs
/// to its owner, survives a reopen, and goes with private history when a guest registers.
pub fn read_markers_move_forward_per_owner(open: &dyn Fn() -> Box<dyn Backend>) {
    use super::{ReadAt, ReadMarkerRecord};
    let mut db = open();
    // general: seqs 1..=4 at times 1001..=1004.
    let mut batch: Vec<StoredMessage> = (1..=4)
        .map(|i| public(i, "general", "bob", &format!("m{i}")))
        .collect();
    db.append(&mut batch).unwrap();
    let marker = |seq: u64| {
        Some(ReadMarkerRecord {
            conversation: "general".into(),
            seq,
            ts_ms: 1_000 + seq as i64,
        })
    };
    assert_eq!(db.mark_read("account:dana", "general", None).unwrap(), None);
    let moved = db.mark_read("account:dana", "general", Some(ReadAt::Seq(2)));
    assert_eq!(moved.unwrap(), marker(2));
    // Never back; beyond the newest message it stops at the newest.
    let back = db.mark_read("account:dana", "general", Some(ReadAt::Seq(1)));
    assert_eq!(back.unwrap(), marker(2));
    let beyond = db.mark_read("account:dana", "general", Some(ReadAt::Seq(99)));
    assert_eq!(beyond.unwrap(), marker(4));
    // By time (IRC): the newest message at or before it. Someone else's marker is their own.
    let by_time = db.mark_read("guest:x", "general", Some(ReadAt::Time(1_003)));
    assert_eq!(by_time.unwrap(), marker(3));
    // A conversation without messages has no message to mark by seq; by time it keeps the
    // time (seq 0), which only moves forward.
    let empty = db.mark_read("account:dana", "nowhere", Some(ReadAt::Seq(5)));
    assert_eq!(empty.unwrap(), None);
    let timed = |ms: i64| {
        Some(ReadMarkerRecord {
            conversation: "nowhere".into(),
            seq: 0,
            ts_ms: ms,
        })
    };
    let by_time = db.mark_read("account:dana", "nowhere", Some(ReadAt::Time(5_000)));
    assert_eq!(by_time.unwrap(), timed(5_000));
    let older = db.mark_read("account:dana", "nowhere", Some(ReadAt::Time(4_000)));
    assert_eq!(older.unwrap(), timed(5_000));
    drop(db);
    let mut db = open();
    let mut all = db.read_markers("account:dana").unwrap();
    all.sort_by(|a, b| a.conversation.cmp(&b.conversation));
    assert_eq!(all, vec![marker(4).unwrap(), timed(5_000).unwrap()]);
    db.reassign_owner("guest:x", "account:x").unwrap();
    assert_eq!(
        db.read_markers("account:x").unwrap(),
        vec![marker(3).unwrap()]
    );
    assert!(db.read_markers("guest:x").unwrap().is_empty());
}

/// The contract's tests for one backend: `$setup` gives something to keep alive for the test's
/// length and a way to open (and reopen) the same database, or `None` to skip.
macro_rules! contract_tests {
    ($setup:expr) => {
        #[test]
        fn each_conversation_numbers_its_messages_in_commit_order() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::each_conversation_numbers_its_messages_in_commit_order(&open);
            }
        }
        #[test]
        fn pages_backwards_oldest_first_by_seq_or_by_message() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::pages_backwards_oldest_first_by_seq_or_by_message(&open);
            }
        }
        #[test]
        fn resuming_reads_a_conversation_after_its_cursor_in_pages() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::resuming_reads_a_conversation_after_its_cursor_in_pages(&open);
            }
        }
        #[test]
        fn private_history_belongs_to_its_two_parties() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::private_history_belongs_to_its_two_parties(&open);
            }
        }
        #[test]
        fn a_later_holder_of_a_name_sees_none_of_the_earlier_ones_private_history() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::a_later_holder_of_a_name_sees_none_of_the_earlier_ones_private_history(&open);
            }
        }
        #[test]
        fn conversations_with_news_between_two_times() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::conversations_with_news_between_two_times(&open);
            }
        }
        #[test]
        fn search_finds_words_only_where_the_user_may_read() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::search_finds_words_only_where_the_user_may_read(&open);
            }
        }
        #[test]
        fn messages_change_in_their_conversation() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::messages_change_in_their_conversation(&open);
            }
        }
        #[test]
        fn read_markers_move_forward_per_owner() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::read_markers_move_forward_per_owner(&open);
            }
        }
        #[test]
        fn rooms_and_topics_persist() {
            if let Some((_keep, open)) = $setup() {
                crate::store::contract::rooms_and_topics_persist(&open);
            }
        }
    };
}
pub(crate) use contract_tests;
