use super::*;
use crate::sts::ErrorCode;

const ID: &str = "5f0c1f8e-3b1d-4a57-9a7e-0c2b7d5e1a11";

fn assumed(web: bool) -> AssumedRole {
    AssumedRole {
        credentials: IssuedCredentials {
            access_key_id: "ASIAEXAMPLE7Q2M4K6ZB".into(),
            secret_access_key: Zeroizing::new("wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY".into()),
            session_token: "AQoDYXdzEPT//////////wEXAMPLE+/=".into(),
            // 2026-01-01T01:00:00Z
            expiration: 1_767_229_200,
        },
        arn: "arn:aws:sts::111122223333:assumed-role/app/botocore-session-1767225600".into(),
        assumed_role_id: "AROAEXAMPLEAPPROLE01:botocore-session-1767225600".into(),
        packed_policy_size: None,
        source_identity: None,
        subject_from_web_identity_token: web.then(|| "system:serviceaccount:shop:app".into()),
        audience: web.then(|| "sts.amazonaws.com".into()),
        provider: web.then(|| {
            "arn:aws:iam::111122223333:oidc-provider/oidc.example.internal/cluster-a".into()
        }),
    }
}

#[test]
fn a_web_identity_answer_has_every_member() {
    let xml = render_answer(
        Action::AssumeRoleWithWebIdentity,
        &Answer::AssumedRole(assumed(true)),
        ID,
    )
    .unwrap();
    assert_eq!(
        xml,
        "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
        \x20 <AssumeRoleWithWebIdentityResult>\n\
        \x20   <SubjectFromWebIdentityToken>system:serviceaccount:shop:app</SubjectFromWebIdentityToken>\n\
        \x20   <Audience>sts.amazonaws.com</Audience>\n\
        \x20   <AssumedRoleUser>\n\
        \x20     <Arn>arn:aws:sts::111122223333:assumed-role/app/botocore-session-1767225600</Arn>\n\
        \x20     <AssumedRoleId>AROAEXAMPLEAPPROLE01:botocore-session-1767225600</AssumedRoleId>\n\
        \x20   </AssumedRoleUser>\n\
        \x20   <Credentials>\n\
        \x20     <AccessKeyId>ASIAEXAMPLE7Q2M4K6ZB</AccessKeyId>\n\
        \x20     <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n\
        \x20     <SessionToken>AQoDYXdzEPT//////////wEXAMPLE+/=</SessionToken>\n\
        \x20     <Expiration>2026-01-01T01:00:00Z</Expiration>\n\
        \x20   </Credentials>\n\
        \x20   <Provider>arn:aws:iam::111122223333:oidc-provider/oidc.example.internal/cluster-a</Provider>\n\
        \x20 </AssumeRoleWithWebIdentityResult>\n\
        \x20 <ResponseMetadata>\n\
        \x20   <RequestId>5f0c1f8e-3b1d-4a57-9a7e-0c2b7d5e1a11</RequestId>\n\
        \x20 </ResponseMetadata>\n\
        </AssumeRoleWithWebIdentityResponse>\n"
    );
}

#[test]
fn an_assume_role_answer_leaves_out_web_identity_members() {
    // Web identity members set by mistake are still not written for `AssumeRole`.
    let mut role = assumed(true);
    role.packed_policy_size = Some(6);
    role.source_identity = Some("alice".into());
    role.credentials.expiration = 951_782_400; // 2000-02-29T00:00:00Z, a leap day
    let xml = render_answer(Action::AssumeRole, &Answer::AssumedRole(role), ID).unwrap();
    assert_eq!(
        xml,
        "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
        \x20 <AssumeRoleResult>\n\
        \x20   <AssumedRoleUser>\n\
        \x20     <Arn>arn:aws:sts::111122223333:assumed-role/app/botocore-session-1767225600</Arn>\n\
        \x20     <AssumedRoleId>AROAEXAMPLEAPPROLE01:botocore-session-1767225600</AssumedRoleId>\n\
        \x20   </AssumedRoleUser>\n\
        \x20   <Credentials>\n\
        \x20     <AccessKeyId>ASIAEXAMPLE7Q2M4K6ZB</AccessKeyId>\n\
        \x20     <SecretAccessKey>wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY</SecretAccessKey>\n\
        \x20     <SessionToken>AQoDYXdzEPT//////////wEXAMPLE+/=</SessionToken>\n\
        \x20     <Expiration>2000-02-29T00:00:00Z</Expiration>\n\
        \x20   </Credentials>\n\
        \x20   <PackedPolicySize>6</PackedPolicySize>\n\
        \x20   <SourceIdentity>alice</SourceIdentity>\n\
        \x20 </AssumeRoleResult>\n\
        \x20 <ResponseMetadata>\n\
        \x20   <RequestId>5f0c1f8e-3b1d-4a57-9a7e-0c2b7d5e1a11</RequestId>\n\
        \x20 </ResponseMetadata>\n\
        </AssumeRoleResponse>\n"
    );
}

#[test]
fn a_caller_identity_answer() {
    let xml = render_answer(
        Action::GetCallerIdentity,
        &Answer::CallerIdentity(CallerIdentity {
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            user_id: "AIDAEXAMPLEALICE0001".into(),
            account: "111122223333".into(),
        }),
        ID,
    )
    .unwrap();
    assert_eq!(
        xml,
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
        \x20 <GetCallerIdentityResult>\n\
        \x20   <Arn>arn:aws:iam::111122223333:user/alice</Arn>\n\
        \x20   <UserId>AIDAEXAMPLEALICE0001</UserId>\n\
        \x20   <Account>111122223333</Account>\n\
        \x20 </GetCallerIdentityResult>\n\
        \x20 <ResponseMetadata>\n\
        \x20   <RequestId>5f0c1f8e-3b1d-4a57-9a7e-0c2b7d5e1a11</RequestId>\n\
        \x20 </ResponseMetadata>\n\
        </GetCallerIdentityResponse>\n"
    );
}

#[test]
fn an_answer_of_the_wrong_kind_is_an_internal_failure() {
    let identity = Answer::CallerIdentity(CallerIdentity {
        arn: String::new(),
        user_id: String::new(),
        account: String::new(),
    });
    for (action, answer) in [
        (Action::AssumeRole, &identity),
        (Action::AssumeRoleWithWebIdentity, &identity),
        (
            Action::GetCallerIdentity,
            &Answer::AssumedRole(assumed(false)),
        ),
    ] {
        let e = render_answer(action, answer, ID).unwrap_err();
        assert_eq!((e.code(), e.status()), (ErrorCode::InternalFailure, 500));
    }
}

#[test]
fn an_error_body_and_a_dispatch_error_body() {
    let xml = render_error(&StsError::incorrect_audience(), ID);
    assert_eq!(
        xml,
        "<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n\
        \x20 <Error>\n\
        \x20   <Type>Sender</Type>\n\
        \x20   <Code>InvalidIdentityToken</Code>\n\
        \x20   <Message>Incorrect token audience</Message>\n\
        \x20 </Error>\n\
        \x20 <RequestId>5f0c1f8e-3b1d-4a57-9a7e-0c2b7d5e1a11</RequestId>\n\
        </ErrorResponse>\n"
    );
    let xml = render_error(
        &StsError::invalid_action("AssumeRoleWithWebIdentity", "NO_VERSION_SPECIFIED"),
        ID,
    );
    assert_eq!(
        xml,
        "<ErrorResponse xmlns=\"http://webservices.amazon.com/AWSFault/2005-15-09\">\n\
        \x20 <Error>\n\
        \x20   <Type>Sender</Type>\n\
        \x20   <Code>InvalidAction</Code>\n\
        \x20   <Message>Could not find operation AssumeRoleWithWebIdentity for version NO_VERSION_SPECIFIED</Message>\n\
        \x20 </Error>\n\
        \x20 <RequestId>5f0c1f8e-3b1d-4a57-9a7e-0c2b7d5e1a11</RequestId>\n\
        </ErrorResponse>\n"
    );
    let xml = render_error(&StsError::internal_failure(), ID);
    assert!(xml.contains("<Type>Receiver</Type>\n"), "{xml}");
}

#[test]
fn every_text_is_escaped_and_unrepresentable_characters_are_replaced() {
    let e = StsError::invalid_action(
        "<a href='x'>&\"\r\n\t\u{0}\u{1b}\u{FFFF}é\u{1F600}</a>",
        "v",
    );
    let xml = render_error(&e, "<id&>");
    assert!(
        xml.contains(
            "<Message>Could not find operation &lt;a href='x'&gt;&amp;\"&#13;\n\t\u{FFFD}\u{FFFD}\u{FFFD}é\u{1F600}&lt;/a&gt; for version v</Message>\n"
        ),
        "{xml}"
    );
    assert!(
        xml.contains("<RequestId>&lt;id&amp;&gt;</RequestId>\n"),
        "{xml}"
    );
}

#[test]
fn debug_of_credentials_is_redacted() {
    let role = assumed(false);
    let debug = format!("{role:?}");
    assert!(
        !debug.contains("wJalr")
            && !debug.contains("AQoD")
            && debug.contains("ASIAEXAMPLE7Q2M4K6ZB"),
        "{debug}"
    );
    assert_eq!(
        format!("{:?}", role.credentials),
        "IssuedCredentials { access_key_id: \"ASIAEXAMPLE7Q2M4K6ZB\", secret_access_key: \"** redacted **\", session_token: \"** redacted **\", expiration: 1767229200 }"
    );
}
