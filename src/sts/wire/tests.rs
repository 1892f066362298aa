use super::*;

const FORM: Option<&[u8]> = Some(b"application/x-www-form-urlencoded; charset=utf-8");

fn post(body: &str) -> Result<(Action, Params), StsError> {
    Params::parse("POST", "/", FORM, body.as_bytes())
}

fn refusal(result: Result<(Action, Params), StsError>) -> (&'static str, String) {
    let e = result.unwrap_err();
    (e.code().as_str(), e.message().to_owned())
}

#[test]
fn a_botocore_form_is_read_with_plus_as_space_and_escapes() {
    let (action, params) = post(
        "Action=AssumeRoleWithWebIdentity&Version=2011-06-15\
         &RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2Fapp\
         &RoleSessionName=a+b%2Bc&Policy=%7B%22x%22%3A%C3%A9%7D&Empty=&Bare",
    )
    .unwrap();
    assert_eq!(action, Action::AssumeRoleWithWebIdentity);
    assert_eq!(
        params.get("RoleArn"),
        Some("arn:aws:iam::111122223333:role/app")
    );
    assert_eq!(params.get("RoleSessionName"), Some("a b+c"));
    assert_eq!(params.get("Policy"), Some("{\"x\":é}"));
    assert_eq!(params.get("Empty"), Some(""));
    assert_eq!(params.get("Bare"), Some(""));
    assert_eq!(params.get("Missing"), None);
    assert_eq!(params.len(), 7);
}

#[test]
fn a_get_query_is_read_and_a_post_reads_both_parts() {
    let (action, params) = Params::parse(
        "GET",
        "/sts?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60",
        None,
        b"",
    )
    .unwrap();
    assert_eq!(action, Action::GetCallerIdentity);
    assert_eq!(params.get("X-Amz-Expires"), Some("60"));

    let (action, params) = Params::parse(
        "POST",
        "/sts?Version=2011-06-15",
        FORM,
        b"Action=AssumeRole&RoleArn=r",
    )
    .unwrap();
    assert_eq!(action, Action::AssumeRole);
    assert_eq!(params.get("RoleArn"), Some("r"));
}

#[test]
fn a_get_body_and_a_post_body_of_another_type_are_not_read() {
    let body = b"Action=GetCallerIdentity&Version=2011-06-15";
    assert_eq!(
        refusal(Params::parse("GET", "/", FORM, body)),
        (
            "MissingAction",
            "The request must contain the parameter Action".into()
        )
    );
    for content_type in [
        None,
        Some(&b"text/plain"[..]),
        Some(&b"application/json"[..]),
    ] {
        assert_eq!(
            refusal(Params::parse("POST", "/", content_type, body)).0,
            "MissingAction",
            "{content_type:?}"
        );
    }
    // The media type is matched without case and parameters.
    assert!(
        Params::parse(
            "POST",
            "/",
            Some(b" Application/X-WWW-Form-Urlencoded "),
            body
        )
        .is_ok()
    );
}

#[test]
fn a_name_given_twice_is_refused_wherever_it_is() {
    let twice = "The parameter RoleArn appears more than once in the request";
    assert_eq!(
        refusal(post(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=a&RoleArn=b"
        )),
        ("ValidationError", twice.into())
    );
    assert_eq!(
        refusal(Params::parse(
            "POST",
            "/?RoleArn=a",
            FORM,
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=a"
        )),
        ("ValidationError", twice.into())
    );
    // Decoded names are compared: `Role%41rn` is `RoleArn`.
    assert_eq!(
        refusal(post(
            "Action=AssumeRole&Version=2011-06-15&RoleArn=a&Role%41rn=b"
        )),
        ("ValidationError", twice.into())
    );
}

#[test]
fn bad_escapes_and_non_utf8_are_refused() {
    let escape = "The request parameters are not valid form encoding: a % is not followed by two hexadecimal digits";
    for body in ["Action=A%", "Action=A%4", "Action=%G1", "Act%zzion=x"] {
        assert_eq!(
            refusal(post(body)),
            ("ValidationError", escape.into()),
            "{body}"
        );
    }
    assert_eq!(
        refusal(post("Action=%FF%FE&Version=2011-06-15")),
        (
            "ValidationError",
            "The request parameters are not valid form encoding: a name or value is not UTF-8"
                .into()
        )
    );
}

#[test]
fn too_many_pairs_are_refused() {
    let mut body = String::from("Action=GetCallerIdentity&Version=2011-06-15");
    for i in 0..MAX_PARAMS - 2 {
        body.push_str(&format!("&P{i}=x"));
    }
    assert_eq!(post(&body).unwrap().1.len(), MAX_PARAMS);
    body.push_str("&One=more");
    assert_eq!(
        refusal(post(&body)),
        (
            "ValidationError",
            "The request has more than 512 parameters".into()
        )
    );
}

#[test]
fn version_and_action_are_checked_in_aws_order_with_aws_texts() {
    let cases = [
        (
            "Version=2011-06-15",
            "MissingAction",
            "The request must contain the parameter Action",
        ),
        (
            "Action=GetCallerIdentity",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version NO_VERSION_SPECIFIED",
        ),
        (
            "Action=GetCallerIdentity&Version=2000-01-01",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version 2000-01-01",
        ),
        (
            "Action=GetCallerIdentity&Version=",
            "InvalidAction",
            "Could not find operation GetCallerIdentity for version ",
        ),
        (
            "Action=NoSuchAction&Version=2011-06-15",
            "InvalidAction",
            "Could not find operation NoSuchAction for version 2011-06-15",
        ),
        (
            "Action=getcalleridentity&Version=2011-06-15",
            "InvalidAction",
            "Could not find operation getcalleridentity for version 2011-06-15",
        ),
        (
            "Action=&Version=2011-06-15",
            "InvalidAction",
            "Could not find operation  for version 2011-06-15",
        ),
    ];
    for (body, code, message) in cases {
        assert_eq!(refusal(post(body)), (code, message.into()), "{body}");
    }
}

#[test]
fn only_get_and_post_are_served() {
    for method in ["PUT", "DELETE", "HEAD", "get"] {
        assert_eq!(
            refusal(Params::parse(
                method,
                "/?Action=GetCallerIdentity&Version=2011-06-15",
                None,
                b""
            )),
            (
                "MethodNotAllowed",
                "Only GET and POST requests are supported".into()
            )
        );
    }
}

#[test]
fn lists_are_read_by_index_not_by_text_order() {
    let (_, params) = post(
        "Action=AssumeRole&Version=2011-06-15\
         &Tags.member.10.Key=k10&Tags.member.10.Value=v10\
         &Tags.member.2.Key=k2&Tags.member.2.Value=v2\
         &Tags.member.1.Key=k1\
         &Tags.member.0.Key=zero&Tags.member.01.Key=lead&Tags.member.x.Key=x\
         &TransitiveTagKeys.member.2=b&TransitiveTagKeys.member.1=a&TagsX.member.1.Key=other",
    )
    .unwrap();
    let tags = params.list("Tags");
    let read: Vec<(u32, Option<&str>, Option<&str>)> = tags
        .iter()
        .map(|m| (m.index, m.field("Key"), m.field("Value")))
        .collect();
    assert_eq!(
        read,
        [
            (1, Some("k1"), None),
            (2, Some("k2"), Some("v2")),
            (10, Some("k10"), Some("v10")),
        ]
    );
    let keys: Vec<Option<&str>> = params
        .list("TransitiveTagKeys")
        .iter()
        .map(ListMember::value)
        .collect();
    assert_eq!(keys, [Some("a"), Some("b")]);
    assert!(params.list("PolicyArns").is_empty());
}

#[test]
fn debug_shows_names_never_values() {
    let (_, params) =
        post("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&WebIdentityToken=eyJsecret")
            .unwrap();
    let debug = format!("{params:?}");
    assert_eq!(debug, r#"{"Action", "Version", "WebIdentityToken"}"#);
    let list = post("Action=AssumeRole&Version=2011-06-15&Tags.member.1.Key=secretkey")
        .unwrap()
        .1;
    let debug = format!("{:?}", list.list("Tags"));
    assert!(!debug.contains("secretkey"), "{debug}");
}

#[test]
fn actions_round_trip_through_their_names() {
    for action in Action::ALL {
        assert_eq!(Action::from_name(action.as_str()), Some(action));
    }
    assert_eq!(
        Action::ALL.map(Action::as_str),
        [
            "AssumeRoleWithWebIdentity",
            "AssumeRole",
            "GetCallerIdentity"
        ]
    );
}
