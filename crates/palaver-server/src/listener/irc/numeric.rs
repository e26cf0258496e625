//! IRC's numeric replies, by name (RFC 1459, RFC 2812 and the modern IRC documents' names):
//! a reply says `Numeric::ERR_NOSUCHCHANNEL`, never `"403"`. Only the numerics Palaver sends are
//! here; [`numeric`](super::state::numeric) builds the line.

/// A numeric with its arguments, for the replies many commands give alike: a refusal about a
/// nick or a channel says it the same way whichever command it answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: Numeric,
    pub params: Vec<String>,
}

impl Reply {
    fn new(code: Numeric, params: &[&str]) -> Reply {
        Reply {
            code,
            params: params.iter().map(|p| p.to_string()).collect(),
        }
    }

    /// 401: no one of that nick.
    pub fn no_such_nick(nick: &str) -> Reply {
        Reply::new(Numeric::ERR_NOSUCHNICK, &[nick, "No such nick/channel"])
    }

    /// 403: no such channel.
    pub fn no_such_channel(channel: &str) -> Reply {
        Reply::new(Numeric::ERR_NOSUCHCHANNEL, &[channel, "No such channel"])
    }

    /// 404: you may not send there (not a member, `+m` without voice, banned).
    pub fn cannot_send(channel: &str) -> Reply {
        Reply::new(
            Numeric::ERR_CANNOTSENDTOCHAN,
            &[channel, "Cannot send to channel"],
        )
    }

    /// 441: they are not on that channel.
    pub fn user_not_in_channel(nick: &str, channel: &str) -> Reply {
        Reply::new(
            Numeric::ERR_USERNOTINCHANNEL,
            &[nick, channel, "They aren't on that channel"],
        )
    }

    /// 442: you are not on that channel.
    pub fn not_on_channel(channel: &str) -> Reply {
        Reply::new(
            Numeric::ERR_NOTONCHANNEL,
            &[channel, "You're not on that channel"],
        )
    }

    /// 482: only the channel's operators may.
    pub fn chanop_needed(channel: &str) -> Reply {
        Reply::new(
            Numeric::ERR_CHANOPRIVSNEEDED,
            &[channel, "You're not channel operator"],
        )
    }
}

/// One numeric reply's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numeric(&'static str);

impl Numeric {
    pub const RPL_WELCOME: Numeric = Numeric("001");
    pub const RPL_YOURHOST: Numeric = Numeric("002");
    pub const RPL_CREATED: Numeric = Numeric("003");
    pub const RPL_MYINFO: Numeric = Numeric("004");
    pub const RPL_ISUPPORT: Numeric = Numeric("005");
    pub const RPL_UMODEIS: Numeric = Numeric("221");
    pub const RPL_ADMINME: Numeric = Numeric("256");
    pub const RPL_ADMINLOC1: Numeric = Numeric("257");
    pub const RPL_ADMINLOC2: Numeric = Numeric("258");
    pub const RPL_ADMINEMAIL: Numeric = Numeric("259");
    pub const RPL_LUSERCLIENT: Numeric = Numeric("251");
    pub const RPL_LUSEROP: Numeric = Numeric("252");
    pub const RPL_LUSERUNKNOWN: Numeric = Numeric("253");
    pub const RPL_LUSERCHANNELS: Numeric = Numeric("254");
    pub const RPL_LUSERME: Numeric = Numeric("255");
    pub const RPL_LOCALUSERS: Numeric = Numeric("265");
    pub const RPL_GLOBALUSERS: Numeric = Numeric("266");
    pub const RPL_AWAY: Numeric = Numeric("301");
    pub const RPL_USERHOST: Numeric = Numeric("302");
    pub const RPL_ISON: Numeric = Numeric("303");
    pub const RPL_UNAWAY: Numeric = Numeric("305");
    pub const RPL_NOWAWAY: Numeric = Numeric("306");
    pub const RPL_WHOISUSER: Numeric = Numeric("311");
    pub const RPL_WHOISSERVER: Numeric = Numeric("312");
    pub const RPL_WHOWASUSER: Numeric = Numeric("314");
    pub const RPL_ENDOFWHO: Numeric = Numeric("315");
    pub const RPL_WHOISOPERATOR: Numeric = Numeric("313");
    pub const RPL_WHOISIDLE: Numeric = Numeric("317");
    pub const RPL_ENDOFWHOIS: Numeric = Numeric("318");
    pub const RPL_WHOISCHANNELS: Numeric = Numeric("319");
    pub const RPL_WHOISSPECIAL: Numeric = Numeric("320");
    pub const RPL_LISTSTART: Numeric = Numeric("321");
    pub const RPL_LIST: Numeric = Numeric("322");
    pub const RPL_LISTEND: Numeric = Numeric("323");
    pub const RPL_CHANNELMODEIS: Numeric = Numeric("324");
    pub const RPL_CREATIONTIME: Numeric = Numeric("329");
    pub const RPL_NOTOPIC: Numeric = Numeric("331");
    pub const RPL_TOPIC: Numeric = Numeric("332");
    pub const RPL_TOPICWHOTIME: Numeric = Numeric("333");
    pub const RPL_INVITING: Numeric = Numeric("341");
    pub const RPL_ENDOFINVITELIST: Numeric = Numeric("347");
    pub const RPL_ENDOFEXCEPTLIST: Numeric = Numeric("349");
    pub const RPL_VERSION: Numeric = Numeric("351");
    pub const RPL_WHOREPLY: Numeric = Numeric("352");
    pub const RPL_WHOSPCRPL: Numeric = Numeric("354");
    pub const RPL_LINKS: Numeric = Numeric("364");
    pub const RPL_ENDOFLINKS: Numeric = Numeric("365");
    pub const RPL_NAMREPLY: Numeric = Numeric("353");
    pub const RPL_ENDOFNAMES: Numeric = Numeric("366");
    pub const RPL_BANLIST: Numeric = Numeric("367");
    pub const RPL_ENDOFBANLIST: Numeric = Numeric("368");
    pub const RPL_ENDOFWHOWAS: Numeric = Numeric("369");
    pub const RPL_INFO: Numeric = Numeric("371");
    pub const RPL_MOTD: Numeric = Numeric("372");
    pub const RPL_ENDOFINFO: Numeric = Numeric("374");
    pub const RPL_MOTDSTART: Numeric = Numeric("375");
    pub const RPL_ENDOFMOTD: Numeric = Numeric("376");
    pub const RPL_YOUREOPER: Numeric = Numeric("381");
    pub const RPL_TIME: Numeric = Numeric("391");
    pub const ERR_NOSUCHNICK: Numeric = Numeric("401");
    pub const ERR_NOSUCHCHANNEL: Numeric = Numeric("403");
    pub const ERR_CANNOTSENDTOCHAN: Numeric = Numeric("404");
    pub const ERR_TOOMANYCHANNELS: Numeric = Numeric("405");
    pub const ERR_WASNOSUCHNICK: Numeric = Numeric("406");
    pub const ERR_INVALIDCAPCMD: Numeric = Numeric("410");
    pub const ERR_NORECIPIENT: Numeric = Numeric("411");
    pub const ERR_NOTEXTTOSEND: Numeric = Numeric("412");
    pub const ERR_INPUTTOOLONG: Numeric = Numeric("417");
    pub const ERR_UNKNOWNCOMMAND: Numeric = Numeric("421");
    pub const ERR_NOMOTD: Numeric = Numeric("422");
    pub const ERR_NONICKNAMEGIVEN: Numeric = Numeric("431");
    pub const ERR_ERRONEUSNICKNAME: Numeric = Numeric("432");
    pub const ERR_NICKNAMEINUSE: Numeric = Numeric("433");
    pub const ERR_USERNOTINCHANNEL: Numeric = Numeric("441");
    pub const ERR_NOTONCHANNEL: Numeric = Numeric("442");
    pub const ERR_USERONCHANNEL: Numeric = Numeric("443");
    pub const ERR_NOTREGISTERED: Numeric = Numeric("451");
    pub const ERR_NEEDMOREPARAMS: Numeric = Numeric("461");
    pub const ERR_ALREADYREGISTERED: Numeric = Numeric("462");
    pub const ERR_PASSWDMISMATCH: Numeric = Numeric("464");
    pub const ERR_CHANNELISFULL: Numeric = Numeric("471");
    pub const ERR_UNKNOWNMODE: Numeric = Numeric("472");
    pub const ERR_INVITEONLYCHAN: Numeric = Numeric("473");
    pub const ERR_BANNEDFROMCHAN: Numeric = Numeric("474");
    pub const ERR_BADCHANNELKEY: Numeric = Numeric("475");
    pub const ERR_BADCHANNAME: Numeric = Numeric("479");
    pub const ERR_NOPRIVILEGES: Numeric = Numeric("481");
    pub const ERR_CHANOPRIVSNEEDED: Numeric = Numeric("482");
    pub const ERR_NOOPERHOST: Numeric = Numeric("491");
    pub const ERR_UMODEUNKNOWNFLAG: Numeric = Numeric("501");
    pub const ERR_USERSDONTMATCH: Numeric = Numeric("502");
    pub const RPL_MONONLINE: Numeric = Numeric("730");
    pub const RPL_MONOFFLINE: Numeric = Numeric("731");
    pub const RPL_MONLIST: Numeric = Numeric("732");
    pub const RPL_ENDOFMONLIST: Numeric = Numeric("733");
    pub const ERR_MONLISTFULL: Numeric = Numeric("734");
    pub const RPL_LOGGEDIN: Numeric = Numeric("900");
    pub const RPL_SASLSUCCESS: Numeric = Numeric("903");
    pub const ERR_SASLFAIL: Numeric = Numeric("904");
    pub const ERR_SASLABORTED: Numeric = Numeric("906");
    pub const ERR_SASLALREADY: Numeric = Numeric("907");
    pub const RPL_SASLMECHS: Numeric = Numeric("908");

    /// The three digits on the wire.
    pub fn code(self) -> &'static str {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::Numeric;

    #[test]
    fn codes_are_three_digits() {
        for n in [
            Numeric::RPL_WELCOME,
            Numeric::ERR_NOSUCHCHANNEL,
            Numeric::RPL_SASLMECHS,
        ] {
            assert_eq!(n.code().len(), 3);
            assert!(n.code().bytes().all(|b| b.is_ascii_digit()));
        }
        assert_eq!(Numeric::ERR_NOSUCHCHANNEL.code(), "403");
    }
}
