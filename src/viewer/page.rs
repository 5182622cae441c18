//! The viewer's page (`/` and `/claims?login=NAME`), written by hand: one HTML document with
//! its style inline and no external asset (no font, script or image from anywhere), readable at
//! a phone's width, complete without JavaScript. A short inline script (allowed by its hash in
//! the Content-Security-Policy, nothing else is) adds each hour's local time; without it the
//! page shows UTC only. Every value that is not a literal of this file is escaped with
//! [`Esc`]. Pure: the answers in, the document out.

use std::fmt::Write;
use std::sync::LazyLock;

use base64::Engine;
use chatseal_schema::SealedEpoch;
use sha2::{Digest, Sha256};

use super::hours::UserEpochsView;
use super::html::{clip, query, Esc};
use super::tokens::whole_tokens;
use crate::timefmt::{iso_utc, utc_span};

/// What the page answers about the login asked for.
#[derive(Debug)]
pub enum Answer {
    /// No login asked (the form alone).
    Nothing,
    /// A parameter that cannot be a login or channel: `what` names it, `raw` is what was sent.
    Invalid {
        /// What was expected, as shown to the reader (e.g. "Twitch login", "channel").
        what: &'static str,
        /// The value sent, shown escaped and clipped to 80 characters.
        raw: String,
    },
    /// The login opted out: nothing about them is shown.
    OptedOut {
        /// The asked login, lowercase.
        login: String,
    },
    /// Never seen in any channel this store recorded.
    Unknown {
        /// The asked login, lowercase.
        login: String,
    },
    /// Seen, but in no sealed hour (yet).
    NoHours {
        /// The asked login, lowercase.
        login: String,
    },
    /// A page of sealed hours (may be empty past the last page).
    Hours(UserEpochsView),
}

/// Everything the page shows.
#[derive(Debug)]
pub struct PageData<'a> {
    /// What the form's box holds (as typed).
    pub typed: &'a str,
    /// The channel filter in force.
    pub channel: Option<&'a str>,
    /// The `before` the hours were asked from (paging).
    pub before: Option<i64>,
    /// What the store answered about the login.
    pub answer: Answer,
    /// The latest seal of each channel, by channel name, for the "Latest seals" table.
    pub latest: &'a [SealedEpoch],
    /// Epoch length, seconds.
    pub epoch_len: i64,
    /// Decimal places of the token.
    pub decimals: u32,
}

const STYLE: &str = "
:root{color-scheme:light dark;--fg:#1b1b1f;--bg:#fafafa;--mute:#5b5b66;--line:#d6d6de;--card:#fff;--acc:#5a3fc0}
@media (prefers-color-scheme:dark){:root{--fg:#ececf1;--bg:#16161a;--mute:#a3a3b0;--line:#383842;--card:#1f1f25;--acc:#b3a1ff}}
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
header,main,footer{max-width:42rem;margin:0 auto;padding:0 1rem}
header{padding-top:1rem}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
p{margin:.4rem 0}
.mute{color:var(--mute);font-size:.9rem}
form{display:flex;flex-wrap:wrap;gap:.5rem;align-items:end;margin:1rem 0}
form label{flex:1 0 100%;font-weight:600}
input{flex:1 1 12rem;min-width:0;font:inherit;padding:.6rem;border:1px solid var(--line);border-radius:.4rem;background:var(--card);color:var(--fg)}
button{font:inherit;padding:.6rem 1rem;border:0;border-radius:.4rem;background:var(--acc);color:#fff;font-weight:600}
.note{padding:.75rem;border-left:4px solid var(--acc);background:var(--card);border-radius:.3rem}
ol.hours{list-style:none;padding:0;margin:0}
ol.hours li{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.7rem;margin:.5rem 0}
.top{display:flex;justify-content:space-between;gap:.5rem;flex-wrap:wrap;font-weight:600}
.amt{font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.local{display:block;color:var(--mute)}
.links a{display:inline-block;margin:.3rem 1rem 0 0}
a{color:var(--acc)}
table{border-collapse:collapse;width:100%;font-size:.95rem}
th,td{text-align:left;padding:.35rem .3rem;border-bottom:1px solid var(--line);vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
footer{margin:2rem auto 1rem}
";

const SCRIPT: &str = "
(function(){var o={year:'numeric',month:'2-digit',day:'2-digit',hour:'2-digit',minute:'2-digit',hourCycle:'h23'};
var t={hour:'2-digit',minute:'2-digit',hourCycle:'h23'};
document.querySelectorAll('time[data-len]').forEach(function(e){var s=new Date(e.getAttribute('datetime'));
if(isNaN(s))return;var n=new Date(s.getTime()+1000*Number(e.getAttribute('data-len')));
var l=document.createElement('span');l.className='local';
l.textContent=s.toLocaleString(undefined,o)+' \\u2013 '+n.toLocaleTimeString(undefined,t)+' your time';
e.parentNode.appendChild(l);});})();
";

fn sha256_source(text: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

static CSP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        sha256_source(STYLE),
        sha256_source(SCRIPT)
    )
});

/// The Content-Security-Policy sent with the page: nothing loads from anywhere, only this
/// file's own style and script run (by hash), the form submits to the daemon itself.
pub fn content_security_policy() -> &'static str {
    &CSP
}

/// The whole document.
pub fn render(d: &PageData<'_>) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let title = match &d.answer {
        Answer::Hours(v) => format!("Sealed hours of {} · chatseal", v.login),
        Answer::OptedOut { login } | Answer::Unknown { login } | Answer::NoHours { login } => {
            format!("{login} · chatseal")
        }
        Answer::Nothing | Answer::Invalid { .. } => "Which sealed hours am I in? · chatseal".to_string(),
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <header>\n<h1>chatseal</h1>\n<p class=\"mute\">Which sealed hours am I in? Every finished hour of chat is sealed into a merkle root; \
         find the hours a Twitch login took part in, with the proof and claim of each.</p>\n</header>\n<main>\n",
        Esc(&title)
    );
    form(&mut out, d);
    out.push_str("<section id=\"answer\" aria-live=\"polite\">\n");
    answer(&mut out, d);
    out.push_str("</section>\n");
    latest(&mut out, d);
    out.push_str(
        "</main>\n<footer class=\"mute\">\n<p>The JSON behind this page: <a href=\"/v1/epochs\">/v1/epochs</a>, \
         <code>/v1/users/LOGIN/epochs</code>, and the proof and claim of each hour. Times are UTC; your local time is added where JavaScript runs.</p>\n</footer>\n",
    );
    let _ = write!(out, "<script>{SCRIPT}</script>\n</body>\n</html>\n");
    out
}

fn form(out: &mut String, d: &PageData<'_>) {
    let _ = write!(
        out,
        "<form method=\"get\" action=\"/claims\" role=\"search\">\n\
         <label for=\"login\">Twitch login</label>\n\
         <input id=\"login\" name=\"login\" type=\"text\" value=\"{}\" required maxlength=\"64\" \
         autocomplete=\"username\" autocapitalize=\"none\" spellcheck=\"false\" placeholder=\"your_login\">\n",
        Esc(&clip(d.typed, 64))
    );
    if let Some(c) = d.channel {
        let _ = writeln!(out, "<input type=\"hidden\" name=\"channel\" value=\"{}\">", Esc(c));
    }
    out.push_str("<button type=\"submit\">Show my hours</button>\n</form>\n");
}

fn answer(out: &mut String, d: &PageData<'_>) {
    match &d.answer {
        Answer::Nothing => {
            out.push_str("<p class=\"mute\">Type a Twitch login (any case) to see its sealed hours.</p>\n")
        }
        Answer::Invalid { what, raw } => {
            let _ = writeln!(
                out,
                "<p class=\"note\" id=\"invalid\">“{}” is not a valid {}: a Twitch login or channel is 1 to 25 letters, digits or underscores.</p>",
                Esc(&clip(raw, 80)),
                Esc(what)
            );
        }
        Answer::OptedOut { login } => {
            let _ = writeln!(
                out,
                "<p class=\"note\" id=\"opted-out\"><strong>{}</strong> opted out of chatseal: their hours are not shown and no proof is served for them.</p>",
                Esc(login)
            );
        }
        Answer::Unknown { login } => {
            let _ = writeln!(
                out,
                "<p class=\"note\" id=\"unknown\">chatseal has never seen <strong>{}</strong> in the channels it records. Check the spelling: it is the login in the Twitch URL, not the display name.</p>",
                Esc(login)
            );
        }
        Answer::NoHours { login } => {
            let _ = writeln!(
                out,
                "<p class=\"note\" id=\"no-hours\"><strong>{}</strong> took part, but in no sealed hour yet{}. An hour is sealed a few minutes after it ends.</p>",
                Esc(login),
                Esc(&d.channel.map(|c| format!(" in #{c}")).unwrap_or_default())
            );
        }
        Answer::Hours(v) => hours(out, d, v),
    }
}

fn hours(out: &mut String, d: &PageData<'_>, v: &UserEpochsView) {
    let where_ = match d.channel {
        Some(c) => format!(" in #{c}"),
        None => String::new(),
    };
    let _ = writeln!(out, "<h2 id=\"hours\">Sealed hours of {}{}</h2>", Esc(&v.login), Esc(&where_));
    let _ = writeln!(out, "<p class=\"mute\">User hash <code class=\"amt\">{}</code></p>", Esc(&v.user_hash));
    if d.channel.is_some() {
        let _ = writeln!(out, "<p><a href=\"{}\">All channels</a></p>", Esc(&query("/claims", &[("login", &v.login)])));
    }
    if v.items.is_empty() {
        let what = if d.before.is_some() { "No older sealed hours" } else { "No sealed hours" };
        let _ = writeln!(out, "<p class=\"note\" id=\"no-older\">{what}{}.</p>", Esc(&where_));
    }
    out.push_str("<ol class=\"hours\">\n");
    for item in &v.items {
        let ch = &item.channel;
        let amount = match item.amount.as_deref().and_then(|a| whole_tokens(a, d.decimals).map(|t| (a, t))) {
            Some((base, tokens)) => {
                format!("<span class=\"amt\" title=\"{} base units\">{} tokens</span>", Esc(base), Esc(&tokens))
            }
            None => "<span class=\"amt\">not claimable (claim cap)</span>".to_string(),
        };
        let proof = format!("/v1/epochs/{}/{}/proof/{}", item.epoch, ch, v.login);
        let claim = format!("/v1/epochs/{}/{}/claim/{}", item.epoch, ch, v.login);
        let _ = write!(
            out,
            "<li data-epoch=\"{}\" data-channel=\"{}\">\n<div class=\"top\"><span>#{}</span>{}</div>\n\
             <div><time datetime=\"{}\" data-len=\"{}\">{}</time></div>\n\
             <div class=\"mute\">leaf index {} · {}</div>\n<div class=\"links\"><a href=\"{}\">proof JSON</a>",
            item.epoch,
            Esc(ch),
            Esc(ch),
            amount,
            iso_utc(item.epoch),
            d.epoch_len,
            Esc(&utc_span(item.epoch, d.epoch_len)),
            item.index,
            if item.published { "root published on chain" } else { "root not published yet" },
            Esc(&proof),
        );
        if item.amount.is_some() {
            let _ = write!(out, "<a href=\"{}\">claim JSON</a>", Esc(&claim));
        }
        out.push_str("</div>\n</li>\n");
    }
    out.push_str("</ol>\n");
    if let Some(next) = v.next_before {
        let before = next.to_string();
        let href = query("/claims", &[("login", &v.login), ("channel", d.channel.unwrap_or("")), ("before", &before)]);
        let _ = writeln!(out, "<p><a id=\"older\" href=\"{}\">Older hours →</a></p>", Esc(&href));
    }
}

fn latest(out: &mut String, d: &PageData<'_>) {
    out.push_str("<section id=\"latest\">\n<h2>Latest seals</h2>\n");
    if d.latest.is_empty() {
        out.push_str("<p class=\"mute\">Nothing sealed yet.</p>\n</section>\n");
        return;
    }
    out.push_str("<table>\n<thead><tr><th scope=\"col\">Channel</th><th scope=\"col\">Hour (UTC)</th><th scope=\"col\" class=\"n\">Viewers</th></tr></thead>\n<tbody>\n");
    for s in d.latest {
        let _ = writeln!(
            out,
            "<tr><td><a href=\"/v1/epochs/{}/{}\">#{}</a></td><td><time datetime=\"{}\">{}</time></td><td class=\"n\">{}</td></tr>",
            s.epoch,
            Esc(&s.channel),
            Esc(&s.channel),
            iso_utc(s.epoch),
            Esc(&utc_span(s.epoch, d.epoch_len)),
            s.participants
        );
    }
    out.push_str("</tbody>\n</table>\n</section>\n");
}

#[cfg(test)]
#[path = "page_tests.rs"]
mod tests;
