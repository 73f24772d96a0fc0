//! The page's words in Traditional Chinese (the default) and English.

use credledger_core::state::ReasonCode;
use credledger_core::verify::Check;

use crate::report::State;

/// A page language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Traditional Chinese, Taiwan.
    Zh,
    /// English.
    En,
}

impl Lang {
    /// From a `lang` query value; anything but English is Chinese.
    pub fn parse(s: Option<&str>) -> Lang {
        match s {
            Some(l) if l.eq_ignore_ascii_case("en") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// The `lang` query value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-TW",
            Lang::En => "en",
        }
    }

    /// The HTML `lang` attribute.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-Hant-TW",
            Lang::En => "en",
        }
    }

    /// The other language, for the switch.
    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// Picks the string of this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// The big word of a state.
pub fn state_word(lang: Lang, s: State) -> &'static str {
    match s {
        State::Valid => lang.pick("有效", "VALID"),
        State::NotGenuine => lang.pick("非真實證書", "NOT GENUINE"),
        State::Revoked => lang.pick("已撤銷", "REVOKED"),
        State::Suspended => lang.pick("已暫停", "SUSPENDED"),
        State::Expired => lang.pick("已逾期", "EXPIRED"),
        State::CannotCheck => lang.pick("目前無法查驗", "CANNOT CHECK NOW"),
    }
}

/// The big word of a credential outside its validity window that has not started yet: the
/// state is EXPIRED (spec/verification.md §4), but a person should not read "expired".
pub fn not_yet_valid_word(lang: Lang) -> &'static str {
    lang.pick("尚未生效", "NOT YET VALID")
}

/// What the state means and what to do, in plain words.
pub fn state_meaning(lang: Lang, s: State) -> &'static str {
    match s {
        State::Valid => lang.pick(
            "這張證書是真的，由下列機關核發，而且此刻仍然有效。",
            "This credential is genuine, was issued by the authority below, and is in force now.",
        ),
        State::NotGenuine => lang.pick(
            "這個 QR 碼不是有效的證書：可能遭偽造或竄改。請勿依賴它；如有疑問，請向發證機關查詢。",
            "This QR code is not a genuine credential: it may be forged or altered. Do not rely on \
             it; if in doubt, ask the issuing authority.",
        ),
        State::Revoked => lang.pick(
            "發證機關已撤銷這張證書，它不再有效。請勿依賴它。",
            "The issuing authority has revoked this credential. It is no longer valid; do not rely \
             on it.",
        ),
        State::Suspended => lang.pick(
            "發證機關已暫停這張證書，目前不可依賴它；詳情請洽發證機關。",
            "The issuing authority has suspended this credential. Its holder may not rely on it for \
             now; ask the authority for details.",
        ),
        State::Expired => lang.pick(
            "這張證書不在有效期間內（已過期或尚未生效）。",
            "This credential is outside its validity period (expired, or not yet in force).",
        ),
        State::CannotCheck => lang.pick(
            "此刻無法向帳本確認這張證書的狀態。請稍後再試；確認之前，請勿當作有效。",
            "The credential's status cannot be confirmed with the ledger right now. Try again in a \
             moment; until then, do not treat it as valid.",
        ),
    }
}

/// Fixed labels of the pages; each field is named after what it labels.
#[allow(missing_docs)]
pub struct Words {
    pub title: &'static str,
    pub intro: &'static str,
    pub scan: &'static str,
    pub photo: &'static str,
    pub photo_hint: &'static str,
    pub paste: &'static str,
    pub check: &'static str,
    pub switch: &'static str,
    pub issuer: &'static str,
    pub kind: &'static str,
    pub valid_from: &'static str,
    pub valid_until: &'static str,
    pub hidden: &'static str,
    pub details: &'static str,
    pub checked: &'static str,
    pub block: &'static str,
    pub as_of: &'static str,
    pub not_live: &'static str,
    pub not_live_plain: &'static str,
    pub valid_as_of: &'static str,
    pub again: &'static str,
    pub why: &'static str,
    pub no_camera: &'static str,
    pub reading: &'static str,
    pub no_code: &'static str,
    pub busy: &'static str,
    pub revoked_at: &'static str,
    pub suspended_at: &'static str,
    pub status_reason: &'static str,
}

/// The labels in `lang`.
pub fn words(lang: Lang) -> Words {
    let p = |zh, en| lang.pick(zh, en);
    Words {
        title: p("證書查驗", "Credential check"),
        intro: p(
            "掃描律師執業證書等數位證書的 QR 碼，立即查驗真偽與目前狀態。本服務不保存您掃描的內容。",
            "Scan the QR code of a digital credential, such as a lawyer's license, to check at once \
             whether it is genuine and valid now. Nothing you scan is kept.",
        ),
        scan: p("用相機掃描", "Scan with camera"),
        photo: p(
            "拍攝或選擇 QR 碼照片",
            "Take or choose a photo of the QR code",
        ),
        photo_hint: p("任何手機都能使用。", "Works on any phone."),
        paste: p("或貼上 QR 碼的內容", "Or paste the QR code's text"),
        check: p("查驗", "Check"),
        switch: p("English", "中文"),
        issuer: p("發證機關", "Issued by"),
        kind: p("證書種類", "Credential"),
        valid_from: p("生效日", "Valid from"),
        valid_until: p("有效期限", "Valid until"),
        hidden: p("項資料未揭露", "item(s) not disclosed"),
        details: p("查驗項目", "Checks made"),
        checked: p("查驗時間", "Checked at"),
        block: p("帳本區塊高度", "Ledger block height"),
        as_of: p("狀態截至", "Status as of"),
        not_live: p(
            "此刻無法向帳本確認最新狀態；以下是帳本證明（QR 碼內附，或帳本節點稍早的答覆）所示、截至下列時間的狀態：",
            "The ledger's current status cannot be confirmed right now; this is the status as of \
             the time below, from a ledger proof (inside the QR code, or an earlier answer of a \
             ledger node):",
        ),
        not_live_plain: p(
            "此刻無法向帳本確認最新狀態；以下狀態取自帳本證明（QR 碼內附，或帳本節點稍早的答覆），不是此刻的狀態。",
            "The ledger's current status cannot be confirmed right now; the status below is from \
             a ledger proof (inside the QR code, or an earlier answer of a ledger node), not from \
             now.",
        ),
        valid_as_of: p(
            "這張證書是真的，由下列機關核發；截至上述時間仍然有效，但此刻無法確認之後是否遭撤銷或暫停。",
            "This credential is genuine and was issued by the authority below. It was in force \
             at the time above; whether it was revoked or suspended since cannot be confirmed now.",
        ),
        again: p("查驗另一張", "Check another"),
        why: p("原因", "Reason"),
        no_camera: p(
            "此瀏覽器無法直接掃描，請改用拍照或上傳。",
            "This browser cannot scan live; take or upload a photo instead.",
        ),
        reading: p("讀取中…", "Reading…"),
        no_code: p(
            "無法從這張照片讀出 QR 碼。請靠近一點、對準後再拍一次，或改用貼上。",
            "No QR code could be read from this photo. Take another, closer and straight on, or \
             paste the text.",
        ),
        busy: p(
            "查驗服務此刻忙碌，請稍後再試。",
            "The verifier is busy right now; try again in a moment.",
        ),
        revoked_at: p("撤銷時間", "Revoked at"),
        suspended_at: p("暫停時間", "Suspended since"),
        status_reason: p("原因", "Reason"),
    }
}

/// A status reason in words.
pub fn reason_words(lang: Lang, r: ReasonCode) -> &'static str {
    match r {
        ReasonCode::Unspecified => lang.pick("未說明", "not stated"),
        ReasonCode::KeyCompromise => lang.pick("發證金鑰外洩", "the issuer's key was compromised"),
        ReasonCode::Superseded => lang.pick("已由新證書取代", "replaced by a newer credential"),
        ReasonCode::IssuedInError => lang.pick("誤發", "issued in error"),
        ReasonCode::Disciplinary => lang.pick("懲戒處分", "disciplinary action"),
        ReasonCode::Surrendered => lang.pick("持有人繳回", "given up by the holder"),
        ReasonCode::HolderCeased => lang.pick("持有人已不存在", "the holder no longer exists"),
        ReasonCode::ConditionNotMet => lang.pick("不再符合條件", "a condition is no longer met"),
        ReasonCode::Order => lang.pick("依命令", "ordered by a court or authority"),
    }
}

/// A check of spec/verification.md §2 in words, for the page's list of checks made.
pub fn check_words(lang: Lang, c: Check) -> &'static str {
    match c {
        Check::Decoding => lang.pick("QR 碼內容可讀", "the QR code's content reads correctly"),
        Check::IssuerKnown => lang.pick("發證機關已登記", "the issuer is registered"),
        Check::KindAuthorized => {
            lang.pick("發證機關可核發此類證書", "the issuer may issue this kind")
        }
        Check::Signature => lang.pick(
            "發證機關的數位簽章正確",
            "the issuer's digital signature is right",
        ),
        Check::Claims => lang.pick("證書內容未經竄改", "the credential's content is unaltered"),
        Check::Anchoring => lang.pick("帳本上有這張證書的紀錄", "the ledger holds its record"),
        Check::KeyValidAtIssuance => lang.pick(
            "發證時金鑰有效",
            "the issuer's key was valid when it was issued",
        ),
        Check::ValidityWindow => lang.pick("在有效期間內", "it is within its validity period"),
        Check::Freshness => lang.pick("帳本資料為最新", "the ledger's answer is recent"),
        Check::Status => lang.pick("未遭撤銷或暫停", "it is not revoked or suspended"),
        Check::Record => lang.pick("紀錄與證據相符", "the record matches the evidence"),
        Check::Inclusion => lang.pick("紀錄在已錨定的日誌中", "the record is in the anchored log"),
    }
}

/// Whether a check passed, in words (beside the ✓ or ✕, which screen readers skip).
pub fn passed_words(lang: Lang, passed: bool) -> &'static str {
    match passed {
        true => lang.pick("通過", "passed"),
        false => lang.pick("未通過", "failed"),
    }
}
