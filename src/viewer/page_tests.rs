//! The page's text: every shown value escaped, the links of each hour, the answers for an
//! unknown, opted-out or invalid login, paging links, and the policy hashes matching the inline
//! style and script.

use super::*;
use crate::viewer::hours::HourItem;

fn data(answer: Answer) -> PageData<'static> {
    PageData { typed: "", channel: None, before: None, answer, latest: &[], epoch_len: 3600, decimals: 9 }
}

fn view(items: Vec<HourItem>, next_before: Option<i64>) -> UserEpochsView {
    UserEpochsView { login: "alice".into(), user_hash: "0xabc".into(), items, next_before }
}

fn item(epoch: i64, channel: &str, amount: Option<&str>) -> HourItem {
    HourItem { epoch, channel: channel.into(), index: 3, amount: amount.map(Into::into), published: false }
}

#[test]
fn typed_and_invalid_input_is_escaped_everywhere() {
    let nasty = r#"<script>alert("x")</script>&'"#;
    let mut d = data(Answer::Invalid { what: "Twitch login", raw: nasty.into() });
    d.typed = nasty;
    let html = render(&d);
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(!html.contains("alert(\"x\")"), "{html}");
    assert!(html.contains("value=\"&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;\""), "{html}");
    assert!(
        html.contains("“&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;” is not a valid Twitch login"),
        "{html}"
    );
    // The document's only script is the page's own.
    assert_eq!(html.matches("<script>").count(), 1);
}

#[test]
fn hours_link_to_their_proof_and_claim() {
    let v = view(vec![item(7200, "lacy", Some("80000000000")), item(3600, "big", None)], Some(3600));
    let html = render(&PageData { channel: None, ..data(Answer::Hours(v)) });
    assert!(html.contains("href=\"/v1/epochs/7200/lacy/proof/alice\""), "{html}");
    assert!(html.contains("href=\"/v1/epochs/7200/lacy/claim/alice\""), "{html}");
    assert!(html.contains("80.000000000 tokens"), "{html}");
    assert!(
        html.contains("<time datetime=\"1970-01-01T02:00:00Z\" data-len=\"3600\">1970-01-01 02:00–03:00 UTC</time>"),
        "{html}"
    );
    // Past the claim cap: the proof, no claim link, and why.
    assert!(html.contains("href=\"/v1/epochs/3600/big/proof/alice\""), "{html}");
    assert!(!html.contains("/v1/epochs/3600/big/claim/alice"), "{html}");
    assert!(html.contains("not claimable (claim cap)"), "{html}");
    assert!(html.contains("id=\"older\" href=\"/claims?login=alice&amp;before=3600\""), "{html}");
}

#[test]
fn a_channel_filter_is_kept_in_the_form_and_the_paging_link() {
    let v = view(vec![item(7200, "lacy", Some("1"))], Some(7200));
    let html = render(&PageData { channel: Some("lacy"), before: Some(9000), ..data(Answer::Hours(v)) });
    assert!(html.contains("<input type=\"hidden\" name=\"channel\" value=\"lacy\">"), "{html}");
    assert!(html.contains("href=\"/claims?login=alice&amp;channel=lacy&amp;before=7200\""), "{html}");
    assert!(html.contains("href=\"/claims?login=alice\">All channels"), "{html}");
    let last = render(&PageData { channel: None, before: Some(9000), ..data(Answer::Hours(view(vec![], None))) });
    assert!(last.contains("No older sealed hours"), "{last}");
    assert!(!last.contains("id=\"older\""), "{last}");
}

#[test]
fn unknown_opted_out_and_idle_logins_get_a_clear_answer() {
    assert!(render(&data(Answer::Unknown { login: "ghost".into() })).contains("has never seen <strong>ghost</strong>"));
    assert!(render(&data(Answer::OptedOut { login: "shy".into() })).contains("<strong>shy</strong> opted out"));
    assert!(render(&data(Answer::NoHours { login: "new".into() })).contains("in no sealed hour yet"));
    assert!(render(&data(Answer::Nothing)).contains("Type a Twitch login"));
}

#[test]
fn latest_seals_are_listed() {
    let seals = vec![SealedEpoch {
        epoch: 3600,
        channel: "lacy".into(),
        root: None,
        claim_root: None,
        participants: 42,
        coverage: 1.0,
        digest: String::new(),
        sealed_at: 0,
        format_version: 1,
        claim_cut: 0,
    }];
    let html = render(&PageData { latest: &seals, ..data(Answer::Nothing) });
    assert!(html.contains("<a href=\"/v1/epochs/3600/lacy\">#lacy</a>"), "{html}");
    assert!(html.contains("<td class=\"n\">42</td>"), "{html}");
}

#[test]
fn the_policy_allows_exactly_the_inline_style_and_script() {
    let csp = content_security_policy();
    assert!(csp.starts_with("default-src 'none'; "), "{csp}");
    assert!(csp.contains(&sha256_source(STYLE)) && csp.contains(&sha256_source(SCRIPT)), "{csp}");
    let html = render(&data(Answer::Nothing));
    assert!(html.contains(&format!("<style>{STYLE}</style>")) && html.contains(&format!("<script>{SCRIPT}</script>")));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="), "no external asset");
}
