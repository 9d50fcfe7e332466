//! Properties: the parser and the pattern matcher never panic on arbitrary input, and the
//! matcher agrees with set membership on the anchored-alternation form backends write.

use proptest::prelude::*;
use sniper::discovery::matcher::{MatchPrefs, match_all};
use sniper::discovery::openapi::{SpecLimits, parse_spec};
use sniper::discovery::template::pattern_allows;

proptest! {
    #[test]
    fn parse_never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_spec(&bytes, &SpecLimits::default());
    }

    #[test]
    fn parse_and_match_never_panic_on_json_shaped_text(
        s in r#"\{"(openapi|swagger|paths|servers|basePath)":[\[\]\{\}",:a-z/{}$#0-9 ]{0,200}"#
    ) {
        if let Ok(spec) = parse_spec(s.as_bytes(), &SpecLimits::default()) {
            let _ = match_all(&spec, &MatchPrefs::default());
        }
    }

    #[test]
    fn pattern_never_panics(pat in ".{0,40}", value in ".{0,20}") {
        let _ = pattern_allows(&pat, &value);
    }

    #[test]
    fn anchored_alternation_is_set_membership(
        words in proptest::collection::vec("[a-z0-9]{1,4}", 1..6),
        value in "[a-z0-9]{0,5}",
    ) {
        let pat = format!("^({})$", words.join("|"));
        prop_assert_eq!(pattern_allows(&pat, &value), Some(words.contains(&value)));
        for w in &words {
            prop_assert_eq!(pattern_allows(&pat, w), Some(true));
        }
    }
}
