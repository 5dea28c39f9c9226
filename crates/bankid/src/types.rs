//! The RP API v6.0 wire types (JSON, camelCase): what `/auth`, `/sign`, `/collect` and `/cancel`
//! take and answer. Reading is lenient where BankID may grow (unknown fields are ignored, unknown
//! hint codes and risk levels are kept as `Unknown`); writing omits every absent option.

use std::fmt;
use std::net::IpAddr;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::fields::{
    AutoStartToken, FieldError, OrderRef, Personnummer, QrStartSecret, QrStartToken,
};
use crate::rfa::{rfa, Outcome, RfaCode, UserDevice};

/// Text shown (or, for `userNonVisibleData`, kept) in the BankID app, base64 of its UTF-8 as
/// BankID wants it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserVisibleData(String);

impl UserVisibleData {
    /// Encodes `text`; empty text is refused (BankID wants at least one character).
    pub fn new(text: &str) -> Result<Self, FieldError> {
        if text.is_empty() {
            return Err(FieldError::EmptyUserVisibleData);
        }
        Ok(UserVisibleData(
            base64::engine::general_purpose::STANDARD.encode(text.as_bytes()),
        ))
    }

    /// The base64 form sent to BankID.
    pub fn encoded(&self) -> &str {
        &self.0
    }

    /// The text, when the base64 is valid UTF-8.
    pub fn decode(&self) -> Option<String> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .ok()?;
        String::from_utf8(bytes).ok()
    }
}

impl fmt::Debug for UserVisibleData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserVisibleData({} base64 chars)", self.0.len())
    }
}

/// `userVisibleDataFormat`: how the app renders `userVisibleData`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum UserVisibleDataFormat {
    #[serde(rename = "simpleMarkdownV1")]
    SimpleMarkdownV1,
}

/// `requirement.cardReader`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CardReader {
    Class1,
    Class2,
}

/// `requirement`: conditions the user's BankID must meet.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Requirement {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin_code: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mrtd: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_reader: Option<CardReader>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_policies: Option<Vec<String>>,
    /// Only this person may complete the order. Not needed for login: BankID advises against
    /// asking users to type their number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_number: Option<Personnummer>,
}

/// `web`: about the browser the user started from (helps BankID's risk assessment).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct WebContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referring_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_identifier: Option<String>,
}

/// `app`: about the native app the user started from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AppContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_os: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_model_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_identifier: Option<String>,
}

/// The body of `/auth`. Build with [`AuthRequest::new`] and set what you need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AuthRequest {
    /// The end user's IP as the RP sees it (behind a proxy: from the trusted forwarding header).
    pub end_user_ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<Requirement>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data: Option<UserVisibleData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_non_visible_data: Option<UserVisibleData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data_format: Option<UserVisibleDataFormat>,
    /// Where the app sends the user when done (1–512 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    /// Ask for `completionData.risk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_risk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppContext>,
}

impl AuthRequest {
    pub fn new(end_user_ip: IpAddr) -> Self {
        AuthRequest {
            end_user_ip,
            requirement: None,
            user_visible_data: None,
            user_non_visible_data: None,
            user_visible_data_format: None,
            return_url: None,
            return_risk: None,
            web: None,
            app: None,
        }
    }
}

/// The body of `/sign`: like `/auth`, but what the user signs is required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SignRequest {
    pub end_user_ip: IpAddr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requirement: Option<Requirement>,
    pub user_visible_data: UserVisibleData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_non_visible_data: Option<UserVisibleData>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_visible_data_format: Option<UserVisibleDataFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_risk: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<WebContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app: Option<AppContext>,
}

impl SignRequest {
    pub fn new(end_user_ip: IpAddr, user_visible_data: UserVisibleData) -> Self {
        SignRequest {
            end_user_ip,
            requirement: None,
            user_visible_data,
            user_non_visible_data: None,
            user_visible_data_format: None,
            return_url: None,
            return_risk: None,
            web: None,
            app: None,
        }
    }
}

/// The answer to `/auth` and `/sign`. Keep `qr_start_secret` on the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct OrderResponse {
    pub order_ref: OrderRef,
    pub auto_start_token: AutoStartToken,
    pub qr_start_token: QrStartToken,
    pub qr_start_secret: QrStartSecret,
}

impl OrderResponse {
    pub fn new(
        order_ref: OrderRef,
        auto_start_token: AutoStartToken,
        qr_start_token: QrStartToken,
        qr_start_secret: QrStartSecret,
    ) -> Self {
        OrderResponse {
            order_ref,
            auto_start_token,
            qr_start_token,
            qr_start_secret,
        }
    }
}

/// The body of `/collect` and `/cancel`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderRefRequest {
    pub order_ref: OrderRef,
}

/// `status` in a collect answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Pending,
    Failed,
    Complete,
}

/// `hintCode` in a collect answer. Codes this version does not know are kept as
/// [`HintCode::Unknown`] and shown as "in progress" (pending) or "unknown error" (failed).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HintCode {
    // pending
    OutstandingTransaction,
    NoClient,
    Started,
    UserMrtd,
    UserCallConfirm,
    UserSign,
    // failed
    ExpiredTransaction,
    CertificateErr,
    UserCancel,
    Cancelled,
    StartFailed,
    UserDeclinedCall,
    NotSupportedByUserApp,
    TransactionRiskBlocked,
    Unknown(String),
}

impl HintCode {
    pub fn as_str(&self) -> &str {
        match self {
            HintCode::OutstandingTransaction => "outstandingTransaction",
            HintCode::NoClient => "noClient",
            HintCode::Started => "started",
            HintCode::UserMrtd => "userMrtd",
            HintCode::UserCallConfirm => "userCallConfirm",
            HintCode::UserSign => "userSign",
            HintCode::ExpiredTransaction => "expiredTransaction",
            HintCode::CertificateErr => "certificateErr",
            HintCode::UserCancel => "userCancel",
            HintCode::Cancelled => "cancelled",
            HintCode::StartFailed => "startFailed",
            HintCode::UserDeclinedCall => "userDeclinedCall",
            HintCode::NotSupportedByUserApp => "notSupportedByUserApp",
            HintCode::TransactionRiskBlocked => "transactionRiskBlocked",
            HintCode::Unknown(code) => code,
        }
    }

    pub fn parse(code: &str) -> HintCode {
        match code {
            "outstandingTransaction" => HintCode::OutstandingTransaction,
            "noClient" => HintCode::NoClient,
            "started" => HintCode::Started,
            "userMrtd" => HintCode::UserMrtd,
            "userCallConfirm" => HintCode::UserCallConfirm,
            "userSign" => HintCode::UserSign,
            "expiredTransaction" => HintCode::ExpiredTransaction,
            "certificateErr" => HintCode::CertificateErr,
            "userCancel" => HintCode::UserCancel,
            "cancelled" => HintCode::Cancelled,
            "startFailed" => HintCode::StartFailed,
            "userDeclinedCall" => HintCode::UserDeclinedCall,
            "notSupportedByUserApp" => HintCode::NotSupportedByUserApp,
            "transactionRiskBlocked" => HintCode::TransactionRiskBlocked,
            other => HintCode::Unknown(other.to_owned()),
        }
    }
}

impl fmt::Display for HintCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for HintCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for HintCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Ok(HintCode::parse(&code))
    }
}

/// The answer to `/collect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct CollectResponse {
    pub order_ref: OrderRef,
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint_code: Option<HintCode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_data: Option<CompletionData>,
}

impl CollectResponse {
    pub fn pending(order_ref: OrderRef, hint_code: HintCode) -> Self {
        CollectResponse {
            order_ref,
            status: Status::Pending,
            hint_code: Some(hint_code),
            completion_data: None,
        }
    }

    pub fn failed(order_ref: OrderRef, hint_code: HintCode) -> Self {
        CollectResponse {
            order_ref,
            status: Status::Failed,
            hint_code: Some(hint_code),
            completion_data: None,
        }
    }

    pub fn complete(order_ref: OrderRef, completion_data: CompletionData) -> Self {
        CollectResponse {
            order_ref,
            status: Status::Complete,
            hint_code: None,
            completion_data: Some(completion_data),
        }
    }

    /// The message to show while pending or after failure; `None` once complete.
    pub fn rfa(&self, flow: UserDevice) -> Option<RfaCode> {
        let hint = self.hint_code.as_ref();
        match self.status {
            Status::Pending => Some(rfa(flow, Outcome::Pending(hint))),
            Status::Failed => Some(rfa(flow, Outcome::Failed(hint))),
            Status::Complete => None,
        }
    }
}

/// `completionData`: who the user is and the proof of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", from = "CompletionDataWire")]
#[non_exhaustive]
pub struct CompletionData {
    pub user: User,
    pub device: Device,
    /// `YYYY-MM-DD`, kept as BankID sends it.
    pub bank_id_issue_date: String,
    /// Present when extra verification was required (`requirement.mrtd`). Read from `stepUp`
    /// or, as BankID's own sample writes it, `setUp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step_up: Option<StepUp>,
    /// Base64 of the signature XML.
    pub signature: String,
    /// Base64 of the OCSP response.
    pub ocsp_response: String,
    /// Present when `returnRisk` was asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk: Option<Risk>,
}

impl CompletionData {
    pub fn new(
        user: User,
        device: Device,
        bank_id_issue_date: String,
        signature: String,
        ocsp_response: String,
    ) -> Self {
        CompletionData {
            user,
            device,
            bank_id_issue_date,
            step_up: None,
            signature,
            ocsp_response,
            risk: None,
        }
    }
}

/// Reads both spellings of `stepUp`; serde's `alias` would refuse a body that has both.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CompletionDataWire {
    user: User,
    device: Device,
    bank_id_issue_date: String,
    #[serde(default)]
    step_up: Option<StepUp>,
    #[serde(default, rename = "setUp")]
    set_up: Option<StepUp>,
    signature: String,
    ocsp_response: String,
    #[serde(default)]
    risk: Option<Risk>,
}

impl From<CompletionDataWire> for CompletionData {
    fn from(wire: CompletionDataWire) -> Self {
        CompletionData {
            user: wire.user,
            device: wire.device,
            bank_id_issue_date: wire.bank_id_issue_date,
            step_up: wire.step_up.or(wire.set_up),
            signature: wire.signature,
            ocsp_response: wire.ocsp_response,
            risk: wire.risk,
        }
    }
}

/// `completionData.user`. `Debug` masks the number and hides the names.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct User {
    pub personal_number: Personnummer,
    pub name: String,
    pub given_name: String,
    pub surname: String,
}

impl User {
    pub fn new(personal_number: Personnummer, given_name: &str, surname: &str) -> Self {
        User {
            personal_number,
            name: format!("{given_name} {surname}"),
            given_name: given_name.to_owned(),
            surname: surname.to_owned(),
        }
    }
}

impl fmt::Debug for User {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("User")
            .field("personal_number", &self.personal_number)
            .field("name", &"[redacted]")
            .finish()
    }
}

/// `completionData.device`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Device {
    pub ip_address: String,
    /// A unique hardware identifier of the user's device.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uhi: Option<String>,
}

impl Device {
    pub fn new(ip_address: String, uhi: Option<String>) -> Self {
        Device { ip_address, uhi }
    }
}

/// `completionData.stepUp`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct StepUp {
    /// The user's ID document (MRTD) was checked.
    #[serde(default)]
    pub mrtd: bool,
}

impl StepUp {
    pub fn new(mrtd: bool) -> Self {
        StepUp { mrtd }
    }
}

/// `completionData.risk` (with `returnRisk`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Risk {
    Low,
    Moderate,
    High,
    Unknown(String),
}

impl Risk {
    pub fn as_str(&self) -> &str {
        match self {
            Risk::Low => "low",
            Risk::Moderate => "moderate",
            Risk::High => "high",
            Risk::Unknown(level) => level,
        }
    }
}

impl Serialize for Risk {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Risk {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let level = String::deserialize(deserializer)?;
        Ok(match level.as_str() {
            "low" => Risk::Low,
            "moderate" => Risk::Moderate,
            "high" => Risk::High,
            _ => Risk::Unknown(level),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ORDER: &str = "131daac9-16c6-4618-beb0-365768f37288";

    fn completion(step_up_key: &str) -> serde_json::Value {
        json!({
            "orderRef": ORDER,
            "status": "complete",
            "completionData": {
                "user": {"personalNumber": "199001012385", "name": "Tess Testsson",
                         "givenName": "Tess", "surname": "Testsson"},
                "device": {"ipAddress": "192.0.2.10", "uhi": "OZvYM9VvyiAmG7NA5jU5zqGcVpo=",
                           "somethingNew": 1},
                "bankIdIssueDate": "2023-01-31",
                step_up_key: {"mrtd": true},
                "signature": "PHhtbD48L3htbD4=",
                "ocspResponse": "MIIHfgoBAKCCB3c=",
                "risk": "moderate",
                "futureField": {"x": [1, 2]}
            }
        })
    }

    #[test]
    fn completion_data_reads_step_up_under_both_keys() {
        for key in ["stepUp", "setUp"] {
            let parsed: CollectResponse =
                serde_json::from_value(completion(key)).expect("complete answer parses");
            let data = parsed.completion_data.expect("completion data");
            assert_eq!(data.step_up, Some(StepUp { mrtd: true }), "key {key}");
            assert_eq!(data.user.personal_number.expose(), "199001012385");
            assert_eq!(data.risk, Some(Risk::Moderate));
            assert_eq!(
                data.device.uhi.as_deref(),
                Some("OZvYM9VvyiAmG7NA5jU5zqGcVpo=")
            );
        }
    }

    #[test]
    fn completion_data_with_both_step_up_keys_prefers_step_up() {
        let mut body = completion("stepUp");
        body["completionData"]["setUp"] = json!({"mrtd": false});
        let parsed: CollectResponse = serde_json::from_value(body).expect("parses");
        let step_up = parsed.completion_data.and_then(|data| data.step_up);
        assert_eq!(step_up, Some(StepUp { mrtd: true }));
    }

    #[test]
    fn completion_data_writes_step_up() {
        let parsed: CollectResponse = serde_json::from_value(completion("setUp")).expect("parses");
        let written = serde_json::to_value(&parsed).expect("serializes");
        assert_eq!(written["completionData"]["stepUp"], json!({"mrtd": true}));
        assert!(written["completionData"].get("setUp").is_none());
    }

    #[test]
    fn unknown_hint_codes_and_fields_do_not_fail() {
        let pending: CollectResponse = serde_json::from_value(json!({
            "orderRef": ORDER, "status": "pending", "hintCode": "brandNewPendingCode", "extra": true
        }))
        .expect("unknown pending hint parses");
        assert_eq!(
            pending.hint_code,
            Some(HintCode::Unknown("brandNewPendingCode".into()))
        );
        assert_eq!(pending.rfa(UserDevice::OtherDevice), Some(RfaCode::Rfa21));

        let failed: CollectResponse = serde_json::from_value(json!({
            "orderRef": ORDER, "status": "failed", "hintCode": "brandNewFailure"
        }))
        .expect("unknown failed hint parses");
        assert_eq!(failed.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa22));

        let bare: CollectResponse =
            serde_json::from_value(json!({"orderRef": ORDER, "status": "pending"}))
                .expect("pending without hint parses");
        assert_eq!(bare.rfa(UserDevice::ThisDevice), Some(RfaCode::Rfa21));
    }

    #[test]
    fn unknown_risk_level_is_kept() {
        let mut body = completion("stepUp");
        body["completionData"]["risk"] = json!("extreme");
        let parsed: CollectResponse = serde_json::from_value(body).expect("parses");
        let risk = parsed.completion_data.and_then(|data| data.risk);
        assert_eq!(risk, Some(Risk::Unknown("extreme".into())));
    }

    #[test]
    fn hint_codes_round_trip() {
        for code in [
            "outstandingTransaction",
            "noClient",
            "started",
            "userMrtd",
            "userCallConfirm",
            "userSign",
            "expiredTransaction",
            "certificateErr",
            "userCancel",
            "cancelled",
            "startFailed",
            "userDeclinedCall",
            "notSupportedByUserApp",
            "transactionRiskBlocked",
        ] {
            let hint = HintCode::parse(code);
            assert!(!matches!(hint, HintCode::Unknown(_)), "{code} is known");
            assert_eq!(hint.as_str(), code);
        }
    }

    #[test]
    fn auth_request_is_camel_case_and_omits_absent_options() {
        let mut request = AuthRequest::new("192.0.2.10".parse().expect("ip"));
        request.user_visible_data =
            Some(UserVisibleData::new("Logga in på *Mina sidor*").expect("text"));
        request.user_visible_data_format = Some(UserVisibleDataFormat::SimpleMarkdownV1);
        request.return_url = Some("https://example.se/back".into());
        request.return_risk = Some(true);
        request.requirement = Some(Requirement {
            pin_code: Some(true),
            personal_number: Some(Personnummer::parse("199001012385").expect("valid")),
            ..Requirement::default()
        });
        let body = serde_json::to_value(&request).expect("serializes");
        assert_eq!(
            body,
            json!({
                "endUserIp": "192.0.2.10",
                "requirement": {"pinCode": true, "personalNumber": "199001012385"},
                "userVisibleData": "TG9nZ2EgaW4gcMOlICpNaW5hIHNpZG9yKg==",
                "userVisibleDataFormat": "simpleMarkdownV1",
                "returnUrl": "https://example.se/back",
                "returnRisk": true
            })
        );
    }

    #[test]
    fn order_response_reads_bankid_answer() {
        let parsed: OrderResponse = serde_json::from_value(json!({
            "orderRef": ORDER,
            "autoStartToken": "7c40b5c9-fa74-49cf-b98c-bfe651f9a7c6",
            "qrStartToken": "67df3917-fa0d-44e5-b327-edcc928297f8",
            "qrStartSecret": "d28db9a7-4cde-429e-a983-359be676944c"
        }))
        .expect("parses");
        assert_eq!(parsed.order_ref.to_string(), ORDER);
        assert!(!format!("{parsed:?}").contains("d28db9a7"));
    }

    #[test]
    fn user_debug_hides_names_and_digits() {
        let user = User::new(
            Personnummer::parse("199001012385").expect("valid"),
            "Tess",
            "Testsson",
        );
        let debug = format!("{user:?}");
        assert!(
            !debug.contains("Tess") && !debug.contains("2385"),
            "{debug}"
        );
    }
}
