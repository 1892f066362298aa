use super::*;
use crate::sts::wire::Params;

const ROLE: &str = "arn:aws:iam::111122223333:role/app";

fn params(body: &str) -> Params {
    let form: Option<&[u8]> = Some(b"application/x-www-form-urlencoded");
    Params::parse("POST", "/", form, body.as_bytes()).unwrap().1
}

fn web(extra: &str) -> Result<WebIdentityInput, StsError> {
    WebIdentityInput::from_params(&params(&format!(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15{extra}"
    )))
}

fn assume(extra: &str) -> Result<AssumeRoleInput, StsError> {
    AssumeRoleInput::from_params(&params(&format!(
        "Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE}&RoleSessionName=s1{extra}"
    )))
}

fn message<T: fmt::Debug>(result: Result<T, StsError>) -> String {
    let e = result.unwrap_err();
    assert_eq!(e.code(), crate::sts::ErrorCode::ValidationError);
    e.message().to_owned()
}

#[test]
fn a_botocore_web_identity_call_is_read_with_the_token_trimmed() {
    let input = web(&format!(
        "&RoleArn={ROLE}&RoleSessionName=botocore-session-1767225600\
         &WebIdentityToken=eyJhbGciOi.eyJzdWIi.c2ln%0A"
    ))
    .unwrap();
    assert_eq!(
        input,
        WebIdentityInput {
            role_arn: ROLE.into(),
            role_session_name: "botocore-session-1767225600".into(),
            web_identity_token: "eyJhbGciOi.eyJzdWIi.c2ln".into(),
            duration_seconds: None,
            provider_id: None,
            policy: None,
            policy_arns: Vec::new(),
        }
    );
    let debug = format!("{input:?}");
    assert!(
        !debug.contains("eyJ") && debug.contains("web_identity_token: \"** redacted **\""),
        "{debug}"
    );
}

#[test]
fn every_optional_web_identity_member_is_read() {
    let input = web(&format!(
        "&RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=abcd&DurationSeconds=900\
         &ProviderId=www.amazon.com&Policy=%7B%7D\
         &PolicyArns.member.1.arn=arn:aws:iam::aws:policy/ReadOnly\
         &PolicyArns.member.2.arn=arn:aws:iam::aws:policy/Other"
    ))
    .unwrap();
    assert_eq!(input.duration_seconds, Some(900));
    assert_eq!(input.provider_id.as_deref(), Some("www.amazon.com"));
    assert_eq!(input.policy.as_deref(), Some("{}"));
    assert_eq!(
        input.policy_arns,
        [
            "arn:aws:iam::aws:policy/ReadOnly",
            "arn:aws:iam::aws:policy/Other"
        ]
    );
}

#[test]
fn missing_required_members_are_all_reported_as_null() {
    assert_eq!(
        message(web("")),
        "3 validation errors detected: \
         Value null at 'roleArn' failed to satisfy constraint: Member must not be null; \
         Value null at 'roleSessionName' failed to satisfy constraint: Member must not be null; \
         Value null at 'webIdentityToken' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn session_name_rules_have_aws_texts() {
    let cases = [
        (
            "a%2Fb",
            r"1 validation error detected: Value 'a/b' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ),
        (
            "a",
            "1 validation error detected: Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2",
        ),
        (
            "/",
            r"2 validation errors detected: Value '/' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2; Value '/' at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\w+=,.@-]*",
        ),
    ];
    for (name, expected) in cases {
        assert_eq!(
            message(web(&format!(
                "&RoleArn={ROLE}&RoleSessionName={name}&WebIdentityToken=abcd"
            ))),
            expected
        );
    }
    let long = "x".repeat(65);
    assert_eq!(
        message(web(&format!(
            "&RoleArn={ROLE}&RoleSessionName={long}&WebIdentityToken=abcd"
        ))),
        format!(
            "1 validation error detected: Value '{long}' at 'roleSessionName' failed to satisfy constraint: Member must have length less than or equal to 64"
        )
    );
    // Every character class member is accepted; 64 is the maximum.
    let ok = format!("Az09_+=,.@-{}", "y".repeat(53));
    let input = web(&format!(
        "&RoleArn={ROLE}&RoleSessionName={}&WebIdentityToken=abcd",
        ok.replace('+', "%2B")
            .replace(',', "%2C")
            .replace('=', "%3D")
            .replace('@', "%40")
    ))
    .unwrap();
    assert_eq!(input.role_session_name, ok);
}

#[test]
fn sensitive_values_are_never_echoed() {
    let text = message(web(&format!(
        "&RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=ab%0A&Policy=%01secret"
    )));
    assert_eq!(
        text,
        r"2 validation errors detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length greater than or equal to 4; Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+"
    );
    let token = "t".repeat(20_001);
    assert_eq!(
        message(web(&format!(
            "&RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken={token}"
        ))),
        "1 validation error detected: Value at 'webIdentityToken' failed to satisfy constraint: Member must have length less than or equal to 20000"
    );
    assert_eq!(
        message(assume(
            "&TokenCode=12345a&SerialNumber=arn:aws:iam::111122223333:mfa/u"
        )),
        r"1 validation error detected: Value at 'tokenCode' failed to satisfy constraint: Member must satisfy regular expression pattern: [\d]*"
    );
}

#[test]
fn web_identity_policy_is_capped_at_2048_and_assume_role_policy_is_not() {
    let big = "a".repeat(2049);
    assert_eq!(
        message(web(&format!(
            "&RoleArn={ROLE}&RoleSessionName=s1&WebIdentityToken=abcd&Policy={big}"
        ))),
        "1 validation error detected: Value at 'policy' failed to satisfy constraint: Member must have length less than or equal to 2048"
    );
    assert_eq!(assume(&format!("&Policy={big}")).unwrap().policy, Some(big));
    assert_eq!(
        message(assume("&Policy=")),
        r"2 validation errors detected: Value at 'policy' failed to satisfy constraint: Member must have length greater than or equal to 1; Value at 'policy' failed to satisfy constraint: Member must satisfy regular expression pattern: [\u0009\u000A\u000D\u0020-\u00FF]+"
    );
}

#[test]
fn duration_is_an_integer_from_900_to_43200() {
    let cases = [
        (
            "899",
            "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        ),
        (
            "43201",
            "Value '43201' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
        ),
        (
            "99999999999999999999999",
            "Value '99999999999999999999999' at 'durationSeconds' failed to satisfy constraint: Member must have value less than or equal to 43200",
        ),
        (
            "-5",
            "Value '-5' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900",
        ),
        (
            "1h",
            "Value '1h' at 'durationSeconds' failed to satisfy constraint: Member must be an integer",
        ),
        (
            "",
            "Value '' at 'durationSeconds' failed to satisfy constraint: Member must be an integer",
        ),
    ];
    for (value, error) in cases {
        assert_eq!(
            message(assume(&format!("&DurationSeconds={value}"))),
            format!("1 validation error detected: {error}"),
            "{value}"
        );
    }
    assert_eq!(
        assume("&DurationSeconds=43200").unwrap().duration_seconds,
        Some(43_200)
    );
    assert_eq!(
        assume("&DurationSeconds=%2B900").unwrap().duration_seconds,
        Some(900)
    );
}

#[test]
fn role_arn_and_provider_lengths_and_characters() {
    assert_eq!(
        message(web(
            "&RoleArn=arn:aws:iam::1:r&RoleSessionName=s1&WebIdentityToken=abcd&ProviderId=abc"
        )),
        "2 validation errors detected: \
         Value 'arn:aws:iam::1:r' at 'roleArn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
         Value 'abc' at 'providerId' failed to satisfy constraint: Member must have length greater than or equal to 4"
    );
    assert_eq!(
        message(web(&format!(
            "&RoleArn={ROLE}%01&RoleSessionName=s1&WebIdentityToken=abcd"
        ))),
        format!(
            "1 validation error detected: Value '{ROLE}\u{1}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\u0009\\u000A\\u000D\\u0020-\\u007E\\u0085\\u00A0-\\uD7FF\\uE000-\\uFFFD\\u10000-\\u10FFFF]+"
        )
    );
}

#[test]
fn policy_arns_are_at_most_ten_and_each_is_an_arn() {
    let mut eleven = String::new();
    for i in 1..=11 {
        eleven.push_str(&format!(
            "&PolicyArns.member.{i}.arn=arn:aws:iam::aws:policy/P{i}"
        ));
    }
    assert_eq!(
        message(assume(&eleven)),
        "1 validation error detected: Value at 'policyArns' failed to satisfy constraint: Member must have length less than or equal to 10"
    );
    assert_eq!(
        message(assume(
            "&PolicyArns.member.1.arn=short&PolicyArns.member.2.other=x"
        )),
        "2 validation errors detected: \
         Value 'short' at 'policyArns.1.member.arn' failed to satisfy constraint: Member must have length greater than or equal to 20; \
         Value null at 'policyArns.2.member.arn' failed to satisfy constraint: Member must not be null"
    );
    // botocore's empty list.
    assert!(assume("&PolicyArns=").unwrap().policy_arns.is_empty());
}

#[test]
fn tags_are_read_and_checked() {
    let input = assume(
        "&Tags.member.1.Key=Project&Tags.member.1.Value=Auto+mation\
         &Tags.member.2.Key=%C3%A9t%C3%A9_1%3A%2F%3D%2B-%40.&Tags.member.2.Value=\
         &TransitiveTagKeys.member.1=Project",
    )
    .unwrap();
    assert_eq!(
        input.tags,
        [
            ("Project".to_owned(), "Auto mation".to_owned()),
            ("été_1:/=+-@.".to_owned(), String::new()),
        ]
    );
    assert_eq!(input.transitive_tag_keys, ["Project"]);

    let long_value = "v".repeat(257);
    let key_pattern = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
    let value_pattern = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]*";
    assert_eq!(
        message(assume(&format!(
            "&Tags.member.1.Key=a%2Ab&Tags.member.1.Value={long_value}\
             &Tags.member.2.Value=x&Tags.member.3.Key=&Tags.member.3.Value=%23\
             &TransitiveTagKeys.member.1=%21"
        ))),
        format!(
            "7 validation errors detected: \
             Value 'a*b' at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: {key_pattern}; \
             Value '{long_value}' at 'tags.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 256; \
             Value null at 'tags.2.member.key' failed to satisfy constraint: Member must not be null; \
             Value '' at 'tags.3.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value '' at 'tags.3.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern: {key_pattern}; \
             Value '#' at 'tags.3.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: {value_pattern}; \
             Value '!' at 'transitiveTagKeys.1.member' failed to satisfy constraint: Member must satisfy regular expression pattern: {key_pattern}"
        )
    );

    let mut many = String::new();
    for i in 1..=51 {
        many.push_str(&format!(
            "&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value=v"
        ));
    }
    assert_eq!(
        message(assume(&many)),
        "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length less than or equal to 50"
    );
}

#[test]
fn assume_role_strings_have_their_own_rules() {
    let input = assume(
        "&ExternalId=ext%3A%2Fid&SerialNumber=arn:aws:iam::111122223333:mfa/user\
         &TokenCode=123456&SourceIdentity=alice@example.com",
    )
    .unwrap();
    assert_eq!(input.external_id.as_deref(), Some("ext:/id"));
    assert_eq!(input.token_code.as_deref(), Some("123456"));
    assert_eq!(input.source_identity.as_deref(), Some("alice@example.com"));
    let debug = format!("{input:?}");
    assert!(!debug.contains("123456"), "{debug}");

    assert_eq!(
        message(assume(
            "&ExternalId=x&SerialNumber=short&TokenCode=1234567&SourceIdentity=aws:x"
        )),
        "4 validation errors detected: \
         Value 'x' at 'externalId' failed to satisfy constraint: Member must have length greater than or equal to 2; \
         Value 'short' at 'serialNumber' failed to satisfy constraint: Member must have length greater than or equal to 9; \
         Value at 'tokenCode' failed to satisfy constraint: Member must have length less than or equal to 6; \
         Value 'aws:x' at 'sourceIdentity' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*"
    );
}

#[test]
fn lengths_count_utf16_units_as_aws_does() {
    // U+1F600 is two UTF-16 units: 33 of them are 66 units, over 64 (and outside the
    // pattern, the second error).
    let name = "\u{1F600}".repeat(33);
    let encoded: String = name.bytes().map(|b| format!("%{b:02X}")).collect();
    let text = message(web(&format!(
        "&RoleArn={ROLE}&RoleSessionName={encoded}&WebIdentityToken=abcd"
    )));
    assert!(
        text.starts_with("2 validation errors detected: ")
            && text.contains("Member must have length less than or equal to 64"),
        "{text}"
    );
}
