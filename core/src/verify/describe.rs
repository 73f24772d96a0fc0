//! What a verifier page shows about a presentation once `verify` has judged it: names and
//! labelled claims looked up in the trusted registry. It decides nothing.

use serde::Serialize;

use crate::credential::Claim;
use crate::ids::{CredentialId, IssuerId, KindId, Timestamp};
use crate::presentation::CompactPresentation;

use super::TrustAnchor;

/// One disclosed claim with its schema labels.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShownClaim {
    /// The claim key, e.g. `license_no`.
    pub key: String,
    /// Label in Traditional Chinese.
    pub label_zh: String,
    /// Label in English.
    pub label_en: String,
    /// The disclosed value.
    pub value: String,
}

/// Display facts of a presentation, in both languages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Description {
    /// The credential.
    pub credential: CredentialId,
    /// The issuer.
    pub issuer: IssuerId,
    /// Issuer name, Traditional Chinese.
    pub issuer_name_zh: String,
    /// Issuer name, English.
    pub issuer_name_en: String,
    /// The kind.
    pub kind: KindId,
    /// Kind name, Traditional Chinese.
    pub kind_name_zh: String,
    /// Kind name, English.
    pub kind_name_en: String,
    /// Start of validity.
    pub valid_from: Timestamp,
    /// End of validity, if any.
    pub valid_until: Option<Timestamp>,
    /// The disclosed claims, labelled, in schema order.
    pub claims: Vec<ShownClaim>,
    /// How many claims stayed hidden.
    pub hidden_claims: usize,
}

/// Describes a presentation for display. Only call it for a presentation that [`super::verify`]
/// accepted, or refused after its signature and claims checks passed (an outcome other than
/// NOT GENUINE): this function checks nothing, so showing its claims otherwise would show
/// forged text. `None` when the registry lacks the issuer or kind.
pub fn describe(c: &CompactPresentation, anchor: &TrustAnchor) -> Option<Description> {
    let kind = anchor.registry().kind(&c.body.kind)?;
    let (_, claims) = c.disclosure.digests_and_claims(kind).ok()?;
    describe_claims(c, anchor, claims)
}

/// [`describe`] with the disclosed claims already at hand (a [`super::Verdict`]'s
/// `disclosed`), sparing their hashing a second time.
pub fn describe_claims(
    c: &CompactPresentation,
    anchor: &TrustAnchor,
    claims: Vec<Claim>,
) -> Option<Description> {
    let body = &c.body;
    let registry = anchor.registry();
    let issuer = registry.issuer(&body.issuer)?;
    let kind = registry.kind(&body.kind)?;
    let claims = claims
        .into_iter()
        .map(|claim| {
            let def = kind.claims.iter().find(|d| d.key == claim.key);
            ShownClaim {
                key: claim.key.to_string(),
                label_zh: def.map(|d| d.label_zh.to_string()).unwrap_or_default(),
                label_en: def.map(|d| d.label_en.to_string()).unwrap_or_default(),
                value: claim.value.to_string(),
            }
        })
        .collect();
    Some(Description {
        credential: body.id,
        issuer: body.issuer.clone(),
        issuer_name_zh: issuer.name_zh.to_string(),
        issuer_name_en: issuer.name_en.to_string(),
        kind: body.kind.clone(),
        kind_name_zh: kind.name_zh.to_string(),
        kind_name_en: kind.name_en.to_string(),
        valid_from: body.valid_from,
        valid_until: body.valid_until,
        claims,
        hidden_claims: c.disclosure.hidden_count(),
    })
}
