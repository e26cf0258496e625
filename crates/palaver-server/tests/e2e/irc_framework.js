// A real IRC client for the end-to-end test irc_framework.rs: irc-framework (the npm library
// behind Kiwi IRC), driven one line at a time.
//
//   NODE_PATH=target/irc-framework/node_modules node irc_framework.js PORT NICK [HOST [CAP,...]]
//
// It connects as NICK, asking for the IRCv3 capabilities irc-framework asks for by default (and
// the extra ones named), and then reads commands on stdin, one a line:
//
//   join #chan [key]      say #chan text      topic #chan text      mode #chan +v nick ...
//   names #chan           sync TOKEN          raw IRC LINE          quit [reason]
//   reply #chan MSGID text               (a PRIVMSG with +draft/reply)
//   react #chan MSGID EMOJI              (a TAGMSG with +draft/react and +draft/reply)
//
// and writes on stdout one JSON object a line for each event the test looks at, always with
// `event` (irc-framework's name for it): registered, join, part, privmsg (with its tags), tagmsg,
// mode, topic,
// userlist, channel info, irc error (the refusals: 404 is cannot_send_to_channel, 482
// chanop_privs_needed), unknown command (numerics irc-framework has no handler for), pong
// (the answer to `sync TOKEN`: everything the server sent before it was written out first),
// close.
'use strict';

const readline = require('readline');
const { Client } = require('irc-framework');

const [port, nick, host = '127.0.0.1', extraCaps = ''] = process.argv.slice(2);
if (!port || !nick) {
    console.error('usage: node irc_framework.js PORT NICK [HOST]');
    process.exit(2);
}

const out = (event, fields) => process.stdout.write(JSON.stringify({ event, ...fields }) + '\n');

const client = new Client();
for (const cap of extraCaps.split(',').filter(Boolean)) {
    client.requestCap(cap);
}
client.connect({
    host,
    port: Number(port),
    nick,
    username: nick,
    gecos: `${nick} (irc-framework)`,
    auto_reconnect: false,
});

client.on('registered', (e) => out('registered', { nick: e.nick, caps: client.network.cap.enabled }));
client.on('join', (e) => out('join', { nick: e.nick, channel: e.channel }));
client.on('part', (e) => out('part', { nick: e.nick, channel: e.channel, message: e.message }));
client.on('privmsg', (e) => out('privmsg', {
    nick: e.nick, target: e.target, message: e.message, tags: e.tags,
}));
client.on('tagmsg', (e) => out('tagmsg', { nick: e.nick, target: e.target, tags: e.tags }));
client.on('notice', (e) => out('notice', { nick: e.nick, target: e.target, message: e.message }));
client.on('mode', (e) => out('mode', {
    nick: e.nick, target: e.target, raw_modes: e.raw_modes, raw_params: e.raw_params,
}));
// TOPIC from someone (with `nick`) and the 332/331 replies (without).
client.on('topic', (e) => out('topic', { nick: e.nick || null, channel: e.channel, topic: e.topic }));
client.on('userlist', (e) => out('userlist', {
    channel: e.channel, users: e.users.map((u) => ({ nick: u.nick, modes: u.modes })),
}));
// 324 (with raw_modes) and 329 (with created_at).
client.on('channel info', (e) => out('channel info', {
    channel: e.channel, raw_modes: e.raw_modes, raw_params: e.raw_params, created_at: e.created_at,
}));
client.on('irc error', (e) => out('irc error', e));
client.on('unknown command', (m) => out('unknown command', { command: m.command, params: m.params }));
client.on('pong', (e) => out('pong', { message: e.message }));
client.on('close', () => {
    out('close', {});
    process.exit(0);
});

const rest = (words, from) => words.slice(from).join(' ');

readline.createInterface({ input: process.stdin }).on('line', (line) => {
    const words = line.trim().split(' ');
    switch (words[0]) {
    case 'join': client.join(words[1], words[2]); break;
    case 'say': client.say(words[1], rest(words, 2)); break;
    case 'topic': client.setTopic(words[1], rest(words, 2)); break;
    case 'mode': client.mode(words[1], words[2], words.slice(3)); break;
    case 'names': client.raw('NAMES', words[1]); break;
    case 'sync': client.ping(words[1]); break;
    case 'raw': client.raw(rest(words, 1)); break;
    case 'reply': client.say(words[1], rest(words, 3), { '+draft/reply': words[2] }); break;
    case 'react':
        client.tagmsg(words[1], { '+draft/react': words[3], '+draft/reply': words[2] });
        break;
    case 'quit': client.quit(rest(words, 1) || 'bye'); break;
    default: out('bad command', { line });
    }
}).on('close', () => client.quit('stdin closed'));
