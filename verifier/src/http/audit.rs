//! The auditor's side of the service: `POST /api/v1/audit/verify` and the `/audit` page, which
//! check a T-Road evidence bundle with core's `verify_log_evidence` against the light client's
//! trust (spec/verifier.md §6, spec/troad-log.md §6).

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use credledger_core::Rejection;
use credledger_core::troad::LogRecord;
use credledger_core::verify::{LogEvidence, LogVerdict, MAX_EVIDENCE_BYTES, verify_log_evidence};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use serde_json::json;

use super::Shared;
use super::i18n::Lang;
use super::page::{shell, taiwan_time};

/// Largest audit body: a bundle in base64 plus a record line, with room for the form's names.
pub const MAX_AUDIT_BODY: usize = MAX_EVIDENCE_BYTES * 4 / 3 + 8 * 1024;

/// What an auditor submits: the bundle (base64 of its bytes) and optionally the record line.
#[derive(Debug, serde::Deserialize)]
struct Submission {
    bundle: String,
    #[serde(default)]
    record: Option<String>,
}

/// Why a submission was not judged.
enum Problem {
    /// A bad request: names the field.
    Input(String),
    /// The verifier does not trust the ledger now (a fork): nothing is proven against it.
    Untrusted(String),
}

/// Decodes and checks a submission.
fn check(app: &super::App, s: &Submission) -> Result<Result<LogVerdict, Rejection>, Problem> {
    let cleaned: String = s.bundle.split_whitespace().collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| Problem::Input(format!("bundle is not base64: {e}")))?;
    let record = match s.record.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(line) => Some(
            LogRecord::from_line(line.as_bytes())
                .map_err(|e| Problem::Input(format!("record is not a T-Road record line: {e}")))?,
        ),
        None => None,
    };
    let ev = match LogEvidence::from_bytes(&bytes) {
        Ok(ev) => ev,
        Err(r) => return Ok(Err(r)),
    };
    let trust = app.checker.trust();
    // The bundle's header meets the light client's fork check like any node's answer: one
    // with a valid commit that conflicts with a verified header raises the alarm
    // (spec/verifier.md §2). While it is raised, nothing is proven against this ledger.
    let _ =
        trust.check_evidence_header("an auditor's bundle", &ev.anchor.header, &ev.anchor.commit);
    if let Some(h) = trust.read(|t| t.alarm.as_ref().map(|a| a.height)) {
        return Err(Problem::Untrusted(format!(
            "the ledger's validators signed two different blocks at height {h}; this verifier \
             stopped trusting the ledger until its operators act (the bundle can still be \
             checked offline with `credledger-verifier audit verify`)"
        )));
    }
    Ok(trust.read(|t| verify_log_evidence(&ev, &t.anchor, record.as_ref())))
}

fn outcome_json(r: &Result<LogVerdict, Rejection>) -> serde_json::Value {
    match r {
        Ok(v) => json!({ "outcome": "PROVEN", "verdict": v }),
        Err(e) => json!({
            "outcome": "NOT_PROVEN",
            "failed_check": e.check(),
            "rejection": e,
            "message": e.to_string(),
        }),
    }
}

/// `POST /api/v1/audit/verify` with `{"bundle": base64, "record": optional line}`.
pub async fn verify_api(State(app): State<Shared>, body: Bytes) -> Response {
    let s: Submission = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => return bad_request(format!("body is not {{\"bundle\": \"base64\"}}: {e}")),
    };
    match check(&app, &s) {
        Ok(r) => Json(outcome_json(&r)).into_response(),
        Err(Problem::Input(e)) => bad_request(e),
        Err(Problem::Untrusted(e)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "outcome": "NOT_PROVEN", "failed_check": "anchoring", "message": e })),
        )
            .into_response(),
    }
}

fn bad_request(error: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": error }))).into_response()
}

/// The page's words.
struct Words {
    title: &'static str,
    intro: &'static str,
    file: &'static str,
    bundle: &'static str,
    record: &'static str,
    check: &'static str,
    proven: &'static str,
    proven_means: &'static str,
    not_proven: &'static str,
    not_proven_means: &'static str,
    source: &'static str,
    line: &'static str,
    anchored: &'static str,
    anchor: &'static str,
    sets: &'static str,
    record_checked: &'static str,
    record_unchecked: &'static str,
    failed: &'static str,
    again: &'static str,
}

fn words(lang: Lang) -> &'static Words {
    match lang {
        Lang::Zh => &Words {
            title: "T-Road 紀錄稽核",
            intro: "上傳證據包（audit prove 產生），即可依據創世檔驗證某筆傳輸紀錄當時確實存在且未被竄改。",
            file: "選擇證據包檔案",
            bundle: "證據包（base64）",
            record: "紀錄本身（JSON 一行，選填）",
            check: "驗證",
            proven: "已證明",
            proven_means: "此紀錄在下列時間之前已存在於該機關的傳輸紀錄中，且內容未被更改。",
            not_proven: "無法證明",
            not_proven_means: "證據包無法證明此紀錄；未通過的檢查如下。",
            source: "紀錄來源",
            line: "紀錄行號",
            anchored: "最遲存在時間",
            anchor: "錨定",
            sets: "一併驗證的驗證者集合變更",
            record_checked: "已比對紀錄內容",
            record_unchecked: "未提供紀錄本身，只驗證其摘要",
            failed: "未通過的檢查",
            again: "驗證另一個證據包",
        },
        Lang::En => &Words {
            title: "T-Road record audit",
            intro: "Upload an evidence bundle (made by audit prove) to check, against the genesis file, that a transfer-log record existed, unaltered, by a time.",
            file: "Choose the bundle file",
            bundle: "Evidence bundle (base64)",
            record: "The record itself (one JSON line, optional)",
            check: "Verify",
            proven: "PROVEN",
            proven_means: "This record was in the agency's transfer log, unaltered, no later than the time below.",
            not_proven: "NOT PROVEN",
            not_proven_means: "The bundle does not prove this record; the failed check is below.",
            source: "Log source",
            line: "Line",
            anchored: "Existed by",
            anchor: "Anchor",
            sets: "Validator-set changes checked with it",
            record_checked: "record compared with the digest",
            record_unchecked: "record not given; only its digest was checked",
            failed: "Failed check",
            again: "Verify another bundle",
        },
    }
}

fn form(lang: Lang, w: &Words) -> String {
    format!(
        "<section class=\"card\"><form action=\"/audit?lang={code}\" method=\"post\" id=\"audit-form\">\
         <input type=\"file\" id=\"bundle-file\" accept=\".bundle,application/octet-stream\">\
         <label class=\"primary file\" for=\"bundle-file\">{file}</label>\
         <label for=\"bundle\">{bundle}</label><textarea id=\"bundle\" name=\"bundle\" rows=\"4\" \
         required autocomplete=\"off\" spellcheck=\"false\"></textarea>\
         <label for=\"record\">{record}</label><textarea id=\"record\" name=\"record\" rows=\"3\" \
         autocomplete=\"off\" spellcheck=\"false\"></textarea>\
         <button type=\"submit\" id=\"audit-check\">{check}</button></form></section>",
        code = lang.code(),
        file = text(w.file),
        bundle = text(w.bundle),
        record = text(w.record),
        check = text(w.check),
    )
}

/// `GET /audit`: the form.
pub async fn page(Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let lang = Lang::parse(q.get("lang").map(String::as_str));
    let w = words(lang);
    let body = format!(
        "<h1>{}</h1><p class=\"intro\">{}</p>{}",
        text(w.title),
        text(w.intro),
        form(lang, w)
    );
    Html(shell(
        lang,
        w.title,
        &format!("/audit?lang={}", lang.other().code()),
        &body,
    ))
}

/// `POST /audit` (form fields `bundle`, `record`): the result page.
pub async fn submit(
    State(app): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let lang = Lang::parse(q.get("lang").map(String::as_str));
    let w = words(lang);
    let fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let s = Submission {
        bundle: fields.get("bundle").cloned().unwrap_or_default(),
        record: fields.get("record").cloned(),
    };
    let result: Result<LogVerdict, (String, String)> = match check(&app, &s) {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err((
            json!(e.check()).as_str().unwrap_or_default().to_string(),
            e.to_string(),
        )),
        Err(Problem::Input(reason)) => {
            let e = Rejection::MalformedEvidence { reason };
            Err((
                json!(e.check()).as_str().unwrap_or_default().to_string(),
                e.to_string(),
            ))
        }
        Err(Problem::Untrusted(m)) => Err(("anchoring".to_string(), m)),
    };
    let status = match &result {
        Ok(v) => format!(
            "<section class=\"result valid\" role=\"status\" aria-live=\"polite\">\
             <p class=\"state\"><span aria-hidden=\"true\">✓</span> <strong id=\"outcome\" \
             data-outcome=\"PROVEN\">{proven}</strong></p><p>{means}</p></section>\
             <dl class=\"facts\"><dt>{source}</dt><dd>{src}</dd><dt>{line}</dt><dd>{n}</dd>\
             <dt>{anchored}</dt><dd>{at}</dd><dt>{anchor}</dt><dd>#{seq} · {size} · {height}</dd>\
             <dt>{sets}</dt><dd>{changes}</dd><dt>SHA-256</dt><dd class=\"mono\">{digest}</dd></dl><p class=\"hint\">{rec}</p>",
            proven = text(w.proven),
            means = text(w.proven_means),
            source = text(w.source),
            src = text(v.source.as_str()),
            line = text(w.line),
            n = v.index + 1,
            anchored = text(w.anchored),
            at = text(&taiwan_time(v.anchored_at)),
            anchor = text(w.anchor),
            seq = v.sequence,
            size = v.tree_size,
            height = v.anchored_height,
            sets = text(w.sets),
            changes = v.set_changes,
            digest = v.record_digest,
            rec = text(if v.record_checked {
                w.record_checked
            } else {
                w.record_unchecked
            }),
        ),
        Err((check, msg)) => format!(
            "<section class=\"result not-genuine\" role=\"status\" aria-live=\"polite\">\
             <p class=\"state\"><span aria-hidden=\"true\">✕</span> <strong id=\"outcome\" \
             data-outcome=\"NOT_PROVEN\">{np}</strong></p><p>{means}</p></section>\
             <dl class=\"facts\"><dt>{failed}</dt><dd id=\"failed-check\">{check}</dd></dl>\
             <p class=\"mono\">{msg}</p>",
            np = text(w.not_proven),
            means = text(w.not_proven_means),
            failed = text(w.failed),
            check = text(check),
            msg = text(msg),
        ),
    };
    let body = format!(
        "<h1>{}</h1>{status}<p><a href=\"/audit?lang={}\">{}</a></p>",
        text(w.title),
        attr(lang.code()),
        text(w.again)
    );
    Html(shell(
        lang,
        w.title,
        &format!("/audit?lang={}", lang.other().code()),
        &body,
    ))
    .into_response()
}
