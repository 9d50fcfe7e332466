//! Message text for Telegram: HTML escaping and splitting under the 4 096-character limit.
//!
//! Messages go out with `parse_mode=HTML`; every string that comes from outside (symbols,
//! exchange names, backend details, error texts) is escaped with [`escape_html`] (`<`, `>`, `&`
//! — the three characters the Bot API's HTML mode requires escaped), so a symbol like `A<B&C`
//! can never break the entities. Telegram counts the limit in UTF-16 code units after entity
//! parsing; [`split_message`] counts the escaped text in UTF-16 units, which is never less, so a
//! part it keeps is never refused for its length.

/// Telegram's limit on a message's text (`sendMessage`), in characters.
pub const TELEGRAM_TEXT_LIMIT: usize = 4096;

/// Escape `<`, `>`, `&` for Telegram's HTML parse mode.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Split plain `text` into parts whose HTML-escaped form is at most `limit` UTF-16 units, on line
/// boundaries; a single line longer than `limit` is cut between characters. Returns the parts
/// already escaped, in order; nothing is dropped (joining the unescaped parts with the newlines
/// at the cuts gives `text` back). An empty text gives one empty part. `limit` below 8 is
/// raised to 8 (one escaped character must fit).
pub fn split_message(text: &str, limit: usize) -> Vec<String> {
    let limit = limit.max(8);
    let mut parts: Vec<String> = Vec::new();
    // The part being filled and its length in UTF-16 units.
    let mut cur: Option<(String, usize)> = None;
    for line in text.split('\n') {
        let esc = escape_html(line);
        let n = units(&esc);
        if let Some((c, u)) = cur.as_mut()
            && *u + 1 + n <= limit
        {
            c.push('\n');
            c.push_str(&esc);
            *u += 1 + n;
            continue;
        }
        if let Some((c, _)) = cur.take() {
            parts.push(c);
        }
        if n <= limit {
            cur = Some((esc, n));
            continue;
        }
        // One line longer than the limit: cut between characters, never inside an escape.
        for ch in line.chars() {
            let mut buf = [0u8; 4];
            let e = escape_html(ch.encode_utf8(&mut buf));
            let m = units(&e);
            if let Some((_, u)) = &cur
                && *u + m > limit
                && let Some((c, _)) = cur.take()
            {
                parts.push(c);
            }
            let (c, u) = cur.get_or_insert_with(|| (String::new(), 0));
            c.push_str(&e);
            *u += m;
        }
    }
    if let Some((c, _)) = cur {
        parts.push(c);
    }
    if parts.is_empty() {
        parts.push(String::new());
    }
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&")
    }

    #[test]
    fn escapes_the_three_html_specials_only() {
        assert_eq!(escape_html("A<B>&C *_[`]"), "A&lt;B&gt;&amp;C *_[`]");
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }

    #[test]
    fn short_text_is_one_part() {
        assert_eq!(split_message("hello\nworld", 4096), vec!["hello\nworld"]);
        assert_eq!(split_message("", 4096), vec![""]);
        assert_eq!(split_message("a<b", 4096), vec!["a&lt;b"]);
    }

    #[test]
    fn splits_on_line_boundaries_and_keeps_everything() {
        // 5 000 characters in 100 lines of 49 + newline.
        let line = "x".repeat(49);
        let text = vec![line.clone(); 100].join("\n");
        assert_eq!(text.chars().count(), 100 * 50 - 1);
        let parts = split_message(&text, TELEGRAM_TEXT_LIMIT);
        assert_eq!(parts.len(), 2);
        for p in &parts {
            assert!(units(p) <= TELEGRAM_TEXT_LIMIT);
            assert!(p.split('\n').all(|l| l == line), "cut inside a line");
        }
        assert_eq!(parts.join("\n"), text);
    }

    #[test]
    fn escaped_length_counts_and_long_lines_are_cut_between_characters() {
        // 3 000 '&' escape to 15 000 units: the limit applies to the escaped text.
        let text = "&".repeat(3000);
        let parts = split_message(&text, TELEGRAM_TEXT_LIMIT);
        assert!(parts.len() >= 4);
        for p in &parts {
            assert!(units(p) <= TELEGRAM_TEXT_LIMIT);
            assert!(!p.ends_with("&amp") && unescape(p).chars().all(|c| c == '&'));
        }
        assert_eq!(parts.iter().map(|p| unescape(p)).collect::<String>(), text);
        // Astral characters count two units each.
        let emoji = "🟢".repeat(3000);
        let parts = split_message(&emoji, TELEGRAM_TEXT_LIMIT);
        assert!(parts.iter().all(|p| units(p) <= TELEGRAM_TEXT_LIMIT));
        assert_eq!(parts.concat(), emoji);
    }

    #[test]
    fn mixed_lines_round_trip() {
        let text = format!(
            "head\n{}\n\nmid <&>\n{}\ntail",
            "y".repeat(5000),
            "z".repeat(10)
        );
        let parts = split_message(&text, 100);
        assert!(parts.iter().all(|p| units(p) <= 100));
        let joined: String = parts
            .iter()
            .map(|p| unescape(p))
            .collect::<Vec<_>>()
            .join("\n");
        // Lines cut inside are rejoined without a newline; compare ignoring the cut newlines.
        assert_eq!(joined.replace('\n', ""), text.replace('\n', ""));
        assert!(parts.iter().any(|p| p.contains("mid &lt;&amp;&gt;")));
    }
}
