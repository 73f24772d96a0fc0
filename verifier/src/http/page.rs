//! The citizens' pages, rendered on the server so a result shows even without JavaScript: the
//! scan page and the result page with its one big state (spec/verifier.md §5).

use credledger_core::ids::Timestamp;
use credledger_core::verify::{Rejection, StatusFinding};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::i18n::{
    Lang, check_words, not_yet_valid_word, passed_words, reason_words, state_meaning, state_word,
    words,
};
use crate::report::{Report, State};

/// A time as the page shows it: Taiwan time (UTC+8, no daylight saving).
pub fn taiwan_time(t: Timestamp) -> String {
    t.taiwan_time()
}

fn date(t: Timestamp) -> String {
    taiwan_time(t).chars().take(10).collect()
}

pub(super) fn shell(lang: Lang, title: &str, switch_href: &str, body: &str) -> String {
    let w = words(lang);
    format!(
        "<!doctype html>\n<html lang=\"{html}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head>\
         <body><header class=\"bar\"><a class=\"home\" href=\"/?lang={code}\">{site}</a>\
         <a class=\"lang\" id=\"lang-switch\" href=\"{switch}\" lang=\"{other_html}\">{switch_word}</a>\
         </header><main id=\"main\">{body}</main>\
         <script src=\"/assets/app.js\" defer></script></body></html>\n",
        html = lang.html(),
        title = text(title),
        code = lang.code(),
        site = text(w.title),
        switch = attr(switch_href),
        other_html = lang.other().html(),
        switch_word = text(w.switch),
        body = body,
    )
}

/// The scan page: live camera where the browser can, a photo that works everywhere, and paste.
pub fn scan_page(lang: Lang) -> String {
    let w = words(lang);
    let body = format!(
        "<h1>{title}</h1><p class=\"intro\">{intro}</p>\
         <section class=\"card\" id=\"camera\" hidden>\
         <button type=\"button\" id=\"start-camera\" class=\"primary\">{scan}</button>\
         <video id=\"video\" playsinline muted hidden aria-label=\"{scan}\"></video></section>\
         <section class=\"card\">\
         <input type=\"file\" id=\"photo\" name=\"photo\" accept=\"image/*\" capture=\"environment\">\
         <label class=\"primary file\" for=\"photo\">{photo}</label>\
         <p class=\"hint\">{hint}</p></section>\
         <section class=\"card\"><form action=\"/v\" method=\"get\" id=\"paste-form\">\
         <label for=\"p\">{paste}</label><textarea id=\"p\" name=\"p\" rows=\"3\" \
         autocomplete=\"off\" spellcheck=\"false\"></textarea>\
         <input type=\"hidden\" name=\"lang\" value=\"{code}\">\
         <button type=\"submit\" id=\"check\">{check}</button></form></section>\
         <p id=\"msg\" role=\"alert\" aria-live=\"assertive\" data-no-camera=\"{nocam}\" \
         data-reading=\"{reading}\" data-no-code=\"{nocode}\" data-busy=\"{busy}\"></p>",
        title = text(w.title),
        intro = text(w.intro),
        scan = text(w.scan),
        photo = text(w.photo),
        hint = text(w.photo_hint),
        paste = text(w.paste),
        code = lang.code(),
        check = text(w.check),
        nocam = attr(w.no_camera),
        reading = attr(w.reading),
        nocode = attr(w.no_code),
        busy = attr(w.busy),
    );
    shell(
        lang,
        w.title,
        &format!("/?lang={}", lang.other().code()),
        &body,
    )
}

fn css_class(s: State) -> &'static str {
    match s {
        State::Valid => "valid",
        State::NotGenuine => "not-genuine",
        State::Revoked => "revoked",
        State::Suspended => "suspended",
        State::Expired => "expired",
        State::CannotCheck => "cannot-check",
    }
}

fn icon(s: State) -> &'static str {
    match s {
        State::Valid => "✓",
        State::NotGenuine | State::Revoked => "✕",
        State::Suspended => "‖",
        State::Expired => "⌛",
        State::CannotCheck => "?",
    }
}

/// The result page of one check. `self_href` is this page's path and query without `lang`.
pub fn result_page(lang: Lang, r: &Report, self_href: &str) -> String {
    let w = words(lang);
    let word = match r.rejection {
        Some(Rejection::NotYetValid { .. }) => not_yet_valid_word(lang),
        _ => state_word(lang, r.outcome),
    };
    // Not live: the status is as of an earlier header, said above the meaning, which for a
    // valid one does not claim "now".
    let as_of = match (&r.status, r.live) {
        (Some(StatusFinding::Active { as_of, .. }), false) => Some(*as_of),
        _ => None,
    };
    let meaning = match (r.outcome, as_of) {
        (State::Valid, Some(_)) => w.valid_as_of,
        _ => state_meaning(lang, r.outcome),
    };
    let notice = match as_of {
        Some(t) => format!(
            "<p class=\"notice\" id=\"as-of\">{} <strong>{}</strong></p>",
            text(w.not_live),
            taiwan_time(t)
        ),
        None if !r.live => format!(
            "<p class=\"notice\" id=\"as-of\">{}</p>",
            text(w.not_live_plain)
        ),
        None => String::new(),
    };
    let mut body = format!(
        "<section class=\"state {class}\" id=\"state\" data-state=\"{state}\" role=\"status\">\
         <span class=\"icon\" aria-hidden=\"true\">{icon}</span><h1 id=\"state-word\">{word}</h1>\
         {notice}<p id=\"meaning\">{meaning}</p></section>",
        class = css_class(r.outcome),
        state = r.outcome.as_str(),
        icon = icon(r.outcome),
        word = text(word),
        meaning = text(meaning),
    );
    if let Some(d) = &r.credential {
        body.push_str("<section class=\"card\"><dl id=\"facts\">");
        let mut row = |k: &str, v: &str, id: &str| {
            body.push_str(&format!(
                "<div class=\"row\" id=\"{id}\"><dt>{}</dt><dd>{}</dd></div>",
                text(k),
                text(v)
            ));
        };
        row(
            w.issuer,
            lang.pick(&d.issuer_name_zh, &d.issuer_name_en),
            "issuer",
        );
        row(w.kind, lang.pick(&d.kind_name_zh, &d.kind_name_en), "kind");
        for (i, c) in d.claims.iter().enumerate() {
            let label = lang.pick(&c.label_zh, &c.label_en);
            let label = if label.is_empty() { &c.key } else { label };
            row(label, &c.value, &format!("claim-{i}"));
        }
        match &r.rejection {
            Some(Rejection::Revoked { reason, at, .. }) => {
                row(w.revoked_at, &taiwan_time(*at), "status-at");
                row(
                    w.status_reason,
                    reason_words(lang, *reason),
                    "status-reason",
                );
            }
            Some(Rejection::Suspended { reason, since, .. }) => {
                row(w.suspended_at, &taiwan_time(*since), "status-at");
                row(
                    w.status_reason,
                    reason_words(lang, *reason),
                    "status-reason",
                );
            }
            _ => {}
        }
        row(w.valid_from, &date(d.valid_from), "valid-from");
        if let Some(u) = d.valid_until {
            row(w.valid_until, &date(u), "valid-until");
        }
        body.push_str("</dl>");
        if d.hidden_claims > 0 {
            body.push_str(&format!(
                "<p class=\"hint\">{} {}</p>",
                d.hidden_claims,
                text(w.hidden)
            ));
        }
        body.push_str("</section>");
    }
    body.push_str(&format!(
        "<details class=\"card\"><summary>{}</summary><ul class=\"checks\">",
        text(w.details)
    ));
    for c in &r.checks {
        body.push_str(&format!(
            "<li><span aria-hidden=\"true\">{}</span> {}: {}</li>",
            if c.passed { "✓" } else { "✕" },
            text(check_words(lang, c.check)),
            text(passed_words(lang, c.passed))
        ));
    }
    body.push_str("</ul>");
    if let Some(reason) = &r.reason {
        // The reason's details (values, times) are in English; on the Chinese page the failed
        // check comes first in Chinese, and the details are marked English for screen readers.
        let failed = match (lang, r.failed_check) {
            (Lang::Zh, Some(c)) => {
                format!("{}（{}）", check_words(lang, c), passed_words(lang, false))
            }
            _ => String::new(),
        };
        body.push_str(&format!(
            "<p>{}: {} <span lang=\"en\">{}</span></p>",
            text(w.why),
            text(&failed),
            text(reason)
        ));
    }
    body.push_str(&format!(
        "<p>{}: {}<br>{}: {}</p>",
        text(w.checked),
        taiwan_time(r.checked_at),
        text(w.block),
        r.ledger.height
    ));
    if let Some(StatusFinding::Active { as_of, .. }) = &r.status {
        body.push_str(&format!(
            "<p>{}: {}</p>",
            text(w.as_of),
            taiwan_time(*as_of)
        ));
    }
    body.push_str(&format!(
        "</details><p><a class=\"primary\" href=\"/?lang={}\" id=\"again\">{}</a></p>",
        lang.code(),
        text(w.again)
    ));
    let sep = if self_href.contains('?') { '&' } else { '?' };
    let switch = format!("{self_href}{sep}lang={}", lang.other().code());
    shell(lang, &format!("{word} · {}", w.title), &switch, &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use credledger_core::ids::{Height, Timestamp};
    use credledger_core::verify::Check;

    fn refused(rejection: Rejection) -> Report {
        Report {
            outcome: State::Expired,
            live: true,
            checked_at: Timestamp(1_000),
            checks: Vec::new(),
            failed_check: Some(Check::ValidityWindow),
            reason: Some(rejection.to_string()),
            rejection: Some(rejection),
            status: None,
            credential: None,
            ledger: crate::report::LedgerView {
                height: Height(1),
                time: Timestamp(1_000),
                fork_alarm: false,
            },
            presentation: None,
        }
    }

    #[test]
    fn a_valid_status_that_is_not_live_says_as_of_when_and_does_not_claim_now() {
        let mut r = refused(Rejection::Expired {
            valid_until: Timestamp(500),
            now: Timestamp(1_000),
        });
        r.outcome = State::Valid;
        r.rejection = None;
        r.reason = None;
        r.failed_check = None;
        r.status = Some(StatusFinding::Active {
            height: Height(1),
            as_of: Timestamp(1_767_225_600_000),
            published_at: Timestamp(1_767_225_600_000),
        });
        let live = result_page(Lang::En, &r, "/v/x");
        assert!(live.contains("in force now"), "{live}");
        assert!(!live.contains("id=\"as-of\""), "{live}");
        r.live = false;
        let page = result_page(Lang::En, &r, "/v/x");
        assert!(!page.contains("in force now"), "{page}");
        assert!(page.contains("It was in force at the time above"), "{page}");
        let notice = &page[page.find("id=\"as-of\"").unwrap()..];
        assert!(
            notice.contains(&taiwan_time(Timestamp(1_767_225_600_000))),
            "{page}"
        );
    }

    #[test]
    fn a_credential_not_yet_in_force_is_not_called_expired() {
        let early = refused(Rejection::NotYetValid {
            valid_from: Timestamp(2_000),
            now: Timestamp(1_000),
        });
        let late = refused(Rejection::Expired {
            valid_until: Timestamp(500),
            now: Timestamp(1_000),
        });
        let word = |lang, r: &Report| {
            let page = result_page(lang, r, "/v/x");
            let start = page.find("id=\"state-word\">").unwrap() + 16;
            page[start..start + page[start..].find('<').unwrap()].to_string()
        };
        assert_eq!(word(Lang::Zh, &early), "尚未生效");
        assert_eq!(word(Lang::En, &early), "NOT YET VALID");
        assert_eq!(word(Lang::Zh, &late), "已逾期");
        assert_eq!(word(Lang::En, &late), "EXPIRED");
        // The reason names the failed check in the page's language; its details are marked.
        let page = result_page(Lang::Zh, &late, "/v/x");
        assert!(page.contains("在有效期間內（未通過）"), "{page}");
        assert!(
            page.contains("<span lang=\"en\">credential expired at"),
            "{page}"
        );
    }
}
