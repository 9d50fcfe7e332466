//! Documents refused as a whole: too large, too deep, not JSON, not OpenAPI.

use sniper::discovery::openapi::{SpecError, SpecLimits, parse_spec};

#[test]
fn fifty_megabytes_is_refused_by_size() {
    let mut doc = br#"{"openapi":"3.0.0","paths":{},"x":""#.to_vec();
    doc.resize(50 * 1024 * 1024, b'a');
    doc.extend_from_slice(br#""}"#);
    match parse_spec(&doc, &SpecLimits::default()) {
        Err(SpecError::TooLarge { size, max }) => {
            assert_eq!(size, doc.len());
            assert_eq!(max, 8 * 1024 * 1024);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_size_cap_is_the_callers() {
    let doc = br#"{"openapi":"3.0.0","paths":{}}"#;
    let tight = SpecLimits {
        max_bytes: 10,
        ..SpecLimits::default()
    };
    assert!(matches!(
        parse_spec(doc, &tight),
        Err(SpecError::TooLarge { .. })
    ));
    assert!(parse_spec(doc, &SpecLimits::default()).is_ok());
}

#[test]
fn hundred_thousand_deep_is_refused_without_overflow() {
    let n = 100_000;
    let mut doc = "[".repeat(n);
    doc.push_str(&"]".repeat(n));
    assert_eq!(
        parse_spec(doc.as_bytes(), &SpecLimits::default()),
        Err(SpecError::TooDeep { max: 64 })
    );
    let mut obj = r#"{"a":"#.repeat(n);
    obj.push('1');
    obj.push_str(&"}".repeat(n));
    assert!(matches!(
        parse_spec(obj.as_bytes(), &SpecLimits::default()),
        Err(SpecError::TooDeep { .. })
    ));
}

#[test]
fn depth_beyond_serde_limit_errors_rather_than_overflows() {
    // With our cap lifted, serde_json's own recursion limit (128) still refuses it.
    let n = 100_000;
    let mut doc = "[".repeat(n);
    doc.push_str(&"]".repeat(n));
    let loose = SpecLimits {
        max_depth: usize::MAX,
        ..SpecLimits::default()
    };
    assert!(matches!(
        parse_spec(doc.as_bytes(), &loose),
        Err(SpecError::NotJson(_))
    ));
}

#[test]
fn depth_at_the_cap_is_accepted() {
    let limits = SpecLimits::default();
    // The root object is level 1; nest arrays inside an extension field up to exactly the cap.
    let inner = limits.max_depth - 1;
    let doc = format!(
        r#"{{"openapi":"3.0.0","paths":{{}},"x":{}{}}}"#,
        "[".repeat(inner),
        "]".repeat(inner)
    );
    assert!(parse_spec(doc.as_bytes(), &limits).is_ok());
    let doc = format!(
        r#"{{"openapi":"3.0.0","paths":{{}},"x":{}{}}}"#,
        "[".repeat(inner + 1),
        "]".repeat(inner + 1)
    );
    assert!(matches!(
        parse_spec(doc.as_bytes(), &limits),
        Err(SpecError::TooDeep { .. })
    ));
}

#[test]
fn garbage_html_and_non_objects() {
    let l = SpecLimits::default();
    assert!(matches!(parse_spec(b"", &l), Err(SpecError::NotJson(_))));
    assert!(matches!(
        parse_spec(b"{\"openapi\": ", &l),
        Err(SpecError::NotJson(_))
    ));
    assert!(matches!(
        parse_spec(b"<!doctype html><html><body>Swagger UI</body></html>", &l),
        Err(SpecError::NotJson(_))
    ));
    assert!(matches!(
        parse_spec(&[0xff, 0xfe, 0x00], &l),
        Err(SpecError::NotJson(_))
    ));
    assert_eq!(parse_spec(b"[1,2,3]", &l), Err(SpecError::NotAnObject));
    assert_eq!(parse_spec(b"\"openapi\"", &l), Err(SpecError::NotAnObject));
    assert_eq!(parse_spec(b"null", &l), Err(SpecError::NotAnObject));
    assert_eq!(
        parse_spec(br#"{"detail":"Not Found"}"#, &l),
        Err(SpecError::NotOpenApi)
    );
}

#[test]
fn no_version_but_paths_is_parsed() {
    let doc = br#"{"paths":{"/whale/alerts":{"get":{}}}}"#;
    let spec = parse_spec(doc, &SpecLimits::default()).unwrap();
    assert_eq!(spec.operations.len(), 1);
}
